// The test helpers' temp paths: a suite fixture must not outlive the process that made
// it, or every ctest run leaves its models behind in /tmp.
#include "tests/support/test_env.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace dsm::testing {
namespace {

int WaitFor(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(ProcessTempPathTest, RemovedWhenTheProcessExitsNotWhenAForkedChildDoes) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t maker = fork();
  ASSERT_GE(maker, 0);
  if (maker == 0) {
    // The process that owns the path: a child forked from it exits first.
    const std::string path = ProcessTempPath("exit_probe");
    std::filesystem::create_directories(path);
    std::ofstream(path + "/weights") << "x";
    const pid_t child = fork();
    if (child == 0) std::exit(0);
    if (WaitFor(child) != 0 || !std::filesystem::exists(path + "/weights")) _exit(2);
    if (write(pipe_fds[1], path.data(), path.size()) != static_cast<ssize_t>(path.size())) {
      _exit(3);
    }
    std::exit(0);
  }
  close(pipe_fds[1]);
  std::string path;
  char buffer[512];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof(buffer))) > 0;) path.append(buffer, n);
  close(pipe_fds[0]);
  ASSERT_EQ(WaitFor(maker), 0) << "the forked child's exit removed its parent's path";
  ASSERT_FALSE(path.empty());
  EXPECT_FALSE(std::filesystem::exists(path)) << path << " outlived the process that made it";
}

}  // namespace
}  // namespace dsm::testing
