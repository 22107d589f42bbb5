#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/attention.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

// After highway.h, and like it re-included once per target.
#include "hwy/contrib/math/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace dsm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;

// Cached K/V elements as f32 vectors and scalars: f32 as is, bf16 (stored as its 16 bits)
// widened exactly by a shift.
HWY_INLINE hn::Vec<DF> LoadKv(DF df, const float* HWY_RESTRICT p) { return hn::LoadU(df, p); }
HWY_INLINE hn::Vec<DF> LoadKv(DF df, const uint16_t* HWY_RESTRICT p) {
  const hn::Rebind<uint16_t, DF> du16;
  const hn::Rebind<uint32_t, DF> du32;
  return hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(du32, hn::LoadU(du16, p))));
}
HWY_INLINE float KvScalar(float x) { return x; }
HWY_INLINE float KvScalar(uint16_t bits) { return BF16ToFloat(bits); }

// q · k over d dimensions: two vector FMA chains, their sum reduced, then a scalar tail.
template <typename T>
HWY_INLINE float Dot(const float* HWY_RESTRICT a, const T* HWY_RESTRICT b, size_t d) {
  const DF df;
  const size_t n = hn::Lanes(df);
  auto acc0 = hn::Zero(df), acc1 = hn::Zero(df);
  size_t i = 0;
  for (; i + 2 * n <= d; i += 2 * n) {
    acc0 = hn::MulAdd(hn::LoadU(df, a + i), LoadKv(df, b + i), acc0);
    acc1 = hn::MulAdd(hn::LoadU(df, a + i + n), LoadKv(df, b + i + n), acc1);
  }
  for (; i + n <= d; i += n) acc0 = hn::MulAdd(hn::LoadU(df, a + i), LoadKv(df, b + i), acc0);
  float sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0, acc1)));
  for (; i < d; ++i) sum += a[i] * KvScalar(b[i]);
  return sum;
}

// Positions a query attends to.
HWY_INLINE size_t Length(const AttentionQuery& query) {
  return static_cast<size_t>(query.position) + 1;
}

// scores[p] = exp(scores[p] - max) / sum over p of the same.
HWY_INLINE void Softmax(float* scores, size_t length) {
  const DF df;
  const size_t n = hn::Lanes(df);
  float max_score = -INFINITY;
  for (size_t p = 0; p < length; ++p) max_score = std::max(max_score, scores[p]);
  const auto max_v = hn::Set(df, max_score);
  auto denom_v = hn::Zero(df);
  size_t p = 0;
  for (; p + n <= length; p += n) {
    const auto e = hn::CallExp(df, hn::Sub(hn::LoadU(df, scores + p), max_v));
    hn::StoreU(e, df, scores + p);
    denom_v = hn::Add(denom_v, e);
  }
  float denom = hn::GetLane(hn::SumOfLanes(df, denom_v));
  for (; p < length; ++p) {
    scores[p] = std::exp(scores[p] - max_score);
    denom += scores[p];
  }
  const float inverse = 1.0f / denom;
  for (p = 0; p < length; ++p) scores[p] *= inverse;
}

// out[0, d) += w * v[0, d)
template <typename T>
HWY_INLINE void AddScaled(float w, const T* HWY_RESTRICT v, size_t d, float* HWY_RESTRICT out) {
  const DF df;
  const size_t n = hn::Lanes(df);
  const auto wv = hn::Set(df, w);
  size_t i = 0;
  for (; i + n <= d; i += n)
    hn::StoreU(hn::MulAdd(wv, LoadKv(df, v + i), hn::LoadU(df, out + i)), df, out + i);
  for (; i < d; ++i) out[i] += w * KvScalar(v[i]);
}

