#pragma once
// Sends one step to every rank of a group at once (the same request, asynchronously)
// and collects each rank's answer, under one deadline scaled by the step's tokens.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/worker_group.h"
#include "dsm/v1/worker.grpc.pb.h"

namespace dsm {

struct FanOutResult {
  double timeout_s = 0;
  std::vector<absl::Status> statuses;  // per rank
  std::vector<v1::StepResponse> responses;
  std::vector<int> late;  // ranks past the deadline
};

FanOutResult FanOutStep(const std::vector<std::unique_ptr<v1::Worker::Stub>>& stubs,
                        const WorkerGroupOptions& options, const v1::StepRequest& request);

// Rank 0's response with every rank's timing gathered into it, or the first rank's
// error ("worker rank R: ...").
absl::StatusOr<v1::StepResponse> MergeStepResults(FanOutResult result);

// A channel to a worker that carries steps (large messages) and notices a lost peer.
std::unique_ptr<v1::Worker::Stub> NewWorkerStub(const std::string& address);

}  // namespace dsm
