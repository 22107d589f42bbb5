#pragma once
// Where tests find the shared test data and the built binaries, and how they run them.

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace dsm::testing {

// $DSM_SHARED_DIR, else ../shared beside the repository.
std::string SharedDir();

// Skips the test (naming the data) when a shared path is missing; under CI=true the
// test fails instead, so CI never passes without the data.
#define DSM_REQUIRE_SHARED(relative_path)                                               \
  do {                                                                                  \
    const std::string dsm_path_ = ::dsm::testing::SharedDir() + "/" + (relative_path);  \
    if (!::dsm::testing::PathExists(dsm_path_)) {                                       \
      if (::dsm::testing::InCi()) {                                                     \
        FAIL() << "shared test data missing: " << dsm_path_ << " (set DSM_SHARED_DIR)"; \
      }                                                                                 \
      GTEST_SKIP() << "shared test data missing: " << dsm_path_                         \
                   << " (set DSM_SHARED_DIR to run this test)";                         \
    }                                                                                   \
  } while (0)

bool PathExists(const std::string& path);
bool InCi();

// Directory holding dsm and dsm-worker.
std::string BinDir();

// A fresh directory under the test's temp dir, named after the running test; outside a
// test (SetUpTestSuite) after this process, since ctest runs a suite's cases as
// concurrent processes that must not rewrite each other's fixtures; that one is removed
// when the process exits.
std::string MakeTempDir(const std::string& name);

// A path under the temp dir unique to this process: ctest runs test cases of one suite
// as concurrent processes, so suite-wide fixtures must not share files. Whatever is at
// the path is removed when this process exits (not when a child forked from it does).
std::string ProcessTempPath(const std::string& name);

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  double seconds = 0;
};

// Runs argv with stdin from `stdin_text`, capturing stdout and stderr.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_text = "");

}  // namespace dsm::testing
