#include "coordinator/block_allocator.h"

#include <set>

#include "gtest/gtest.h"

namespace dsm {
namespace {

TEST(BlockAllocatorTest, AllocatesDistinctBlocksAndRefusesOverdraw) {
  BlockAllocator a(5);
  absl::StatusOr<std::vector<int32_t>> x = a.Allocate(3);
  ASSERT_TRUE(x.ok());
  std::set<int32_t> ids(x->begin(), x->end());
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(a.num_free(), 2);
  absl::StatusOr<std::vector<int32_t>> y = a.Allocate(3);
  EXPECT_EQ(y.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(a.num_free(), 2);  // a failed allocation takes nothing
  a.Free(*x);
  EXPECT_EQ(a.num_free(), 5);
  absl::StatusOr<std::vector<int32_t>> z = a.Allocate(5);
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(std::set<int32_t>(z->begin(), z->end()), (std::set<int32_t>{0, 1, 2, 3, 4}));
}

}  // namespace
}  // namespace dsm

namespace dsm {
namespace {

TEST(BlockAllocatorTest, PrefixCacheSharesAndEvictsLeastRecentlyReleased) {
  BlockAllocator a(3);
  std::vector<int32_t> x = *a.Allocate(2);
  a.Register(x[0], 111);
  a.Register(x[1], 222);
  EXPECT_EQ(a.num_cached(), 2);
  // Shared while in use.
  EXPECT_EQ(a.AcquireCached(111), x[0]);
  EXPECT_FALSE(a.AcquireCached(333).has_value());
  a.Free(x);                   // x[0] still held by the second user; x[1] becomes evictable
  EXPECT_EQ(a.num_free(), 2);  // one never used + x[1] cached
  a.Free({x[0]});              // now evictable too, released after x[1]
  EXPECT_EQ(a.num_free(), 3);
  // Reuse without recomputation.
  EXPECT_EQ(a.AcquireCached(222), x[1]);
  a.Free({x[1]});
  // Allocating everything evicts the cached blocks, oldest release first.
  std::vector<int32_t> all = *a.Allocate(3);
  EXPECT_EQ(all.size(), 3u);
  EXPECT_EQ(a.num_cached(), 0);
  EXPECT_FALSE(a.AcquireCached(111).has_value());
}

}  // namespace
}  // namespace dsm
