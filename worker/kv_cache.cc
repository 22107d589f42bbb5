#include "worker/kv_cache.h"

#include <algorithm>
#include <cstring>

#include "common/huge_pages.h"

namespace dsm {
namespace {

size_t ElementBytes(DType dtype) { return dtype == DType::kBF16 ? 2 : 4; }

}  // namespace

KvCache::KvCache(size_t num_layers, size_t num_blocks, size_t block_size, size_t kv_heads,
                 size_t head_dim, DType dtype)
    : num_layers_(num_layers),
      num_blocks_(num_blocks),
      block_size_(block_size),
      kv_heads_(kv_heads),
      head_dim_(head_dim),
      dtype_(dtype),
      element_bytes_(ElementBytes(dtype)),
      layer_elements_(num_blocks * block_size * kv_heads * head_dim),
      keys_(hwy::AllocateAligned<uint8_t>(
          std::max<size_t>(1, num_layers * layer_elements_ * element_bytes_))),
      values_(hwy::AllocateAligned<uint8_t>(
          std::max<size_t>(1, num_layers * layer_elements_ * element_bytes_))) {
  // Blocks are touched as sequences first reach them (pre-touching a 1 GiB pool costs
  // 2-5 s of start-up on a VM); in huge pages that is 512 times fewer faults.
  const size_t bytes = num_layers * layer_elements_ * element_bytes_;
  if (keys_ != nullptr) AdviseHugePages(keys_.get(), bytes);
  if (values_ != nullptr) AdviseHugePages(values_.get(), bytes);
}

size_t KvCache::BlockBytes(size_t num_layers, size_t block_size, size_t kv_heads, size_t head_dim,
                           DType dtype) {
  return 2 * num_layers * block_size * kv_heads * head_dim * ElementBytes(dtype);
}

void KvCache::Store(size_t layer, size_t block, size_t slot, const float* k, const float* v) {
  const size_t width = kv_heads_ * head_dim_;
  const size_t offset =
      (layer * layer_elements_ + (block * block_size_ + slot) * width) * element_bytes_;
  if (dtype_ == DType::kBF16) {
    auto* keys = reinterpret_cast<uint16_t*>(keys_.get() + offset);
    auto* values = reinterpret_cast<uint16_t*>(values_.get() + offset);
    for (size_t i = 0; i < width; ++i) {
      keys[i] = FloatToBF16(k[i]);
      values[i] = FloatToBF16(v[i]);
    }
    return;
  }
  std::memcpy(keys_.get() + offset, k, width * sizeof(float));
  std::memcpy(values_.get() + offset, v, width * sizeof(float));
}

PagedKvLayer KvCache::Layer(size_t layer) const {
  const size_t offset = layer * layer_elements_ * element_bytes_;
  return PagedKvLayer{
      keys_.get() + offset, values_.get() + offset, block_size_, kv_heads_, head_dim_, dtype_};
}

}  // namespace dsm
