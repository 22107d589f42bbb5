#pragma once
// This rank's pool of KV-cache blocks: every layer holds K and V for block_size
// positions per block, for the KV heads the rank owns. The coordinator decides which
// blocks a sequence uses and sends its block table with each step.

#include <cstddef>
#include <vector>

#include "hwy/aligned_allocator.h"
#include "kernels/cpu/attention.h"

namespace dsm {

class KvCache {
 public:
  KvCache(size_t num_layers, size_t num_blocks, size_t block_size, size_t kv_heads,
          size_t head_dim);

  // False when the pool could not be allocated (the caller reports the size).
  bool ok() const { return keys_ != nullptr && values_ != nullptr; }

  size_t num_blocks() const { return num_blocks_; }
  size_t block_size() const { return block_size_; }
  size_t num_bytes() const { return 2 * num_layers_ * layer_floats_ * sizeof(float); }

  // Where K (or V) of `position` lives, given the block holding it.
  float* KeySlot(size_t layer, size_t block, size_t slot);
  float* ValueSlot(size_t layer, size_t block, size_t slot);

  PagedKvLayer Layer(size_t layer) const;

  // Bytes one block takes across all layers (K and V).
  static size_t BlockBytes(size_t num_layers, size_t block_size, size_t kv_heads, size_t head_dim);

 private:
  size_t num_layers_, num_blocks_, block_size_, kv_heads_, head_dim_;
  size_t layer_floats_;  // floats of K (or V) per layer
  hwy::AlignedFreeUniquePtr<float[]> keys_;
  hwy::AlignedFreeUniquePtr<float[]> values_;
};

}  // namespace dsm
