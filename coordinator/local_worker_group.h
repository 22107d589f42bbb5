#pragma once
// A tensor-parallel group of dsm-worker processes launched as children of this process
// (the embedded `dsm serve` and `dsm run`), driven step by step over the Worker service.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/child_process.h"
#include "coordinator/worker_group.h"
#include "dsm/v1/worker.grpc.pb.h"

namespace dsm {

class LocalWorkerGroup : public WorkerGroup {
 public:
  static absl::StatusOr<std::unique_ptr<LocalWorkerGroup>> Launch(
      const WorkerGroupOptions& options);
  ~LocalWorkerGroup() override;

  const v1::WorkerInfo& info() const override { return info_; }
  absl::StatusOr<v1::StepResponse> Step(const v1::StepRequest& request) override;
  void Shutdown() override;
  std::optional<std::string> DeadRank() override;
  void Kill(int rank, int signal) override;

 private:
  LocalWorkerGroup() = default;

  WorkerGroupOptions options_;
  std::vector<std::unique_ptr<ChildProcess>> processes_;
  std::vector<std::unique_ptr<v1::Worker::Stub>> stubs_;
  v1::WorkerInfo info_;
};

// Launches local worker processes for any group (what `dsm serve` uses).
absl::StatusOr<std::unique_ptr<WorkerGroup>> LaunchLocalWorkerGroup(
    int group_index, const WorkerGroupOptions& options);

// dsm-worker beside the running executable, or $DSM_WORKER_BINARY.
std::string DefaultWorkerBinary();

}  // namespace dsm
