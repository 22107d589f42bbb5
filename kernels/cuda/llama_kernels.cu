#include <cuda_bf16.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <type_traits>

#include "kernels/cuda/grid_dependency.cuh"
#include "kernels/cuda/kernel_math.h"
#include "kernels/cuda/llama_kernels.h"
#include "kernels/cuda/warp_reduce.cuh"

namespace dsm::cuda {
namespace {

using cuda_math::KvSlot;
using cuda_math::SoftmaxPartial;

__device__ __forceinline__ float ToFloat(float x) { return x; }
__device__ __forceinline__ float ToFloat(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T>
__device__ __forceinline__ T FromFloat(float x);
template <>
__device__ __forceinline__ float FromFloat<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// Sum over the thread block (blockDim.x a multiple of 32, at most 1024).
__device__ float BlockSum(float v) {
  __shared__ float warp_sums[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = WarpSum(v);
  __syncthreads();  // warp_sums may still be read by a previous call
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  const int warps = blockDim.x / 32;
  float total = 0.0f;
  for (int w = 0; w < warps; ++w) total += warp_sums[w];
  return total;
}

unsigned Blocks(size_t count, unsigned threads) {
  const size_t blocks = (count + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 65535u * 32u ? blocks : 65535u * 32u);
}

template <typename T>
__global__ void EmbeddingGatherKernel(const int32_t* ids, const T* table, int64_t vocab_begin,
                                      int64_t vocab_local, int hidden, T* out) {
  const int t = blockIdx.x;
  const int64_t row = ids[t] - vocab_begin;
  const bool owned = row >= 0 && row < vocab_local;
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    out[static_cast<int64_t>(t) * hidden + i] =
        owned ? table[row * hidden + i] : FromFloat<T>(0.0f);
  }
}

// One block per row; each thread keeps its (up to kCached) values in registers between
// the sum of squares and the scaling, so the row is read once.
template <typename T>
__global__ void AddRmsNormKernel(float* residual, const T* add, bool accumulate,
                                 const float* weight, int dim, float eps, T* out) {
  AllowNextGridToLaunch();  // a decode GEMV may start loading its weights
  constexpr int kCached = 16;
  const int64_t base = static_cast<int64_t>(blockIdx.x) * dim;
  float cached[kCached];
  float sum_sq = 0.0f;
#pragma unroll
  for (int j = 0; j < kCached; ++j) {
    const int i = threadIdx.x + j * blockDim.x;
    float v = 0.0f;
    if (i < dim) {
      v = residual[base + i];
      if (add != nullptr) {
        v = accumulate ? v + ToFloat(add[base + i]) : ToFloat(add[base + i]);
        residual[base + i] = v;
      }
    }
    cached[j] = v;
    sum_sq += v * v;
  }
  for (int i = threadIdx.x + kCached * blockDim.x; i < dim; i += blockDim.x) {
    float v = residual[base + i];
    if (add != nullptr) {
      v = accumulate ? v + ToFloat(add[base + i]) : ToFloat(add[base + i]);
      residual[base + i] = v;
    }
    sum_sq += v * v;
  }
  const float inv_rms = rsqrtf(BlockSum(sum_sq) / dim + eps);
#pragma unroll
  for (int j = 0; j < kCached; ++j) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i < dim) out[base + i] = FromFloat<T>(cached[j] * inv_rms * weight[i]);
  }
  for (int i = threadIdx.x + kCached * blockDim.x; i < dim; i += blockDim.x) {
    out[base + i] = FromFloat<T>(residual[base + i] * inv_rms * weight[i]);
  }
}

// A running argmax (lowest id on ties) with the sum of exp(x - best) over what was seen.
struct ArgmaxSum {
  float best = -INFINITY;
  int id = INT_MAX;
  float sum = 0.0f;
};

__device__ __forceinline__ void Push(ArgmaxSum& a, float x, int v) {
  if (x > a.best || (x == a.best && v < a.id)) {
    a.sum = (a.best == -INFINITY ? 0.0f : a.sum * expf(a.best - x)) + 1.0f;
    a.best = x;
    a.id = v;
  } else {
    a.sum += expf(x - a.best);
  }
}

__device__ __forceinline__ ArgmaxSum Merge(ArgmaxSum a, ArgmaxSum b) {
  if (b.best > a.best || (b.best == a.best && b.id < a.id)) {
    const ArgmaxSum t = a;
    a = b;
    b = t;
  }
  if (b.sum > 0.0f) a.sum += b.sum * expf(b.best - a.best);
  return a;
}

// One block per row, one pass: each thread keeps a running argmax and softmax sum over
// its logits, read 4 at a time with 4 loads in flight when the slices allow 16-byte
// loads; the block then merges the threads' states.
__global__ void ArgmaxLogprobKernel(const float* logits, int rows, int world, int slice,
                                    int32_t* ids, float* logprobs) {
  const int r = blockIdx.x;
  const int vocab = world * slice;
  ArgmaxSum acc;
  if (slice % 4 == 0) {
    constexpr int kBatch = 4;
    const int quads_per_slice = slice / 4, quads = world * quads_per_slice;
    for (int q0 = threadIdx.x; q0 < quads; q0 += kBatch * blockDim.x) {
      float4 x[kBatch];
#pragma unroll
      for (int b = 0; b < kBatch; ++b) {
        const int q = q0 + b * blockDim.x;
        if (q < quads) {
          const int w = q / quads_per_slice, within = q % quads_per_slice;
          x[b] = reinterpret_cast<const float4*>(logits + (static_cast<int64_t>(w) * rows + r) *
                                                              slice)[within];
        }
      }
#pragma unroll
      for (int b = 0; b < kBatch; ++b) {
        const int q = q0 + b * blockDim.x;
        if (q >= quads) break;
        const int v = (q / quads_per_slice) * slice + (q % quads_per_slice) * 4;
        Push(acc, x[b].x, v);
        Push(acc, x[b].y, v + 1);
        Push(acc, x[b].z, v + 2);
        Push(acc, x[b].w, v + 3);
      }
    }
  } else {
    for (int v = threadIdx.x; v < vocab; v += blockDim.x) {
      Push(acc, logits[(static_cast<int64_t>(v / slice) * rows + r) * slice + v % slice], v);
    }
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    ArgmaxSum other;
    other.best = __shfl_xor_sync(0xffffffffu, acc.best, offset);
    other.id = __shfl_xor_sync(0xffffffffu, acc.id, offset);
    other.sum = __shfl_xor_sync(0xffffffffu, acc.sum, offset);
    acc = Merge(acc, other);
  }
  __shared__ ArgmaxSum per_warp[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  if (lane == 0) per_warp[warp] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {
    ArgmaxSum total = per_warp[0];
    for (int w = 1; w < warps; ++w) total = Merge(total, per_warp[w]);
    ids[r] = total.id;
    logprobs[r] = -logf(total.sum);
  }
}

// One block per (token, head of q or k): rotates the head's pairs; k heads also store
// their k and v into the cache slot.
template <typename T>
__global__ void RopeStoreKvKernel(const T* qkv, const int32_t* positions, const int64_t* slots,
                                  const float* cos_table, const float* sin_table, int heads,
                                  int kv_heads, int head_dim, T* q_out, T* k_cache, T* v_cache) {
  const int t = blockIdx.x, head = blockIdx.y;
  const int half = head_dim / 2;
  const int q_width = heads * head_dim, kv_width = kv_heads * head_dim;
  const T* row = qkv + static_cast<int64_t>(t) * (q_width + 2 * kv_width);
  const float* c = cos_table + static_cast<int64_t>(positions[t]) * half;
  const float* s = sin_table + static_cast<int64_t>(positions[t]) * half;
  const bool is_q = head < heads;
  const int kv_head = head - heads;
  const T* src = row + (is_q ? head * head_dim : q_width + kv_head * head_dim);
  T* dst = is_q ? q_out + static_cast<int64_t>(t) * q_width + head * head_dim
                : k_cache + slots[t] * kv_width + kv_head * head_dim;
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    float a, b;
    cuda_math::RopeRotate(ToFloat(src[i]), ToFloat(src[i + half]), c[i], s[i], &a, &b);
    dst[i] = FromFloat<T>(a);
    dst[i + half] = FromFloat<T>(b);
  }
  if (!is_q) {
    const T* v = row + q_width + kv_width + kv_head * head_dim;
    T* v_dst = v_cache + slots[t] * kv_width + kv_head * head_dim;
    for (int i = threadIdx.x; i < head_dim; i += blockDim.x) v_dst[i] = v[i];
  }
}

// 8 consecutive values (16 bytes of bf16, 32 of f32) as floats; p is 16-byte aligned.
__device__ __forceinline__ void Load8(const __nv_bfloat16* p, float* out) {
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const float2 f = __bfloat1622float2(pairs[j]);
    out[2 * j] = f.x;
    out[2 * j + 1] = f.y;
  }
}
__device__ __forceinline__ void Load8(const float* p, float* out) {
  const float4 a = *reinterpret_cast<const float4*>(p);
  const float4 b = *reinterpret_cast<const float4*>(p + 4);
  out[0] = a.x, out[1] = a.y, out[2] = a.z, out[3] = a.w;
  out[4] = b.x, out[5] = b.y, out[6] = b.z, out[7] = b.w;
}

