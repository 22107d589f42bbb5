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
