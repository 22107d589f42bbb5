#pragma once
// One rank's slice of a LLaMA checkpoint, in the checkpoint's dtype, with q/k/v and
// gate/up fused so each becomes one GEMM.

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/shard_spec.h"
#include "hwy/aligned_allocator.h"
#include "kernels/cpu/matmul.h"
#include "worker/checkpoint.h"
#include "worker/load_progress.h"

namespace dsm {

// A row-major matrix owning its bytes.
struct OwnedMatrix {
  hwy::AlignedFreeUniquePtr<uint8_t[]> bytes;
  DType dtype = DType::kF32;
  size_t rows = 0;
  size_t cols = 0;

  WeightMatrix view() const { return WeightMatrix{bytes.get(), dtype, rows, cols}; }
  size_t num_bytes() const { return rows * cols * DTypeSize(dtype); }
};

struct LlamaLayerWeights {
  std::vector<float> input_norm;  // [hidden]
  std::vector<float> post_attention_norm;
  OwnedMatrix qkv;      // [(heads + 2 kv_heads) * head_dim local, hidden]
  OwnedMatrix o;        // [hidden, heads * head_dim local]
  OwnedMatrix gate_up;  // [2 * intermediate local, hidden]
  OwnedMatrix down;     // [hidden, intermediate local]
};

struct LlamaWeights {
  OwnedMatrix embedding;  // [vocab local, hidden]: rows [rank * vocab_local, ...)
  OwnedMatrix lm_head;    // [vocab local, hidden]; empty when tied to the embedding
  std::vector<float> final_norm;
  std::vector<LlamaLayerWeights> layers;

  const OwnedMatrix& output_matrix() const { return lm_head.rows ? lm_head : embedding; }
  size_t num_bytes() const;
};

// Reads this rank's slices from the checkpoint. Shapes are checked against config.json
// and errors name the tensor and both shapes.
absl::StatusOr<LlamaWeights> LoadLlamaWeights(const Checkpoint& checkpoint, const ShardSpec& shard,
                                              const LoadProgress& progress = nullptr);

}  // namespace dsm
