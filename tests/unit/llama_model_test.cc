// The forward pass in-process on one rank, against stories260K's golden outputs.

#include <cmath>

#include "common/file_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/golden.h"
#include "tests/support/test_env.h"
#include "worker/step_runner.h"

namespace dsm {
namespace {

using testing::GoldenCase;

class LlamaModelGoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DSM_REQUIRE_SHARED("models/stories260K/golden.json");
    dir_ = testing::SharedDir() + "/models/stories260K";
    golden_ = testing::LoadGoldenCases(dir_ + "/golden.json");
    RunnerOptions options;
    options.model_dir = dir_;
    options.executor.threads = 2;
    options.executor.kv_cache_bytes = 16 << 20;
    absl::StatusOr<std::unique_ptr<StepRunner>> runner =
        StepRunner::Create(options, std::make_unique<SingleRankCommunicator>());
    ASSERT_TRUE(runner.ok()) << runner.status();
    runner_ = *std::move(runner);
  }

  std::string dir_;
  std::vector<GoldenCase> golden_;
  std::unique_ptr<StepRunner> runner_;
};

TEST_F(LlamaModelGoldenTest, PrefillLogitsAndGreedyDecodeMatchReference) {
  const int block_size = runner_->Info().kv_block_size();
  for (size_t c = 0; c < golden_.size(); ++c) {
    const GoldenCase& g = golden_[c];
    const int blocks = (g.prompt.size() + g.greedy.size() + block_size - 1) / block_size;
    std::vector<int32_t> table;
    for (int b = 0; b < blocks; ++b) table.push_back(static_cast<int32_t>(c * 40 + b));
    std::vector<int32_t> feed = g.prompt;
    std::vector<int32_t> generated;
    int64_t position = 0;
    for (size_t step = 0; step < g.greedy.size(); ++step) {
      v1::StepRequest request;
      v1::SequenceStep* s = request.add_sequences();
      s->set_seq_id(c);
      s->mutable_token_ids()->Assign(feed.begin(), feed.end());
      s->set_start_position(position);
      s->mutable_block_table()->Assign(table.begin(), table.end());
      s->set_sample(true);
      s->set_return_logits(step == 0);
      if (step == 0) {
        s->mutable_sampling()->set_top_p(1.0f);
        s->mutable_sampling()->set_repetition_penalty(1.0f);
        s->set_prompt_length(static_cast<int32_t>(g.prompt.size()));
      }
      absl::StatusOr<v1::StepResponse> response = runner_->Step(request);
      ASSERT_TRUE(response.ok()) << response.status();
      ASSERT_EQ(response->tokens_size(), 1);
      if (step == 0) {
        const auto& logits = response->tokens(0).logits();
        ASSERT_EQ(logits.size(), 512);
        double max_diff = 0;
        for (int i = 0; i < 512; ++i) {
          max_diff = std::max(max_diff, std::abs(double(logits[i]) - g.last_logits[i]));
        }
        EXPECT_LT(max_diff, 5e-4) << "case " << c;
      }
      position += static_cast<int64_t>(feed.size());
      generated.push_back(response->tokens(0).token_id());
      feed = {generated.back()};
    }
    EXPECT_EQ(generated, g.greedy) << "case " << c;
  }
}

TEST_F(LlamaModelGoldenTest, BadStepsFailAloneWithClearErrors) {
  auto step_error = [&](auto mutate) {
    v1::StepRequest request;
    v1::SequenceStep* s = request.add_sequences();
    s->set_seq_id(1);
    s->add_token_ids(1);
    s->add_block_table(0);
    s->set_sample(true);
    s->mutable_sampling()->set_top_p(1.0f);
    s->mutable_sampling()->set_repetition_penalty(1.0f);
    mutate(s);
    absl::StatusOr<v1::StepResponse> r = runner_->Step(request);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(r.status().message());
  };
  EXPECT_NE(step_error([](v1::SequenceStep* s) {
              s->set_token_ids(0, 512);
            }).find("token id 512 is outside the vocabulary [0, 512)"),
            std::string::npos);
  EXPECT_NE(step_error([](v1::SequenceStep* s) {
              s->set_start_position(512);
            }).find("exceed the model context of 512"),
            std::string::npos);
  EXPECT_NE(step_error([](v1::SequenceStep* s) {
              s->set_block_table(0, 1 << 30);
            }).find("outside the pool"),
            std::string::npos);
  EXPECT_NE(step_error([](v1::SequenceStep* s) {
              s->mutable_sampling()->set_temperature(-1);
            }).find("temperature"),
            std::string::npos);
  // The runner still serves after the failures.
  v1::StepRequest ok;
  v1::SequenceStep* s = ok.add_sequences();
  s->set_seq_id(2);
  s->add_token_ids(1);
  s->add_block_table(0);
  s->set_sample(true);
  s->mutable_sampling()->set_top_p(1.0f);
  s->mutable_sampling()->set_repetition_penalty(1.0f);
  absl::StatusOr<v1::StepResponse> r = runner_->Step(ok);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tokens(0).token_id(), golden_[0].greedy[0]);
}