constexpr int kAttentionWarps = 4;
constexpr int kMaxAttentionSplits = 16;

// One thread block per (head, token, split); each warp walks every kAttentionWarps-th key
// of the split's range with an online softmax; the warps merge in shared memory.
template <typename T, int kDimsPerLane>
__global__ void PagedAttentionKernel(const T* q, const int32_t* positions, const int32_t* token_seq,
                                     const int32_t* block_tables, const T* k_cache,
                                     const T* v_cache, AttentionShape shape, int splits,
                                     float* partials, int* counters, T* out) {
  AllowNextGridToLaunch();
  const int h = blockIdx.x, t = blockIdx.y, split = blockIdx.z;
  const int d = shape.head_dim;
  const int kvh = h / (shape.heads / shape.kv_heads);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int32_t* table =
      block_tables + static_cast<int64_t>(token_seq[t]) * shape.max_blocks_per_seq;
  int64_t begin, end;
  // A split gets at least one tile of 32 keys, so short contexts are not spread over
  // blocks that would each score a handful.
  cuda_math::SplitRange(static_cast<int64_t>(positions[t]) + 1, splits, split, &begin, &end, 32);

  // The query in shared memory (float); each warp then takes tiles of 32 keys: every lane
  // scores one key of the tile (a full dot product, 16-byte loads, no shuffles), the
  // tile's softmax is folded into the warp's online state at once, and the values are
  // accumulated with each lane owning kDimsPerLane contiguous dimensions.
  __shared__ float q_shared[32 * kDimsPerLane];
  const T* qv = q + (static_cast<int64_t>(t) * shape.heads + h) * d;
  for (int i = threadIdx.x; i < d; i += blockDim.x) q_shared[i] = ToFloat(qv[i]);
  __syncthreads();
  // Values: each lane owns 8 dimensions (one 16-byte load) of one key at a time, so a
  // warp covers 32 / (head_dim / 8) keys per iteration instead of one.
  const int lanes_per_key = d / 8;
  const int keys_per_iter = 32 / lanes_per_key;
  const int my_dims = (lane % lanes_per_key) * 8;
  const int my_key = lane / lanes_per_key;  // >= keys_per_iter: idle in the value loop
  float acc[8];
#pragma unroll
  for (int e = 0; e < 8; ++e) acc[e] = 0.0f;
  SoftmaxPartial part;
  const int64_t kv_stride = static_cast<int64_t>(shape.kv_heads) * d;
  for (int64_t tile = begin + 32 * warp; tile < end; tile += 32 * kAttentionWarps) {
    const int64_t p = tile + lane;
    const bool valid = p < end;
    int64_t slot = 0;
    float score = -INFINITY;
    if (valid) {
      slot = KvSlot(table, p, shape.block_size);
      const T* kp = k_cache + slot * kv_stride + kvh * d;
      float dot = 0.0f;
      for (int i = 0; i < d; i += 8) {
        float k8[8];
        Load8(kp + i, k8);
#pragma unroll
        for (int e = 0; e < 8; ++e) dot = fmaf(q_shared[i + e], k8[e], dot);
      }
      score = dot * shape.scale;
    }
    float tile_max = score;
    for (int offset = 16; offset > 0; offset /= 2) {
      tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, offset));
    }
    const float new_max = fmaxf(part.max, tile_max);
    const float rescale = cuda_math::RescaleFactor(part.max, new_max);
    const float weight = valid ? expf(score - new_max) : 0.0f;
    part.sum = part.sum * rescale + WarpSum(weight);
    part.max = new_max;
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[e] *= rescale;
    const int keys = static_cast<int>(end - tile < 32 ? end - tile : 32);
    for (int first = 0; first < keys; first += keys_per_iter) {
      const int kk = first + my_key;  // a key of this tile, or past it (then w = 0)
      const float w = __shfl_sync(0xffffffffu, weight, kk & 31);
      const int64_t key_slot = __shfl_sync(0xffffffffu, slot, kk & 31);
      if (my_key < keys_per_iter && kk < keys) {
        float v8[8];
        Load8(v_cache + key_slot * kv_stride + kvh * d + my_dims, v8);
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[e] = fmaf(w, v8[e], acc[e]);
      }
    }
  }
  // Fold the key groups of the warp together (in a fixed order: deterministic).
  __shared__ float group_acc[kAttentionWarps][32][8];
