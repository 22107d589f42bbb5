#include "coordinator/block_allocator.h"

#include "absl/strings/str_cat.h"

namespace dsm {

BlockAllocator::BlockAllocator(int32_t num_blocks)
    : num_blocks_(num_blocks),
      ref_count_(num_blocks, 0),
      hash_of_(num_blocks),
      evictable_pos_(num_blocks, evictable_.end()) {
  free_.reserve(num_blocks);
  for (int32_t b = num_blocks - 1; b >= 0; --b) free_.push_back(b);
}

absl::StatusOr<std::vector<int32_t>> BlockAllocator::Allocate(int32_t count) {
  if (count < 0 || count > num_free()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("need ", count, " KV blocks, ", num_free(), " free"));
  }
  std::vector<int32_t> blocks;
  blocks.reserve(count);
  while (static_cast<int32_t>(blocks.size()) < count) {
    int32_t b;
    if (!free_.empty()) {
      b = free_.back();
      free_.pop_back();
    } else {
      // Evict the least recently released cached block.
      b = evictable_.front();
      evictable_.pop_front();
      evictable_pos_[b] = evictable_.end();
      cache_.erase(*hash_of_[b]);
      hash_of_[b].reset();
    }
    ref_count_[b] = 1;
    blocks.push_back(b);
  }
  return blocks;
}

void BlockAllocator::Free(const std::vector<int32_t>& blocks) {
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
    const int32_t b = *it;
    if (--ref_count_[b] > 0) continue;
    if (hash_of_[b]) {
      evictable_.push_back(b);
      evictable_pos_[b] = std::prev(evictable_.end());
    } else {
      free_.push_back(b);
    }
  }
}

std::optional<int32_t> BlockAllocator::AcquireCached(uint64_t hash) {
  auto it = cache_.find(hash);
  if (it == cache_.end()) return std::nullopt;
  const int32_t b = it->second;
  if (ref_count_[b]++ == 0) {
    evictable_.erase(evictable_pos_[b]);
    evictable_pos_[b] = evictable_.end();
  }
  return b;
}

void BlockAllocator::Register(int32_t block, uint64_t hash) {
  if (hash_of_[block] || cache_.contains(hash)) return;
  hash_of_[block] = hash;
  cache_[hash] = block;
}

}  // namespace dsm
