#pragma once
// The coordinator's Prometheus metrics (prometheus-cpp from Debian), named after vLLM's
// so that existing dashboards need only the prefix changed (vllm: -> dsm:). Counters and
// histograms are fed as requests finish and steps run (ServingObserver); gauges are
// read from the coordinator at each scrape.

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/coordinator.h"
#include "coordinator/serving_observer.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace dsm {

class ServingMetrics : public ServingObserver {
 public:
  explicit ServingMetrics(std::string model_name);
  ~ServingMetrics() override;

  void OnRequestFinished(const RequestRecord& record) override;
  void OnTokenGap(double seconds) override;
  void OnStep(const StepRecord& step) override;

  // The Prometheus text exposition, gauges refreshed from `coordinator` (may be null
  // while the model loads).
  std::string Scrape(const Coordinator* coordinator);

 private:
  std::string model_name_;
  std::shared_ptr<prometheus::Registry> registry_;
  struct Families;
  std::unique_ptr<Families> f_;
  absl::Mutex mu_;  // lazily added per-label series
};

}  // namespace dsm
