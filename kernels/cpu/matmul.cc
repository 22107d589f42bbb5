#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <cstring>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/matmul.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace dsm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Loads lanes of weights [i, i+N) widened to f32.
template <class DF>
HWY_INLINE hn::Vec<DF> LoadWeights(DF df, const float* w, size_t i) {
  return hn::LoadU(df, w + i);
}
template <class DF>
HWY_INLINE hn::Vec<DF> LoadWeights(DF df, const hwy::bfloat16_t* w, size_t i) {
  return hn::PromoteTo(df, hn::LoadU(hn::Rebind<hwy::bfloat16_t, DF>(), w + i));
}
template <class DF>
HWY_INLINE hn::Vec<DF> LoadWeights(DF df, const hwy::float16_t* w, size_t i) {
  return hn::PromoteTo(df, hn::LoadU(hn::Rebind<hwy::float16_t, DF>(), w + i));
}
HWY_INLINE float WeightScalar(const float* w, size_t i) { return w[i]; }
HWY_INLINE float WeightScalar(const hwy::bfloat16_t* w, size_t i) {
  uint16_t bits;
  std::memcpy(&bits, w + i, 2);
  return BF16ToFloat(bits);
}
HWY_INLINE float WeightScalar(const hwy::float16_t* w, size_t i) {
  uint16_t bits;
  std::memcpy(&bits, w + i, 2);
  return F16ToFloat(bits);
}

// Dot products of one weight row with kTokens input rows. Every token runs the identical
// sequence (vector FMA over full lanes, reduce, then a scalar tail), which keeps results
// bitwise independent of how tokens are grouped.
template <size_t kTokens, typename WT>
HWY_INLINE void RowDots(const WT* HWY_RESTRICT w, const float* HWY_RESTRICT x, size_t k,
                        float* out, size_t out_stride) {
  const hn::ScalableTag<float> df;
  const size_t lanes = hn::Lanes(df);
  hn::Vec<decltype(df)> acc[kTokens];
  for (size_t t = 0; t < kTokens; ++t) acc[t] = hn::Zero(df);
  size_t i = 0;
  for (; i + lanes <= k; i += lanes) {
    const auto wv = LoadWeights(df, w, i);
    for (size_t t = 0; t < kTokens; ++t) acc[t] = hn::MulAdd(hn::LoadU(df, x + t * k + i), wv, acc[t]);
  }
  for (size_t t = 0; t < kTokens; ++t) {
    float sum = hn::GetLane(hn::SumOfLanes(df, acc[t]));
    for (size_t j = i; j < k; ++j) sum += x[t * k + j] * WeightScalar(w, j);
    out[t * out_stride] = sum;
  }
}

template <typename WT>
void MatMulRows(const float* x, size_t n, const WT* w, size_t k, size_t m, size_t row_begin,
                size_t row_end, float* y) {
  constexpr size_t kBlock = 4;
  for (size_t r = row_begin; r < row_end; ++r) {
    const WT* row = w + r * k;
    size_t t = 0;
    for (; t + kBlock <= n; t += kBlock) RowDots<kBlock>(row, x + t * k, k, y + t * m + r, m);
    for (; t < n; ++t) RowDots<1>(row, x + t * k, k, y + t * m + r, m);
  }
}

void MatMulRange(const float* x, size_t n, const void* w, int dtype, size_t k, size_t m,
                 size_t row_begin, size_t row_end, float* y) {
  switch (static_cast<DType>(dtype)) {
    case DType::kF32:
      return MatMulRows(x, n, static_cast<const float*>(w), k, m, row_begin, row_end, y);
    case DType::kBF16:
      return MatMulRows(x, n, static_cast<const hwy::bfloat16_t*>(w), k, m, row_begin, row_end, y);
    case DType::kF16:
      return MatMulRows(x, n, static_cast<const hwy::float16_t*>(w), k, m, row_begin, row_end, y);
  }
}

const char* TargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace dsm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dsm {

HWY_EXPORT(MatMulRange);
HWY_EXPORT(TargetName);

void MatMul(ThreadPool& pool, const float* x, size_t n, const WeightMatrix& w, float* y) {
  // Rows per chunk: enough work (~64K MACs) to amortise scheduling.
  const size_t grain = std::max<size_t>(1, 65536 / std::max<size_t>(1, w.cols * n));
  pool.ParallelFor(w.rows, grain, [&](size_t begin, size_t end) {
    HWY_DYNAMIC_DISPATCH(MatMulRange)(x, n, w.data, static_cast<int>(w.dtype), w.cols, w.rows,
                                      begin, end, y);
  });
}

const char* MatMulTargetName() { return HWY_DYNAMIC_DISPATCH(TargetName)(); }

}  // namespace dsm
#endif  // HWY_ONCE
