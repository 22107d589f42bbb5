// The dsm command line as a user meets it: --help, per-command --help with that
// command's own flags and defaults, --version.

#include <sstream>

#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace dsm {
namespace {

testing::CommandResult Dsm(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {testing::BinDir() + "/dsm"};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunCommand(argv);
}

TEST(CliTest, VersionAndGeneralHelp) {
  testing::CommandResult version = Dsm({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("dsm ", 0), 0u) << version.out;
  testing::CommandResult help = Dsm({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* command : {"serve", "generate", "chat", "run", "tokenize", "make-model"}) {
    EXPECT_NE(help.out.find(std::string("  ") + command), std::string::npos) << command;
  }
  testing::CommandResult bare = Dsm({});
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_NE(bare.err.find("usage: dsm <command>"), std::string::npos);
}

TEST(CliTest, CommandHelpListsItsOwnFlagsWithDefaults) {
  testing::CommandResult serve = Dsm({"serve", "--help"});
  EXPECT_EQ(serve.exit_code, 0);
  EXPECT_NE(serve.out.find("--drain-timeout-s (default 30)"), std::string::npos) << serve.out;
  EXPECT_NE(serve.out.find("--max-running (default 256)"), std::string::npos);
  EXPECT_NE(serve.out.find("--backend (default cpu)"), std::string::npos);
  EXPECT_EQ(serve.out.find("--layers"), std::string::npos) << "make-model's flag in serve";
  testing::CommandResult make = Dsm({"make-model", "--help"});
  EXPECT_NE(make.out.find("--layers"), std::string::npos);
  EXPECT_EQ(make.out.find("--drain-timeout-s"), std::string::npos);
  // Every flag a command lists exists (a misspelt name would print nothing for it).
  for (const char* command : {"serve", "generate", "chat", "run", "tokenize", "make-model"}) {
    testing::CommandResult r = Dsm({command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << command;
    // Each flag line reads "  --name (default value)"; a listed name that does not exist
    // would print no line at all, so compare with the count of flag names listed.
    size_t flags = 0, with_default = 0;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("  --", 0) != 0) continue;
      ++flags;
      if (line.find(" (default ") != std::string::npos) ++with_default;
    }
    EXPECT_EQ(flags, with_default) << command;
    EXPECT_GT(flags, 4u) << command;
  }
}

}  // namespace
}  // namespace dsm
