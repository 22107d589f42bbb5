#include "coordinator/sequence_stream.h"

namespace dsm {

void SequenceStream::Push(TokenEvent event) {
  absl::MutexLock lock(&mu_);
  if (aborted_) return;
  events_.push_back(std::move(event));
}

void SequenceStream::Abort(absl::Status status) {
  absl::MutexLock lock(&mu_);
  aborted_ = true;
  events_.clear();
  if (!error_) error_ = std::move(status);
}

void SequenceStream::Fail(absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (!error_) error_ = std::move(status);
}

std::optional<absl::StatusOr<TokenEvent>> SequenceStream::Next(std::chrono::milliseconds timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !events_.empty() || error_.has_value();
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), absl::FromChrono(timeout));
  if (!events_.empty()) {
    TokenEvent event = std::move(events_.front());
    events_.pop_front();
    return absl::StatusOr<TokenEvent>(std::move(event));
  }
  if (error_) return absl::StatusOr<TokenEvent>(*error_);
  return std::nullopt;
}

}  // namespace dsm
