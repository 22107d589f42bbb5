#pragma once
// Bandwidth-bound products for decode steps: y[n, m] = x[n, k] · W[m, k]ᵀ for bf16 x and
// W and few tokens, fp32 accumulation, y bf16 or f32.

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
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

// The gate/up projection of one token with SiLU·mul as its epilogue: W is [2 * width, k]
// (gate rows over up rows) and y[width] = silu(gate) * up, bit for bit what GemvBf16 into
// a bf16 [2 * width] buffer followed by SiluMul gives, in one kernel instead of two and
// without the intermediate buffer. Needs n == 1 and a block kernel (rows_per_block > 0;
// each block takes one gate/up row pair), k % 8 == 0 and aligned rows; returns false
// (nothing launched) otherwise.
bool GemvBf16SiluMul(const __nv_bfloat16* x, int n, const __nv_bfloat16* w, int width, int k,
                     __nv_bfloat16* y, cudaStream_t stream, GemvKernel kernel = {});

// Where the fused q/k/v product puts one token's results (device pointers): the rotated q
// [heads * head_dim], and k (rotated) and v in the KV caches [slots, kv_heads * head_dim]
// at slots[0]; RoPE at positions[0] from the [position, head_dim / 2] cos/sin tables.
struct QkvRopeOutputs {
  const int32_t* positions = nullptr;
  const int64_t* slots = nullptr;
  const float* cos = nullptr;
  const float* sin = nullptr;
  int heads = 0, kv_heads = 0, head_dim = 0;
  __nv_bfloat16* q = nullptr;
  __nv_bfloat16* k_cache = nullptr;
  __nv_bfloat16* v_cache = nullptr;
};

// The q/k/v projection of one token with RoPE and the KV-cache store as its epilogue: W is
// [(heads + 2 * kv_heads) * head_dim, k]; stores bit for bit what GemvBf16 into a bf16
// buffer followed by RopeStoreKv stores, in one kernel instead of two. Needs n == 1, a
// block kernel, k % 8 == 0 and aligned rows; returns false (nothing launched) otherwise.
bool GemvBf16QkvRope(const __nv_bfloat16* x, int n, const __nv_bfloat16* w, int k,
                     const QkvRopeOutputs& out, cudaStream_t stream, GemvKernel kernel = {});

}  // namespace dsm::cuda
