#pragma once
// The index arithmetic and per-element math of the CUDA kernels, as functions that
// compile for host and device, so CPU unit tests check exactly what the kernels run.

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define DSM_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define DSM_HOST_DEVICE inline
#endif

namespace dsm::cuda_math {

// Flat KV slot (block * block_size + offset) that holds `position` of a sequence whose
// blocks are listed in `block_table`.
DSM_HOST_DEVICE int64_t KvSlot(const int32_t* block_table, int64_t position, int block_size) {
  return static_cast<int64_t>(block_table[position / block_size]) * block_size +
         position % block_size;
}

// RoPE angle of pair i at `position`, HF rotate_half convention, computed in double as
// the CPU backend's table is, so both backends rotate by the same float cos/sin.
inline double RopeAngle(int64_t position, int pair, int head_dim, double theta,
                        double linear_factor) {
  const double inv_freq = std::pow(theta, -2.0 * static_cast<double>(pair) / head_dim);
  return static_cast<double>(position) / linear_factor * inv_freq;
}

// Rotates the pair (a, b) = (x[i], x[i + head_dim / 2]) by the angle with cosine c, sine s.
DSM_HOST_DEVICE void RopeRotate(float a, float b, float c, float s, float* out_a, float* out_b) {
  *out_a = a * c - b * s;
  *out_b = b * c + a * s;
}

// Key positions [begin, end) that split `split` of `splits` covers of a query attending to
// `length` positions: equal contiguous chunks of at least `min_chunk` keys (short
// contexts use fewer, fuller splits); trailing splits may be empty.
DSM_HOST_DEVICE void SplitRange(int64_t length, int splits, int split, int64_t* begin, int64_t* end,
                                int64_t min_chunk = 1) {
  int64_t chunk = (length + splits - 1) / splits;
  if (chunk < min_chunk) chunk = min_chunk;
  const int64_t b = chunk * split;
  *begin = b < length ? b : length;
  *end = b + chunk < length ? b + chunk : length;
}

// Online-softmax state of one query over some keys: the running maximum score, the sum of
// exp(score - max), and (kept by the caller) the exp-weighted sum of values.
struct SoftmaxPartial {
  float max = -INFINITY;
  float sum = 0.0f;
};

// Factor that rescales a partial with maximum `part_max` to the common maximum `max`
// (an empty partial, max -inf, contributes nothing).
DSM_HOST_DEVICE float RescaleFactor(float part_max, float max) {
  return part_max == -INFINITY ? 0.0f : expf(part_max - max);
}

// Folds one score into a partial; returns the factor by which the caller must scale its
// value accumulator before adding exp(score - new max) * value (the second factor, in
// *weight).
DSM_HOST_DEVICE float SoftmaxAccumulate(SoftmaxPartial* p, float score, float* weight) {
  const float new_max = score > p->max ? score : p->max;
  const float scale = RescaleFactor(p->max, new_max);
  *weight = expf(score - new_max);
  p->sum = p->sum * scale + *weight;
  p->max = new_max;
  return scale;
}

// Merges `count` partials of one query (maxes, sums, and value accumulators `acc_stride`
// apart) into element i of the normalised output.
DSM_HOST_DEVICE void MergeSoftmaxPartials(int count, const float* maxes, const float* sums,
                                          const float* accs, int acc_stride, int i, float* out_i) {
  float max = -INFINITY;
  for (int p = 0; p < count; ++p) max = maxes[p] > max ? maxes[p] : max;
  float sum = 0.0f, value = 0.0f;
  for (int p = 0; p < count; ++p) {
    const float f = RescaleFactor(maxes[p], max);
    sum += sums[p] * f;
    value += accs[p * acc_stride + i] * f;
  }
  *out_i = sum > 0.0f ? value / sum : 0.0f;
}

// The rows one block of the fused q/k/v GEMV takes (W stacks `heads` q heads, then
// `kv_heads` k heads, then `kv_heads` v heads, head_dim rows each): the RoPE pair
// (first_row, first_row + head_dim / 2) of one head. `part` says where its results go:
// 0 q (rotated), 1 the K cache (rotated), 2 the V cache (as they are); `head` counts
// within that part and `offset` is the pair's index within the head.
struct QkvPair {
  int64_t first_row = 0;
  int part = 0;
  int head = 0;
  int offset = 0;
};
DSM_HOST_DEVICE QkvPair QkvPairOfBlock(int block, int heads, int kv_heads, int head_dim) {
  const int half = head_dim / 2;
  const int stacked_head = block / half;
  QkvPair pair;
  pair.offset = block % half;
  pair.first_row = static_cast<int64_t>(stacked_head) * head_dim + pair.offset;
  pair.part = stacked_head < heads ? 0 : stacked_head < heads + kv_heads ? 1 : 2;
  pair.head = stacked_head - (pair.part == 0 ? 0 : pair.part == 1 ? heads : heads + kv_heads);
  return pair;
}

// SiLU(gate) * up, in float.
DSM_HOST_DEVICE float SiluMul(float gate, float up) { return gate / (1.0f + expf(-gate)) * up; }

}  // namespace dsm::cuda_math
