#include "common/model_config.h"

#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace dsm {
namespace {

constexpr char kDeepSeekMath7B[] = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama",
  "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 30,
  "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 102400,
  "max_position_embeddings": 4096, "rms_norm_eps": 1e-06, "rope_theta": 10000.0,
  "rope_scaling": null, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "bos_token_id": 100000, "eos_token_id": 100001, "hidden_act": "silu"})";

TEST(ModelConfigTest, ParsesDeepSeekMath7B) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(kDeepSeekMath7B, "config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->hidden_size, 4096);
  EXPECT_EQ(c->num_hidden_layers, 30);
  EXPECT_EQ(c->num_key_value_heads, 32);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->vocab_size, 102400);
  EXPECT_EQ(c->torch_dtype, DType::kBF16);
  EXPECT_FALSE(c->tie_word_embeddings);
  EXPECT_EQ(c->bos_token_id, 100000);
  EXPECT_EQ(c->eos_token_id, 100001);
  EXPECT_DOUBLE_EQ(c->rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c->rope_linear_factor, 1.0);
}

TEST(ModelConfigTest, LoadsStories260KWithGqa) {
  DSM_REQUIRE_SHARED("models/stories260K/config.json");
  absl::StatusOr<ModelConfig> c = LoadModelConfig(testing::SharedDir() + "/models/stories260K");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->num_attention_heads, 8);
  EXPECT_EQ(c->num_key_value_heads, 4);
  EXPECT_EQ(c->head_dim, 8);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_EQ(c->torch_dtype, DType::kF32);
}

TEST(ModelConfigTest, MissingKvHeadsMeansMha) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(
      R"({"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
          "num_attention_heads": 4, "vocab_size": 10, "max_position_embeddings": 8})",
      "c.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->num_key_value_heads, 4);
}

TEST(ModelConfigTest, LinearRopeScaling) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(
      R"({"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
          "num_attention_heads": 4, "vocab_size": 10, "max_position_embeddings": 8,
          "rope_scaling": {"type": "linear", "factor": 4.0}})",
      "c.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->rope_linear_factor, 4.0);
}

TEST(ModelConfigTest, ErrorsNameTheProblem) {
  auto error = [](const std::string& json) {
    return std::string(ParseModelConfig(json, "dir/config.json").status().message());
  };
  EXPECT_EQ(error("not json"), "dir/config.json: not a JSON object");
  EXPECT_NE(error(R"({"hidden_size": 64})").find("missing field \"intermediate_size\""),
            std::string::npos);
  EXPECT_NE(error(R"({"hidden_size": -1})").find("\"hidden_size\" must be a positive integer"),
            std::string::npos);
  const std::string base =
      R"("hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
         "vocab_size": 10, "max_position_embeddings": 8, )";
  EXPECT_NE(error("{" + base + R"("num_attention_heads": 4, "num_key_value_heads": 3})")
                .find("not a multiple of num_key_value_heads"),
            std::string::npos);
  EXPECT_NE(error("{" + base + R"("num_attention_heads": 4, "hidden_act": "gelu"})")
                .find("hidden_act \"gelu\" is not supported"),
            std::string::npos);
  EXPECT_NE(error("{" + base + R"("num_attention_heads": 4, "torch_dtype": "int8"})")
                .find("torch_dtype \"int8\""),
            std::string::npos);
  EXPECT_NE(error("{" + base +
                  R"("num_attention_heads": 4, "rope_scaling": {"type": "yarn", "factor": 2}})")
                .find("rope_scaling type \"yarn\""),
            std::string::npos);
}

TEST(ModelConfigTest, MissingFileIsNotFound) {
  absl::StatusOr<ModelConfig> c = LoadModelConfig("/nonexistent/model");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find("/nonexistent/model/config.json"), std::string::npos);
}

}  // namespace
}  // namespace dsm
