// Sampling through `dsm run`: a seed reproduces its tokens across runs, batches and
// tensor-parallel sizes; another seed gives other tokens.

#include "gtest/gtest.h"
#include "tests/integration/run_helpers.h"
#include "tools/model_generator.h"

namespace dsm {
namespace {

using testing::DsmRun;

TEST(SamplingTest, SeedReproducesTokens) {
  DSM_REQUIRE_SHARED("models/stories260K/config.json");
  const std::string dir = testing::SharedDir() + "/models/stories260K";
  const std::string two = "{\"prompt_token_ids\": [1, 400, 261]}\n{\"prompt_token_ids\": [1]}\n";
  const std::vector<std::string> args = {"--temperature", "1.0",    "--top-p",      "0.95",
                                         "--top-k",       "40",     "--max-tokens", "24",
                                         "--ignore-eos",  "--seed", "1234"};
  testing::RunOutput a = DsmRun(dir, args, two);
  testing::RunOutput b = DsmRun(dir, args, two);
  std::vector<std::string> tp2 = args;
  tp2.insert(tp2.end(), {"--tp", "2"});
  testing::RunOutput c = DsmRun(dir, tp2, "{\"prompt_token_ids\": [1]}\n");
  std::vector<std::string> other = args;
  other.back() = "99";
  testing::RunOutput d = DsmRun(dir, other, two);
  for (const auto* r : {&a, &b, &c, &d}) ASSERT_EQ(r->command.exit_code, 0) << r->command.err;
  EXPECT_EQ(a.lines[0]["token_ids"], b.lines[0]["token_ids"]);
  EXPECT_EQ(a.lines[1]["token_ids"], b.lines[1]["token_ids"]);
  EXPECT_EQ(a.lines[1]["token_ids"], c.lines[0]["token_ids"]);  // alone, at tp 2
  EXPECT_NE(a.lines[0]["token_ids"], d.lines[0]["token_ids"]);
  EXPECT_EQ(a.lines[0]["token_ids"].size(), 24u);
}

TEST(SamplingTest, StopsAtEosUnlessIgnored) {
  const std::string dir = testing::MakeTempDir("eos");
  GeneratedModelSpec spec;
  spec.hidden_size = 32;
  spec.intermediate_size = 64;
  spec.vocab_size = 4;  // tiny vocabulary: EOS (id 1) comes up quickly
  spec.eos_token_id = 1;
  ASSERT_TRUE(WriteRandomModel(dir, spec).ok());
  const std::string prompt = "{\"prompt_token_ids\": [0, 2, 3]}\n";
  testing::RunOutput stopped =
      DsmRun(dir, {"--temperature", "1", "--seed", "3", "--max-tokens", "200"}, prompt);
  ASSERT_EQ(stopped.command.exit_code, 0) << stopped.command.err;
  const auto tokens = stopped.lines[0]["token_ids"].get<std::vector<int>>();
  EXPECT_EQ(stopped.lines[0]["finish_reason"], "eos");
  EXPECT_EQ(tokens.back(), 1);
  EXPECT_LT(tokens.size(), 200u);
  testing::RunOutput ignored = DsmRun(
      dir, {"--temperature", "1", "--seed", "3", "--max-tokens", "200", "--ignore-eos"}, prompt);
  ASSERT_EQ(ignored.command.exit_code, 0) << ignored.command.err;
  EXPECT_EQ(ignored.lines[0]["token_ids"].size(), 200u);
  EXPECT_EQ(ignored.lines[0]["finish_reason"], "length");
}

}  // namespace
}  // namespace dsm

namespace dsm {
namespace {

TEST(SamplingTest, ReportsTopLogprobsOfTheModelDistribution) {
  DSM_REQUIRE_SHARED("models/stories260K/config.json");
  const std::string dir = testing::SharedDir() + "/models/stories260K";
  testing::RunOutput out =
      testing::DsmRun(dir, {"--max-tokens", "4", "--ignore-eos", "--logprobs", "3"},
                      "{\"prompt_token_ids\": [1]}\n");
  ASSERT_EQ(out.command.exit_code, 0) << out.command.err;
  const auto& logprobs = out.lines[0]["logprobs"];
  ASSERT_EQ(logprobs.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    const auto& entry = logprobs[i];
    EXPECT_EQ(entry["token_id"], out.lines[0]["token_ids"][i]);
    ASSERT_EQ(entry["top"].size(), 3u);
    // Greedy: the chosen token is the most likely one, and logprobs are <= 0 and sorted.
    EXPECT_EQ(entry["top"][0][0], entry["token_id"]);
    EXPECT_FLOAT_EQ(entry["top"][0][1].get<float>(), entry["logprob"].get<float>());
    EXPECT_LE(entry["logprob"].get<float>(), 0.0f);
    EXPECT_GE(entry["top"][0][1].get<float>(), entry["top"][1][1].get<float>());
  }
  testing::RunOutput bad =
      testing::DsmRun(dir, {"--logprobs", "21"}, "{\"prompt_token_ids\": [1]}\n");
  EXPECT_NE(bad.command.exit_code, 0);
  EXPECT_NE(bad.command.err.find("logprobs = 21 is outside"), std::string::npos) << bad.command.err;
}

}  // namespace
}  // namespace dsm