#pragma unroll
  for (int e = 0; e < 8; ++e) group_acc[warp][lane][e] = acc[e];
  __syncwarp();
  if (my_key == 0) {
    for (int g = 1; g < keys_per_iter; ++g) {
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[e] += group_acc[warp][g * lanes_per_key + lane][e];
    }
  }

  __shared__ float warp_max[kAttentionWarps], warp_sum[kAttentionWarps];
  __shared__ float warp_acc[kAttentionWarps][32 * kDimsPerLane];
  if (lane == 0) {
    warp_max[warp] = part.max;
    warp_sum[warp] = part.sum;
  }
  if (my_key == 0) {
#pragma unroll
    for (int e = 0; e < 8; ++e) warp_acc[warp][my_dims + e] = acc[e];
  }
  __syncthreads();

  const int64_t row = static_cast<int64_t>(t) * shape.heads + h;
  if (splits == 1) {
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
      float value;
      cuda_math::MergeSoftmaxPartials(kAttentionWarps, warp_max, warp_sum, &warp_acc[0][0],
                                      32 * kDimsPerLane, i, &value);
      out[row * d + i] = FromFloat<T>(value);
    }
    return;
  }
  // Several splits: this block's warps combine into one unnormalised partial.
  float max = -INFINITY;
  for (int w = 0; w < kAttentionWarps; ++w) max = fmaxf(max, warp_max[w]);
  float* dst = partials + (row * splits + split) * (d + 2);
  for (int i = threadIdx.x; i < d; i += blockDim.x) {
    float value = 0.0f;
    for (int w = 0; w < kAttentionWarps; ++w) {
      value += warp_acc[w][i] * cuda_math::RescaleFactor(warp_max[w], max);
    }
    dst[2 + i] = value;
  }
  if (threadIdx.x == 0) {
    float sum = 0.0f;
    for (int w = 0; w < kAttentionWarps; ++w) {
      sum += warp_sum[w] * cuda_math::RescaleFactor(warp_max[w], max);
    }
    dst[0] = max;
    dst[1] = sum;
  }
  // The last of the query's split blocks to finish merges every partial (no second
  // kernel), then re-arms the counter for the next launch.
  __shared__ bool last;
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(&counters[row], 1) == splits - 1;
  __syncthreads();
  if (!last) return;
  __threadfence();
  __shared__ float merged[kMaxAttentionSplits * (2 + 32 * kDimsPerLane)];
  const float* base = partials + row * splits * (d + 2);
  for (int e = threadIdx.x; e < splits * (d + 2); e += blockDim.x) merged[e] = __ldcg(base + e);
  __syncthreads();
  __shared__ float stats[2 * kMaxAttentionSplits];
  for (int s = threadIdx.x; s < splits; s += blockDim.x) {
    stats[s] = merged[s * (d + 2)];
    stats[kMaxAttentionSplits + s] = merged[s * (d + 2) + 1];
  }
  __syncthreads();
  for (int i = threadIdx.x; i < d; i += blockDim.x) {
    float value;
    cuda_math::MergeSoftmaxPartials(splits, stats, stats + kMaxAttentionSplits, merged + 2, d + 2,
                                    i, &value);
    out[row * d + i] = FromFloat<T>(value);
  }
  if (threadIdx.x == 0) counters[row] = 0;
}

