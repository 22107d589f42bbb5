#pragma once
// What one request did, and the summary of a run: throughput, latency percentiles,
// goodput under latency objectives, errors by status code.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace dsm::loadtest {

// Seconds from `start` until now, on the steady clock every record is timed with.
inline double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct RequestRecord {
  std::string status = "OK";  // gRPC status code name, or "HTTP 503" and the like
  std::string error;          // the server's message when status is not OK
  double start_s = 0;         // since the run began
  double ttft_s = -1;         // time to first token; < 0 when none came
  double e2e_s = 0;           // until the stream ended
  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
  std::vector<double> token_gaps_s;  // between consecutive streamed chunks with tokens
  bool ok() const { return status == "OK"; }
};

// Latency objectives for goodput: a request counts when it succeeded and met every
// objective that is set (> 0). Inter-token latency is the request's mean gap.
struct Objectives {
  double ttft_s = 0, itl_s = 0, e2e_s = 0;
};

struct Distribution {
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
  size_t count = 0;
};
Distribution Summarize(std::vector<double> values);

struct Summary {
  double duration_s = 0;
  int64_t requests = 0, succeeded = 0, met_objectives = 0;
  int64_t prompt_tokens = 0, output_tokens = 0;
  double requests_per_s = 0, output_tokens_per_s = 0, goodput_requests_per_s = 0;
  Distribution ttft_s, itl_s, e2e_s;
  std::map<std::string, int64_t> errors;              // status -> count
  std::map<std::string, std::string> error_examples;  // status -> one message
};

Summary Summarize(const std::vector<RequestRecord>& records, double duration_s,
                  const Objectives& objectives);

nlohmann::json ToJson(const Summary& s);
// One request as a JSON object (times in seconds; ttft_s and itl_s null when the request
// streamed no token or no gap).
nlohmann::json ToJson(const RequestRecord& r);
std::string ToText(const Summary& s);

}  // namespace dsm::loadtest
