// `dsm eval --data` against `dsm serve --demo` (random weights: accuracy is meaningless, so
// the checks are on the plumbing): every problem answered once, in order, with progress
// lines, counts that add up, votes over several samples, and clear errors for bad input.

#include <filesystem>
#include <fstream>

#include "answers/final_answer.h"
#include "answers/normalize_answer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/server_helpers.h"

namespace dsm {
namespace {

std::vector<nlohmann::json> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class EvalTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string cache = testing::MakeTempDir("eval-cache");
    setenv("XDG_CACHE_HOME", cache.c_str(), 1);
    server_ = testing::ServerProcess::Start({"--demo"}).release();
    data_ = testing::MakeTempDir("eval") + "/problems.jsonl";
    std::ofstream out(data_);
    out << nlohmann::json{{"problem", "What is 1 + 1?"}, {"answer", "2"}}.dump() << "\n"
        << nlohmann::json{{"question", "Tom has 3 apples and buys 4. How many?"},
                          {"answer", "3 + 4 = <<3+4=7>>7\n#### 7"}}
               .dump()
        << "\n"
        << nlohmann::json{{"problem", "Simplify $\\frac{2}{4}$."}, {"answer", "\\frac{1}{2}"}}
               .dump()
        << "\n\n"
        << nlohmann::json{{"problem", "How many degrees in a right angle?"}, {"answer", 90}}.dump()
        << "\n"
        << nlohmann::json{{"question", "求 2 的平方。"}, {"answer", "#### 4"}}.dump() << "\n";
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  testing::CommandResult Eval(std::vector<std::string> args) {
    args.insert(args.begin(), {testing::BinDir() + "/dsm", "eval"});
    return testing::RunCommand(args);
  }
  static testing::ServerProcess* server_;
  static std::string data_;
};
testing::ServerProcess* EvalTest::server_ = nullptr;
std::string EvalTest::data_;

TEST_F(EvalTest, AnswersEveryProblemInOrderWithProgressAndCounts) {
  ASSERT_NE(server_, nullptr);
  for (const char* prompt_template : {"cot", "few-shot"}) {
    const std::string output = testing::MakeTempDir("eval") + "/items.jsonl";
    const testing::CommandResult r =
        Eval({"--addr", server_->address(), "--data", data_, "--output", output, "--template",
              prompt_template, "--max_tokens", "12", "--concurrency", "2"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(Count(r.err, "eval: "), 5u) << r.err;  // one progress line per problem
    EXPECT_NE(r.err.find("eval: 5/5 done"), std::string::npos) << r.err;
    EXPECT_NE(r.out.find("problems: 5"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("failed: 0"), std::string::npos) << r.out;
    const std::vector<nlohmann::json> items = ReadLines(output);
    ASSERT_EQ(items.size(), 5u);
    const std::vector<std::string> expected = {"2", "7", "1/2", "90", "4"};
    int correct = 0, tokens = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      const nlohmann::json& item = items[i];
      EXPECT_EQ(item["index"], i);
      EXPECT_EQ(item["expected"], expected[i]);
      ASSERT_EQ(item["extracted"].size(), 1u);
      ASSERT_EQ(item["completions"].size(), 1u);
      // The server's final answer is the one its text states.
      const std::optional<std::string> stated =
          answers::ExtractFinalAnswer(item["completions"][0].get<std::string>());
      if (stated && !answers::NormalizeAnswer(*stated).empty()) {
        EXPECT_EQ(item["extracted"][0], answers::NormalizeAnswer(*stated));
      } else {
        EXPECT_TRUE(item["extracted"][0].is_null());
      }
      EXPECT_EQ(item["correct"].get<bool>(),
                !item["answer"].is_null() && item["answer"] == item["expected"]);
      correct += item["correct"].get<bool>() ? 1 : 0;
      tokens += item["completion_tokens"].get<int>();
      EXPECT_GT(item["completion_tokens"].get<int>(), 0);
    }
    EXPECT_NE(r.out.find("correct: " + std::to_string(correct)), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("completion tokens: " + std::to_string(tokens)), std::string::npos)
        << r.out;
  }
}

TEST_F(EvalTest, VotesOverSeveralSamples) {
  ASSERT_NE(server_, nullptr);
  const std::string output = testing::MakeTempDir("eval-vote") + "/items.jsonl";
  const testing::CommandResult r = Eval({"--addr", server_->address(), "--data", data_, "--output",
                                         output, "--vote", "3", "--early_stop", "--temperature",
                                         "1", "--seed", "5", "--max_tokens", "8", "--limit", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::vector<nlohmann::json> items = ReadLines(output);
  ASSERT_EQ(items.size(), 3u);
  for (const nlohmann::json& item : items) {
    ASSERT_EQ(item["extracted"].size(), 3u);
    int votes = 0, stated = 0;
    for (const auto& [answer, count] : item["votes"].items()) votes += count.get<int>();
    for (const nlohmann::json& e : item["extracted"]) stated += e.is_null() ? 0 : 1;
    EXPECT_EQ(votes, stated);
    EXPECT_EQ(item["samples_completed"].get<int>() + item["samples_stopped"].get<int>(), 3);
  }
}

TEST_F(EvalTest, BadSettingsAndDataGetClearErrors) {
  ASSERT_NE(server_, nullptr);
  testing::CommandResult r = Eval({"--addr", server_->address(), "--data", data_, "--vote", "3"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--temperature > 0"), std::string::npos) << r.err;
  r = Eval({"--addr", server_->address(), "--data", data_, "--template", "sonnet"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--template must be"), std::string::npos) << r.err;
  const std::string bad = testing::MakeTempDir("eval-bad") + "/bad.jsonl";
  std::ofstream(bad) << "{\"problem\": \"1+1\", \"answer\": \"2\"}\n{\"problem\": \"no answer\"}\n";
  r = Eval({"--addr", server_->address(), "--data", bad});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--data line 2"), std::string::npos) << r.err;
  r = Eval({"--addr", "127.0.0.1:1", "--data", data_, "--limit", "1", "--timeout_s", "5"});
  EXPECT_EQ(r.exit_code, 1);  // the request failed: counted, not hidden
  EXPECT_NE(r.out.find("failed: 1"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace dsm
