#pragma once
// This rank's pool of KV-cache blocks: every layer holds K and V for block_size
// positions per block, for the KV heads the rank owns. The coordinator decides which
// blocks a sequence uses and sends its block table with each step. Elements are f32
// (exact, the default) or bf16 (opt-in: half the memory and attention reads, K and V
// rounded to 8 significant bits).

#include <cstddef>
#include <cstdint>

#include "common/dtype.h"
#include "hwy/aligned_allocator.h"
#include "kernels/cpu/attention.h"

namespace dsm {

class KvCache {
 public:
  KvCache(size_t num_layers, size_t num_blocks, size_t block_size, size_t kv_heads, size_t head_dim,
          DType dtype = DType::kF32);

  // False when the pool could not be allocated (the caller reports the size).
  bool ok() const { return keys_ != nullptr && values_ != nullptr; }

  size_t num_blocks() const { return num_blocks_; }
  size_t block_size() const { return block_size_; }
  DType dtype() const { return dtype_; }
  size_t num_bytes() const { return 2 * num_layers_ * layer_elements_ * element_bytes_; }

  // Writes K and V (kv_heads * head_dim floats each) of the position in `slot` of `block`.
  void Store(size_t layer, size_t block, size_t slot, const float* k, const float* v);

  PagedKvLayer Layer(size_t layer) const;

  // Bytes one block takes across all layers (K and V).
  static size_t BlockBytes(size_t num_layers, size_t block_size, size_t kv_heads, size_t head_dim,
                           DType dtype = DType::kF32);

 private:
  size_t num_layers_, num_blocks_, block_size_, kv_heads_, head_dim_;
  DType dtype_;
  size_t element_bytes_;
  size_t layer_elements_;  // elements of K (or V) per layer
  hwy::AlignedFreeUniquePtr<uint8_t[]> keys_;
  hwy::AlignedFreeUniquePtr<uint8_t[]> values_;
};

}  // namespace dsm
