#include "tests/support/test_env.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

namespace dsm::testing {

std::string SharedDir() {
  if (const char* env = std::getenv("DSM_SHARED_DIR"); env && *env) return env;
  return std::string(DSM_SOURCE_DIR) + "/../shared";
}

bool PathExists(const std::string& path) { return std::filesystem::exists(path); }

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

// $DSM_BIN_DIR overrides the build tree (a relocated build, e.g. on a GPU machine).
std::string BinDir() {
  if (const char* env = std::getenv("DSM_BIN_DIR"); env && *env) return env;
  return DSM_BIN_DIR;
}

namespace {

// Paths of this process's suite-wide fixtures, removed when the process exits: ctest runs
// every test case as its own process, and a model left behind by each of them filled the
// disk of a CI machine (tens of GB of /tmp). Only the process that made a path removes it.
class RemovedAtExit {
 public:
  void Add(const std::filesystem::path& path) {
    if (owner_ == 0) owner_ = getpid();
    paths_.push_back(path);
  }
  ~RemovedAtExit() {
    if (getpid() != owner_) return;
    std::error_code ignored;
    for (const auto& path : paths_) std::filesystem::remove_all(path, ignored);
  }

 private:
  pid_t owner_ = 0;
  std::vector<std::filesystem::path> paths_;
};

void RemoveAtExit(const std::filesystem::path& path) {
  static RemovedAtExit registry;
  registry.Add(path);
}

}  // namespace

std::string MakeTempDir(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "dsm_tests" /
                              (info ? std::string(info->test_suite_name()) + "." + info->name()
                                    : "suite_" + std::to_string(getpid())) /
                              name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // A test's own directory is kept for a look after a failure (the next run of that test
  // replaces it); one named after this process would pile up run after run.
  if (info == nullptr) RemoveAtExit(dir.parent_path());
  return dir.string();
}

std::string ProcessTempPath(const std::string& name) {
  const std::filesystem::path path = std::filesystem::path(::testing::TempDir()) /
                                     ("dsm_" + name + "_" + std::to_string(getpid()));
  RemoveAtExit(path);
  return path.string();
}

namespace {

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_text) {
  const std::string dir = MakeTempDir("command");
  const std::string in = dir + "/stdin", out = dir + "/stdout", err = dir + "/stderr";
  std::ofstream(in) << stdin_text;
  std::string command;
  for (const std::string& a : argv) command += Quote(a) + " ";
  command += "<" + Quote(in) + " >" + Quote(out) + " 2>" + Quote(err);
  const auto start = std::chrono::steady_clock::now();
  const int status = std::system(command.c_str());
  CommandResult result;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = Slurp(out);
  result.err = Slurp(err);
  return result;
}

}  // namespace dsm::testing
