// Whole-model runs of the CUDA backend against the golden outputs of the shared models,
// in-process through the StepRunner, through `dsm run --backend cuda` and through
// `dsm serve --backend cuda`.
//
// Bounds (read the models' READMEs):
// - fp32 mode (fp32 activations and KV cache): greedy tokens identical; last-prompt
//   logits within 1e-4 of tiny-deepseek's float64 golden and within 5e-4 of stories260K's
//   float32 run.c reference (which itself is up to 7e-5 off an exact forward).
// - bf16 mode: tiny-deepseek's README derives that bf16 rounding of activations and KV
//   moves these logits by up to 0.15 and flips greedy tokens in 5 of 6 cases, so logits
//   are compared with 0.3 (against the golden and against fp32 mode) and tokens are not.

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/cuda/cuda_test_env.h"
#include "tests/integration/run_helpers.h"
#include "tests/integration/server_helpers.h"
#include "tests/support/golden.h"
#include "tests/support/test_env.h"
#include "worker/comm/communicator.h"
#include "worker/step_runner.h"

namespace dsm {
namespace {

using testing::GoldenCase;
using testing::MaxAbsDiff;

struct ModelCase {
  std::string name;
  double fp32_logit_bound;
};
const ModelCase kModels[] = {{"stories260K", 5e-4}, {"tiny-deepseek", 1e-4}};

void PrintTo(const ModelCase& c, std::ostream* os) { *os << c.name; }
std::string ModelTestName(const ::testing::TestParamInfo<ModelCase>& info) {
  std::string name = info.param.name;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::unique_ptr<StepRunner> CudaRunner(const std::string& dir, const std::string& precision,
                                       bool graphs = true) {
  RunnerOptions options;
  options.model_dir = dir;
  options.executor.backend = "cuda";
  options.executor.cuda_precision = precision;
  options.executor.cuda_graphs = graphs;
  options.executor.max_sequences = 16;
  options.executor.max_step_tokens = 2048;
  absl::StatusOr<std::unique_ptr<StepRunner>> runner =
      StepRunner::Create(options, std::make_unique<SingleRankCommunicator>());
  EXPECT_TRUE(runner.ok()) << runner.status();
  return runner.ok() ? *std::move(runner) : nullptr;
}

class CudaGoldenTest : public ::testing::TestWithParam<ModelCase> {
 protected:
  void SetUp() override {
    DSM_REQUIRE_SHARED("models/" + GetParam().name + "/golden.json");
    DSM_REQUIRE_CUDA_DEVICES(1);
    dir_ = testing::SharedDir() + "/models/" + GetParam().name;
    golden_ = testing::LoadGoldenCases(dir_ + "/golden.json");
  }
  int BlocksPerCase(const StepRunner& runner) const {
    size_t longest = 0;
    for (const GoldenCase& g : golden_)
      longest = std::max(longest, g.prompt.size() + g.greedy.size());
    const int block = runner.Info().kv_block_size();
    return static_cast<int>((longest + block - 1) / block);
  }
  std::string dir_;
  std::vector<GoldenCase> golden_;
};

// Each case alone (eager prefill, then graph-replayed decode at batch 1) and all cases
// in one batch (graphs padded from 6 sequences to 8).
TEST_P(CudaGoldenTest, Fp32ModeReproducesTheGoldenTokensAndLogits) {
  for (bool graphs : {true, false}) {
    SCOPED_TRACE(graphs ? "CUDA graphs" : "no graphs");
    std::unique_ptr<StepRunner> runner = CudaRunner(dir_, "fp32", graphs);
    ASSERT_NE(runner, nullptr);
    for (size_t c = 0; c < golden_.size(); ++c) {
      absl::StatusOr<std::vector<testing::GreedyRun>> run =
          testing::RunGreedyBatch(*runner, {golden_[c]}, BlocksPerCase(*runner));
      ASSERT_TRUE(run.ok()) << run.status();
      EXPECT_EQ((*run)[0].tokens, golden_[c].greedy) << "case " << c;
      EXPECT_LT(MaxAbsDiff((*run)[0].prompt_logits, golden_[c].last_logits),
                GetParam().fp32_logit_bound)
          << "case " << c;
    }
    absl::StatusOr<std::vector<testing::GreedyRun>> batch =
        testing::RunGreedyBatch(*runner, golden_, BlocksPerCase(*runner));
    ASSERT_TRUE(batch.ok()) << batch.status();
    for (size_t c = 0; c < golden_.size(); ++c) {
      EXPECT_EQ((*batch)[c].tokens, golden_[c].greedy) << "batched case " << c;
      EXPECT_LT(MaxAbsDiff((*batch)[c].prompt_logits, golden_[c].last_logits),
                GetParam().fp32_logit_bound)
          << "batched case " << c;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, CudaGoldenTest, ::testing::ValuesIn(kModels), ModelTestName);

TEST(CudaBf16Test, TinyDeepseekLogitsWithinTheBf16BoundOfGoldenAndFp32) {
  DSM_REQUIRE_SHARED("models/tiny-deepseek/golden.json");
  DSM_REQUIRE_CUDA_DEVICES(1);
  const std::string dir = testing::SharedDir() + "/models/tiny-deepseek";
  const std::vector<GoldenCase> golden = testing::LoadGoldenCases(dir + "/golden.json");
  std::unique_ptr<StepRunner> bf16 = CudaRunner(dir, "bf16");
  std::unique_ptr<StepRunner> fp32 = CudaRunner(dir, "fp32");
  ASSERT_NE(bf16, nullptr);
  ASSERT_NE(fp32, nullptr);
  const int blocks = 30;
  absl::StatusOr<std::vector<testing::GreedyRun>> a =
      testing::RunGreedyBatch(*bf16, golden, blocks);
  absl::StatusOr<std::vector<testing::GreedyRun>> b =
      testing::RunGreedyBatch(*fp32, golden, blocks);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  double worst_golden = 0, worst_fp32 = 0;
  for (size_t c = 0; c < golden.size(); ++c) {
    worst_golden = std::max(worst_golden, MaxAbsDiff((*a)[c].prompt_logits, golden[c].last_logits));
    worst_fp32 = std::max(worst_fp32, MaxAbsDiff((*a)[c].prompt_logits, (*b)[c].prompt_logits));
    // The first token follows from the prompt logits alone; with the golden margins
    // and the bf16 deviation it agrees with fp32 mode in most cases, so only the
    // logits are bounded.
  }
  std::printf("bf16 vs golden: max |logit diff| %.4f; bf16 vs fp32 mode: %.4f\n", worst_golden,
              worst_fp32);
  EXPECT_LT(worst_golden, 0.3);
  EXPECT_LT(worst_fp32, 0.3);
  EXPECT_GT(worst_fp32, 0.0);  // bf16 mode really runs in bf16
}

// Both shared models through real processes: `dsm run --backend cuda` (all prompts in
// one batch) and `dsm serve --backend cuda` (each prompt over GenerateStream), fp32 mode.
class CudaProcessTest : public CudaGoldenTest {};

TEST_P(CudaProcessTest, DsmRunBackendCudaGivesTheGoldenTokens) {
  std::vector<std::vector<int32_t>> prompts;
  for (const GoldenCase& g : golden_) prompts.push_back(g.prompt);
  const std::string tokens = std::to_string(golden_[0].greedy.size());
  testing::RunOutput out =
      testing::DsmRun(dir_,
                      {"--backend", "cuda", "--precision", "fp32", "--max-tokens", tokens,
                       "--ignore-eos", "--logits", "--gpu-memory-fraction", "0.5"},
                      testing::PromptsJsonl(prompts));
  ASSERT_EQ(out.command.exit_code, 0) << out.command.err;
  ASSERT_EQ(out.lines.size(), golden_.size());
  for (size_t c = 0; c < golden_.size(); ++c) {
    EXPECT_EQ(out.lines[c]["token_ids"].get<std::vector<int32_t>>(), golden_[c].greedy)
        << "case " << c;
    EXPECT_LT(
        MaxAbsDiff(out.lines[c]["logits"][0].get<std::vector<float>>(), golden_[c].last_logits),
        GetParam().fp32_logit_bound)
        << "case " << c;
  }
}

TEST_P(CudaProcessTest, DsmServeBackendCudaStreamsTheGoldenTokens) {
  std::unique_ptr<testing::ServerProcess> server =
      testing::ServerProcess::Start({"--model", dir_, "--backend", "cuda", "--precision", "fp32",
                                     "--gpu-memory-fraction", "0.5"});
  ASSERT_NE(server, nullptr);
  for (size_t c = 0; c < golden_.size(); ++c) {
    testing::StreamResult r = testing::CollectStream(
        server->stub(),
        testing::IdsRequest(golden_[c].prompt, testing::Greedy(golden_[c].greedy.size())));
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_EQ(r.tokens[0], golden_[c].greedy) << "case " << c;
  }
}

// Sampling at temperature > 0: rank 0 samples from device summaries of the rows (the full
// row only when a summary cannot decide) unless --device_sampling=false copies every row
// to the host. Same logits, same seeds: the same tokens, with cuts (top-k, top-p, min-p)
// and without (a draw over the whole vocabulary on the device), and the same logprobs.
TEST_P(CudaProcessTest, DeviceSamplingDrawsTheHostSamplersTokens) {
  std::vector<std::vector<int32_t>> prompts;
  for (const GoldenCase& g : golden_) prompts.push_back(g.prompt);
  for (const std::vector<std::string>& sampling :
       {std::vector<std::string>{"--temperature", "1.0"},
        std::vector<std::string>{"--temperature", "0.8", "--top_p", "0.9"},
        std::vector<std::string>{"--temperature", "1.3", "--top_k", "20", "--logprobs", "3"},
        std::vector<std::string>{"--temperature", "0.7", "--min_p", "0.05"}}) {
    std::vector<std::string> args = {
        "--max-tokens", "24",   "--ignore-eos",          "--seed", "5", "--backend", "cuda",
        "--precision",  "fp32", "--gpu-memory-fraction", "0.5"};
    args.insert(args.end(), sampling.begin(), sampling.end());
    std::vector<std::string> host_args = args;
    host_args.push_back("--device_sampling=false");
    testing::RunOutput device = testing::DsmRun(dir_, args, testing::PromptsJsonl(prompts));
    testing::RunOutput host = testing::DsmRun(dir_, host_args, testing::PromptsJsonl(prompts));
    ASSERT_EQ(device.command.exit_code, 0) << device.command.err;
    ASSERT_EQ(host.command.exit_code, 0) << host.command.err;
    ASSERT_EQ(device.lines.size(), host.lines.size());
    for (size_t c = 0; c < host.lines.size(); ++c) {
      EXPECT_EQ(device.lines[c]["token_ids"], host.lines[c]["token_ids"])
          << "case " << c << " " << sampling[1];
      if (!host.lines[c].contains("logprobs")) continue;
      // The normaliser is summed on the device in another order: logprobs within 1e-5.
      const auto& want = host.lines[c]["logprobs"];
      const auto& got = device.lines[c]["logprobs"];
      ASSERT_EQ(got.size(), want.size());
      for (size_t t = 0; t < want.size(); ++t) {
        EXPECT_NEAR(got[t]["logprob"].get<double>(), want[t]["logprob"].get<double>(), 1e-5);
        ASSERT_EQ(got[t]["top"].size(), want[t]["top"].size());
        for (size_t i = 0; i < want[t]["top"].size(); ++i) {
          EXPECT_EQ(got[t]["top"][i][0], want[t]["top"][i][0]);
          EXPECT_NEAR(got[t]["top"][i][1].get<double>(), want[t]["top"][i][1].get<double>(), 1e-5);
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, CudaProcessTest, ::testing::ValuesIn(kModels), ModelTestName);

TEST(CudaErrorsTest, MissingDeviceOrTooFewDevicesAreNamed) {
  DSM_REQUIRE_SHARED("models/tiny-deepseek/golden.json");
  const std::string dir = testing::SharedDir() + "/models/tiny-deepseek";
  RunnerOptions options;
  options.model_dir = dir;
  options.executor.backend = "cuda";
  options.executor.cuda_device = 64;  // no node has 65 GPUs
  absl::StatusOr<std::unique_ptr<StepRunner>> runner =
      StepRunner::Create(options, std::make_unique<SingleRankCommunicator>());
  ASSERT_FALSE(runner.ok());
  EXPECT_EQ(runner.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(runner.status().message());
  EXPECT_TRUE(message.find("needs CUDA device 64") != std::string::npos ||
              message.find("no usable CUDA device") != std::string::npos)
      << message;
}

}  // namespace
}  // namespace dsm
