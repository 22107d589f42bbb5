#include "tools/model_generator.h"

#include <cmath>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_util.h"
#include "nlohmann/json.hpp"
#include "worker/safetensors_writer.h"

namespace dsm {
namespace {

class UniformSource {
 public:
  explicit UniformSource(uint64_t seed) : engine_(seed) {}
  // Uniform in [-limit, limit); engine bits are converted by hand so the values do not
  // depend on the standard library's distributions.
  float Next(float limit) {
    const double u = static_cast<double>(engine_() >> 11) * 0x1.0p-53;
    return static_cast<float>((2.0 * u - 1.0) * limit);
  }

 private:
  std::mt19937_64 engine_;
};

TensorToWrite RandomMatrix(UniformSource& rng, const std::string& name, int64_t rows, int64_t cols,
                           float stddev, DType dtype) {
  std::vector<float> values(rows * cols);
  const float limit = stddev * std::sqrt(3.0f);  // uniform with this standard deviation
  for (float& v : values) v = rng.Next(limit);
  return TensorToWrite{name, dtype, {rows, cols}, EncodeFloats(values, dtype)};
}

TensorToWrite NormWeights(UniformSource& rng, const std::string& name, int64_t size, DType dtype) {
  std::vector<float> values(size);
  for (float& v : values) v = 1.0f + rng.Next(0.1f);
  return TensorToWrite{name, dtype, {size}, EncodeFloats(values, dtype)};
}

const char* TorchDTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "float32";
    case DType::kF16:
      return "float16";
    case DType::kBF16:
      return "bfloat16";
  }
  return "float32";
}

}  // namespace

GeneratedModelSpec TinyDeepSeekSpec() { return GeneratedModelSpec(); }

absl::Status WriteRandomModel(const std::string& dir, const GeneratedModelSpec& s) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(dir, ": cannot create: ", ec.message()));

  const int64_t head_dim = s.hidden_size / s.num_attention_heads;
  nlohmann::ordered_json config = {
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"hidden_size", s.hidden_size},
      {"intermediate_size", s.intermediate_size},
      {"num_hidden_layers", s.num_hidden_layers},
      {"num_attention_heads", s.num_attention_heads},
      {"num_key_value_heads", s.num_key_value_heads},
      {"vocab_size", s.vocab_size},
      {"max_position_embeddings", s.max_position_embeddings},
      {"rms_norm_eps", s.rms_norm_eps},
      {"rope_theta", s.rope_theta},
      {"rope_scaling", nullptr},
      {"hidden_act", "silu"},
      {"tie_word_embeddings", s.tie_word_embeddings},
      {"torch_dtype", TorchDTypeName(s.dtype)},
      {"bos_token_id", s.bos_token_id},
      {"eos_token_id", s.eos_token_id},
      {"attention_bias", false},
  };
  if (absl::Status st = WriteStringToFile(dir + "/config.json", config.dump(2) + "\n"); !st.ok())
    return st;
  nlohmann::ordered_json generation = {{"bos_token_id", s.bos_token_id},
                                       {"eos_token_id", s.eos_token_id}};
  if (absl::Status st =
          WriteStringToFile(dir + "/generation_config.json", generation.dump(2) + "\n");
      !st.ok())
    return st;

  UniformSource rng(s.seed);
  const float in_std = 1.0f / std::sqrt(static_cast<float>(s.hidden_size));
  std::vector<TensorToWrite> tensors;
  tensors.push_back(
      RandomMatrix(rng, "model.embed_tokens.weight", s.vocab_size, s.hidden_size, 1.0f, s.dtype));
  for (int64_t l = 0; l < s.num_hidden_layers; ++l) {
    const std::string p = absl::StrCat("model.layers.", l, ".");
    const int64_t q = s.num_attention_heads * head_dim;
    const int64_t kv = s.num_key_value_heads * head_dim;
    tensors.push_back(NormWeights(rng, p + "input_layernorm.weight", s.hidden_size, s.dtype));
    tensors.push_back(
        RandomMatrix(rng, p + "self_attn.q_proj.weight", q, s.hidden_size, in_std, s.dtype));
    tensors.push_back(
        RandomMatrix(rng, p + "self_attn.k_proj.weight", kv, s.hidden_size, in_std, s.dtype));
    tensors.push_back(
        RandomMatrix(rng, p + "self_attn.v_proj.weight", kv, s.hidden_size, in_std, s.dtype));
    tensors.push_back(RandomMatrix(rng, p + "self_attn.o_proj.weight", s.hidden_size, q,
                                   1.0f / std::sqrt(static_cast<float>(q)), s.dtype));
    tensors.push_back(
        NormWeights(rng, p + "post_attention_layernorm.weight", s.hidden_size, s.dtype));
    tensors.push_back(RandomMatrix(rng, p + "mlp.gate_proj.weight", s.intermediate_size,
                                   s.hidden_size, in_std, s.dtype));
    tensors.push_back(RandomMatrix(rng, p + "mlp.up_proj.weight", s.intermediate_size,
                                   s.hidden_size, in_std, s.dtype));
    tensors.push_back(
        RandomMatrix(rng, p + "mlp.down_proj.weight", s.hidden_size, s.intermediate_size,
                     1.0f / std::sqrt(static_cast<float>(s.intermediate_size)), s.dtype));
  }
  tensors.push_back(NormWeights(rng, "model.norm.weight", s.hidden_size, s.dtype));
  if (!s.tie_word_embeddings) {
    if (!s.lm_head_row_scale.empty() &&
        static_cast<int64_t>(s.lm_head_row_scale.size()) != s.vocab_size) {
      return absl::InvalidArgumentError("lm_head_row_scale needs one entry per vocabulary row");
    }
    std::vector<float> values(s.vocab_size * s.hidden_size);
    const float limit = in_std * 4 * std::sqrt(3.0f);
    for (int64_t r = 0; r < s.vocab_size; ++r) {
      const float scale = s.lm_head_row_scale.empty() ? 1.0f : s.lm_head_row_scale[r];
      for (int64_t c = 0; c < s.hidden_size; ++c) {
        values[r * s.hidden_size + c] = rng.Next(limit) * scale;
      }
    }
    tensors.push_back(TensorToWrite{
        "lm_head.weight", s.dtype, {s.vocab_size, s.hidden_size}, EncodeFloats(values, s.dtype)});
  }

  if (s.num_shards <= 1) return WriteSafetensors(dir + "/model.safetensors", tensors);
  // Round-robin tensors over shards, recording each one's file in the index.
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  std::vector<std::vector<TensorToWrite>> shards(s.num_shards);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const int shard = static_cast<int>(i % s.num_shards);
    weight_map[tensors[i].name] =
        absl::StrFormat("model-%05d-of-%05d.safetensors", shard + 1, s.num_shards);
    shards[shard].push_back(std::move(tensors[i]));
  }
  for (int i = 0; i < s.num_shards; ++i) {
    if (absl::Status st = WriteSafetensors(
            absl::StrFormat("%s/model-%05d-of-%05d.safetensors", dir, i + 1, s.num_shards),
            shards[i]);
        !st.ok())
      return st;
  }
  nlohmann::ordered_json index = {{"metadata", nlohmann::ordered_json::object()},
                                  {"weight_map", weight_map}};
  return WriteStringToFile(dir + "/model.safetensors.index.json", index.dump(2) + "\n");
}

}  // namespace dsm
