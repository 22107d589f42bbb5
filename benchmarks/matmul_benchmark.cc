// GEMM/GEMV throughput of the CPU kernel at DeepSeek-Math-7B's layer shapes, next to a
// plain memory-read roofline. Decode is memory-bound: weight bytes / time is the figure
// to compare with the read bandwidth.
//
//   ./build/benchmarks/matmul_benchmark --benchmark_counters_tabular=true

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "benchmark/benchmark.h"
#include "hwy/aligned_allocator.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/pair_panel_matmul.h"

namespace dsm {
namespace {

int Threads() {
  static const int threads = DefaultThreadCount();
  return threads;
}

// y = x · Wᵀ with W [m, k] bf16 and n tokens; range(3) = 1 for the panel layout the
// model runs on, 0 for row-major, 2 for the pair panels of the opt-in bf16 dot-product
// mode (activations rounded to bf16).
void BM_MatMulBf16(benchmark::State& state) {
  const size_t m = state.range(0), k = state.range(1), n = state.range(2);
  const WeightLayout layout = state.range(3) == 2   ? WeightLayout::kPairPanels
                              : state.range(3) == 1 ? WeightLayout::kPanels
                                                    : WeightLayout::kRowMajor;
  // Rotate over copies totalling ~1.5 GB so weights come from DRAM, as in a real model.
  const size_t copies = std::max<size_t>(2, (size_t{1536} << 20) / (m * k * 2));
  std::vector<hwy::AlignedFreeUniquePtr<uint16_t[]>> weights;
  for (size_t c = 0; c < copies; ++c) {
    weights.push_back(hwy::AllocateAligned<uint16_t>(PanelBytes(DType::kBF16, m, k) / 2));
    for (size_t i = 0; i < PanelBytes(DType::kBF16, m, k) / 2; ++i)
      weights[c][i] = FloatToBF16(static_cast<float>(i % 7) * 0.01f);
  }
  std::vector<float> x(n * k, 0.5f), y(n * m);
  ThreadPool pool(Threads());
  size_t next = 0;
  for (auto _ : state) {
    const WeightMatrix wm{weights[next].get(), DType::kBF16, m, k, layout};
    next = (next + 1) % copies;
    MatMul(pool, x.data(), n, wm, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  const double bytes = static_cast<double>(m * k * 2);
  state.counters["weight_GB/s"] =
      benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * m * k * n * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(MatMulTargetName());
}
// DeepSeek-Math-7B: qkv (12288 x 4096), gate_up (22016 x 4096), down (4096 x 11008);
// n = 1 (decode), 8, 64. The 1.23 B model of the CPU-speed targets (hidden 2048,
// intermediate 5504): gate_up and down at n = 1, 16 and 128.
BENCHMARK(BM_MatMulBf16)
    ->ArgsProduct({{12288}, {4096}, {1, 8, 64}, {0, 1}})
    ->ArgsProduct({{22016}, {4096}, {1}, {0, 1}})
    ->ArgsProduct({{4096}, {11008}, {1}, {0, 1}})
    ->ArgsProduct({{11008}, {2048}, {1, 16, 128}, {0, 1, 2}})
    ->ArgsProduct({{2048}, {5504}, {1, 16, 128}, {0, 1, 2}})
    ->UseRealTime();

// Read bandwidth: sum a large buffer with all threads (the decode roofline).
void BM_MemoryRead(benchmark::State& state) {
  const size_t floats = size_t{256} << 20;  // 1 GiB
  auto buffer = hwy::AllocateAligned<float>(floats);
  std::memset(buffer.get(), 0, floats * sizeof(float));
  ThreadPool pool(Threads());
  std::vector<float> partial(1024);
  for (auto _ : state) {
    pool.ParallelFor(1024, 1, [&](size_t b, size_t e) {
      for (size_t c = b; c < e; ++c) {
        // Eight independent sums keep the adds from being latency-bound.
        const float* p = buffer.get() + c * (floats / 1024);
        float acc[8] = {};
        for (size_t i = 0; i < floats / 1024; i += 8) {
          for (int j = 0; j < 8; ++j) acc[j] += p[i + j];
        }
        partial[c] = std::accumulate(acc, acc + 8, 0.0f);
      }
    });
    benchmark::DoNotOptimize(partial.data());
  }
  state.counters["read_GB/s"] = benchmark::Counter(static_cast<double>(floats * sizeof(float)),
                                                   benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MemoryRead)->UseRealTime()->Unit(benchmark::kMillisecond);

// Arithmetic peaks of one core, to put the GEMMs' GFLOP/s in context: 16 independent
// chains of 512-bit FMAs (f32) or of VDPBF16PS (two bf16 products per lane), the
// instruction of the opt-in --activation-dtype bf16 mode. Multiply by the threads.
__attribute__((target("avx512f"))) void BM_PeakFma(benchmark::State& state) {
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  __m512 x = _mm512_set1_ps(1.0f);
  const __m512 w = _mm512_set1_ps(1e-30f);
  for (auto _ : state) {
    for (int r = 0; r < 1024; ++r) {
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) acc[i] = _mm512_fmadd_ps(x, w, acc[i]);
      asm volatile("" : "+v"(x));  // keeps the loop from being folded
    }
  }
  for (int i = 0; i < 16; ++i) benchmark::DoNotOptimize(acc[i]);
  state.counters["GFLOP/s"] = benchmark::Counter(1024.0 * 16 * 16 * 2 * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_PeakFma);

__attribute__((target("avx512f,avx512bf16"))) void BM_PeakBf16Dot(benchmark::State& state) {
  if (!HasBf16DotProducts()) {
    state.SkipWithError("this CPU has no AVX-512 BF16");
    return;
  }
  __m512 acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80);
  const __m512bh w = (__m512bh)_mm512_set1_epi32(0x00010001);
  for (auto _ : state) {
    for (int r = 0; r < 1024; ++r) {
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], x, w);
      asm volatile("" : "+v"(x));
    }
  }
  for (int i = 0; i < 16; ++i) benchmark::DoNotOptimize(acc[i]);
  state.counters["GFLOP/s"] = benchmark::Counter(1024.0 * 16 * 32 * 2 * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_PeakBf16Dot);

}  // namespace
}  // namespace dsm

BENCHMARK_MAIN();
