#include "worker/model/llama_weights.h"

#include "common/file_util.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"
#include "tools/model_generator.h"
#include "worker/safetensors_writer.h"

namespace dsm {
namespace {

GeneratedModelSpec SmallSpec() {
  GeneratedModelSpec s;
  s.hidden_size = 32;
  s.intermediate_size = 48;
  s.num_hidden_layers = 2;
  s.num_attention_heads = 4;
  s.num_key_value_heads = 2;
  s.vocab_size = 64;
  s.max_position_embeddings = 32;
  return s;
}

float At(const TensorView& v, int64_t row, int64_t col) {
  return LoadAsFloat(v.data, v.dtype, row * v.shape[1] + col);
}
float At(const OwnedMatrix& m, size_t row, size_t col) {
  return LoadAsFloat(m.bytes.get(), m.dtype, row * m.cols + col);
}

TEST(LlamaWeightsTest, Rank1OwnsItsMegatronSlices) {
  const std::string dir = testing::MakeTempDir("model");
  GeneratedModelSpec spec = SmallSpec();
  spec.num_shards = 2;
  ASSERT_TRUE(WriteRandomModel(dir, spec).ok());
  absl::StatusOr<std::unique_ptr<Checkpoint>> ckpt = Checkpoint::Open(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  absl::StatusOr<LlamaWeights> w = LoadLlamaWeights(**ckpt, ShardSpec{1, 2});
  ASSERT_TRUE(w.ok()) << w.status();
  const int64_t d = 8, heads_local = 2, kv_local = 1, inter_local = 24;
  const LlamaLayerWeights& layer = w->layers[1];
  EXPECT_EQ(layer.qkv.rows, static_cast<size_t>((heads_local + 2 * kv_local) * d));
  EXPECT_EQ(layer.gate_up.rows, static_cast<size_t>(2 * inter_local));
  EXPECT_EQ(layer.down.cols, static_cast<size_t>(inter_local));
  EXPECT_EQ(layer.qkv.dtype, DType::kBF16);

  const TensorView& q = **(*ckpt)->Find("model.layers.1.self_attn.q_proj.weight");
  const TensorView& k = **(*ckpt)->Find("model.layers.1.self_attn.k_proj.weight");
  const TensorView& v = **(*ckpt)->Find("model.layers.1.self_attn.v_proj.weight");
  const TensorView& o = **(*ckpt)->Find("model.layers.1.self_attn.o_proj.weight");
  const TensorView& up = **(*ckpt)->Find("model.layers.1.mlp.up_proj.weight");
  const TensorView& down = **(*ckpt)->Find("model.layers.1.mlp.down_proj.weight");
  const TensorView& lm = **(*ckpt)->Find("lm_head.weight");
  for (int64_t c = 0; c < 32; c += 7) {
    EXPECT_EQ(At(layer.qkv, 0, c), At(q, heads_local * d, c));              // q rows of rank 1
    EXPECT_EQ(At(layer.qkv, heads_local * d, c), At(k, kv_local * d, c));   // then k
    EXPECT_EQ(At(layer.qkv, heads_local * d + d + 3, c), At(v, d + 3, c));  // then v
    EXPECT_EQ(At(layer.gate_up, inter_local + 5, c), At(up, inter_local + 5, c));
    EXPECT_EQ(At(w->lm_head, 3, c), At(lm, 32 + 3, c));
  }
  for (int64_t r = 0; r < 32; r += 5) {
    EXPECT_EQ(At(layer.o, r, 1), At(o, r, heads_local * d + 1));  // o columns of rank 1
    EXPECT_EQ(At(layer.down, r, 2), At(down, r, inter_local + 2));
  }
}

TEST(LlamaWeightsTest, ShapeMismatchNamesTensorAndShapes) {
  const std::string dir = testing::MakeTempDir("model");
  ASSERT_TRUE(WriteRandomModel(dir, SmallSpec()).ok());
  // Claim a larger intermediate size than the weights have.
  absl::StatusOr<std::string> config = ReadFileToString(dir + "/config.json");
  ASSERT_TRUE(config.ok());
  std::string text = *config;
  text.replace(text.find("\"intermediate_size\": 48"), 23, "\"intermediate_size\": 64");
  ASSERT_TRUE(WriteStringToFile(dir + "/config.json", text).ok());
  absl::StatusOr<std::unique_ptr<Checkpoint>> ckpt = Checkpoint::Open(dir);
  ASSERT_TRUE(ckpt.ok());
  absl::Status s = LoadLlamaWeights(**ckpt, ShardSpec{0, 1}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("tensor model.layers.0.mlp.gate_proj.weight has shape [48, 32] but "
                             "config.json implies [64, 32]"),
            std::string::npos)
      << s;
}

TEST(LlamaWeightsTest, TpMustDivideHeads) {
  const std::string dir = testing::MakeTempDir("model");
  ASSERT_TRUE(WriteRandomModel(dir, SmallSpec()).ok());
  absl::StatusOr<std::unique_ptr<Checkpoint>> ckpt = Checkpoint::Open(dir);
  ASSERT_TRUE(ckpt.ok());
  absl::Status s = LoadLlamaWeights(**ckpt, ShardSpec{0, 3}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("num_attention_heads (4) is not divisible by the tensor-parallel "
                             "size --tp 3"),
            std::string::npos)
      << s;
}

TEST(LlamaWeightsTest, TiedEmbeddingsShareTheMatrix) {
  const std::string dir = testing::MakeTempDir("model");
  GeneratedModelSpec spec = SmallSpec();
  spec.tie_word_embeddings = true;
  spec.dtype = DType::kF16;
  ASSERT_TRUE(WriteRandomModel(dir, spec).ok());
  absl::StatusOr<std::unique_ptr<Checkpoint>> ckpt = Checkpoint::Open(dir);
  ASSERT_TRUE(ckpt.ok());
  absl::StatusOr<LlamaWeights> w = LoadLlamaWeights(**ckpt, ShardSpec{0, 2});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->lm_head.rows, 0u);
  EXPECT_EQ(&w->output_matrix(), &w->embedding);
  EXPECT_EQ(w->embedding.rows, 32u);
  EXPECT_EQ(w->embedding.dtype, DType::kF16);
}

}  // namespace
}  // namespace dsm
