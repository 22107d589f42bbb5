#include "coordinator/step_fanout.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <latch>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"

namespace dsm {

FanOutResult FanOutStep(const std::vector<std::unique_ptr<v1::Worker::Stub>>& stubs,
                        const WorkerGroupOptions& options, const v1::StepRequest& request) {
  const size_t n = stubs.size();
  int64_t tokens = 0;
  for (const v1::SequenceStep& seq : request.sequences()) tokens += seq.token_ids_size();
  FanOutResult result;
  result.timeout_s =
      options.step_timeout_s + options.step_timeout_per_token_s * static_cast<double>(tokens);
  const auto deadline = std::chrono::system_clock::now() +
                        std::chrono::microseconds(static_cast<int64_t>(result.timeout_s * 1e6));
  std::vector<grpc::ClientContext> contexts(n);
  for (grpc::ClientContext& context : contexts) context.set_deadline(deadline);
  result.responses.resize(n);
  std::vector<grpc::Status> statuses(n);
  std::latch done(static_cast<std::ptrdiff_t>(n));
  for (size_t r = 0; r < n; ++r) {
    stubs[r]->async()->Step(&contexts[r], &request, &result.responses[r], [&, r](grpc::Status s) {
      statuses[r] = std::move(s);
      done.count_down();
    });
  }
  done.wait();
  for (size_t r = 0; r < n; ++r) {
    if (statuses[r].error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      result.late.push_back(static_cast<int>(r));
    }
    result.statuses.push_back(FromGrpcStatus(statuses[r]));
  }
  return result;
}

absl::StatusOr<v1::StepResponse> MergeStepResults(FanOutResult result) {
  for (size_t r = 0; r < result.statuses.size(); ++r) {
    const absl::Status& s = result.statuses[r];
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat("worker rank ", r, ": ", s.message()));
  }
  for (size_t r = 1; r < result.responses.size(); ++r) {
    for (const v1::WorkerStepTiming& timing : result.responses[r].rank_timings()) {
      *result.responses[0].add_rank_timings() = timing;
    }
  }
  return std::move(result.responses[0]);
}

std::unique_ptr<v1::Worker::Stub> NewWorkerStub(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  return v1::Worker::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
}

}  // namespace dsm
