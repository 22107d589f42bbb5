#pragma once
// Accounting of one worker group's KV blocks, with a prefix cache. The coordinator
// decides which block ids a sequence uses; the workers only follow the block tables.
//
// Blocks are reference-counted. A full prompt block can be registered under the hash of
// its tokens (and of every token before it); a later sequence with the same prefix
// shares it instead of recomputing it. A registered block nobody uses stays cached until
// its memory is needed (least recently released first).

#include <cstdint>
#include <list>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace dsm {

class BlockAllocator {
 public:
  explicit BlockAllocator(int32_t num_blocks);

  int32_t num_blocks() const { return num_blocks_; }
  // Blocks available to Allocate: never used, or cached but unused.
  int32_t num_free() const { return static_cast<int32_t>(free_.size() + evictable_.size()); }
  int32_t num_cached() const { return static_cast<int32_t>(cache_.size()); }

  // `count` fresh blocks (reference count 1), or RESOURCE_EXHAUSTED, allocating nothing.
  // Cached blocks nobody uses are evicted when no never-used block is left.
  absl::StatusOr<std::vector<int32_t>> Allocate(int32_t count);
  // Drops one reference to each block; unreferenced blocks become free (or stay cached).
  void Free(const std::vector<int32_t>& blocks);

  // The cached block holding the prefix with this hash, now referenced once more.
  std::optional<int32_t> AcquireCached(uint64_t hash);
  // Makes a computed full block findable under `hash` (ignored if the hash is taken).
  void Register(int32_t block, uint64_t hash);

 private:
  int32_t num_blocks_;
  std::vector<int32_t> free_;  // never used or evicted; a stack
  std::vector<int32_t> ref_count_;
  std::vector<std::optional<uint64_t>> hash_of_;  // per block, when registered
  absl::flat_hash_map<uint64_t, int32_t> cache_;  // hash -> block
  std::list<int32_t> evictable_;                  // cached, unreferenced; oldest first
  std::vector<std::list<int32_t>::iterator> evictable_pos_;
};

}  // namespace dsm
