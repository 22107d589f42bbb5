#include "kernels/cpu/panel_matmul.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/panel_layout.h"
#include "kernels/cpu/panel_tiles.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/panel_matmul.cc"
#include "hwy/cache_control.h"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace dsm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
constexpr size_t kLanes = hn::MaxLanes(DF());
constexpr size_t kVectorsPerPanel = kPanelRows / kLanes;
#if HWY_TARGET <= HWY_AVX3
constexpr size_t kAccumulatorBudget = 24;  // of 32 vector registers
#else
constexpr size_t kAccumulatorBudget = 8;  // of 16
#endif
constexpr size_t kMaxTileTokens = 12;

// Widens the kPanelRows weights of one input feature into kVectorsPerPanel vectors;
// FirstRow(v) is the panel row held by lane 0 of vector v (lanes hold consecutive rows).
struct Bf16Panel {
  using T = hwy::bfloat16_t;
  static HWY_INLINE void Load(const T* line, VF* v) {
    const DF df;
    const hn::RebindToUnsigned<DF> du;
    const auto high_half = hn::Set(du, 0xFFFF0000u);
    const auto* words = reinterpret_cast<const uint32_t*>(line);
    HWY_UNROLL(32) for (size_t c = 0; c < kVectorsPerPanel / 2; ++c) {
      const auto raw = hn::LoadU(du, words + c * kLanes);
      v[2 * c] = hn::BitCast(df, hn::ShiftLeft<16>(raw));
      v[2 * c + 1] = hn::BitCast(df, hn::And(raw, high_half));
    }
  }
  static constexpr size_t FirstRow(size_t v) {
    return (v % 2) * (kPanelRows / 2) + (v / 2) * kLanes;
  }
};
struct F32Panel {
  using T = float;
  static HWY_INLINE void Load(const T* line, VF* v) {
    const DF df;
    HWY_UNROLL(32)
    for (size_t i = 0; i < kVectorsPerPanel; ++i) v[i] = hn::LoadU(df, line + i * kLanes);
  }
  static constexpr size_t FirstRow(size_t v) { return v * kLanes; }
};
struct F16Panel {
  using T = hwy::float16_t;
  static HWY_INLINE void Load(const T* line, VF* v) {
    const DF df;
    const hn::Rebind<hwy::float16_t, DF> dh;
    HWY_UNROLL(32) for (size_t i = 0; i < kVectorsPerPanel; ++i) {
      v[i] = hn::PromoteTo(df, hn::LoadU(dh, line + i * kLanes));
    }
  }
  static constexpr size_t FirstRow(size_t v) { return v * kLanes; }
};

