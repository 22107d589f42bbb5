#include <algorithm>
#include <cstddef>

#include "kernels/cpu/ops.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/silu.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

// After highway.h, and like it re-included once per target.
#include "hwy/contrib/math/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace dsm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// silu(gate) * up = gate / (1 + exp(-gate)) * up. The scalar libm exp made this ~3% of a
// 16-sequence decode step; Highway's exp (1 ULP) is vectorised. Every element, the row's
// tail included, goes through the same vector code, so a value never depends on where
// it sits in the batch.
void SiluMulImpl(const float* gate_up, size_t n, size_t width, float* out) {
  const hn::ScalableTag<float> df;
  const size_t lanes = hn::Lanes(df);
  const auto one = hn::Set(df, 1.0f);
  // exp(88) is finite; beyond it silu(gate) is below 1e-36 in magnitude either way, and
  // Highway's exp is only specified up to +104.
  const auto limit = hn::Set(df, 88.0f);
  const auto silu_mul = [&](hn::Vec<decltype(df)> g, hn::Vec<decltype(df)> u) {
    const auto e = hn::CallExp(df, hn::Min(hn::Neg(g), limit));
    return hn::Mul(hn::Div(g, hn::Add(one, e)), u);
  };
  for (size_t t = 0; t < n; ++t) {
    const float* gate = gate_up + t * 2 * width;
    const float* up = gate + width;
    float* dst = out + t * width;
    size_t i = 0;
    for (; i + lanes <= width; i += lanes) {
      hn::StoreU(silu_mul(hn::LoadU(df, gate + i), hn::LoadU(df, up + i)), df, dst + i);
    }
    if (i < width) {  // the tail through a zero-padded vector (Debian's Highway lacks LoadN)
      HWY_ALIGN float g[hn::MaxLanes(df)] = {}, u[hn::MaxLanes(df)] = {};
      std::copy(gate + i, gate + width, g);
      std::copy(up + i, up + width, u);
      hn::Store(silu_mul(hn::Load(df, g), hn::Load(df, u)), df, g);
      std::copy(g, g + (width - i), dst + i);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace dsm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dsm {

HWY_EXPORT(SiluMulImpl);

void SiluMul(const float* gate_up, size_t n, size_t width, float* out) {
  HWY_DYNAMIC_DISPATCH(SiluMulImpl)(gate_up, n, width, out);
}

}  // namespace dsm
#endif  // HWY_ONCE
