#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/pair_panel_matmul.h"
#include "kernels/cpu/panel_matmul.h"

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
  const uint32_t wide = uint32_t{bits} << 16;
  float value;
  std::memcpy(&value, &wide, 4);
  return value;
}
HWY_INLINE float WeightScalar(const hwy::float16_t* w, size_t i) {
  uint16_t bits;
  std::memcpy(&bits, w + i, 2);
  return F16ToFloat(bits);
}

// Dot products of kRows weight rows with kTokens input rows. Each (row, token) pair has
// its own accumulator and runs the identical sequence — vector FMA over full lanes in k
// order, reduce, then a scalar tail — whatever tile it lands in, which keeps results
// bitwise independent of how tokens are grouped. Tiles exist for throughput: they give
// kRows * kTokens independent FMA chains and reuse each load kRows or kTokens times.
template <size_t kRows, size_t kTokens, typename WT>
HWY_INLINE void TileDots(const WT* HWY_RESTRICT w, const float* HWY_RESTRICT x, size_t k,
                         float* out, size_t out_stride) {
  const hn::ScalableTag<float> df;
  const size_t lanes = hn::Lanes(df);
  hn::Vec<decltype(df)> acc[kRows][kTokens];
  HWY_UNROLL(4) for (size_t r = 0; r < kRows; ++r) {
    HWY_UNROLL(4) for (size_t t = 0; t < kTokens; ++t) acc[r][t] = hn::Zero(df);
  }
  size_t i = 0;
  for (; i + lanes <= k; i += lanes) {
    hn::Vec<decltype(df)> wv[kRows];
    HWY_UNROLL(4) for (size_t r = 0; r < kRows; ++r) wv[r] = LoadWeights(df, w + r * k, i);
    HWY_UNROLL(4) for (size_t t = 0; t < kTokens; ++t) {
      const auto xv = hn::LoadU(df, x + t * k + i);
      HWY_UNROLL(4) for (size_t r = 0; r < kRows; ++r) acc[r][t] = hn::MulAdd(xv, wv[r], acc[r][t]);
    }
  }
  for (size_t r = 0; r < kRows; ++r) {
    for (size_t t = 0; t < kTokens; ++t) {
      float sum = hn::GetLane(hn::SumOfLanes(df, acc[r][t]));
      for (size_t j = i; j < k; ++j) sum += x[t * k + j] * WeightScalar(w + r * k, j);
      out[t * out_stride + r] = sum;
    }
  }
}

template <size_t kRows, typename WT>
HWY_INLINE void RowBlock(const float* x, size_t n, const WT* rows, size_t k, size_t m, float* y) {
  constexpr size_t kTokens = 4;
  size_t t = 0;
  for (; t + kTokens <= n; t += kTokens) {
    TileDots<kRows, kTokens>(rows, x + t * k, k, y + t * m, m);
  }
  for (; t < n; ++t) TileDots<kRows, 1>(rows, x + t * k, k, y + t * m, m);
}

template <typename WT>
void MatMulRows(const float* x, size_t n, const WT* w, size_t k, size_t m, size_t row_begin,
                size_t row_end, float* y) {
  constexpr size_t kRows = 4;
  size_t r = row_begin;
  for (; r + kRows <= row_end; r += kRows) RowBlock<kRows>(x, n, w + r * k, k, m, y + r);
  for (; r < row_end; ++r) RowBlock<1>(x, n, w + r * k, k, m, y + r);
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
  if (w.layout == WeightLayout::kPanels) return PanelMatMul(pool, x, n, w, y);
  if (w.layout == WeightLayout::kPairPanels) return PairPanelMatMul(pool, x, n, w, y);
  // Work is split in groups of 4 rows (the kernel's tile height), enough per chunk
  // (~64K multiply-adds) to amortise scheduling.
  constexpr size_t kGroup = 4;
  const size_t groups = (w.rows + kGroup - 1) / kGroup;
  const size_t grain = std::max<size_t>(1, 65536 / std::max<size_t>(1, kGroup * w.cols * n));
  pool.ParallelFor(groups, grain, [&](size_t begin, size_t end) {
    HWY_DYNAMIC_DISPATCH(MatMulRange)
    (x, n, w.data, static_cast<int>(w.dtype), w.cols, w.rows, begin * kGroup,
     std::min(w.rows, end * kGroup), y);
  });
}

const char* MatMulTargetName() { return HWY_DYNAMIC_DISPATCH(TargetName)(); }

}  // namespace dsm
#endif  // HWY_ONCE
