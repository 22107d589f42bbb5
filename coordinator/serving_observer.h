#pragma once
// What the serving path reports as it goes, for metrics: finished requests, the gaps
// between streamed tokens, and every step a group runs. The coordinator calls it from
// request and engine threads, so an implementation must be thread-safe. Null = nobody
// listens.

#include <vector>

#include "coordinator/request_log.h"
#include "dsm/v1/worker.pb.h"

namespace dsm {

struct StepRecord {
  int group = 0;
  double seconds = 0;  // the step's round trip, as the group engine saw it
  int batch_tokens = 0;
  int sequences = 0;
  int preemptions = 0;  // sequences preempted to make room for this step
  std::vector<v1::WorkerStepTiming> ranks;
};

class ServingObserver {
 public:
  virtual ~ServingObserver() = default;
  virtual void OnRequestFinished(const RequestRecord& record) = 0;
  // Time between two consecutive tokens of one choice (inter-token latency).
  virtual void OnTokenGap(double seconds) = 0;
  virtual void OnStep(const StepRecord& step) = 0;
};

}  // namespace dsm
