#pragma once
// gRPC face of one rank: forwards steps to the StepRunner, one at a time.

#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "dsm/v1/worker.grpc.pb.h"
#include "worker/step_runner.h"

namespace dsm {

class WorkerService final : public v1::Worker::Service {
 public:
  explicit WorkerService(std::unique_ptr<StepRunner> runner) : runner_(std::move(runner)) {}

  grpc::Status GetInfo(grpc::ServerContext*, const v1::GetInfoRequest*,
                       v1::WorkerInfo* response) override;
  grpc::Status Step(grpc::ServerContext*, const v1::StepRequest* request,
                    v1::StepResponse* response) override;
  grpc::Status Shutdown(grpc::ServerContext*, const v1::ShutdownRequest*,
                        v1::ShutdownResponse*) override;

  // Swaps in a new formation's communicator between two steps (see StepRunner::Reform).
  void Reform(std::unique_ptr<Communicator> comm) {
    absl::MutexLock lock(&mu_);
    runner_->Reform(std::move(comm));
  }
  v1::WorkerInfo Info() {
    absl::MutexLock lock(&mu_);
    return runner_->Info();
  }
  // Ends WaitForShutdown (SIGTERM of a registered worker).
  void RequestShutdown() {
    if (!shutdown_.HasBeenNotified()) shutdown_.Notify();
  }

  // Blocks until a Shutdown call arrives.
  void WaitForShutdown() { shutdown_.WaitForNotification(); }

 private:
  absl::Mutex mu_;  // steps run one at a time, in arrival order
  std::unique_ptr<StepRunner> runner_ ABSL_GUARDED_BY(mu_);
  absl::Notification shutdown_;
};

}  // namespace dsm
