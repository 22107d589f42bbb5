// `dsm eval --score-only`: the interface scripts rely on — one JSON line per input line,
// in order, with "extracted" (normalized, or null) and "correct"; accuracy on stderr.

#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_env.h"

namespace dsm {
namespace {

std::vector<nlohmann::json> Lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) lines.push_back(nlohmann::json::parse(text.substr(start, end - start)));
    start = end + 1;
  }
  return lines;
}

TEST(EvalScoreOnlyTest, ScoresEachLineInOrderAndReportsAccuracy) {
  const std::string path = testing::MakeTempDir("eval_score") + "/completions.jsonl";
  {
    std::ofstream file(path);
    file << nlohmann::json{{"completion", "Halve it: \\boxed{\\dfrac{1}{2}}."}, {"answer", "0.5"}}
                .dump()
         << "\n"
         << nlohmann::json{{"completion", "3 + 4 = 7 bags.\n#### 7"},
                           {"answer", "She has 3 + 4 = <<3+4=7>>7 bags.\n#### 7"}}
                .dump()
         << "\n"
         << nlohmann::json{{"completion", "The answer is 1,000 dollars."}, {"answer", 1000}}.dump()
         << "\n"
         << nlohmann::json{{"completion", "I am not sure."}, {"answer", "2"}}.dump() << "\n"
         << nlohmann::json{{"completion", "\\boxed{x = 3}"}, {"answer", "4"}}.dump() << "\n"
         << "\n"  // blank lines are not items
         << nlohmann::json{{"completion", "所以答案是 \\frac{3}{4}。"}, {"answer", "0.75"}}.dump()
         << "\n";
  }
  const testing::CommandResult r =
      testing::RunCommand({testing::BinDir() + "/dsm", "eval", "--score-only", path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<nlohmann::json> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 6u) << r.out;
  const std::vector<bool> correct = {true, true, true, false, false, true};
  const std::vector<nlohmann::json> extracted = {"1/2", "7", "1000", nullptr, "3", "3/4"};
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["correct"].get<bool>(), correct[i]) << i << ": " << lines[i].dump();
    EXPECT_EQ(lines[i]["extracted"], extracted[i]) << i;
  }
  EXPECT_NE(r.err.find("accuracy: 0.6667 (4/6 correct)"), std::string::npos) << r.err;
}

TEST(EvalScoreOnlyTest, BadLinesAreNamedAndKeepTheirPlace) {
  const testing::CommandResult r =
      testing::RunCommand({testing::BinDir() + "/dsm", "eval", "--score-only=-"},
                          "{\"completion\": \"\\\\boxed{2}\", \"answer\": \"2\"}\nnot json\n"
                          "{\"answer\": \"2\"}\n{\"completion\": \"#### 5\", \"answer\": [5]}\n");
  EXPECT_EQ(r.exit_code, 1);
  const std::vector<nlohmann::json> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_TRUE(lines[0]["correct"].get<bool>());
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_FALSE(lines[i]["correct"].get<bool>());
    EXPECT_TRUE(lines[i]["extracted"].is_null());
    EXPECT_TRUE(lines[i].contains("error"));
  }
  EXPECT_NE(r.err.find("line 2: not a JSON object"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("line 3: needs \"completion\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("line 4: needs \"answer\""), std::string::npos) << r.err;
  const testing::CommandResult missing = testing::RunCommand(
      {testing::BinDir() + "/dsm", "eval", "--score-only", "/nonexistent/file.jsonl"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("/nonexistent/file.jsonl"), std::string::npos);
}

}  // namespace
}  // namespace dsm