// Plain greedy rows are picked by the executor (in parallel over rows); rows that return
// their logits go through Sample(). The same prompt both ways, in one batch, beside a
// third sequence, gives the same token and the same logprob bits.
TEST_F(LlamaModelGoldenTest, GreedyRowsPickedByTheExecutorEqualTheSampler) {
  v1::StepRequest request;
  auto add = [&](uint64_t id, const std::vector<int32_t>& prompt, int32_t first_block,
                 bool return_logits) {
    v1::SequenceStep* s = request.add_sequences();
    s->set_seq_id(id);
    s->mutable_token_ids()->Assign(prompt.begin(), prompt.end());
    for (int32_t b = 0; b < 8; ++b) s->add_block_table(first_block + b);
    s->set_sample(true);
    s->set_return_logits(return_logits);
    s->mutable_sampling()->set_top_p(1.0f);
    s->mutable_sampling()->set_repetition_penalty(1.0f);
    s->set_prompt_length(static_cast<int32_t>(prompt.size()));
  };
  add(10, golden_[0].prompt, 0, false);
  add(11, golden_[1].prompt, 8, false);
  add(12, golden_[0].prompt, 16, true);
  absl::StatusOr<v1::StepResponse> response = runner_->Step(request);
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->tokens_size(), 3);
  const v1::SampledToken& picked = response->tokens(0);
  const v1::SampledToken& sampled = response->tokens(2);
  EXPECT_EQ(picked.token_id(), golden_[0].greedy[0]);
  EXPECT_EQ(response->tokens(1).token_id(), golden_[1].greedy[0]);
  EXPECT_EQ(picked.token_id(), sampled.token_id());
  EXPECT_EQ(picked.logprob(), sampled.logprob());
  EXPECT_LT(picked.logprob(), 0.0f);
  EXPECT_EQ(picked.logits_size(), 0);
  EXPECT_EQ(sampled.logits_size(), 512);
}

// Rows sampled from their full logits run on the executor's threads together; each gives
// what it gives alone (seeded draws, penalties, top logprobs), and in batch order.
TEST_F(LlamaModelGoldenTest, RowsSampledTogetherEqualEachSampledAlone) {
  auto add = [&](v1::StepRequest& request, uint64_t id, size_t c, int32_t first_block) {
    v1::SequenceStep* s = request.add_sequences();
    s->set_seq_id(id);
    s->mutable_token_ids()->Assign(golden_[c].prompt.begin(), golden_[c].prompt.end());
    for (int32_t b = 0; b < 8; ++b) s->add_block_table(first_block + b);
    s->set_sample(true);
    v1::SamplingParams* p = s->mutable_sampling();
    p->set_temperature(1.0f + 0.25f * static_cast<float>(c));
    p->set_top_p(c == 1 ? 0.9f : 1.0f);
    p->set_repetition_penalty(c == 2 ? 1.3f : 1.0f);
    p->set_seed(100 + c);
    p->set_logprobs(2);
    s->set_prompt_length(static_cast<int32_t>(golden_[c].prompt.size()));
  };
  v1::StepRequest together;
  for (size_t c = 0; c < 3; ++c) add(together, 20 + c, c, static_cast<int32_t>(c * 8));
  absl::StatusOr<v1::StepResponse> batch = runner_->Step(together);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->tokens_size(), 3);
  for (size_t c = 0; c < 3; ++c) {
    v1::StepRequest alone;
    add(alone, 30 + c, c, 24);
    absl::StatusOr<v1::StepResponse> single = runner_->Step(alone);
    ASSERT_TRUE(single.ok()) << single.status();
    const v1::SampledToken& a = single->tokens(0);
    const v1::SampledToken& b = batch->tokens(static_cast<int>(c));
    EXPECT_EQ(b.seq_id(), 20 + c);
    EXPECT_EQ(a.token_id(), b.token_id()) << "case " << c;
    EXPECT_EQ(a.logprob(), b.logprob()) << "case " << c;
    ASSERT_EQ(a.top_logprobs_size(), 2);
    ASSERT_EQ(b.top_logprobs_size(), 2);
    for (int k = 0; k < 2; ++k) {
      EXPECT_EQ(a.top_logprobs(k).token_id(), b.top_logprobs(k).token_id());
      EXPECT_EQ(a.top_logprobs(k).logprob(), b.top_logprobs(k).logprob());
    }
    v1::StepRequest free_it;
    free_it.add_free_seq_ids(30 + c);
    ASSERT_TRUE(runner_->Step(free_it).ok());
  }
}