// kTokens tokens x kPanels consecutive panels: out[t][p * kPanelRows + row] = the dot
// product of token t with that row, accumulated by one FMA per input feature in order,
// over `count` features from `w` and `x` on (x rows `x_stride` apart, out rows
// `out_stride` apart); `resume`
// continues the sums already in `out` (a stored and reloaded f32 is the same value, so
// chunking keeps each chain intact). Prefetches `prefetch` features ahead.
template <class Panel, size_t kTokens, size_t kPanels>
HWY_NOINLINE void Tile(const typename Panel::T* HWY_RESTRICT w, size_t panel_stride,
                       const float* HWY_RESTRICT x, size_t x_stride, size_t count, size_t prefetch,
                       bool resume, float* HWY_RESTRICT out, size_t out_stride) {
  const DF df;
  constexpr size_t kVectors = kPanels * kVectorsPerPanel;
  VF acc[kTokens][kVectors];
  HWY_UNROLL(32) for (size_t t = 0; t < kTokens; ++t) {
    HWY_UNROLL(32) for (size_t j = 0; j < kVectors; ++j) {
      const size_t p = j / kVectorsPerPanel;
      acc[t][j] = resume ? hn::LoadU(df, out + t * out_stride + p * kPanelRows +
                                             Panel::FirstRow(j % kVectorsPerPanel))
                         : hn::Zero(df);
    }
  }
  for (size_t i = 0; i < count; ++i) {
    VF wv[kVectors];
    HWY_UNROLL(32) for (size_t p = 0; p < kPanels; ++p) {
      const typename Panel::T* line = w + p * panel_stride + i * kPanelRows;
      hwy::Prefetch(line + prefetch * kPanelRows);
      Panel::Load(line, wv + p * kVectorsPerPanel);
    }
    HWY_UNROLL(32) for (size_t t = 0; t < kTokens; ++t) {
      const VF xt = hn::Set(df, x[t * x_stride + i]);
      HWY_UNROLL(32)
      for (size_t j = 0; j < kVectors; ++j) acc[t][j] = hn::MulAdd(xt, wv[j], acc[t][j]);
    }
  }
  HWY_UNROLL(32) for (size_t t = 0; t < kTokens; ++t) {
    HWY_UNROLL(32) for (size_t j = 0; j < kVectors; ++j) {
      const size_t p = j / kVectorsPerPanel;
      hn::StoreU(acc[t][j], df,
                 out + t * out_stride + p * kPanelRows + Panel::FirstRow(j % kVectorsPerPanel));
    }
  }
}

template <class Panel>
using TileFn = void (*)(const typename Panel::T*, size_t, const float*, size_t, size_t, size_t,
                        bool, float*, size_t);

// Tiles of up to kMaxTileTokens tokens over one panel, and of 1-4 tokens over 2 or 4
// panels (more independent FMA chains when there are few tokens, as in decode).
template <class Panel, size_t kPanels, size_t... kTokens>
constexpr TileFn<Panel> PickTile(size_t tokens, std::index_sequence<kTokens...>) {
  TileFn<Panel> fn = nullptr;
  ((fn = (tokens == kTokens + 1) ? &Tile<Panel, kTokens + 1, kPanels> : fn), ...);
  return fn;
}

// Most tokens a tile over kPanels panels holds in registers (at least 1).
constexpr size_t TileTokens(size_t panels) {
  const size_t fit = kAccumulatorBudget / (panels * kVectorsPerPanel);
  const size_t cap = panels == 1 ? kMaxTileTokens : 4 / panels;
  return std::max<size_t>(1, std::min(fit, cap));
}

// All n tokens against panels [first_panel, first_panel + kPanels), in even tiles over
// chunks of 16 KiB of weights (panel_tiles.h).
template <class Panel, size_t kPanels>
void PanelGroup(const float* x, size_t n, const typename Panel::T* w, size_t k, size_t m,
                size_t first_panel, float* y) {
  constexpr size_t kTileFloats = kPanels * kPanelRows;  // one token's outputs
  constexpr size_t kChunk = 16384 / (kTileFloats * sizeof(typename Panel::T));
  const size_t panel_stride = k * kPanelRows;
  static_assert(TileTokens(kPanels) * kPanels <= kMaxTileTokens);
  const GroupOutput out = GroupOutputFor(n, kPanels, kPanelRows, first_panel, m, y);
  const typename Panel::T* panels = w + first_panel * panel_stride;
  ForEachChunkedTile(n, k, TileTokens(kPanels), kChunk,
                     [&](size_t t0, size_t tokens, size_t tile_index, size_t i0, size_t count) {
                       const TileFn<Panel> tile = PickTile<Panel, kPanels>(
                           tokens, std::make_index_sequence<TileTokens(kPanels)>());
                       // Tiles after the first find the chunk in L1 and prefetch the next
                       // one; the first tile prefetches half a chunk ahead, so that the next
                       // chunk's DRAM reads are spread over both tiles of a 16-token step
                       // instead of crowding into the second (-5-25% step time at batch 16).
                       // The very first chunk streams 16 features (1 KiB of bf16) ahead.
                       const size_t prefetch =
                           tile_index > 0 ? kChunk : (i0 == 0 ? 16 : kChunk / 2);
                       tile(panels + i0 * kPanelRows, panel_stride, x + t0 * k + i0, k, count,
                            prefetch, i0 > 0, out.base + t0 * out.stride, out.stride);
                     });
  if (out.scratch) StoreGroupSums(out.base, n, kPanels, kPanelRows, first_panel, m, y);
}

