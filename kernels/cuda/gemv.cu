#include <cstdint>
#include <string>
#include <type_traits>

#include "kernels/cuda/gemv.h"
#include "kernels/cuda/grid_dependency.cuh"
#include "kernels/cuda/kernel_math.h"
#include "kernels/cuda/warp_reduce.cuh"

namespace dsm::cuda {
namespace {

template <bool kStreaming>
__device__ __forceinline__ uint4 LoadWeights(const uint4* p) {
  if constexpr (kStreaming) {
    return __ldcs(p);
  } else {
    return __ldg(p);
  }
}

// acc += dot(w[0..8), x[0..8)) for 8 bf16 pairs, in index order.
__device__ __forceinline__ float Dot8(const uint4& w, const uint4& x, float acc) {
  const auto* wp = reinterpret_cast<const __nv_bfloat162*>(&w);
  const auto* xp = reinterpret_cast<const __nv_bfloat162*>(&x);
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const float2 wf = __bfloat1622float2(wp[j]);
    const float2 xf = __bfloat1622float2(xp[j]);
    acc = fmaf(wf.x, xf.x, acc);
    acc = fmaf(wf.y, xf.y, acc);
  }
  return acc;
}

template <typename Out>
__device__ __forceinline__ void Store(Out* y, int64_t index, float value) {
  if constexpr (std::is_same_v<Out, float>) {
    y[index] = value;
  } else {
    y[index] = __float2bfloat16_rn(value);
  }
}

// kSplit warps per output row, each over a kSplit-th of k; each lane reads 8 weights
// (16 bytes) at a time and the matching 8 values of every token's activations. Splitting
// k keeps enough loads in flight when a matrix has few rows (o_proj, down_proj).
template <int kTokens, int kSplit, typename Out>
__global__ void GemvWarpKernel(const __nv_bfloat16* __restrict__ x,
                               const __nv_bfloat16* __restrict__ w, int m, int k,
                               Out* __restrict__ y) {
  constexpr int kWarps = 4, kRowsPerBlock = kWarps / kSplit;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row = blockIdx.x * kRowsPerBlock + warp / kSplit;
  const int part = warp % kSplit;
  const int chunks = k / 8;
  float acc[kTokens];
#pragma unroll
  for (int t = 0; t < kTokens; ++t) acc[t] = 0.0f;
  if (row < m) {
    const uint4* w_row = reinterpret_cast<const uint4*>(w + static_cast<int64_t>(row) * k);
#pragma unroll 4
    for (int c = part * 32 + lane; c < chunks; c += 32 * kSplit) {
      const uint4 wv = __ldg(w_row + c);
#pragma unroll
      for (int t = 0; t < kTokens; ++t) {
        acc[t] = Dot8(wv, __ldg(reinterpret_cast<const uint4*>(x + int64_t{t} * k) + c), acc[t]);
      }
    }
  }
  __shared__ float partial[kWarps][kTokens];
#pragma unroll
  for (int t = 0; t < kTokens; ++t) {
    const float sum = WarpSum(acc[t]);
    if (lane == 0) partial[warp][t] = sum;
  }
  __syncthreads();
  if (row >= m || part != 0 || lane >= kTokens) return;
  float sum = 0.0f;
#pragma unroll
  for (int p = 0; p < kSplit; ++p) sum += partial[warp + p][lane];
  Store(y, int64_t{lane} * m + row, sum);
}

template <int kTokens, int kSplit>
void LaunchWarpSplit(const __nv_bfloat16* x, const __nv_bfloat16* w, int m, int k, void* y,
                     bool y_f32, cudaStream_t stream) {
  constexpr int kRowsPerBlock = 4 / kSplit;
  const int blocks = (m + kRowsPerBlock - 1) / kRowsPerBlock;
  if (y_f32) {
    GemvWarpKernel<kTokens, kSplit, float>
        <<<blocks, 128, 0, stream>>>(x, w, m, k, static_cast<float*>(y));
  } else {
    GemvWarpKernel<kTokens, kSplit, __nv_bfloat16>
        <<<blocks, 128, 0, stream>>>(x, w, m, k, static_cast<__nv_bfloat16*>(y));
  }
}

// Fewer than ~16k rows: split k over 2 or 4 warps per row.
template <int kTokens>
void LaunchWarp(const __nv_bfloat16* x, const __nv_bfloat16* w, int m, int k, void* y, bool y_f32,
                cudaStream_t stream) {
  if (m <= 8192 && k >= 2048) {
    LaunchWarpSplit<kTokens, 4>(x, w, m, k, y, y_f32, stream);
  } else if (m <= 16384 && k >= 1024) {
    LaunchWarpSplit<kTokens, 2>(x, w, m, k, y, y_f32, stream);
  } else {
    LaunchWarpSplit<kTokens, 1>(x, w, m, k, y, y_f32, stream);
  }
}

constexpr int kRowsThreads = 256, kRowsLoads = 2, kRowsWarps = kRowsThreads / 32;

// The block kernels' shared core: the dot products of kRows weight rows with kTokens
// tokens' activations x[kTokens, k]. Thread i takes the 16-byte chunks i, i + 256, ... of
// every row; each pass first loads kRows x kRowsLoads weight chunks, then multiplies them,
// so every thread keeps that many loads in flight whatever the compiler schedules. The
// first weights are loaded before waiting for the previous kernel (a no-op unless launched
// with programmatic dependent launch), since only x depends on it. On return (after a
// barrier) partial[warp][r * kTokens + t] holds each warp's share; RowTotal adds them.
template <int kTokens, int kRows, bool kStreaming>
__device__ __forceinline__ void BlockRowDots(const __nv_bfloat16* __restrict__ x,
                                             const uint4* const (&rows)[kRows], int k,
                                             float (&partial)[kRowsWarps][kRows * kTokens]) {
  const int chunks = k / 8;
  const uint4* x_chunks = reinterpret_cast<const uint4*>(x);
  float acc[kRows][kTokens];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
#pragma unroll
    for (int t = 0; t < kTokens; ++t) acc[r][t] = 0.0f;
  }
  bool waited = false;
  for (int base = threadIdx.x; base < chunks; base += kRowsThreads * kRowsLoads) {
    uint4 wv[kRows][kRowsLoads];
#pragma unroll
    for (int j = 0; j < kRowsLoads; ++j) {
      const int c = base + j * kRowsThreads;
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        wv[r][j] = c < chunks ? LoadWeights<kStreaming>(rows[r] + c) : make_uint4(0, 0, 0, 0);
      }
    }
    if (!waited) {
      WaitForPreviousGrid();
      waited = true;
    }
#pragma unroll
    for (int j = 0; j < kRowsLoads; ++j) {
      const int c = base + j * kRowsThreads;
      if (c >= chunks) break;
#pragma unroll
      for (int t = 0; t < kTokens; ++t) {
        const uint4 xv = __ldg(x_chunks + static_cast<int64_t>(t) * chunks + c);
#pragma unroll
        for (int r = 0; r < kRows; ++r) acc[r][t] = Dot8(wv[r][j], xv, acc[r][t]);
      }
    }
  }
  if (!waited) WaitForPreviousGrid();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