// tiny-deepseek (DeepSeek-Math's configuration, bf16 weights) against its float64
// golden: the CPU backend's fp32 activations land within the README's 1e-4 and give the
// greedy tokens exactly, each case alone and all six in one batch.
// A one-rank CPU runner over tiny-deepseek with the given KV-cache dtype.
RunnerOptions TinyDeepseekOptions(const std::string& kv_cache_dtype) {
  RunnerOptions options;
  options.model_dir = testing::SharedDir() + "/models/tiny-deepseek";
  options.executor.threads = 2;
  options.executor.kv_cache_bytes = 64 << 20;
  options.executor.kv_cache_dtype = kv_cache_dtype;
  return options;
}

// Each golden case run alone gives the bits and tokens it gave in the batch.
void ExpectAloneEqualsBatched(StepRunner& runner, const std::vector<GoldenCase>& golden,
                              const std::vector<testing::GreedyRun>& batch, int blocks_per_case) {
  for (size_t c = 0; c < golden.size(); ++c) {
    absl::StatusOr<std::vector<testing::GreedyRun>> alone =
        testing::RunGreedyBatch(runner, {golden[c]}, blocks_per_case);
    ASSERT_TRUE(alone.ok()) << alone.status();
    EXPECT_EQ((*alone)[0].prompt_logits, batch[c].prompt_logits) << "case " << c;
    EXPECT_EQ((*alone)[0].tokens, batch[c].tokens) << "case " << c;
  }
}

// Creating a runner with these options fails with INVALID_ARGUMENT naming `flag`.
void ExpectRefused(const RunnerOptions& options, const std::string& flag) {
  absl::StatusOr<std::unique_ptr<StepRunner>> bad =
      StepRunner::Create(options, std::make_unique<SingleRankCommunicator>());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find(flag), std::string::npos) << bad.status();
}

TEST(TinyDeepseekCpuTest, MatchesTheFloat64Golden) {
  DSM_REQUIRE_SHARED("models/tiny-deepseek/golden.json");
  const RunnerOptions options = TinyDeepseekOptions("f32");
  const std::vector<GoldenCase> golden =
      testing::LoadGoldenCases(options.model_dir + "/golden.json");
  absl::StatusOr<std::unique_ptr<StepRunner>> runner =
      StepRunner::Create(options, std::make_unique<SingleRankCommunicator>());
  ASSERT_TRUE(runner.ok()) << runner.status();
  const int blocks_per_case = 24;  // 332 positions at 16 per block
  absl::StatusOr<std::vector<testing::GreedyRun>> batch =
      testing::RunGreedyBatch(**runner, golden, blocks_per_case);
  ASSERT_TRUE(batch.ok()) << batch.status();
  for (size_t c = 0; c < golden.size(); ++c) {
    EXPECT_EQ((*batch)[c].tokens, golden[c].greedy) << "case " << c;
    EXPECT_LT(testing::MaxAbsDiff((*batch)[c].prompt_logits, golden[c].last_logits), 1e-4)
        << "case " << c;
    absl::StatusOr<std::vector<testing::GreedyRun>> alone =
        testing::RunGreedyBatch(**runner, {golden[c]}, blocks_per_case);
    ASSERT_TRUE(alone.ok()) << alone.status();
    EXPECT_EQ((*alone)[0].prompt_logits, (*batch)[c].prompt_logits)
        << "case " << c << ": batched and alone differ (batch invariance)";
  }
}

// The opt-in bf16 KV cache on tiny-deepseek: only K and V are rounded (activations stay
// fp32), a part of the rounding the README's float64 simulation of a bf16 engine applies,
// which lands up to 0.15 from the golden logits; so the bound here is that 0.15, and the
// mode stays deterministic: batched and alone give the same bits.
TEST(TinyDeepseekCpuTest, Bf16KvCacheStaysWithinTheBf16BoundAndBatchInvariant) {
  DSM_REQUIRE_SHARED("models/tiny-deepseek/golden.json");
  RunnerOptions options = TinyDeepseekOptions("bf16");
  const std::vector<GoldenCase> golden =
      testing::LoadGoldenCases(options.model_dir + "/golden.json");
  absl::StatusOr<std::unique_ptr<StepRunner>> runner =
      StepRunner::Create(options, std::make_unique<SingleRankCommunicator>());
  ASSERT_TRUE(runner.ok()) << runner.status();
  const int blocks_per_case = 24;
  absl::StatusOr<std::vector<testing::GreedyRun>> batch =
      testing::RunGreedyBatch(**runner, golden, blocks_per_case);
  ASSERT_TRUE(batch.ok()) << batch.status();
  double worst = 0;
  for (size_t c = 0; c < golden.size(); ++c) {
    const double diff = testing::MaxAbsDiff((*batch)[c].prompt_logits, golden[c].last_logits);
    worst = std::max(worst, diff);
    EXPECT_LT(diff, 0.15) << "case " << c;
  }
  ExpectAloneEqualsBatched(**runner, golden, *batch, blocks_per_case);
  std::printf("bf16 KV cache vs the float64 golden: max |logit diff| %.4f\n", worst);
  // The rounding is real: the cache is not secretly f32.
  EXPECT_GT(worst, 1e-4);

  options.executor.kv_cache_dtype = "fp8";
  ExpectRefused(options, "--kv-cache-dtype");
}