// Groups [group_begin, group_end) of panels_per_group panels each (the last may be short).
template <class Panel>
void PanelRows(const float* x, size_t n, const void* weights, size_t k, size_t m,
               size_t panels_per_group, size_t group_begin, size_t group_end, float* y) {
  const auto* w = static_cast<const typename Panel::T*>(weights);
  const size_t total_panels = PanelCount(m);
  for (size_t g = group_begin; g < group_end; ++g) {
    const size_t first = g * panels_per_group;
    const size_t panels = std::min(panels_per_group, total_panels - first);
    if (panels == 4 && TileTokens(4) * 4 * kVectorsPerPanel <= kAccumulatorBudget) {
      PanelGroup<Panel, 4>(x, n, w, k, m, first, y);
    } else if (panels == 2 && TileTokens(2) * 2 * kVectorsPerPanel <= kAccumulatorBudget) {
      PanelGroup<Panel, 2>(x, n, w, k, m, first, y);
    } else {
      for (size_t p = 0; p < panels; ++p) PanelGroup<Panel, 1>(x, n, w, k, m, first + p, y);
    }
  }
}

void PanelMatMulRange(const float* x, size_t n, const void* w, int dtype, size_t k, size_t m,
                      size_t panels_per_group, size_t group_begin, size_t group_end, float* y) {
  switch (static_cast<DType>(dtype)) {
    case DType::kF32:
      return PanelRows<F32Panel>(x, n, w, k, m, panels_per_group, group_begin, group_end, y);
    case DType::kBF16:
      return PanelRows<Bf16Panel>(x, n, w, k, m, panels_per_group, group_begin, group_end, y);
    case DType::kF16:
      return PanelRows<F16Panel>(x, n, w, k, m, panels_per_group, group_begin, group_end, y);
  }
}

// Panels a group covers for n tokens: 4 or 2 when the tokens are few (as in decode), so
// that enough independent FMA chains hide the FMA latency while weights stream in.
size_t PanelsPerGroup(size_t n) {
  for (size_t panels : {size_t{4}, size_t{2}}) {
    if (n <= TileTokens(panels) &&
        TileTokens(panels) * panels * kVectorsPerPanel <= kAccumulatorBudget) {
      return panels;
    }
  }
  return 1;
}

}  // namespace HWY_NAMESPACE
}  // namespace dsm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dsm {

HWY_EXPORT(PanelMatMulRange);
HWY_EXPORT(PanelsPerGroup);

void PanelMatMul(ThreadPool& pool, const float* x, size_t n, const WeightMatrix& w, float* y) {
  const size_t panels = PanelCount(w.rows);
  const size_t per_group = HWY_DYNAMIC_DISPATCH(PanelsPerGroup)(n);
  const size_t groups = (panels + per_group - 1) / per_group;
  // A group's work is per_group * 32 rows x cols x n multiply-adds; ~64K per chunk at
  // least amortises the hand-off between threads.
  const size_t work = per_group * kPanelRows * w.cols * n;
  const size_t grain = std::max<size_t>(1, 65536 / std::max<size_t>(1, work));
  pool.ParallelFor(groups, grain, [&](size_t begin, size_t end) {
    HWY_DYNAMIC_DISPATCH(PanelMatMulRange)
    (x, n, w.data, static_cast<int>(w.dtype), w.cols, w.rows, per_group, begin, end, y);
  });
}

}  // namespace dsm
#endif  // HWY_ONCE