template <typename T>
__global__ void SiluMulKernel(const T* gate_up, int64_t n, int width, T* out) {
  AllowNextGridToLaunch();
  const int64_t total = n * width;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t t = e / width, i = e % width;
    const T* row = gate_up + t * 2 * width;
    out[e] = FromFloat<T>(cuda_math::SiluMul(ToFloat(row[i]), ToFloat(row[width + i])));
  }
}

template <typename T>
__global__ void GatherRowsKernel(const T* src, const int32_t* rows, int dim, T* dst) {
  AllowNextGridToLaunch();
  const int r = blockIdx.x;
  const T* from = src + static_cast<int64_t>(rows[r]) * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x)
    dst[static_cast<int64_t>(r) * dim + i] = from[i];
}

__device__ __forceinline__ uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

template <typename T>
__global__ void FillUniformKernel(T* data, size_t count, uint64_t seed, float scale) {
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < count;
       e += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const uint64_t bits = SplitMix64(seed * 0x100000001b3ull + e);
    const float unit = static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);  // [0, 1)
    data[e] = FromFloat<T>((2.0f * unit - 1.0f) * scale);
  }
}

template <typename T>
__global__ void ConvertKernel(const float* in, size_t count, T* out) {
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < count;
       e += static_cast<size_t>(gridDim.x) * blockDim.x) {
    out[e] = FromFloat<T>(in[e]);
  }
}

}  // namespace