#pragma unroll
    for (int t = 0; t < kTokens; ++t) {
      const float sum = WarpSum(acc[r][t]);
      if (lane == 0) partial[warp][r * kTokens + t] = sum;
    }
  }
  __syncthreads();
}

template <int kWidth>
__device__ __forceinline__ float RowTotal(const float (&partial)[kRowsWarps][kWidth], int index) {
  float sum = 0.0f;
#pragma unroll
  for (int i = 0; i < kRowsWarps; ++i) sum += partial[i][index];
  return sum;
}

// What the unfused product stores and the next kernel reads back.
__device__ __forceinline__ float RoundedToBf16(float v) {
  return __bfloat162float(__float2bfloat16_rn(v));
}

// kRows consecutive rows per block of 256 threads, all of them over the whole of k.
template <int kTokens, int kRows, bool kStreaming, typename Out>
__global__ void __launch_bounds__(kRowsThreads)
    GemvRowsKernel(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ w, int m,
                   int k, Out* __restrict__ y) {
  const int row0 = blockIdx.x * kRows;
  const uint4* rows[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    // Rows past m re-read the last row and are never stored.
    const int row = min(row0 + r, m - 1);
    rows[r] = reinterpret_cast<const uint4*>(w + static_cast<int64_t>(row) * k);
  }
  __shared__ float partial[kRowsWarps][kRows * kTokens];
  BlockRowDots<kTokens, kRows, kStreaming>(x, rows, k, partial);
  if (threadIdx.x >= kRows * kTokens) return;
  const int r = threadIdx.x / kTokens, t = threadIdx.x % kTokens;
  if (row0 + r >= m) return;
  Store(y, int64_t{t} * m + row0 + r, RowTotal(partial, threadIdx.x));
}

