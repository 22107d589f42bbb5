#include "tools/termination_signal.h"

#include <pthread.h>

namespace dsm {

TerminationSignal::TerminationSignal(sigset_t signals, std::function<void()> stop_start)
    : stop_start_(std::move(stop_start)) {
  thread_ = std::thread([this, signals] {
    int signal = 0;
    sigwait(&signals, &signal);
    bool stop_start = false;
    {
      absl::MutexLock lock(&mu_);
      if (closing_) return;  // woken by the destructor
      signal_ = signal;
      stop_start = !started_;
    }
    if (stop_start) stop_start_();
    arrived_.Notify();
  });
}

TerminationSignal::~TerminationSignal() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }
  // The thread still waits unless a signal came: wake it with one of its own.
  if (!arrived_.HasBeenNotified()) pthread_kill(thread_.native_handle(), SIGTERM);
  thread_.join();
}

bool TerminationSignal::Started() {
  absl::MutexLock lock(&mu_);
  started_ = true;
  return signal_ == 0;
}

int TerminationSignal::Wait() {
  arrived_.WaitForNotification();
  return received();
}

int TerminationSignal::received() const {
  absl::MutexLock lock(&mu_);
  return signal_;
}

}  // namespace dsm