template <typename T>
void EmbeddingGather(const int32_t* ids, int n, const T* table, int64_t vocab_begin,
                     int64_t vocab_local, int hidden, T* out, cudaStream_t stream) {
  if (n == 0) return;
  EmbeddingGatherKernel<T>
      <<<n, 256, 0, stream>>>(ids, table, vocab_begin, vocab_local, hidden, out);
}

template <typename T>
void AddRmsNorm(float* residual, const T* add, bool accumulate, const float* weight, int n, int dim,
                float eps, T* out, cudaStream_t stream) {
  if (n == 0) return;
  // Many threads, few values each: a lone row (decode) is latency-bound, so its loads
  // should all be in flight at once (256 threads with 16 values each took twice as long
  // as 1024 with 4 on an H100).
  const int threads = std::min(1024, std::max(32, (dim / 4 + 31) / 32 * 32));
  AddRmsNormKernel<T><<<n, threads, 0, stream>>>(residual, add, accumulate, weight, dim, eps, out);
}

void ArgmaxLogprob(const float* logits, int rows, int world, int slice, int32_t* ids,
                   float* logprobs, cudaStream_t stream) {
  if (rows == 0) return;
  ArgmaxLogprobKernel<<<rows, 1024, 0, stream>>>(logits, rows, world, slice, ids, logprobs);
}

template <typename T>
void RopeStoreKv(const T* qkv, int n, const int32_t* positions, const int64_t* slots,
                 const float* cos, const float* sin, int heads, int kv_heads, int head_dim,
                 T* q_out, T* k_cache, T* v_cache, cudaStream_t stream) {
  if (n == 0) return;
  const int threads = head_dim / 2 >= 64 ? 64 : 32;
  RopeStoreKvKernel<T><<<dim3(n, heads + kv_heads), threads, 0, stream>>>(
      qkv, positions, slots, cos, sin, heads, kv_heads, head_dim, q_out, k_cache, v_cache);
}

