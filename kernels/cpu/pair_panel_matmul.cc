#include "kernels/cpu/pair_panel_matmul.h"

#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "common/dtype.h"
#include "kernels/cpu/panel_layout.h"
#include "kernels/cpu/panel_tiles.h"

namespace dsm {
namespace {

// VDPBF16PS needs AVX-512 BF16; Highway 1.0 does not emit it, so the tile uses the
// intrinsic in functions compiled for that target and called only after a CPU check.
#define DSM_BF16_TARGET __attribute__((target("avx512f,avx512bf16")))

constexpr size_t kLanes = 16;  // floats per 512-bit vector
constexpr size_t kVectorsPerPanel = kPairPanelRows / kLanes;
constexpr size_t kAccumulatorBudget = 24;  // of 32 vector registers
constexpr size_t kMaxTileTokens = 12;

// Same tiling rules as the exact panel GEMM: up to 12 tokens over one panel, 1-2 tokens
// over 2 or 4 panels (more independent chains when there are few tokens, as in decode).
// (Measured against 16-row panels with 24-token tiles, which read the weights once for
// 16 sequences: those were slower at every batch size, decode most of all.)
constexpr size_t TileTokens(size_t panels) {
  const size_t fit = kAccumulatorBudget / (panels * kVectorsPerPanel);
  const size_t cap = panels == 1 ? kMaxTileTokens : 4 / panels;
  return std::max<size_t>(1, std::min(fit, cap));
}

size_t PanelsPerGroup(size_t n) {
  for (size_t panels : {size_t{4}, size_t{2}}) {
    if (n <= TileTokens(panels)) return panels;
  }
  return 1;
}

// kTokens tokens x kPanels consecutive panels: out[t][p * kPairPanelRows + row] = the
// dot product of token t with that row, one VDPBF16PS per feature pair in order, over
// `pairs` pairs from `w` and `x` on; `resume` continues the sums already in `out` (a
// stored and reloaded f32 is the same value, so chunking keeps each chain intact). `x`
// holds each token's pairs of bf16 activations as 32-bit words, rows `x_stride` apart;
// out rows are `out_stride` apart.
template <size_t kTokens, size_t kPanels>
DSM_BF16_TARGET void DotTile(const uint32_t* __restrict w, size_t panel_stride,
                             const uint32_t* __restrict x, size_t x_stride, size_t pairs,
                             size_t prefetch_pairs, bool resume, float* __restrict out,
                             size_t out_stride) {
  constexpr size_t kVectors = kPanels * kVectorsPerPanel;
  __m512 acc[kTokens][kVectors];
#pragma GCC unroll 32
  for (size_t t = 0; t < kTokens; ++t) {
#pragma GCC unroll 32
    for (size_t j = 0; j < kVectors; ++j) {
      acc[t][j] = resume ? _mm512_loadu_ps(out + t * out_stride + j * kLanes) : _mm512_setzero_ps();
    }
  }
  for (size_t i = 0; i < pairs; ++i) {
    __m512bh wv[kVectors];
#pragma GCC unroll 32
    for (size_t p = 0; p < kPanels; ++p) {
      const uint32_t* line = w + p * panel_stride + i * kPairPanelRows;
      // Both cache lines of the pair `prefetch_pairs` ahead.
      const uint32_t* ahead = line + prefetch_pairs * kPairPanelRows;
      _mm_prefetch(reinterpret_cast<const char*>(ahead), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(ahead + kLanes), _MM_HINT_T0);
#pragma GCC unroll 32
      for (size_t v = 0; v < kVectorsPerPanel; ++v) {
        wv[p * kVectorsPerPanel + v] = (__m512bh)_mm512_loadu_si512(line + v * kLanes);
      }
    }
#pragma GCC unroll 32
    for (size_t t = 0; t < kTokens; ++t) {
      const __m512bh xt = (__m512bh)_mm512_set1_epi32(static_cast<int>(x[t * x_stride + i]));
#pragma GCC unroll 32
      for (size_t j = 0; j < kVectors; ++j) acc[t][j] = _mm512_dpbf16_ps(acc[t][j], xt, wv[j]);
    }
  }
#pragma GCC unroll 32
  for (size_t t = 0; t < kTokens; ++t) {
#pragma GCC unroll 32
    for (size_t j = 0; j < kVectors; ++j) {
      _mm512_storeu_ps(out + t * out_stride + j * kLanes, acc[t][j]);
    }
  }
}

using TileFn = void (*)(const uint32_t*, size_t, const uint32_t*, size_t, size_t, size_t, bool,
                        float*, size_t);

template <size_t kPanels, size_t... kTokens>
constexpr TileFn PickTile(size_t tokens, std::index_sequence<kTokens...>) {
  TileFn fn = nullptr;
  ((fn = (tokens == kTokens + 1) ? &DotTile<kTokens + 1, kPanels> : fn), ...);
  return fn;
}

// All n tokens against panels [first_panel, first_panel + kPanels) (panel_tiles.h).
template <size_t kPanels>
DSM_BF16_TARGET void DotGroup(const uint32_t* x, size_t x_stride, size_t n, const uint32_t* w,
                              size_t pairs, size_t m, size_t first_panel, float* y) {
  constexpr size_t kChunkPairs = 128;  // 16 KiB of one panel's weights
  const size_t panel_stride = pairs * kPairPanelRows;
  static_assert(TileTokens(kPanels) * kPanels <= kMaxTileTokens);
  const GroupOutput out = GroupOutputFor(n, kPanels, kPairPanelRows, first_panel, m, y);
  const uint32_t* panels = w + first_panel * panel_stride;
  ForEachChunkedTile(
      n, pairs, TileTokens(kPanels), kChunkPairs,
      [&](size_t t0, size_t tokens, size_t tile_index, size_t i0, size_t count) {
        const TileFn tile =
            PickTile<kPanels>(tokens, std::make_index_sequence<TileTokens(kPanels)>());
        // As in the exact GEMM: later tiles find the chunk in L1 and prefetch the
        // next; the first prefetches half a chunk ahead (1 KiB on the very first
        // chunk), spreading the next chunk's DRAM reads over both tiles of a
        // 16-token step.
        const size_t prefetch = tile_index > 0 ? kChunkPairs : (i0 == 0 ? 8 : kChunkPairs / 2);
        tile(panels + i0 * kPairPanelRows, panel_stride, x + t0 * x_stride + i0, x_stride, count,
             prefetch, i0 > 0, out.base + t0 * out.stride, out.stride);
      });
  if (out.scratch) StoreGroupSums(out.base, n, kPanels, kPairPanelRows, first_panel, m, y);
}

DSM_BF16_TARGET void DotGroups(const uint32_t* x, size_t x_stride, size_t n, const uint32_t* w,
                               size_t pairs, size_t m, size_t per_group, size_t group_begin,
                               size_t group_end, float* y) {
  const size_t total_panels = PairPanelCount(m);
  for (size_t g = group_begin; g < group_end; ++g) {
    const size_t first = g * per_group;
    const size_t panels = std::min(per_group, total_panels - first);
    if (panels == 4) {
      DotGroup<4>(x, x_stride, n, w, pairs, m, first, y);
    } else if (panels == 2) {
      DotGroup<2>(x, x_stride, n, w, pairs, m, first, y);
    } else {
      for (size_t p = 0; p < panels; ++p) DotGroup<1>(x, x_stride, n, w, pairs, m, first + p, y);
    }
  }
}

float Bf16ToFloat(uint32_t bits16) { return std::bit_cast<float>(bits16 << 16); }

// VDPBF16PS as Intel documents it, one lane: the high pair's product is added first,
// then the low one's, each rounded to nearest even (the products of two bf16 values are
// exact in f32, so fused or not makes no difference). Denormal flushing is not modelled.
void EmulatedGroups(const uint32_t* x, size_t x_stride, size_t n, const uint32_t* w, size_t pairs,
                    size_t m, size_t per_group, size_t group_begin, size_t group_end, float* y) {
  const size_t panel_stride = pairs * kPairPanelRows;
  const size_t row_end = std::min(m, group_end * per_group * kPairPanelRows);
  for (size_t row = group_begin * per_group * kPairPanelRows; row < row_end; ++row) {
    const uint32_t* weights = w + (row / kPairPanelRows) * panel_stride + row % kPairPanelRows;
    for (size_t t = 0; t < n; ++t) {
      float acc = 0;
      for (size_t i = 0; i < pairs; ++i) {
        const uint32_t a = x[t * x_stride + i], b = weights[i * kPairPanelRows];
        acc += Bf16ToFloat(a >> 16) * Bf16ToFloat(b >> 16);
        acc += Bf16ToFloat(a & 0xFFFF) * Bf16ToFloat(b & 0xFFFF);
      }
      y[t * m + row] = acc;
    }
  }
}

// Rounds n rows of k activations to bf16 into rows of x_stride words: bf16 values in
// feature order are the pairs VDPBF16PS takes (feature 2j in the low half).
void RoundRows(const float* x, size_t n, size_t k, size_t x_stride, uint32_t* words) {
  for (size_t t = 0; t < n; ++t) {
    auto* out = reinterpret_cast<uint16_t*>(words + t * x_stride);
    for (size_t i = 0; i < k; ++i) out[i] = FloatToBF16(x[t * k + i]);
  }
}

// The same with VCVTNE2PS2BF16 (nearest even, as FloatToBF16), 32 values at a time.
DSM_BF16_TARGET void RoundRowsVectorized(const float* x, size_t n, size_t k, size_t x_stride,
                                         uint32_t* words) {
  for (size_t t = 0; t < n; ++t) {
    const float* in = x + t * k;
    auto* out = reinterpret_cast<uint16_t*>(words + t * x_stride);
    size_t i = 0;
    for (; i + 32 <= k; i += 32) {
      const __m512bh both =
          _mm512_cvtne2ps_pbh(_mm512_loadu_ps(in + i + 16), _mm512_loadu_ps(in + i));
      _mm512_storeu_si512(out + i, (__m512i)both);
    }
    for (; i < k; ++i) out[i] = FloatToBF16(in[i]);
  }
}

}  // namespace

bool HasBf16DotProducts() {
  static const bool has = __builtin_cpu_supports("avx512bf16");
  return has;
}

void PairPanelMatMul(ThreadPool& pool, const float* x, size_t n, const WeightMatrix& w, float* y,
                     Bf16DotPath path) {
  const size_t k = w.cols, pairs = FeaturePairs(k);
  // The rounded activations, as the pairs the instruction broadcasts (an odd last
  // feature pairs with zero, as in the weights).
  // Rows are padded by a cache line so that a tile's tokens do not all fall in one L1
  // set (k = 2048 would put them 4 KiB apart).
  const size_t x_stride = pairs + 16;
  thread_local std::vector<uint32_t> words;
  words.assign(n * x_stride, 0);
  const bool hardware = path == Bf16DotPath::kBest && HasBf16DotProducts();
  (hardware ? RoundRowsVectorized : RoundRows)(x, n, k, x_stride, words.data());
  const size_t per_group = PanelsPerGroup(n);
  const size_t groups = (PairPanelCount(w.rows) + per_group - 1) / per_group;
  const size_t work = per_group * kPairPanelRows * k * n;
  const size_t grain = std::max<size_t>(1, 65536 / std::max<size_t>(1, work));
  const auto* weights = static_cast<const uint32_t*>(w.data);
  const uint32_t* activations = words.data();
  pool.ParallelFor(groups, grain, [&](size_t begin, size_t end) {
    (hardware ? DotGroups : EmulatedGroups)(activations, x_stride, n, weights, pairs, w.rows,
                                            per_group, begin, end, y);
  });
}

}  // namespace dsm
