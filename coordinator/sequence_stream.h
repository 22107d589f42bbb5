#pragma once
// The channel from a group's engine thread to the RPC handler waiting on one sequence:
// tokens as they are sampled, then the end (a finish reason or an error).

#include <chrono>
#include <deque>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/generation_request.h"

namespace dsm {

class SequenceStream {
 public:
  void Push(TokenEvent event);
  // Ends the stream after the events already pushed.
  void Fail(absl::Status status);
  // Ends the stream now, from any thread: pending and later events are dropped (the
  // drain timeout ends requests whose engine may be busy or stuck).
  void Abort(absl::Status status);

  // Waits up to `timeout` for the next event. Returns nullopt on timeout (the caller
  // checks for cancellation and waits again) and the error once the stream failed.
  std::optional<absl::StatusOr<TokenEvent>> Next(std::chrono::milliseconds timeout);

 private:
  absl::Mutex mu_;
  std::deque<TokenEvent> events_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> error_ ABSL_GUARDED_BY(mu_);
  bool aborted_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace dsm
