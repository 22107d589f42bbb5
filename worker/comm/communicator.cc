#include "worker/comm/communicator.h"

#include <cstring>

namespace dsm {

absl::Status Communicator::Synchronize(void*, std::chrono::milliseconds) {
  return absl::OkStatus();
}

absl::Status SingleRankCommunicator::AllGather(const CommBuffer& in, const CommBuffer& out) {
  if (in.space != MemorySpace::kHost || out.space != MemorySpace::kHost) {
    return absl::InvalidArgumentError("the single-rank communicator gathers host memory only");
  }
  if (out.data != in.data) std::memmove(out.data, in.data, in.count * DTypeSize(in.dtype));
  return absl::OkStatus();
}

absl::Status UnformedCommunicator::AllReduceSum(const CommBuffer&) {
  return absl::FailedPreconditionError("the worker group has not formed yet");
}

absl::Status UnformedCommunicator::AllGather(const CommBuffer&, const CommBuffer&) {
  return absl::FailedPreconditionError("the worker group has not formed yet");
}

}  // namespace dsm
