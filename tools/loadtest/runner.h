#pragma once
// Drives a load test: closed loop (a fixed number of clients, each sending its next
// request when the last ends) or open loop (Poisson or gamma arrivals at a rate,
// whatever the server's speed; requests in flight are bounded only by --max-concurrency). Stops at
// a request count or a duration, whichever comes first; prints a live progress line.

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "tools/loadtest/client.h"
#include "tools/loadtest/stats.h"
#include "tools/loadtest/workload.h"

namespace dsm::loadtest {

struct RunOptions {
  int concurrency = 8;       // closed loop: clients; open loop: the most requests in flight
  double rate = 0;           // > 0: open loop, requests per second (Poisson arrivals)
  double burstiness = 1;     // open loop: gaps ~ Gamma(burstiness, 1 / (rate * burstiness));
                             // 1 is Poisson, < 1 burstier, > 1 more even (as vLLM's benchmark)
  uint64_t first_index = 0;  // the workload's request indices start here
  int64_t requests = 0;      // stop after this many requests (0 = no limit)
  double duration_s = 0;     // stop sending after this long (0 = no limit)
  uint64_t seed = 1;         // arrival times
  bool progress = true;      // a live line on stderr
};

// Makes one client per sending thread.
using ClientFactory = std::function<std::unique_ptr<LoadClient>()>;

struct RunResult {
  std::vector<RequestRecord> records;
  double duration_s = 0;  // first send to last completion
};

RunResult RunLoad(const RunOptions& options, const Workload& workload,
                  const ClientFactory& make_client);

// The gaps between open-loop arrivals: mean 1 / rate, shape `burstiness`.
class ArrivalGaps {
 public:
  ArrivalGaps(double rate, double burstiness, uint64_t seed)
      : rng_(seed), gamma_(burstiness, 1.0 / (rate * burstiness)) {}
  double Next() { return gamma_(rng_); }

 private:
  std::mt19937_64 rng_;
  std::gamma_distribution<double> gamma_;
};

}  // namespace dsm::loadtest
