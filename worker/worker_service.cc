#include "worker/worker_service.h"

#include "common/grpc_status.h"

namespace dsm {

grpc::Status WorkerService::GetInfo(grpc::ServerContext*, const v1::GetInfoRequest*,
                                    v1::WorkerInfo* response) {
  absl::MutexLock lock(&mu_);
  *response = runner_->Info();
  return grpc::Status::OK;
}

grpc::Status WorkerService::Step(grpc::ServerContext*, const v1::StepRequest* request,
                                 v1::StepResponse* response) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<v1::StepResponse> result = runner_->Step(*request);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

grpc::Status WorkerService::Shutdown(grpc::ServerContext*, const v1::ShutdownRequest*,
                                     v1::ShutdownResponse*) {
  if (!shutdown_.HasBeenNotified()) shutdown_.Notify();
  return grpc::Status::OK;
}

}  // namespace dsm
