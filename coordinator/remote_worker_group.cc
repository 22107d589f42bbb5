#include "coordinator/remote_worker_group.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/grpc_status.h"
#include "coordinator/step_fanout.h"

namespace dsm {

RemoteWorkerGroup::RemoteWorkerGroup(WorkerGroupOptions options, std::vector<std::string> addresses,
                                     std::function<std::optional<std::string>()> lost)
    : options_(std::move(options)), addresses_(std::move(addresses)), lost_(std::move(lost)) {
  for (const std::string& address : addresses_) stubs_.push_back(NewWorkerStub(address));
}

absl::Status RemoteWorkerGroup::Connect() {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Status status = stubs_[0]->GetInfo(&context, v1::GetInfoRequest(), &info_);
  if (!status.ok()) {
    absl::Status s = FromGrpcStatus(status);
    return absl::Status(s.code(),
                        absl::StrCat("worker rank 0 at ", addresses_[0], ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::StepResponse> RemoteWorkerGroup::Step(const v1::StepRequest& request) {
  FanOutResult result = FanOutStep(stubs_, options_, request);
  if (!result.late.empty()) {
    std::vector<std::string> late;
    for (int r : result.late) late.push_back(absl::StrCat(r, " (", addresses_[r], ")"));
    return absl::UnavailableError(absl::StrCat("worker rank ", absl::StrJoin(late, ", "),
                                               " did not finish a step within its deadline of ",
                                               absl::StrFormat("%.1f", result.timeout_s), " s"));
  }
  if (std::optional<std::string> gone = lost_()) return absl::UnavailableError(*gone);
  return MergeStepResults(std::move(result));
}

}  // namespace dsm