// The opt-in bf16 dot-product mode (--activation-dtype bf16) on tiny-deepseek: it rounds
// the activations entering every weight GEMM to bf16 and each feature pair's sum to f32
// (VDPBF16PS), the kind of rounding the README's float64 simulation of a bf16 engine
// applies: that lands up to 0.15 from the golden logits, and the README advises testing
// such a mode against these logits, or the same engine's fp32 mode, with ~0.3. This mode
// measures 0.163 (case 2). Greedy tokens may differ (they do for such an engine in 5 of
// 6 cases). The mode stays deterministic: batched and alone give the same bits.
TEST(TinyDeepseekCpuTest, Bf16ActivationsStayWithinTheBf16BoundAndBatchInvariant) {
  DSM_REQUIRE_SHARED("models/tiny-deepseek/golden.json");
  RunnerOptions exact_options = TinyDeepseekOptions("f32");
  RunnerOptions options = exact_options;
  options.executor.activation_dtype = "bf16";
  const std::vector<GoldenCase> golden =
      testing::LoadGoldenCases(options.model_dir + "/golden.json");
  absl::StatusOr<std::unique_ptr<StepRunner>> exact =
      StepRunner::Create(exact_options, std::make_unique<SingleRankCommunicator>());
  ASSERT_TRUE(exact.ok()) << exact.status();
  absl::StatusOr<std::unique_ptr<StepRunner>> runner =
      StepRunner::Create(options, std::make_unique<SingleRankCommunicator>());
  ASSERT_TRUE(runner.ok()) << runner.status();
  const int blocks_per_case = 24;
  absl::StatusOr<std::vector<testing::GreedyRun>> exact_runs =
      testing::RunGreedyBatch(**exact, golden, blocks_per_case);
  ASSERT_TRUE(exact_runs.ok()) << exact_runs.status();
  absl::StatusOr<std::vector<testing::GreedyRun>> batch =
      testing::RunGreedyBatch(**runner, golden, blocks_per_case);
  ASSERT_TRUE(batch.ok()) << batch.status();
  double worst_golden = 0, worst_exact = 0;
  for (size_t c = 0; c < golden.size(); ++c) {
    const double to_golden = testing::MaxAbsDiff((*batch)[c].prompt_logits, golden[c].last_logits);
    const double to_exact =
        testing::MaxAbsDiff((*batch)[c].prompt_logits, (*exact_runs)[c].prompt_logits);
    worst_golden = std::max(worst_golden, to_golden);
    worst_exact = std::max(worst_exact, to_exact);
    EXPECT_LT(to_golden, 0.3) << "case " << c;
    EXPECT_LT(to_exact, 0.3) << "case " << c;
  }
  ExpectAloneEqualsBatched(**runner, golden, *batch, blocks_per_case);
  std::printf("bf16 activations: max |logit diff| %.4f to the float64 golden, %.4f to f32\n",
              worst_golden, worst_exact);
  // The rounding is real: the mode is not secretly the exact one.
  EXPECT_GT(worst_exact, 1e-4);

  options.executor.activation_dtype = "int8";
  ExpectRefused(options, "--activation-dtype");
}

// The mode multiplies bf16 weights; an f32 checkpoint gets an error naming the flag and
// the tensor instead of a silent conversion.
TEST(Stories260KCpuTest, Bf16ActivationsNeedBf16Weights) {
  DSM_REQUIRE_SHARED("models/stories260K/config.json");
  RunnerOptions options;
  options.model_dir = testing::SharedDir() + "/models/stories260K";
  options.executor.threads = 1;
  options.executor.kv_cache_bytes = 8 << 20;
  options.executor.activation_dtype = "bf16";
  absl::StatusOr<std::unique_ptr<StepRunner>> runner =
      StepRunner::Create(options, std::make_unique<SingleRankCommunicator>());
  ASSERT_FALSE(runner.ok());
  EXPECT_EQ(runner.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(runner.status().message().find("--activation-dtype bf16"), std::string::npos)
      << runner.status();
  EXPECT_NE(runner.status().message().find("F32"), std::string::npos) << runner.status();
}

}  // namespace
}  // namespace dsm
