// Child processes as the launcher runs them: stdout lines, a child that keeps printing
// after start-up never blocks, and a stopped child is recognised.

#include "coordinator/child_process.h"

#include <signal.h>

#include <chrono>
#include <thread>

#include "gtest/gtest.h"

namespace dsm {
namespace {

TEST(ChildProcessTest, ReadsLinesThenDrainsAChattyChild) {
  // 2 MB after the first line: far more than a pipe holds.
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn(
      {"/bin/sh", "-c", "echo READY; head -c 2000000 /dev/zero | tr '\\\\0' x; echo; exit 3"});
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<std::string> line = (*child)->ReadLine(std::chrono::seconds(10));
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(*line, "READY");
  // Without draining the child would block on the full pipe for ever.
  (*child)->DrainStdout("child stdout: ");
  std::optional<int> status;
  for (int i = 0; i < 600 && !status; ++i) {  // bounded: up to 60 s
    status = (*child)->TryWait();
    if (!status) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(status.has_value()) << "the child blocked on its stdout";
  EXPECT_EQ(ChildProcess::DescribeWaitStatus(*status), "exit code 3");
}

TEST(ChildProcessTest, KnowsAStoppedChild) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn({"/bin/sleep", "30"});
  ASSERT_TRUE(child.ok());
  EXPECT_FALSE((*child)->IsStopped());
  (*child)->Kill(SIGSTOP);
  bool stopped = false;
  for (int i = 0; i < 100 && !stopped; ++i) {
    stopped = (*child)->IsStopped();
    if (!stopped) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(stopped);
}

TEST(ChildProcessTest, MissingProgramEndsTheChild) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Spawn({"/nonexistent/program"});
  ASSERT_TRUE(child.ok());
  absl::StatusOr<std::string> line = (*child)->ReadLine(std::chrono::seconds(10));
  EXPECT_EQ(line.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(line.status().message().find("exit code 127"), std::string::npos) << line.status();
}

}  // namespace
}  // namespace dsm
