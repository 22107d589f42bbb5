#include "tests/support/scripted_model.h"

#include <cmath>
#include <filesystem>
#include <vector>

#include "tools/demo_model.h"
#include "tools/model_generator.h"
#include "worker/safetensors_writer.h"

namespace dsm::testing {
namespace {

constexpr int64_t kVocab = 264, kBos = 256, kEos = 257;
constexpr int64_t kHidden = 256;  // one basis vector per byte
// A scripted successor's logit: e^-40 leaves the rest of the vocabulary no chance.
constexpr double kLogit = 40.0;

}  // namespace

absl::Status WriteScriptedModel(const std::string& dir, const TextScript& script) {
  GeneratedModelSpec spec;
  spec.hidden_size = kHidden;
  spec.intermediate_size = 64;
  spec.num_hidden_layers = 1;
  spec.num_attention_heads = 4;
  spec.num_key_value_heads = 4;
  spec.vocab_size = kVocab;
  spec.max_position_embeddings = 1024;
  spec.bos_token_id = kBos;
  spec.eos_token_id = kEos;
  spec.dtype = DType::kF32;
  if (absl::Status s = WriteRandomModel(dir, spec); !s.ok()) return s;
  // The tokenizer: the demo's byte-level one.
  const std::string demo = dir + "/demo-tokenizer";
  if (absl::Status s = EnsureDemoModel(demo); !s.ok()) return s;
  for (const char* file : {"tokenizer.json", "tokenizer_config.json"}) {
    std::filesystem::copy_file(demo + "/" + file, dir + "/" + file,
                               std::filesystem::copy_options::overwrite_existing);
  }
  std::filesystem::remove_all(demo);

  const auto zeros = [](const std::string& name, std::vector<int64_t> shape) {
    int64_t count = 1;
    for (int64_t d : shape) count *= d;
    return TensorToWrite{name, DType::kF32, shape,
                         EncodeFloats(std::vector<float>(count, 0.0f), DType::kF32)};
  };
  const auto ones = [](const std::string& name) {
    return TensorToWrite{
        name, DType::kF32, {kHidden}, EncodeFloats(std::vector<float>(kHidden, 1.0f), DType::kF32)};
  };
  // Byte b is the basis vector e_b; after the final RMSNorm it is sqrt(kHidden) e_b.
  std::vector<float> embedding(kVocab * kHidden, 0.0f);
  for (int64_t b = 0; b < kHidden; ++b) embedding[b * kHidden + b] = 1.0f;
  std::vector<float> lm_head(kVocab * kHidden, 0.0f);
  const float norm = static_cast<float>(std::sqrt(static_cast<double>(kHidden)));
  for (int b = 0; b < 256; ++b) {
    std::map<std::string, double> next = {{"", 1.0}};
    if (auto it = script.find(static_cast<char>(b)); it != script.end()) next = it->second;
    for (const auto& [token, probability] : next) {
      const int64_t id = token.empty() ? kEos : static_cast<uint8_t>(token[0]);
      lm_head[id * kHidden + b] = static_cast<float>((kLogit + std::log(probability)) / norm);
    }
  }
  const std::string p = "model.layers.0.";
  const int64_t i = spec.intermediate_size;
  std::vector<TensorToWrite> tensors = {
      TensorToWrite{"model.embed_tokens.weight",
                    DType::kF32,
                    {kVocab, kHidden},
                    EncodeFloats(embedding, DType::kF32)},
      ones(p + "input_layernorm.weight"),
      zeros(p + "self_attn.q_proj.weight", {kHidden, kHidden}),
      zeros(p + "self_attn.k_proj.weight", {kHidden, kHidden}),
      zeros(p + "self_attn.v_proj.weight", {kHidden, kHidden}),
      zeros(p + "self_attn.o_proj.weight", {kHidden, kHidden}),
      ones(p + "post_attention_layernorm.weight"),
      zeros(p + "mlp.gate_proj.weight", {i, kHidden}),
      zeros(p + "mlp.up_proj.weight", {i, kHidden}),
      zeros(p + "mlp.down_proj.weight", {kHidden, i}),
      ones("model.norm.weight"),
      TensorToWrite{
          "lm_head.weight", DType::kF32, {kVocab, kHidden}, EncodeFloats(lm_head, DType::kF32)}};
  return WriteSafetensors(dir + "/model.safetensors", tensors);
}

}  // namespace dsm::testing
