#include "common/shard_spec.h"

#include "absl/strings/str_cat.h"

namespace dsm {

absl::Status ValidateShardable(const ModelConfig& config, int world_size) {
  if (world_size < 1) return absl::InvalidArgumentError("--tp must be at least 1");
  const std::pair<const char*, int64_t> quantities[] = {
      {"num_attention_heads", config.num_attention_heads},
      {"num_key_value_heads", config.num_key_value_heads},
      {"intermediate_size", config.intermediate_size},
      {"vocab_size", config.vocab_size},
  };
  for (const auto& [name, value] : quantities) {
    if (value % world_size != 0) {
      return absl::InvalidArgumentError(absl::StrCat(name, " (", value,
                                                     ") is not divisible by the tensor-parallel "
                                                     "size --tp ",
                                                     world_size));
    }
  }
  return absl::OkStatus();
}

ShardDims LocalDims(const ModelConfig& config, int world_size) {
  return ShardDims{config.num_attention_heads / world_size, config.num_key_value_heads / world_size,
                   config.intermediate_size / world_size, config.vocab_size / world_size};
}

}  // namespace dsm
