#pragma once
// Bandwidth-bound products for decode steps: y[n, m] = x[n, k] · W[m, k]ᵀ for bf16 x and
// W and few tokens, fp32 accumulation, y bf16 or f32.

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <string_view>

namespace dsm::cuda {

constexpr int kMaxGemvTokens = 8;

// How the kernel spreads the weight rows over thread blocks.
struct GemvKernel {
  // 0: one warp per row (k split over up to 4 warps for short matrices). N > 0: a block
  // of 256 threads per N rows, each thread issuing N x 2 sixteen-byte weight loads
  // before it multiplies any of them.
  int rows_per_block = 2;
  // Weights loaded with the evict-first hint (each is read once per step; keeps the L2
  // for activations).
  bool streaming = true;
  // Block kernels: launched to overlap the kernel before them in the stream (programmatic
  // dependent launch, Hopper and later): they load their first weights, then wait for
  // their input. Set it only where the device supports it (compute capability >= 9).
  bool overlap_previous = false;
};

// Parses "warp" or "rows1".."rows8", then optional suffixes "-cs" (streaming loads) and
// "-pdl" (overlap_previous).
bool ParseGemvKernel(std::string_view name, GemvKernel* kernel);

// Needs 1 <= n <= kMaxGemvTokens, k % 8 == 0 and 16-byte aligned rows; returns false
// (nothing launched) otherwise.
bool GemvBf16(const __nv_bfloat16* x, int n, const __nv_bfloat16* w, int m, int k, void* y,
              bool y_f32, cudaStream_t stream, GemvKernel kernel = {});

}  // namespace dsm::cuda
