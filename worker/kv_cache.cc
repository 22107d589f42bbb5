#include "worker/kv_cache.h"

#include <algorithm>

namespace dsm {

KvCache::KvCache(size_t num_layers, size_t num_blocks, size_t block_size, size_t kv_heads,
                 size_t head_dim)
    : num_layers_(num_layers),
      num_blocks_(num_blocks),
      block_size_(block_size),
      kv_heads_(kv_heads),
      head_dim_(head_dim),
      layer_floats_(num_blocks * block_size * kv_heads * head_dim),
      keys_(hwy::AllocateAligned<float>(std::max<size_t>(1, num_layers * layer_floats_))),
      values_(hwy::AllocateAligned<float>(std::max<size_t>(1, num_layers * layer_floats_))) {}

size_t KvCache::BlockBytes(size_t num_layers, size_t block_size, size_t kv_heads, size_t head_dim) {
  return 2 * num_layers * block_size * kv_heads * head_dim * sizeof(float);
}

float* KvCache::KeySlot(size_t layer, size_t block, size_t slot) {
  return keys_.get() + layer * layer_floats_ + (block * block_size_ + slot) * kv_heads_ * head_dim_;
}

float* KvCache::ValueSlot(size_t layer, size_t block, size_t slot) {
  return values_.get() + layer * layer_floats_ +
         (block * block_size_ + slot) * kv_heads_ * head_dim_;
}

PagedKvLayer KvCache::Layer(size_t layer) const {
  return PagedKvLayer{keys_.get() + layer * layer_floats_, values_.get() + layer * layer_floats_,
                      block_size_, kv_heads_, head_dim_};
}

}  // namespace dsm
