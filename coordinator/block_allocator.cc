#include "coordinator/block_allocator.h"

#include "absl/strings/str_cat.h"

namespace dsm {

BlockAllocator::BlockAllocator(int32_t num_blocks) : num_blocks_(num_blocks) {
  free_.reserve(num_blocks);
  for (int32_t b = num_blocks - 1; b >= 0; --b) free_.push_back(b);
}

absl::StatusOr<std::vector<int32_t>> BlockAllocator::Allocate(int32_t count) {
  if (count < 0 || count > num_free()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("need ", count, " KV blocks, ", num_free(), " free"));
  }
  std::vector<int32_t> blocks(free_.end() - count, free_.end());
  free_.resize(free_.size() - count);
  return blocks;
}

void BlockAllocator::Free(const std::vector<int32_t>& blocks) {
  free_.insert(free_.end(), blocks.rbegin(), blocks.rend());
}

}  // namespace dsm
