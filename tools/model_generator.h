#pragma once
// Writes small random-weight LLaMA checkpoints in HuggingFace format (config.json,
// safetensors, optional shard index): test models and the demo model.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/dtype.h"

namespace dsm {

struct GeneratedModelSpec {
  int64_t hidden_size = 128;
  int64_t intermediate_size = 344;  // DeepSeek-Math's ratio 11008 / 4096, scaled down
  int64_t num_hidden_layers = 2;
  int64_t num_attention_heads = 4;
  int64_t num_key_value_heads = 4;  // MHA, like DeepSeek-Math
  int64_t vocab_size = 1024;
  int64_t max_position_embeddings = 512;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  DType dtype = DType::kBF16;
  int num_shards = 1;  // >1 writes model-0000i-of-0000n.safetensors + index
  uint64_t seed = 1;
  int64_t bos_token_id = 0;
  int64_t eos_token_id = 1;
  // Optional per-row scale of lm_head (vocab_size entries): 0 makes a token's logit 0,
  // larger values make it likelier to win. Empty = all 1.
  std::vector<float> lm_head_row_scale;
};

// The shape family of DeepSeek-Math-7B (MHA, bf16, untied lm_head), shrunk.
GeneratedModelSpec TinyDeepSeekSpec();

// Creates `dir` if needed and writes config.json, generation_config.json and weights.
absl::Status WriteRandomModel(const std::string& dir, const GeneratedModelSpec& spec);

}  // namespace dsm