template <typename T>
void PagedAttention(const T* q, int n, const int32_t* positions, const int32_t* token_seq,
                    const int32_t* block_tables, const T* k_cache, const T* v_cache,
                    const AttentionShape& shape, int splits, float* partials, int* counters, T* out,
                    cudaStream_t stream) {
  if (n == 0) return;
  splits = std::clamp(splits, 1, kMaxAttentionSplits);
  const dim3 grid(shape.heads, n, splits);
  const int threads = 32 * kAttentionWarps;
  if (shape.head_dim <= 32) {
    PagedAttentionKernel<T, 1><<<grid, threads, 0, stream>>>(q, positions, token_seq, block_tables,
                                                             k_cache, v_cache, shape, splits,
                                                             partials, counters, out);
  } else if (shape.head_dim <= 64) {
    PagedAttentionKernel<T, 2><<<grid, threads, 0, stream>>>(q, positions, token_seq, block_tables,
                                                             k_cache, v_cache, shape, splits,
                                                             partials, counters, out);
  } else if (shape.head_dim <= 128) {
    PagedAttentionKernel<T, 4><<<grid, threads, 0, stream>>>(q, positions, token_seq, block_tables,
                                                             k_cache, v_cache, shape, splits,
                                                             partials, counters, out);
  } else {
    PagedAttentionKernel<T, 8><<<grid, threads, 0, stream>>>(q, positions, token_seq, block_tables,
                                                             k_cache, v_cache, shape, splits,
                                                             partials, counters, out);
  }
}

template <typename T>
void SiluMul(const T* gate_up, int n, int width, T* out, cudaStream_t stream) {
  const size_t total = static_cast<size_t>(n) * width;
  if (total == 0) return;
  SiluMulKernel<T><<<Blocks(total, 256), 256, 0, stream>>>(gate_up, n, width, out);
}

template <typename T>
void GatherRows(const T* src, const int32_t* rows, int count, int dim, T* dst,
                cudaStream_t stream) {
  if (count == 0) return;
  GatherRowsKernel<T><<<count, 256, 0, stream>>>(src, rows, dim, dst);
}

template <typename T>
void FillUniform(T* data, size_t count, uint64_t seed, float scale, cudaStream_t stream) {
  if (count == 0) return;
  FillUniformKernel<T><<<Blocks(count, 256), 256, 0, stream>>>(data, count, seed, scale);
}

template <typename T>
void ConvertFromFloat(const float* in, size_t count, T* out, cudaStream_t stream) {
  if (count == 0) return;
  ConvertKernel<T><<<Blocks(count, 256), 256, 0, stream>>>(in, count, out);
}

#define DSM_INSTANTIATE(T)                                                                       \
  template void EmbeddingGather<T>(const int32_t*, int, const T*, int64_t, int64_t, int, T*,     \
                                   cudaStream_t);                                                \
  template void AddRmsNorm<T>(float*, const T*, bool, const float*, int, int, float, T*,         \
                              cudaStream_t);                                                     \
  template void RopeStoreKv<T>(const T*, int, const int32_t*, const int64_t*, const float*,      \
                               const float*, int, int, int, T*, T*, T*, cudaStream_t);           \
  template void PagedAttention<T>(const T*, int, const int32_t*, const int32_t*, const int32_t*, \
                                  const T*, const T*, const AttentionShape&, int, float*, int*,  \
                                  T*, cudaStream_t);                                             \
  template void SiluMul<T>(const T*, int, int, T*, cudaStream_t);                                \
  template void GatherRows<T>(const T*, const int32_t*, int, int, T*, cudaStream_t);             \
  template void FillUniform<T>(T*, size_t, uint64_t, float, cudaStream_t);                       \
  template void ConvertFromFloat<T>(const float*, size_t, T*, cudaStream_t);

DSM_INSTANTIATE(float)
DSM_INSTANTIATE(__nv_bfloat16)

}  // namespace dsm::cuda
