#include "kernels/cuda/logits_summary.h"

#include <climits>
#include <cstdint>

namespace dsm::cuda {
namespace {

constexpr int kThreads = 1024;  // 32 warps: the scans below rely on it
constexpr unsigned kFullMask = 0xffffffffu;

// Orders floats as unsigned integers (larger float, larger key); -0 and +0 are one key,
// as they compare equal.
__device__ __forceinline__ uint32_t OrderedKey(float x) {
  uint32_t u = __float_as_uint(x);
  if (u == 0x80000000u) u = 0u;
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

struct RowView {
  const float* logits;
  int rows, slice, r;
  __device__ float operator[](int v) const {
    return logits[(static_cast<int64_t>(v / slice) * rows + r) * slice + v % slice];
  }
};

__device__ float BlockMax(float v, float* scratch) {
  for (int o = 16; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  float m = scratch[0];
  for (int w = 1; w < kThreads / 32; ++w) m = fmaxf(m, scratch[w]);
  __syncthreads();
  return m;
}

__device__ double BlockSum(double v, double* scratch) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(kFullMask, v, o);
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  double s = 0.0;
  for (int w = 0; w < kThreads / 32; ++w) s += scratch[w];
  __syncthreads();
  return s;
}

// Candidate a goes before b: larger logit, then lower id.
__device__ __forceinline__ bool Better(uint32_t key_a, int32_t id_a, uint32_t key_b, int32_t id_b) {
  return key_a != key_b ? key_a > key_b : id_a < id_b;
}

// One block per row. (1) the maximum; (2) per thread, over a contiguous id range, the
// sums of exp(x - max) and exp((x - max) / T), scanned across threads so that the thread
// whose range holds uniform * mass walks it for the draw; (3) the kSummaryCandidates-th
// largest logit by a 4 x 8-bit radix select, then every larger one and the lowest-id
// ties, sorted best first.
__global__ void __launch_bounds__(kThreads)
    SummarizeLogitsKernel(const float* logits, int rows, int world, int slice,
                          const float* temperatures, const double* uniforms,
                          LogitsSummaryRecord* out) {
  constexpr int kC = kSummaryCandidates;
  __shared__ float float_scratch[32];
  __shared__ double double_scratch[32];
  __shared__ double warp_prefix[32];
  __shared__ double befores[kThreads + 1];
  __shared__ uint32_t histogram[256];
  __shared__ uint32_t candidate_key[kC];
  __shared__ int32_t candidate_id[kC];
  __shared__ int32_t warp_ties[32];
  __shared__ int drawn, last_positive, greater_count, select_bin, select_want;

  const int r = blockIdx.x, tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int vocab = world * slice;
  const RowView row{logits, rows, slice, r};
  if (tid == 0) {
    drawn = -1;
    last_positive = -1;
    greater_count = 0;
  }

  // (1)
  float local_max = -INFINITY;
  for (int v = tid; v < vocab; v += kThreads) local_max = fmaxf(local_max, row[v]);
  const float max_logit = BlockMax(local_max, float_scratch);

  // (2)
  const float temperature = temperatures[r];
  const bool draw = temperature > 0.0f;
  const float scale = draw ? 1.0f / temperature : 1.0f;
  const int per = (vocab + kThreads - 1) / kThreads;
  const int begin = min(vocab, tid * per), end = min(vocab, begin + per);
  double z = 0.0, mass = 0.0;
  int positive = -1;
  for (int v = begin; v < end; ++v) {
    const float x = row[v];
    z += expf(x - max_logit);
    const float p = expf((x - max_logit) * scale);
    mass += p;
    if (p > 0.0f) positive = v;
  }
  if (positive >= 0) atomicMax(&last_positive, positive);
  double inclusive = mass;
  for (int o = 1; o < 32; o *= 2) {
    const double y = __shfl_up_sync(kFullMask, inclusive, o);
    if (lane >= o) inclusive += y;
  }
  double exclusive = __shfl_up_sync(kFullMask, inclusive, 1);
  if (lane == 0) exclusive = 0.0;
  if (lane == 31) warp_prefix[warp] = inclusive;
  __syncthreads();
  if (warp == 0) {
    double w = warp_prefix[lane];
    for (int o = 1; o < 32; o *= 2) {
      const double y = __shfl_up_sync(kFullMask, w, o);
      if (lane >= o) w += y;
    }
    warp_prefix[lane] = w;  // inclusive over warps
  }
  __syncthreads();
  const double before = (warp > 0 ? warp_prefix[warp - 1] : 0.0) + exclusive;
  befores[tid] = before;
  if (tid == kThreads - 1) befores[kThreads] = warp_prefix[31];
  const double total_z = BlockSum(z, double_scratch);  // also orders befores[] for all
  const double total_mass = befores[kThreads];
  if (draw) {
    const double target = uniforms[r] * total_mass;
    if (before <= target && target < befores[tid + 1]) {
      double cumulative = before;
      int chosen = -1;
      for (int v = begin; v < end; ++v) {
        const float p = expf((row[v] - max_logit) * scale);
        cumulative += p;
        if (p > 0.0f) chosen = v;
        if (target < cumulative) break;
      }
      if (chosen >= 0) drawn = chosen;
    }
  }

  // (3)
  const int count = min(kC, vocab);
  if (vocab <= kC) {
    for (int v = tid; v < vocab; v += kThreads) {
      candidate_key[v] = OrderedKey(row[v]);
      candidate_id[v] = v;
    }
  } else {
    uint32_t prefix = 0, mask = 0;
    int want = kC;  // rank of the wanted key among those matching prefix, from the top
    for (int shift = 24; shift >= 0; shift -= 8) {
      for (int i = tid; i < 256; i += kThreads) histogram[i] = 0;
      __syncthreads();
      for (int v = tid; v < vocab; v += kThreads) {
        const uint32_t key = OrderedKey(row[v]);
        if ((key & mask) == prefix) atomicAdd(&histogram[(key >> shift) & 255u], 1u);
      }
      __syncthreads();
      if (tid == 0) {
        int cumulative = 0, bin = 255;
        for (; bin > 0; --bin) {
          if (cumulative + static_cast<int>(histogram[bin]) >= want) break;
          cumulative += histogram[bin];
        }
        select_bin = bin;
        select_want = want - cumulative;
      }
      __syncthreads();
      prefix |= static_cast<uint32_t>(select_bin) << shift;
      mask |= 255u << shift;
      want = select_want;
      __syncthreads();
    }
    // prefix is the kC-th largest key; kC - want keys are larger. Ties go in id order.
    const int tie_start = kC - want;
    int tie_base = 0;
    for (int base = 0; base < vocab; base += kThreads) {
      const int v = base + tid;
      const uint32_t key = v < vocab ? OrderedKey(row[v]) : 0u;
      const bool greater = v < vocab && key > prefix;
      const bool tie = v < vocab && key == prefix;
      if (greater) {
        const int at = atomicAdd(&greater_count, 1);
        candidate_key[at] = key;
        candidate_id[at] = v;
      }
      const unsigned ballot = __ballot_sync(kFullMask, tie);
      if (lane == 0) warp_ties[warp] = __popc(ballot);
      __syncthreads();
      int offset = 0, tile_ties = 0;
      for (int w = 0; w < kThreads / 32; ++w) {
        if (w < warp) offset += warp_ties[w];
        tile_ties += warp_ties[w];
      }
      const int rank = tie_base + offset + __popc(ballot & ((1u << lane) - 1u));
      if (tie && rank < want) {
        candidate_key[tie_start + rank] = key;
        candidate_id[tie_start + rank] = v;
      }
      tie_base += tile_ties;
      __syncthreads();
    }
  }
  for (int i = count + tid; i < kC; i += kThreads) {
    candidate_key[i] = 0u;
    candidate_id[i] = INT_MAX;
  }
  __syncthreads();
  for (int size = 2; size <= kC; size *= 2) {
    for (int stride = size / 2; stride > 0; stride /= 2) {
      if (tid < kC) {
        const int i = tid, j = tid ^ stride;
        if (j > i) {
          const bool best_first = (i & size) == 0;
          const bool j_better =
              Better(candidate_key[j], candidate_id[j], candidate_key[i], candidate_id[i]);
          if (j_better == best_first) {
            const uint32_t key = candidate_key[i];
            const int32_t id = candidate_id[i];
            candidate_key[i] = candidate_key[j];
            candidate_id[i] = candidate_id[j];
            candidate_key[j] = key;
            candidate_id[j] = id;
          }
        }
      }
      __syncthreads();
    }
  }

  LogitsSummaryRecord& record = out[r];
  for (int i = tid; i < count; i += kThreads) {
    record.ids[i] = candidate_id[i];
    record.logits[i] = row[candidate_id[i]];
  }
  if (tid == 0) {
    record.log_z = static_cast<double>(max_logit) + log(total_z);
    record.mass = total_mass;
    record.max_logit = max_logit;
    record.count = count;
    const int id = !draw ? -1 : (drawn >= 0 ? drawn : last_positive);
    record.drawn_id = id;
    record.drawn_logit = id >= 0 ? row[id] : 0.0f;
  }
}

}  // namespace

void SummarizeLogits(const float* logits, int rows, int world, int slice,
                     const float* temperatures, const double* uniforms, LogitsSummaryRecord* out,
                     cudaStream_t stream) {
  if (rows == 0) return;
  SummarizeLogitsKernel<<<rows, kThreads, 0, stream>>>(logits, rows, world, slice, temperatures,
                                                       uniforms, out);
}

}  // namespace dsm::cuda