// One token's gate/up product with SiLU·mul as its epilogue: W stacks gate rows [0, width)
// over up rows [width, 2 * width); block b takes gate row b and up row width + b. Lets the
// down-projection GEMV after it start loading its weights at once.
template <bool kStreaming>
__global__ void __launch_bounds__(kRowsThreads)
    GemvGateUpSiluKernel(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ w,
                         int width, int k, __nv_bfloat16* __restrict__ y) {
  AllowNextGridToLaunch();
  const int b = blockIdx.x;
  const uint4* rows[2] = {reinterpret_cast<const uint4*>(w + static_cast<int64_t>(b) * k),
                          reinterpret_cast<const uint4*>(w + static_cast<int64_t>(width + b) * k)};
  __shared__ float partial[kRowsWarps][2];
  BlockRowDots<1, 2, kStreaming>(x, rows, k, partial);
  if (threadIdx.x != 0) return;
  const float gate = RoundedToBf16(RowTotal(partial, 0)), up = RoundedToBf16(RowTotal(partial, 1));
  y[b] = __float2bfloat16_rn(cuda_math::SiluMul(gate, up));
}

// One token's q/k/v product with RoPE and the KV-cache store as its epilogue: block b takes
// the rows i and i + head_dim / 2 of head b / (head_dim / 2) (q heads, then k, then v, as
// W stacks them), rotates q and k pairs and stores q to out.q, k and v to the token's slot.
template <bool kStreaming>
__global__ void __launch_bounds__(kRowsThreads)
    GemvQkvRopeKernel(const __nv_bfloat16* __restrict__ x, const __nv_bfloat16* __restrict__ w,
                      int k, QkvRopeOutputs out) {
  const int half = out.head_dim / 2;
  const cuda_math::QkvPair pair =
      cuda_math::QkvPairOfBlock(blockIdx.x, out.heads, out.kv_heads, out.head_dim);
  const int i = pair.offset;
  const uint4* rows[2] = {reinterpret_cast<const uint4*>(w + pair.first_row * k),
                          reinterpret_cast<const uint4*>(w + (pair.first_row + half) * k)};
  __shared__ float partial[kRowsWarps][2];
  BlockRowDots<1, 2, kStreaming>(x, rows, k, partial);
  if (threadIdx.x != 0) return;
  const float a = RoundedToBf16(RowTotal(partial, 0)), b = RoundedToBf16(RowTotal(partial, 1));
  const int64_t kv_width = static_cast<int64_t>(out.kv_heads) * out.head_dim;
  const int64_t head_offset = static_cast<int64_t>(pair.head) * out.head_dim;
  __nv_bfloat16* dst;
  float first = a, second = b;
  if (pair.part == 2) {
    dst = out.v_cache + out.slots[0] * kv_width + head_offset;
  } else {
    const int position = out.positions[0];
    cuda_math::RopeRotate(a, b, out.cos[static_cast<int64_t>(position) * half + i],
                          out.sin[static_cast<int64_t>(position) * half + i], &first, &second);
    dst =
        pair.part == 0 ? out.q + head_offset : out.k_cache + out.slots[0] * kv_width + head_offset;
  }
  dst[i] = __float2bfloat16_rn(first);
  dst[i + half] = __float2bfloat16_rn(second);
}

template <typename Kernel, typename... Args>
void LaunchMaybeOverlapping(Kernel kernel, int blocks, bool overlap, cudaStream_t stream,
                            Args... args) {
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(blocks);
  config.blockDim = dim3(kRowsThreads);
  config.stream = stream;
  cudaLaunchAttribute attribute = {};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  config.attrs = &attribute;
  config.numAttrs = overlap ? 1 : 0;
  cudaLaunchKernelEx(&config, kernel, args...);
}

template <int kTokens, int kRows, bool kStreaming>
void LaunchRows(const __nv_bfloat16* x, const __nv_bfloat16* w, int m, int k, void* y, bool y_f32,
                bool overlap, cudaStream_t stream) {
  const int blocks = (m + kRows - 1) / kRows;
  if (y_f32) {
    LaunchMaybeOverlapping(GemvRowsKernel<kTokens, kRows, kStreaming, float>, blocks, overlap,
                           stream, x, w, m, k, static_cast<float*>(y));
  } else {
    LaunchMaybeOverlapping(GemvRowsKernel<kTokens, kRows, kStreaming, __nv_bfloat16>, blocks,
                           overlap, stream, x, w, m, k, static_cast<__nv_bfloat16*>(y));
  }
}

template <int kTokens, bool kStreaming>
void LaunchRowsFor(int rows_per_block, const __nv_bfloat16* x, const __nv_bfloat16* w, int m, int k,
                   void* y, bool y_f32, bool overlap, cudaStream_t stream) {
  switch (rows_per_block) {
    case 1:
      return LaunchRows<kTokens, 1, kStreaming>(x, w, m, k, y, y_f32, overlap, stream);
    case 2:
      return LaunchRows<kTokens, 2, kStreaming>(x, w, m, k, y, y_f32, overlap, stream);
    case 4:
      return LaunchRows<kTokens, 4, kStreaming>(x, w, m, k, y, y_f32, overlap, stream);
    default:
      return LaunchRows<kTokens, 8, kStreaming>(x, w, m, k, y, y_f32, overlap, stream);
  }
}

