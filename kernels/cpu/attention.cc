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

// One token, all heads: per head its scores over positions [0, position], softmax,
// weighted values. Positions are the outer loop so each cached slot (all KV heads of a
// position, contiguous) is read front to back once. Each head's instruction sequence
// depends only on its query, the position and the cached K/V, never on the batch.
// T is the cache's element: float, or uint16_t holding bf16.
template <typename T>
void AttendToken(const float* q, const AttentionQuery& query, size_t heads, const PagedKvLayer& kv,
                 float scale, std::vector<float>& scores, float* out) {
  const size_t d = kv.head_dim;
  const size_t group = heads / kv.kv_heads;
  const size_t slot_stride = kv.kv_heads * d;
  const size_t length = static_cast<size_t>(query.position) + 1;
  scores.resize(heads * length);
  for (size_t p = 0; p < length; ++p) {
    const size_t block = static_cast<size_t>(query.block_table[p / kv.block_size]);
    const T* slot =
        static_cast<const T*>(kv.k) + (block * kv.block_size + p % kv.block_size) * slot_stride;
    for (size_t h = 0; h < heads; ++h) {
      scores[h * length + p] = Dot(q + h * d, slot + (h / group) * d, d) * scale;
    }
  }
  for (size_t h = 0; h < heads; ++h) Softmax(scores.data() + h * length, length);
  std::fill(out, out + heads * d, 0.0f);
  for (size_t p = 0; p < length; ++p) {
    const size_t block = static_cast<size_t>(query.block_table[p / kv.block_size]);
    const T* slot =
        static_cast<const T*>(kv.v) + (block * kv.block_size + p % kv.block_size) * slot_stride;
    for (size_t h = 0; h < heads; ++h) {
      AddScaled(scores[h * length + p], slot + (h / group) * d, d, out + h * d);
    }
  }
}

void AttendRange(const float* q, const AttentionQuery* queries, size_t heads,
                 const PagedKvLayer& kv, float scale, size_t begin, size_t end, float* out) {
  const size_t width = heads * kv.head_dim;
  std::vector<float> scores;
  for (size_t t = begin; t < end; ++t) {
    if (kv.dtype == DType::kBF16) {
      AttendToken<uint16_t>(q + t * width, queries[t], heads, kv, scale, scores, out + t * width);
    } else {
      AttendToken<float>(q + t * width, queries[t], heads, kv, scale, scores, out + t * width);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace dsm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dsm {

HWY_EXPORT(AttendRange);

void PagedAttention(ThreadPool& pool, const float* q, size_t num_tokens,
                    const AttentionQuery* queries, size_t heads, const PagedKvLayer& kv,
                    float scale, float* out) {
  pool.ParallelFor(num_tokens, 1, [&](size_t begin, size_t end) {
    HWY_DYNAMIC_DISPATCH(AttendRange)(q, queries, heads, kv, scale, begin, end, out);
  });
}

}  // namespace dsm
#endif  // HWY_ONCE
