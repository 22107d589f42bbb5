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

class WorkerRegistry;

// How forked workers meet: by themselves (rank 0 hosts the rendezvous; `dsm run`), or by
// registering with this process's WorkerRegistry like independently started workers
// (`dsm serve`), so that both deployments share one path.
struct LocalRegistration {
  WorkerRegistry* registry = nullptr;
  int group = 0;
  std::string coordinator_address;  // where the workers reach the registry
};

class LocalWorkerGroup : public WorkerGroup {
 public:
  static absl::StatusOr<std::unique_ptr<LocalWorkerGroup>> Launch(
      const WorkerGroupOptions& options, const LocalRegistration* registration = nullptr);
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
  // Registered workers: the formation whose members must stay.
  WorkerRegistry* registry_ = nullptr;
  int group_ = 0;
  uint64_t epoch_ = 0;
};

// A launcher that forks group g's workers, which register with `registry` at
// `coordinator_address` (what `dsm serve` uses).
WorkerGroupLauncher LocalRegisteredLauncher(WorkerRegistry* registry,
                                            std::string coordinator_address);

// dsm-worker beside the running executable, or $DSM_WORKER_BINARY.
std::string DefaultWorkerBinary();

}  // namespace dsm