// Consecutive query tokens of one sequence (a prefill chunk), all heads: per token and
// head its scores over positions [0, position], softmax, weighted values. Positions are
// the outer loop, so each cached slot (all KV heads of a position, contiguous) is read
// once for the whole group instead of once per token. Each token's and head's
// instruction sequence depends only on its query, its position and the cached K/V,
// never on the group or the batch: a token attends bit for bit the same alone (decode)
// or in any group, which keeps recompute after preemption exact.
// T is the cache's element: float, or uint16_t holding bf16.
template <typename T>
void AttendTokens(const float* q, const AttentionQuery* queries, size_t count, size_t heads,
                  const PagedKvLayer& kv, float scale, std::vector<float>& scores, float* out) {
  const size_t d = kv.head_dim;
  const size_t width = heads * d;
  const size_t group = heads / kv.kv_heads;
  const size_t slot_stride = kv.kv_heads * d;
  const int32_t* block_table = queries[0].block_table;  // one sequence
  size_t span = 0;                                      // positions the group reads
  for (size_t c = 0; c < count; ++c) span = std::max(span, Length(queries[c]));
  scores.resize(count * heads * span);
  auto slot = [&](const void* base, size_t p) {
    const size_t block = static_cast<size_t>(block_table[p / kv.block_size]);
    return static_cast<const T*>(base) + (block * kv.block_size + p % kv.block_size) * slot_stride;
  };
  for (size_t p = 0; p < span; ++p) {
    const T* k = slot(kv.k, p);
    for (size_t c = 0; c < count; ++c) {
      if (p >= Length(queries[c])) continue;
      float* s = scores.data() + c * heads * span;
      for (size_t h = 0; h < heads; ++h) {
        s[h * span + p] = Dot(q + c * width + h * d, k + (h / group) * d, d) * scale;
      }
    }
  }
  for (size_t c = 0; c < count; ++c) {
    for (size_t h = 0; h < heads; ++h) {
      Softmax(scores.data() + (c * heads + h) * span, Length(queries[c]));
    }
  }
  std::fill(out, out + count * width, 0.0f);
  for (size_t p = 0; p < span; ++p) {
    const T* v = slot(kv.v, p);
    for (size_t c = 0; c < count; ++c) {
      if (p >= Length(queries[c])) continue;
      const float* s = scores.data() + c * heads * span;
      for (size_t h = 0; h < heads; ++h) {
        AddScaled(s[h * span + p], v + (h / group) * d, d, out + c * width + h * d);
      }
    }
  }
}

// Query groups [begin, end) of `groups` (first token, token count).
void AttendGroups(const float* q, const AttentionQuery* queries, const size_t* groups, size_t heads,
                  const PagedKvLayer& kv, float scale, size_t begin, size_t end, float* out) {
  const size_t width = heads * kv.head_dim;
  std::vector<float> scores;
  for (size_t g = begin; g < end; ++g) {
    const size_t t = groups[2 * g], count = groups[2 * g + 1];
    if (kv.dtype == DType::kBF16) {
      AttendTokens<uint16_t>(q + t * width, queries + t, count, heads, kv, scale, scores,
                             out + t * width);
    } else {
      AttendTokens<float>(q + t * width, queries + t, count, heads, kv, scale, scores,
                          out + t * width);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace dsm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dsm {

HWY_EXPORT(AttendGroups);

// Tokens that share their K/V reads: consecutive positions of one sequence, up to this
// many (their scores, count x heads x positions floats, stay in L2).
constexpr size_t kMaxQueryGroup = 8;

void PagedAttention(ThreadPool& pool, const float* q, size_t num_tokens,
                    const AttentionQuery* queries, size_t heads, const PagedKvLayer& kv,
                    float scale, float* out) {
  // Groups as (first token, count) pairs; a decode batch is one group per token.
  thread_local std::vector<size_t> groups;
  groups.clear();
  for (size_t t = 0; t < num_tokens; ++t) {
    const bool continues = t > 0 && groups.back() < kMaxQueryGroup &&
                           queries[t].block_table == queries[t - 1].block_table &&
                           queries[t].position == queries[t - 1].position + 1;
    if (continues) {
      ++groups.back();
    } else {
      groups.push_back(t);
      groups.push_back(1);
    }
  }
  const size_t* group_data = groups.data();
  pool.ParallelFor(groups.size() / 2, 1, [&](size_t begin, size_t end) {
    HWY_DYNAMIC_DISPATCH(AttendGroups)(q, queries, group_data, heads, kv, scale, begin, end, out);
  });
}

}  // namespace dsm
#endif  // HWY_ONCE
