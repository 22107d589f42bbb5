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

// A matrix owning its bytes, row-major or in one of the CPU GEMM's panel layouts.
struct OwnedMatrix {
  hwy::AlignedFreeUniquePtr<uint8_t[]> bytes;
  DType dtype = DType::kF32;
  size_t rows = 0;
  size_t cols = 0;
  WeightLayout layout = WeightLayout::kRowMajor;

  WeightMatrix view() const { return WeightMatrix{bytes.get(), dtype, rows, cols, layout}; }
  size_t num_bytes() const { return WeightBytes(layout, dtype, rows, cols); }
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
  OwnedMatrix embedding;  // [vocab local, hidden]: rows [rank * vocab_local, ...); row-major
  // [vocab local, hidden]; empty when tied to the embedding and row-major (in panels a
  // tied model carries a panel copy of the embedding).
  OwnedMatrix lm_head;
  std::vector<float> final_norm;
  std::vector<LlamaLayerWeights> layers;

  const OwnedMatrix& output_matrix() const { return lm_head.rows ? lm_head : embedding; }
  size_t num_bytes() const;
};

// Reads this rank's slices from the checkpoint. Shapes are checked against config.json
// and errors name the tensor and both shapes. `layout` is that of the GEMM weights
// (q/k/v, o, gate/up, down, lm_head); the embedding stays row-major for its row gather.
absl::StatusOr<LlamaWeights> LoadLlamaWeights(const Checkpoint& checkpoint, const ShardSpec& shard,
                                              const LoadProgress& progress = nullptr,
                                              WeightLayout layout = WeightLayout::kRowMajor);

}  // namespace dsm
