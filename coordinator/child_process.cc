#include "coordinator/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"

namespace dsm {

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  // Everything the child needs is prepared here: between fork and exec a multithreaded
  // parent's child may only make async-signal-safe calls (no allocation, no stdio).
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::string exec_failed = absl::StrCat("cannot execute ", argv[0], "\n");
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    // Child: stdout into the pipe, then the program. (Its lifetime follows the parent
    // process through dsm-worker's --parent_pid watch, not PR_SET_PDEATHSIG, which
    // fires when the forking *thread* exits.)
    dup2(fds[1], STDOUT_FILENO);
    execv(args[0], args.data());
    const ssize_t ignored = write(STDERR_FILENO, exec_failed.data(), exec_failed.size());
    (void)ignored;
    _exit(127);
  }
  close(fds[1]);
  auto child = std::unique_ptr<ChildProcess>(new ChildProcess());
  child->pid_ = pid;
  child->stdout_fd_ = fds[0];
  return child;
}

ChildProcess::~ChildProcess() {
  if (!wait_status_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
  if (drain_.joinable()) drain_.join();  // the pipe reached EOF when the child ended
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

void ChildProcess::DrainStdout(const std::string& prefix) {
  if (drain_.joinable() || stdout_fd_ < 0) return;
  std::string pending = std::move(buffer_);
  buffer_.clear();
  drain_ = std::thread([fd = stdout_fd_, prefix, pending = std::move(pending)]() mutable {
    char chunk[4096];
    for (;;) {
      size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        const std::string line = absl::StrCat(prefix, pending.substr(0, nl + 1));
        const ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
        (void)ignored;
        pending.erase(0, nl + 1);
      }
      const ssize_t n = read(fd, chunk, sizeof(chunk));
      if (n > 0) {
        pending.append(chunk, n);
      } else if (n == 0 || errno != EINTR) {
        return;  // EOF: the child is gone
      }
    }
  });
}

std::string ChildProcess::DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit code ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("killed by signal ", WTERMSIG(status));
  return absl::StrCat("wait status ", status);
}

absl::StatusOr<std::string> ChildProcess::ReadLine(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (size_t nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid_, " printed no line within ", timeout.count(), " ms"));
    }
    pollfd p{stdout_fd_, POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 200)));
    if (ready < 0 && errno != EINTR) return absl::InternalError("poll failed");
    if (ready <= 0) continue;
    char chunk[4096];
    const ssize_t n = read(stdout_fd_, chunk, sizeof(chunk));
    if (n > 0) {
      buffer_.append(chunk, n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // EOF: the child closed stdout, normally because it exited.
    const int status = WaitOrKill(std::chrono::seconds(5));
    return absl::UnavailableError(
        absl::StrCat("process ", pid_, " ended (", DescribeWaitStatus(status), ")"));
  }
}

std::optional<int> ChildProcess::TryWait() {
  if (wait_status_) return wait_status_;
  int status;
  if (waitpid(pid_, &status, WNOHANG) == pid_) wait_status_ = status;
  return wait_status_;
}

void ChildProcess::Kill(int signal) {
  if (!TryWait()) kill(pid_, signal);
}

int ChildProcess::WaitOrKill(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!TryWait()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid_, SIGKILL);
      int status;
      waitpid(pid_, &status, 0);
      wait_status_ = status;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return *wait_status_;
}

bool ChildProcess::IsStopped() const {
  std::ifstream stat(absl::StrCat("/proc/", pid_, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) return false;
  // "pid (comm) S ...": the state follows the last ')'.
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 >= line.size()) return false;
  const char state = line[paren + 2];
  return state == 'T' || state == 't';
}

}  // namespace dsm
