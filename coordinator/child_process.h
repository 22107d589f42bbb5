#pragma once
// A child process whose stdout the parent reads line by line (stderr is inherited, so
// the child's logs and errors reach the user).

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace dsm {

class ChildProcess {
 public:
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(const std::vector<std::string>& argv);
  ~ChildProcess();  // kills and reaps a child still running

  pid_t pid() const { return pid_; }

  // The next stdout line, without its newline. DEADLINE_EXCEEDED on timeout; UNAVAILABLE
  // naming the exit status when the child exits first.
  absl::StatusOr<std::string> ReadLine(std::chrono::milliseconds timeout);

  // Exit status if the child has ended (reaps it), nullopt while it runs.
  std::optional<int> TryWait();
  // Waits up to `timeout` for exit, then kills it. Returns the wait status.
  int WaitOrKill(std::chrono::milliseconds timeout);
  void Kill(int signal);
  // From now on a thread reads the child's stdout and copies its lines to stderr after
  // `prefix`, so a chatty child never blocks on a full pipe. ReadLine must not be used
  // afterwards.
  void DrainStdout(const std::string& prefix);

  // Whether the process is stopped (SIGSTOP, a debugger): /proc/<pid>/stat state T or t.
  bool IsStopped() const;

  // "exit code 1" / "killed by signal 9".
  static std::string DescribeWaitStatus(int status);

 private:
  ChildProcess() = default;

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
  std::optional<int> wait_status_;
  std::thread drain_;
};

}  // namespace dsm
