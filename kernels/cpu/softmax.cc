#include "kernels/cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/softmax.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

// After highway.h, and like it re-included once per target.
#include "hwy/contrib/math/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace dsm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

float MaxOfImpl(const float* in, size_t n) {
  const hn::ScalableTag<float> df;
  const size_t lanes = hn::Lanes(df);
  float best = in[0];
  size_t i = 0;
  if (n >= lanes) {
    auto m = hn::LoadU(df, in);
    for (i = lanes; i + lanes <= n; i += lanes) m = hn::Max(m, hn::LoadU(df, in + i));
    best = hn::GetLane(hn::MaxOfLanes(df, m));
  }
  for (; i < n; ++i) best = std::max(best, in[i]);
  return best;
}

size_t FirstMaxIndexImpl(const float* in, size_t n) {
  const hn::ScalableTag<float> df;
  const size_t lanes = hn::Lanes(df);
  const float best = MaxOfImpl(in, n);
  const auto best_v = hn::Set(df, best);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const intptr_t lane = hn::FindFirstTrue(df, hn::Eq(hn::LoadU(df, in + i), best_v));
    if (lane >= 0) return i + static_cast<size_t>(lane);
  }
  for (; i < n; ++i) {
    if (in[i] == best) return i;
  }
  // Nothing equals the maximum only when NaNs are about: std::max_element decides.
  return static_cast<size_t>(std::max_element(in, in + n) - in);
}

double ExpShiftedSumImpl(const float* in, size_t n, float shift, float scale, float* out) {
  const hn::ScalableTag<float> df;
  const size_t lanes = hn::Lanes(df);
  const auto shift_v = hn::Set(df, shift), scale_v = hn::Set(df, scale);
  // Four float accumulators of at most ~n / (4 lanes) terms each, summed in double.
  hn::Vec<decltype(df)> acc[4] = {hn::Zero(df), hn::Zero(df), hn::Zero(df), hn::Zero(df)};
  size_t i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    for (size_t j = 0; j < 4; ++j) {
      const auto x = hn::Mul(hn::Sub(hn::LoadU(df, in + i + j * lanes), shift_v), scale_v);
      const auto e = hn::CallExp(df, x);
      hn::StoreU(e, df, out + i + j * lanes);
      acc[j] = hn::Add(acc[j], e);
    }
  }
  double sum = 0.0;
  for (size_t j = 0; j < 4; ++j) sum += hn::GetLane(hn::SumOfLanes(df, acc[j]));
  for (; i < n; ++i) {
    out[i] = std::exp((in[i] - shift) * scale);
    sum += out[i];
  }
  return sum;
}

}  // namespace HWY_NAMESPACE
}  // namespace dsm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dsm {

HWY_EXPORT(MaxOfImpl);
HWY_EXPORT(FirstMaxIndexImpl);
HWY_EXPORT(ExpShiftedSumImpl);

float MaxOf(const float* in, size_t n) { return HWY_DYNAMIC_DISPATCH(MaxOfImpl)(in, n); }

size_t FirstMaxIndex(const float* in, size_t n) {
  return HWY_DYNAMIC_DISPATCH(FirstMaxIndexImpl)(in, n);
}

double ExpShiftedSum(const float* in, size_t n, float shift, float scale, float* out) {
  return HWY_DYNAMIC_DISPATCH(ExpShiftedSumImpl)(in, n, shift, scale, out);
}

double LogSumExp(const float* in, size_t n) {
  const float max = MaxOf(in, n);
  thread_local std::vector<float> scratch;
  scratch.resize(n);
  return max + std::log(ExpShiftedSum(in, n, max, 1.0f, scratch.data()));
}

}  // namespace dsm
#endif  // HWY_ONCE
