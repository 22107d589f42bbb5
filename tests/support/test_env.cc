#include "tests/support/test_env.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

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

std::string MakeTempDir(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "dsm_tests" /
                              (info ? std::string(info->test_suite_name()) + "." + info->name()
                                    : "suite_" + std::to_string(getpid())) /
                              name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string ProcessTempPath(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) /
          ("dsm_" + name + "_" + std::to_string(getpid())))
      .string();
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
