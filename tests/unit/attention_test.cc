#include "kernels/cpu/attention.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

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

}  // namespace
}  // namespace dsm
