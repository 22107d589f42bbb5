// Bad models and bad prompts through `dsm run` and `dsm-worker`: a clear error naming
// the file, tensor or line, a non-zero exit, and never a crash or a hang.

#include <filesystem>

#include "common/file_util.h"
#include "coordinator/local_worker_group.h"
#include "gtest/gtest.h"
#include "tests/integration/run_helpers.h"
#include "tools/model_generator.h"
#include "worker/safetensors_writer.h"

namespace dsm {
namespace {

using testing::DsmRun;

// A small valid model to break in various ways.
std::string MakeModel(const std::string& name) {
  const std::string dir = testing::MakeTempDir(name);
  GeneratedModelSpec spec;
  spec.hidden_size = 32;
  spec.intermediate_size = 64;
  spec.num_attention_heads = 4;
  spec.num_key_value_heads = 4;
  spec.vocab_size = 96;
  spec.max_position_embeddings = 64;
  EXPECT_TRUE(WriteRandomModel(dir, spec).ok());
  return dir;
}

const std::string kOnePrompt = "{\"prompt_token_ids\": [1, 2, 3]}\n";

void ExpectFailure(const testing::RunOutput& out, const std::string& message) {
  EXPECT_NE(out.command.exit_code, 0);
  EXPECT_LT(out.command.exit_code, 128) << "crashed: " << out.command.err;
  EXPECT_NE(out.command.err.find(message), std::string::npos)
      << "expected \"" << message << "\" in:\n"
      << out.command.err;
  EXPECT_TRUE(out.lines.empty());
}

TEST(BadInputTest, WorksBeforeBreaking) {
  const std::string dir = MakeModel("ok");
  testing::RunOutput out = DsmRun(dir, {"--max-tokens", "3", "--ignore-eos"}, kOnePrompt);
  ASSERT_EQ(out.command.exit_code, 0) << out.command.err;
  EXPECT_EQ(out.lines[0]["token_ids"].size(), 3u);
}

TEST(BadInputTest, MissingConfig) {
  const std::string dir = MakeModel("noconfig");
  std::filesystem::remove(dir + "/config.json");
  ExpectFailure(DsmRun(dir, {}, kOnePrompt), dir + "/config.json: file not found");
}

TEST(BadInputTest, TruncatedSafetensors) {
  const std::string dir = MakeModel("truncated");
  std::filesystem::resize_file(dir + "/model.safetensors",
                               std::filesystem::file_size(dir + "/model.safetensors") - 100);
  ExpectFailure(DsmRun(dir, {}, kOnePrompt), dir + "/model.safetensors: corrupt safetensors file");
}

TEST(BadInputTest, CorruptHeader) {
  const std::string dir = MakeModel("corrupt");
  std::string bytes = *ReadFileToString(dir + "/model.safetensors");
  bytes[8] = '#';  // the header's opening brace
  ASSERT_TRUE(WriteStringToFile(dir + "/model.safetensors", bytes).ok());
  ExpectFailure(DsmRun(dir, {}, kOnePrompt), "header is not a JSON object");
}

TEST(BadInputTest, TensorShapeDisagreesWithConfig) {
  const std::string dir = MakeModel("shape");
  std::string config = *ReadFileToString(dir + "/config.json");
  config.replace(config.find("\"vocab_size\": 96"), 16, "\"vocab_size\": 128");
  ASSERT_TRUE(WriteStringToFile(dir + "/config.json", config).ok());
  ExpectFailure(DsmRun(dir, {}, kOnePrompt),
                "tensor model.embed_tokens.weight has shape [96, 32] but config.json implies "
                "[128, 32]");
}

TEST(BadInputTest, UnsupportedDtype) {
  const std::string dir = MakeModel("dtype");
  std::string bytes = *ReadFileToString(dir + "/model.safetensors");
  const size_t at = bytes.find("\"BF16\"");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 6, "\"I16\" ");  // same length keeps the header valid
  ASSERT_TRUE(WriteStringToFile(dir + "/model.safetensors", bytes).ok());
  ExpectFailure(DsmRun(dir, {}, kOnePrompt), "unsupported dtype I16");
}

TEST(BadInputTest, HeadsNotDivisibleByTp) {
  const std::string dir = MakeModel("tp3");
  ExpectFailure(DsmRun(dir, {"--tp", "3"}, kOnePrompt),
                "num_attention_heads (4) is not divisible by the tensor-parallel size --tp 3");
}

TEST(BadInputTest, VocabNotDivisibleByTp) {
  const std::string dir = MakeModel("vocab");
  std::filesystem::remove(dir + "/config.json");
  GeneratedModelSpec spec;
  spec.hidden_size = 32;
  spec.intermediate_size = 64;
  spec.vocab_size = 97;
  ASSERT_TRUE(WriteRandomModel(dir, spec).ok());
  ExpectFailure(DsmRun(dir, {"--tp", "2"}, kOnePrompt), "vocab_size (97) is not divisible");
}

TEST(BadInputTest, PromptLongerThanContext) {
  const std::string dir = MakeModel("context");
  std::vector<int32_t> prompt(64, 5);
  ExpectFailure(DsmRun(dir, {}, testing::PromptsJsonl({{1, 2}, prompt})),
                "input line 2: the prompt of 64 tokens is longer than the model context of 64");
}

TEST(BadInputTest, TokenOutsideVocab) {
  const std::string dir = MakeModel("token");
  ExpectFailure(DsmRun(dir, {}, "{\"prompt_token_ids\": [1, 96]}\n"),
                "input line 1: token id 96 is outside the vocabulary [0, 96)");
  ExpectFailure(DsmRun(dir, {}, "{\"prompt_token_ids\": [-1]}\n"), "token id -1 is outside");
}

TEST(BadInputTest, MalformedInputLines) {
  const std::string dir = MakeModel("lines");
  ExpectFailure(DsmRun(dir, {}, "not json\n"), "input line 1: not a JSON object");
  ExpectFailure(DsmRun(dir, {}, "{\"prompt\": \"hi\"}\n"),
                "input line 1: text prompts need " + dir + "/tokenizer.json");
  ExpectFailure(DsmRun(dir, {}, "{\"text\": \"hi\"}\n"),
                "input line 1: needs \"prompt_token_ids\", \"prompt\" or \"messages\"");
  ExpectFailure(DsmRun(dir, {}, "{\"prompt_token_ids\": []}\n"), "the prompt is empty");
  ExpectFailure(DsmRun(dir, {"--temperature", "-1"}, kOnePrompt), "temperature");
  ExpectFailure(DsmRun(dir, {"--top-p", "0"}, kOnePrompt), "top_p");
}

TEST(BadInputTest, RankThatCannotReachItsPeersTimesOut) {
  const std::string dir = MakeModel("peers");
  // Rank 1 of a group whose rank 0 never starts: nothing listens at the rendezvous.
  testing::CommandResult r =
      testing::RunCommand({testing::BinDir() + "/dsm-worker", "--model", dir, "--rank", "1", "--tp",
                           "2", "--rendezvous", "127.0.0.1:1", "--comm_timeout_s", "2"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("rank 1 of 2 could not connect to its peers"), std::string::npos) << r.err;
  EXPECT_LT(r.seconds, 20);
}

TEST(BadInputTest, WorkerThatDiesAtStartIsReportedAtOnce) {
  // Rank 1's shard fails to load; rank 0 would wait for it, but the launcher notices
  // the exit and reports it without waiting for the communication timeout.
  const std::string dir = MakeModel("dies");
  std::filesystem::resize_file(dir + "/model.safetensors", 8);
  testing::RunOutput out = DsmRun(dir, {"--tp", "2", "--comm-timeout-s", "120"}, kOnePrompt);
  ExpectFailure(out, "corrupt safetensors file");
  EXPECT_LT(out.command.seconds, 60);
}

// A step that one rank alone would refuse (a sequence that samples but was never given
// sampling parameters: only rank 0 samples) is refused by every rank before the forward
// pass, so no rank waits in an all-reduce for a peer that gave up, and the next good step
// runs at once. With a 600 s communicator timeout, diverged ranks would hang the test.
TEST(BadInputTest, StepRefusedByEveryRankAlikeAtTp2) {
  WorkerGroupOptions options;
  options.worker_binary = testing::BinDir() + "/dsm-worker";
  options.model_dir = MakeModel("diverge_model");
  options.tp = 2;
  options.threads_per_rank = 1;
  options.kv_cache_mib = 16;
  options.comm_timeout_s = 600;
  absl::StatusOr<std::unique_ptr<LocalWorkerGroup>> group = LocalWorkerGroup::Launch(options);
  ASSERT_TRUE(group.ok()) << group.status();
  v1::StepRequest bad;
  v1::SequenceStep* seq = bad.add_sequences();
  seq->set_seq_id(7);
  seq->add_token_ids(1);
  seq->add_block_table(0);
  seq->set_sample(true);  // but no sampling parameters, ever
  absl::StatusOr<v1::StepResponse> refused = (*group)->Step(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_NE(refused.status().message().find("without sampling parameters"), std::string::npos);

  v1::StepRequest good = bad;
  good.mutable_sequences(0)->mutable_sampling()->set_top_p(1.0f);
  good.mutable_sequences(0)->mutable_sampling()->set_repetition_penalty(1.0f);
  good.mutable_sequences(0)->set_prompt_length(1);
  absl::StatusOr<v1::StepResponse> served = (*group)->Step(good);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(served->tokens_size(), 1);
  (*group)->Shutdown();
}

}  // namespace
}  // namespace dsm
