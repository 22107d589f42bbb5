#pragma once
// Accounting of one worker group's KV blocks. The coordinator decides which block ids a
// sequence uses; the workers only follow the block tables they are sent.

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace dsm {

class BlockAllocator {
 public:
  explicit BlockAllocator(int32_t num_blocks);

  int32_t num_blocks() const { return num_blocks_; }
  int32_t num_free() const { return static_cast<int32_t>(free_.size()); }

  // `count` block ids, or RESOURCE_EXHAUSTED (allocating nothing) when too few are free.
  absl::StatusOr<std::vector<int32_t>> Allocate(int32_t count);
  void Free(const std::vector<int32_t>& blocks);

 private:
  int32_t num_blocks_;
  std::vector<int32_t> free_;  // a stack: recently freed blocks are reused first
};

}  // namespace dsm
