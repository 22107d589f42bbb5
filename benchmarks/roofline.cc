#include "benchmarks/roofline.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "common/huge_pages.h"
#include "hwy/aligned_allocator.h"
#include "hwy/cache_control.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "benchmarks/roofline.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace dsm {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Sums floats [0, count) read as `streams` interleaved sequential streams (the access
// pattern of a GEMV over several weight panels), 8 independent vector adds; with
// `prefetch_floats` > 0 each stream also prefetches that far ahead, as the decode GEMV
// does (kernels/cpu/panel_matmul.cc).
float SumRange(const float* p, size_t count, size_t streams, size_t prefetch_floats) {
  const hn::ScalableTag<float> df;
  const size_t n = hn::Lanes(df);
  hn::Vec<decltype(df)> acc[8];
  for (auto& a : acc) a = hn::Zero(df);
  const size_t per = count / streams;
  for (size_t i = 0; i + 2 * n <= per; i += 2 * n) {
    for (size_t s = 0; s < streams; ++s) {
      const float* q = p + s * per + i;
      if (prefetch_floats > 0 && i + prefetch_floats < per) hwy::Prefetch(q + prefetch_floats);
      acc[(2 * s) % 8] = hn::Add(acc[(2 * s) % 8], hn::LoadU(df, q));
      acc[(2 * s + 1) % 8] = hn::Add(acc[(2 * s + 1) % 8], hn::LoadU(df, q + n));
    }
  }
  for (size_t j = 1; j < 8; ++j) acc[0] = hn::Add(acc[0], acc[j]);
  return hn::GetLane(hn::SumOfLanes(df, acc[0]));
}

// Runs `iterations` steps of 16 independent FMA chains; returns FLOP done.
double FmaChains(size_t iterations, float seed) {
  const hn::ScalableTag<float> df;
  hn::Vec<decltype(df)> acc[16];
  for (size_t j = 0; j < 16; ++j) acc[j] = hn::Set(df, seed + static_cast<float>(j));
  const auto a = hn::Set(df, 0.999f), b = hn::Set(df, 1e-3f);
  for (size_t i = 0; i < iterations; ++i) {
    HWY_UNROLL(16) for (size_t j = 0; j < 16; ++j) acc[j] = hn::MulAdd(acc[j], a, b);
  }
  for (size_t j = 1; j < 16; ++j) acc[0] = hn::Add(acc[0], acc[j]);
  // The result feeds nothing but must not be optimised away.
  volatile float sink = hn::GetLane(acc[0]);
  (void)sink;
  return 2.0 * 16 * hn::Lanes(df) * static_cast<double>(iterations);
}

}  // namespace HWY_NAMESPACE
}  // namespace dsm
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace dsm {

HWY_EXPORT(SumRange);
HWY_EXPORT(FmaChains);

namespace {
double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

double MeasureReadBandwidth(ThreadPool& pool, int repeats) {
  const size_t floats = size_t{256} << 20;  // 1 GiB: far beyond any cache
  auto buffer = hwy::AllocateAligned<float>(floats);
  AdviseHugePages(buffer.get(), floats * sizeof(float));  // as the weights are loaded
  std::memset(buffer.get(), 0, floats * sizeof(float));
  // Many 16 MiB parts, taken by whichever thread is free (a slow thread cannot leave the
  // other idle), each read as 2, 4, 8 or 16 streams, with and without software prefetch
  // 1, 2, 4 or 16 KiB ahead; the best pattern and repeat counts.
  const size_t parts = 64;
  std::vector<float> sums(parts);
  double best = 0;
  for (size_t prefetch_floats : {0, 256, 512, 1024, 4096}) {
    for (size_t streams : {2, 4, 8, 16}) {
      for (int r = 0; r < repeats; ++r) {
        const auto start = std::chrono::steady_clock::now();
        pool.ParallelFor(parts, 1, [&](size_t begin, size_t end) {
          for (size_t part = begin; part < end; ++part) {
            sums[part] = HWY_DYNAMIC_DISPATCH(SumRange)(buffer.get() + part * (floats / parts),
                                                        floats / parts, streams, prefetch_floats);
          }
        });
        best = std::max(best, floats * sizeof(float) / SecondsSince(start));
      }
    }
  }
  return best;
}

double MeasureFmaPeak(ThreadPool& pool, int repeats) {
  const size_t parts = static_cast<size_t>(pool.num_threads());
  const size_t iterations = size_t{1} << 22;
  std::vector<double> flops(parts);
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    pool.ParallelFor(parts, 1, [&](size_t begin, size_t end) {
      for (size_t part = begin; part < end; ++part) {
        flops[part] = HWY_DYNAMIC_DISPATCH(FmaChains)(iterations, static_cast<float>(part));
      }
    });
    double total = 0;
    for (double f : flops) total += f;
    best = std::max(best, total / SecondsSince(start));
  }
  return best;
}

}  // namespace dsm
#endif  // HWY_ONCE
