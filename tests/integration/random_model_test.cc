// A random model of DeepSeek-Math's shape family (MHA, bf16 weights, untied lm_head,
// two safetensors shards), written by `dsm make-model`.
//
// Tolerance: --tp 2 changes only the order of fp32 summation — the row-parallel o_proj
// and down_proj each become two partial sums added by the all-reduce, and the vocab
// split changes nothing in a logit's own dot product. Each reordering perturbs a sum of
// k products by about k * 2^-24 of their magnitude; through 2 layers and the lm_head
// that stays well under 1e-4 for logits of magnitude ~1-10 (measured: see
// docs/PERFORMANCE.md). Batching changes no summation at all (every token runs the
// same instruction sequence), so batched and lone logits must be bitwise equal.

#include <cmath>
#include <random>

#include "gtest/gtest.h"
#include "tests/integration/run_helpers.h"

namespace dsm {
namespace {

using testing::DsmRun;

constexpr double kTpTolerance = 1e-4;

class RandomModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::ProcessTempPath("random_model"));
    testing::CommandResult made = testing::RunCommand(
        {testing::BinDir() + "/dsm", "make-model", "--out", *dir_, "--shards", "2", "--seed", "5"});
    // A failure here must fail the tests, not mark them skipped: SetUp reports it.
    if (made.exit_code != 0) setup_error_ = new std::string(made.err);
  }
  void SetUp() override {
    if (setup_error_ != nullptr) FAIL() << "dsm make-model failed: " << *setup_error_;
  }

  static std::vector<std::vector<int32_t>> Prompts() {
    std::mt19937 rng(11);
    std::vector<std::vector<int32_t>> prompts;
    for (int i = 0; i < 8; ++i) {
      std::vector<int32_t> p(3 + 9 * i);  // 3 .. 66 tokens
      for (int32_t& t : p) t = static_cast<int32_t>(rng() % 1024);
      prompts.push_back(p);
    }
    return prompts;
  }

  static double MaxLogitDiff(const nlohmann::json& a, const nlohmann::json& b) {
    double diff = 0;
    const auto& la = a["logits"];
    const auto& lb = b["logits"];
    EXPECT_EQ(la.size(), lb.size());
    for (size_t s = 0; s < std::min(la.size(), lb.size()); ++s) {
      for (size_t i = 0; i < la[s].size(); ++i) {
        diff = std::max(diff, std::abs(la[s][i].get<double>() - lb[s][i].get<double>()));
      }
    }
    return diff;
  }

  static std::string* dir_;
  static std::string* setup_error_;
};
std::string* RandomModelTest::dir_ = nullptr;
std::string* RandomModelTest::setup_error_ = nullptr;

const std::vector<std::string> kArgs = {"--max-tokens", "6", "--ignore-eos", "--logits"};

std::vector<std::string> With(std::vector<std::string> args, const std::string& tp) {
  args.push_back("--tp");
  args.push_back(tp);
  return args;
}

TEST_F(RandomModelTest, Tp2LogitsAgreeWithTp1) {
  const std::string input = testing::PromptsJsonl(Prompts());
  testing::RunOutput tp1 = DsmRun(*dir_, With(kArgs, "1"), input);
  testing::RunOutput tp2 = DsmRun(*dir_, With(kArgs, "2"), input);
  ASSERT_EQ(tp1.command.exit_code, 0) << tp1.command.err;
  ASSERT_EQ(tp2.command.exit_code, 0) << tp2.command.err;
  ASSERT_EQ(tp1.lines.size(), 8u);
  ASSERT_EQ(tp2.lines.size(), 8u);
  double worst = 0;
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(tp1.lines[i]["token_ids"], tp2.lines[i]["token_ids"]) << "prompt " << i;
    worst = std::max(worst, MaxLogitDiff(tp1.lines[i], tp2.lines[i]));
  }
  EXPECT_LT(worst, kTpTolerance);
  std::printf("max |logit(tp2) - logit(tp1)| = %.3g\n", worst);
}

TEST_F(RandomModelTest, BatchedSequencesMatchEachRunAlone) {
  const auto prompts = Prompts();
  testing::RunOutput batched = DsmRun(*dir_, With(kArgs, "1"), testing::PromptsJsonl(prompts));
  ASSERT_EQ(batched.command.exit_code, 0) << batched.command.err;
  ASSERT_EQ(batched.lines.size(), 8u);
  for (size_t i = 0; i < prompts.size(); ++i) {
    testing::RunOutput alone = DsmRun(*dir_, With(kArgs, "1"), testing::PromptsJsonl({prompts[i]}));
    ASSERT_EQ(alone.command.exit_code, 0) << alone.command.err;
    EXPECT_EQ(alone.lines[0]["token_ids"], batched.lines[i]["token_ids"]) << "prompt " << i;
    EXPECT_EQ(MaxLogitDiff(alone.lines[0], batched.lines[i]), 0.0) << "prompt " << i;
  }
}

TEST_F(RandomModelTest, BatchedMatchesAloneAtTp2) {
  const auto prompts = Prompts();
  testing::RunOutput batched = DsmRun(*dir_, With(kArgs, "2"), testing::PromptsJsonl(prompts));
  ASSERT_EQ(batched.command.exit_code, 0) << batched.command.err;
  testing::RunOutput alone = DsmRun(*dir_, With(kArgs, "2"), testing::PromptsJsonl({prompts[7]}));
  ASSERT_EQ(alone.command.exit_code, 0) << alone.command.err;
  EXPECT_EQ(alone.lines[0]["token_ids"], batched.lines[7]["token_ids"]);
  EXPECT_EQ(MaxLogitDiff(alone.lines[0], batched.lines[7]), 0.0);
}

}  // namespace
}  // namespace dsm
