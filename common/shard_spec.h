#pragma once
// Which tensor-parallel slice a rank owns (Megatron layout).

#include <cstdint>

#include "absl/status/status.h"
#include "common/model_config.h"

namespace dsm {

struct ShardSpec {
  int rank = 0;
  int world_size = 1;
};

// Local sizes of one rank's shard.
struct ShardDims {
  int64_t heads = 0;         // query heads owned
  int64_t kv_heads = 0;      // KV heads owned
  int64_t intermediate = 0;  // MLP columns owned
  int64_t vocab = 0;         // embedding / lm_head rows owned
};

// Checks that heads, KV heads, intermediate size and vocab divide by the TP size, with
// an error that names the quantity that does not.
absl::Status ValidateShardable(const ModelConfig& config, int world_size);

ShardDims LocalDims(const ModelConfig& config, int world_size);

}  // namespace dsm
