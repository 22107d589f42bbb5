#include "worker/comm/timed_communicator.h"

namespace dsm {
namespace {

// Adds the duration of `call` to `spent`.
template <typename Call>
absl::Status Timed(std::chrono::steady_clock::duration& spent, Call call) {
  const auto start = std::chrono::steady_clock::now();
  absl::Status status = call();
  spent += std::chrono::steady_clock::now() - start;
  return status;
}

}  // namespace

absl::Status TimedCommunicator::AllReduceSum(const CommBuffer& buffer) {
  return Timed(spent_, [&] { return inner_->AllReduceSum(buffer); });
}

absl::Status TimedCommunicator::AllGather(const CommBuffer& in, const CommBuffer& out) {
  return Timed(spent_, [&] { return inner_->AllGather(in, out); });
}

absl::Status TimedCommunicator::Synchronize(void* stream, std::chrono::milliseconds timeout) {
  return Timed(spent_, [&] { return inner_->Synchronize(stream, timeout); });
}

double TimedCommunicator::TakeSeconds() {
  const double seconds = std::chrono::duration<double>(spent_).count();
  spent_ = {};
  return seconds;
}

}  // namespace dsm