template <int kTokens>
void Launch(GemvKernel kernel, const __nv_bfloat16* x, const __nv_bfloat16* w, int m, int k,
            void* y, bool y_f32, cudaStream_t stream) {
  if (kernel.rows_per_block <= 0) return LaunchWarp<kTokens>(x, w, m, k, y, y_f32, stream);
  const bool overlap = kernel.overlap_previous;
  if (kernel.streaming) {
    return LaunchRowsFor<kTokens, true>(kernel.rows_per_block, x, w, m, k, y, y_f32, overlap,
                                        stream);
  }
  LaunchRowsFor<kTokens, false>(kernel.rows_per_block, x, w, m, k, y, y_f32, overlap, stream);
}

}  // namespace

bool ParseGemvKernel(std::string_view name, GemvKernel* kernel) {
  GemvKernel parsed;
  parsed.streaming = false;
  const auto take_suffix = [&name](std::string_view suffix) {
    if (name.size() <= suffix.size() || name.substr(name.size() - suffix.size()) != suffix) {
      return false;
    }
    name.remove_suffix(suffix.size());
    return true;
  };
  parsed.overlap_previous = take_suffix("-pdl");
  parsed.streaming = take_suffix("-cs");
  if (name == "warp") {
    parsed.rows_per_block = 0;
  } else if (name == "rows1" || name == "rows2" || name == "rows4" || name == "rows8") {
    parsed.rows_per_block = name.back() - '0';
  } else {
    return false;
  }
  *kernel = parsed;
  return true;
}

bool GemvBf16SiluMul(const __nv_bfloat16* x, int n, const __nv_bfloat16* w, int width, int k,
                     __nv_bfloat16* y, cudaStream_t stream, GemvKernel kernel) {
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if (n != 1 || kernel.rows_per_block <= 0 || width < 1 || k % 8 != 0 || !aligned(x) ||
      !aligned(w)) {
    return false;
  }
  const bool overlap = kernel.overlap_previous;
  if (kernel.streaming) {
    LaunchMaybeOverlapping(GemvGateUpSiluKernel<true>, width, overlap, stream, x, w, width, k, y);
  } else {
    LaunchMaybeOverlapping(GemvGateUpSiluKernel<false>, width, overlap, stream, x, w, width, k, y);
  }
  return true;
}

bool GemvBf16QkvRope(const __nv_bfloat16* x, int n, const __nv_bfloat16* w, int k,
                     const QkvRopeOutputs& out, cudaStream_t stream, GemvKernel kernel) {
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if (n != 1 || kernel.rows_per_block <= 0 || out.head_dim < 2 || out.head_dim % 2 != 0 ||
      out.heads < 1 || out.kv_heads < 1 || k % 8 != 0 || !aligned(x) || !aligned(w)) {
    return false;
  }
  const int blocks = (out.heads + 2 * out.kv_heads) * (out.head_dim / 2);
  const bool overlap = kernel.overlap_previous;
  if (kernel.streaming) {
    LaunchMaybeOverlapping(GemvQkvRopeKernel<true>, blocks, overlap, stream, x, w, k, out);
  } else {
    LaunchMaybeOverlapping(GemvQkvRopeKernel<false>, blocks, overlap, stream, x, w, k, out);
  }
  return true;
}

bool GemvBf16(const __nv_bfloat16* x, int n, const __nv_bfloat16* w, int m, int k, void* y,
              bool y_f32, cudaStream_t stream, GemvKernel kernel) {
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if (n < 1 || n > kMaxGemvTokens || m < 1 || k % 8 != 0 || !aligned(x) || !aligned(w)) {
    return false;
  }
  switch (n) {
    case 1:
      Launch<1>(kernel, x, w, m, k, y, y_f32, stream);
      break;
    case 2:
      Launch<2>(kernel, x, w, m, k, y, y_f32, stream);
      break;
    case 3:
      Launch<3>(kernel, x, w, m, k, y, y_f32, stream);
      break;
    case 4:
      Launch<4>(kernel, x, w, m, k, y, y_f32, stream);
      break;
    case 5:
      Launch<5>(kernel, x, w, m, k, y, y_f32, stream);
      break;
    case 6:
      Launch<6>(kernel, x, w, m, k, y, y_f32, stream);
      break;
    case 7:
      Launch<7>(kernel, x, w, m, k, y, y_f32, stream);
      break;
    default:
      Launch<8>(kernel, x, w, m, k, y, y_f32, stream);
      break;
  }
  return true;
}

}  // namespace dsm::cuda
