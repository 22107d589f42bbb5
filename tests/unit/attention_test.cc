#include "kernels/cpu/attention.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "common/dtype.h"
#include "gtest/gtest.h"
#include "worker/kv_cache.h"

namespace dsm {
namespace {

// Dense causal GQA attention in double, for comparison.
std::vector<double> Reference(const std::vector<float>& q, const std::vector<std::vector<float>>& k,
                              const std::vector<std::vector<float>>& v, int64_t pos, size_t heads,
                              size_t kv_heads, size_t d) {
  std::vector<double> out(heads * d, 0.0);
  for (size_t h = 0; h < heads; ++h) {
    const size_t kvh = h / (heads / kv_heads);
    std::vector<double> s(pos + 1);
    double mx = -1e300, z = 0;
    for (int64_t p = 0; p <= pos; ++p) {
      double dot = 0;
      for (size_t i = 0; i < d; ++i) dot += double{q[h * d + i]} * k[p][kvh * d + i];
      s[p] = dot / std::sqrt(double(d));
      mx = std::max(mx, s[p]);
    }
    for (auto& x : s) z += (x = std::exp(x - mx));
    for (int64_t p = 0; p <= pos; ++p) {
      for (size_t i = 0; i < d; ++i) out[h * d + i] += s[p] / z * v[p][kvh * d + i];
    }
  }
  return out;
}

TEST(PagedAttentionTest, MatchesDenseAttentionThroughScatteredBlocks) {
  const size_t heads = 4, kv_heads = 2, d = 8, block_size = 4, num_blocks = 8;
  const int64_t length = 11;
  const std::vector<int32_t> block_table = {5, 2, 7};  // positions 0-3, 4-7, 8-10
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> kc(num_blocks * block_size * kv_heads * d, NAN);
  std::vector<float> vc(kc.size(), NAN);
  std::vector<std::vector<float>> keys(length), values(length);
  for (int64_t p = 0; p < length; ++p) {
    keys[p].resize(kv_heads * d);
    values[p].resize(kv_heads * d);
    const size_t base = (block_table[p / block_size] * block_size + p % block_size) * kv_heads * d;
    for (size_t i = 0; i < kv_heads * d; ++i) {
      kc[base + i] = keys[p][i] = dist(rng);
      vc[base + i] = values[p][i] = dist(rng);
    }
  }
  // Two queries at different positions of the same sequence.
  std::vector<float> q(2 * heads * d);
  for (float& x : q) x = dist(rng);
  const std::vector<AttentionQuery> queries = {{4, block_table.data()}, {10, block_table.data()}};
  std::vector<float> out(q.size());
  ThreadPool pool(2);
  PagedAttention(pool, q.data(), 2, queries.data(), heads,
                 PagedKvLayer{kc.data(), vc.data(), block_size, kv_heads, d},
                 1.0f / std::sqrt(float(d)), out.data());
  for (size_t t = 0; t < 2; ++t) {
    std::vector<float> qt(q.begin() + t * heads * d, q.begin() + (t + 1) * heads * d);
    std::vector<double> ref = Reference(qt, keys, values, queries[t].position, heads, kv_heads, d);
    for (size_t i = 0; i < heads * d; ++i) EXPECT_NEAR(out[t * heads * d + i], ref[i], 1e-5);
  }
}

// A prefill chunk attends in groups of consecutive tokens that share each K/V read; a
// token's output must be bit for bit what it gets alone (decode), in any chunking and
// beside other sequences, or recompute after preemption would not be exact. 21 tokens
// of one sequence (groups of 8, 8, 5) plus a second sequence, against each token alone.
TEST(PagedAttentionTest, GroupedPrefillTokensEqualEachTokenAloneBitForBit) {
  const size_t heads = 4, kv_heads = 2, d = 20, block_size = 4, num_blocks = 16;
  const std::vector<int32_t> table_a = {9, 2, 14, 0, 5, 11};  // 24 positions
  const std::vector<int32_t> table_b = {3, 7};
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-2, 2);
  std::vector<float> kc(num_blocks * block_size * kv_heads * d), vc(kc.size());
  for (float& x : kc) x = dist(rng);
  for (float& x : vc) x = dist(rng);
  std::vector<AttentionQuery> queries;
  for (int64_t p = 2; p < 23; ++p) queries.push_back({p, table_a.data()});
  queries.push_back({6, table_b.data()});
  const size_t width = heads * d, n = queries.size();
  std::vector<float> q(n * width);
  for (float& x : q) x = dist(rng);
  const PagedKvLayer kv{kc.data(), vc.data(), block_size, kv_heads, d};
  const float scale = 1.0f / std::sqrt(float(d));
  ThreadPool pool(2);
  std::vector<float> together(q.size());
  PagedAttention(pool, q.data(), n, queries.data(), heads, kv, scale, together.data());
  for (size_t t = 0; t < n; ++t) {
    std::vector<float> alone(width);
    PagedAttention(pool, q.data() + t * width, 1, &queries[t], heads, kv, scale, alone.data());
    EXPECT_EQ(std::memcmp(alone.data(), together.data() + t * width, width * sizeof(float)), 0)
        << "token " << t;
  }
}

// The compact cache: attention over bf16 K/V (written through KvCache::Store) gives
// exactly the bits of f32 attention over the same values rounded to bf16 first, since
// widening bf16 is exact and the kernel's order is the same: the only deviation of the
// bf16 cache is that rounding. Head dims with and without a scalar tail.
TEST(PagedAttentionTest, Bf16CacheEqualsF32AttentionOverRoundedValues) {
  for (const size_t d : {size_t{64}, size_t{20}}) {
    const size_t heads = 4, kv_heads = 2, block_size = 4, num_blocks = 6, layers = 2;
    const int64_t length = 13;
    const std::vector<int32_t> block_table = {3, 0, 5, 1};
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> dist(-2, 2);
    KvCache exact(layers, num_blocks, block_size, kv_heads, d, DType::kF32);
    KvCache compact(layers, num_blocks, block_size, kv_heads, d, DType::kBF16);
    ASSERT_TRUE(exact.ok() && compact.ok());
    EXPECT_EQ(compact.num_bytes() * 2, exact.num_bytes());
    EXPECT_EQ(KvCache::BlockBytes(layers, block_size, kv_heads, d, DType::kBF16) * 2,
              KvCache::BlockBytes(layers, block_size, kv_heads, d));
    for (int64_t p = 0; p < length; ++p) {
      std::vector<float> k(kv_heads * d), v(kv_heads * d), k_rounded, v_rounded;
      for (float& x : k) x = dist(rng);
      for (float& x : v) x = dist(rng);
      for (float x : k) k_rounded.push_back(BF16ToFloat(FloatToBF16(x)));
      for (float x : v) v_rounded.push_back(BF16ToFloat(FloatToBF16(x)));
      const size_t block = block_table[p / block_size], slot = p % block_size;
      compact.Store(1, block, slot, k.data(), v.data());
      exact.Store(1, block, slot, k_rounded.data(), v_rounded.data());
    }
    std::vector<float> q(3 * heads * d);
    for (float& x : q) x = dist(rng);
    const std::vector<AttentionQuery> queries = {
        {0, block_table.data()}, {7, block_table.data()}, {12, block_table.data()}};
    std::vector<float> out_exact(q.size()), out_compact(q.size());
    ThreadPool pool(2);
    const float scale = 1.0f / std::sqrt(float(d));
    PagedAttention(pool, q.data(), 3, queries.data(), heads, exact.Layer(1), scale,
                   out_exact.data());
    PagedAttention(pool, q.data(), 3, queries.data(), heads, compact.Layer(1), scale,
                   out_compact.data());
    EXPECT_EQ(out_compact, out_exact) << "head_dim " << d;
  }
}

}  // namespace
}  // namespace dsm
