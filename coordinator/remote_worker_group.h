#pragma once
// A group of registered workers (pods): driven over their Worker services like a local
// group, but not owned: its liveness is the registry's (a member's Join stream), a hung
// rank cannot be killed from here, and Shutdown leaves the workers running for the next
// formation.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/worker_group.h"
#include "dsm/v1/worker.grpc.pb.h"

namespace dsm {

class RemoteWorkerGroup : public WorkerGroup {
 public:
  // `lost` names a member of this formation that has left, if any.
  RemoteWorkerGroup(WorkerGroupOptions options, std::vector<std::string> addresses,
                    std::function<std::optional<std::string>()> lost);

  // Asks rank 0 for its shape (after the collectives formed).
  absl::Status Connect();

  const v1::WorkerInfo& info() const override { return info_; }
  absl::StatusOr<v1::StepResponse> Step(const v1::StepRequest& request) override;
  void Shutdown() override {}
  std::optional<std::string> DeadRank() override { return lost_(); }
  void Kill(int, int) override {}  // not ours to kill: tests stop the worker process

 private:
  WorkerGroupOptions options_;
  std::vector<std::string> addresses_;
  std::function<std::optional<std::string>()> lost_;
  std::vector<std::unique_ptr<v1::Worker::Stub>> stubs_;
  v1::WorkerInfo info_;
};

}  // namespace dsm
