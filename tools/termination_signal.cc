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
    // A second signal: the operator does not want to wait for the drain.
    sigwait(&signals, &signal);
    absl::MutexLock lock(&mu_);
    if (!closing_) forced_ = true;
  });
}

TerminationSignal::~TerminationSignal() {
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }
  // The thread still waits for a first or second signal: wake it with one of its own.
  pthread_kill(thread_.native_handle(), SIGTERM);
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

bool TerminationSignal::forced() const {
  absl::MutexLock lock(&mu_);
  return forced_;
}

int TerminationSignal::received() const {
  absl::MutexLock lock(&mu_);
  return signal_;
}

}  // namespace dsm
