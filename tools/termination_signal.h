#pragma once
// SIGINT/SIGTERM for a long-running command, taken on a thread of its own (the caller
// blocks them in every thread first), so that a signal arriving while the server is
// still starting (workers loading a 7B model, or waiting to register) stops the start at
// once, as a pod deleted mid-start must, instead of pending until the start is done.

#include <signal.h>

#include <functional>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace dsm {

class TerminationSignal {
 public:
  // `stop_start` runs on the signal thread when the signal arrives before Started(): it
  // must make the start give up soon.
  TerminationSignal(sigset_t signals, std::function<void()> stop_start);
  ~TerminationSignal();  // wakes and joins the thread

  // The start is done. False if a signal came first (stop_start has run).
  bool Started();
  // Blocks until the signal arrives; its number.
  int Wait();
  // The signal received so far, or 0.
  int received() const;
  // True once a second signal came (the operator insists: stop without waiting).
  bool forced() const;

 private:
  std::function<void()> stop_start_;
  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  int signal_ ABSL_GUARDED_BY(mu_) = 0;
  bool forced_ ABSL_GUARDED_BY(mu_) = false;
  absl::Notification arrived_;
  std::thread thread_;
};

}  // namespace dsm
