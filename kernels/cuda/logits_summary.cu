#include <climits>
#include <cstdint>

#include "kernels/cuda/logits_summary.h"

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

// One row of logits as `world` contiguous slices of `slice` floats, read 4 at a time
// (quads); ids past the vocabulary read as -inf and are skipped by every consumer.
struct Row {
  const float* logits;
  int rows, slice, r, vocab;
  bool vector;  // slice % 4 == 0: a quad is one aligned 16-byte load

  __device__ float At(int v) const {
    return logits[(static_cast<int64_t>(v / slice) * rows + r) * slice + v % slice];
  }
  __device__ float4 Quad(int q) const {
    const int v = 4 * q;
    if (vector && v < vocab) {
      const int quads_per_slice = slice / 4;
      const float* base = logits + (static_cast<int64_t>(q / quads_per_slice) * rows + r) * slice;
      return reinterpret_cast<const float4*>(base)[q % quads_per_slice];
    }
    float4 x;
    x.x = v < vocab ? At(v) : -INFINITY;
    x.y = v + 1 < vocab ? At(v + 1) : -INFINITY;
    x.z = v + 2 < vocab ? At(v + 2) : -INFINITY;
    x.w = v + 3 < vocab ? At(v + 3) : -INFINITY;
    return x;
  }
  __device__ int quads() const { return (vocab + 3) / 4; }
};

__device__ __forceinline__ float Lane(const float4& x, int j) {
  return j == 0 ? x.x : j == 1 ? x.y : j == 2 ? x.z : x.w;
}

// Calls fn(id, logit) for every id, each thread taking quads tid, tid + kThreads, ...;
// kBatch quads are loaded before any is used, so every thread keeps that many loads in
// flight.
constexpr int kBatch = 4;
template <typename Fn>
__device__ __forceinline__ void ForEachStrided(const Row& row, Fn fn) {
  const int quads = row.quads();
  for (int q0 = threadIdx.x; q0 < quads; q0 += kBatch * kThreads) {
    float4 x[kBatch];
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int q = q0 + b * kThreads;
      x[b] = q < quads ? row.Quad(q) : make_float4(0, 0, 0, 0);
    }
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int q = q0 + b * kThreads;
      if (q >= quads) break;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        if (4 * q + j < row.vocab) fn(4 * q + j, Lane(x[b], j));
      }
    }
  }
}

// Calls fn(id, logit) in id order over this thread's contiguous quads [begin, end);
// fn returns false to stop.
template <typename Fn>
__device__ __forceinline__ void ForEachInRange(const Row& row, int begin, int end, Fn fn) {
  for (int q0 = begin; q0 < end; q0 += kBatch) {
    float4 x[kBatch];
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      x[b] = q0 + b < end ? row.Quad(q0 + b) : make_float4(0, 0, 0, 0);
    }
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      if (q0 + b >= end) return;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int v = 4 * (q0 + b) + j;
        if (v < row.vocab && !fn(v, Lane(x[b], j))) return;
      }
    }
  }
}

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

// Inclusive prefix sum of v over the block in thread order (32 warps); `scratch` holds 32.
// *total gets the block's sum.
template <typename T>
__device__ T BlockInclusiveScan(T v, T* scratch, T* total) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int o = 1; o < 32; o *= 2) {
    const T y = __shfl_up_sync(kFullMask, v, o);
    if (lane >= o) v += y;
  }
  if (lane == 31) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    T w = scratch[lane];
    for (int o = 1; o < 32; o *= 2) {
      const T y = __shfl_up_sync(kFullMask, w, o);
      if (lane >= o) w += y;
    }
    scratch[lane] = w;
  }
  __syncthreads();
  const T result = (warp > 0 ? scratch[warp - 1] : T{0}) + v;
  *total = scratch[31];
  __syncthreads();  // scratch is read by all before the next call writes it
  return result;
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
  __shared__ int int_scratch[32];
  __shared__ double befores[kThreads + 1];
  __shared__ uint32_t histogram[256];
  __shared__ uint32_t candidate_key[kC];
  __shared__ int32_t candidate_id[kC];
  __shared__ int drawn, last_positive, greater_count, select_bin, select_want;

  const int r = blockIdx.x, tid = threadIdx.x, lane = tid % 32;
  const int vocab = world * slice;
  const Row row{logits, rows, slice, r, vocab, slice % 4 == 0};
  if (tid == 0) {
    drawn = -1;
    last_positive = -1;
    greater_count = 0;
  }

  // (1)
  float local_max = -INFINITY;
  ForEachStrided(row, [&](int, float x) { local_max = fmaxf(local_max, x); });
  const float max_logit = BlockMax(local_max, float_scratch);

  // (2)
  const float temperature = temperatures[r];
  const bool draw = temperature > 0.0f;
  const float scale = draw ? 1.0f / temperature : 1.0f;
  const int per = (row.quads() + kThreads - 1) / kThreads;
  const int begin = min(row.quads(), tid * per), end = min(row.quads(), begin + per);
  double z = 0.0, mass = 0.0;
  int positive = -1;
  ForEachInRange(row, begin, end, [&](int v, float x) {
    z += expf(x - max_logit);
    const float p = expf((x - max_logit) * scale);
    mass += p;
    if (p > 0.0f) positive = v;
    return true;
  });
  if (positive >= 0) atomicMax(&last_positive, positive);
  double total_mass = 0.0;
  const double inclusive = BlockInclusiveScan(mass, double_scratch, &total_mass);
  // The exclusive prefix as the next thread sees it: exactly the previous inclusive.
  befores[tid + 1] = inclusive;
  if (tid == 0) befores[0] = 0.0;
  const double total_z = BlockSum(z, double_scratch);  // its barriers also publish befores[]
  const double before = befores[tid];
  if (draw) {
    const double target = uniforms[r] * total_mass;
    if (before <= target && target < befores[tid + 1]) {
      double cumulative = before;
      int chosen = -1;
      ForEachInRange(row, begin, end, [&](int v, float x) {
        const float p = expf((x - max_logit) * scale);
        cumulative += p;
        if (p > 0.0f) chosen = v;
        return !(target < cumulative);
      });
      if (chosen >= 0) drawn = chosen;
    }
  }

  // (3)
  const int count = min(kC, vocab);
  if (vocab <= kC) {
    for (int v = tid; v < vocab; v += kThreads) {
      candidate_key[v] = OrderedKey(row.At(v));
      candidate_id[v] = v;
    }
  } else {
    uint32_t prefix = 0, mask = 0;
    int want = kC;  // rank of the wanted key among those matching prefix, from the top
    for (int shift = 24; shift >= 0; shift -= 8) {
      for (int i = tid; i < 256; i += kThreads) histogram[i] = 0;
      __syncthreads();
      ForEachStrided(row, [&](int, float x) {
        const uint32_t key = OrderedKey(x);
        if ((key & mask) == prefix) atomicAdd(&histogram[(key >> shift) & 255u], 1u);
      });
      __syncthreads();
      if (tid < 32) {
        // Lane i holds bins 255 - 8i down to 248 - 8i; find the bin where the count from
        // the top reaches `want`.
        uint32_t lane_bins[8], lane_total = 0;
#pragma unroll
        for (int b = 0; b < 8; ++b) {
          lane_bins[b] = histogram[255 - 8 * lane - b];
          lane_total += lane_bins[b];
        }
        uint32_t inclusive_bins = lane_total;
        for (int o = 1; o < 32; o *= 2) {
          const uint32_t y = __shfl_up_sync(kFullMask, inclusive_bins, o);
          if (lane >= o) inclusive_bins += y;
        }
        const uint32_t above = inclusive_bins - lane_total;
        const bool here =
            above < static_cast<uint32_t>(want) && inclusive_bins >= static_cast<uint32_t>(want);
        if (here) {
          uint32_t cumulative = above;
          int b = 0;
          for (; b < 7; ++b) {
            if (cumulative + lane_bins[b] >= static_cast<uint32_t>(want)) break;
            cumulative += lane_bins[b];
          }
          select_bin = 255 - 8 * lane - b;
          select_want = want - static_cast<int>(cumulative);
        }
      }
      __syncthreads();
      prefix |= static_cast<uint32_t>(select_bin) << shift;
      mask |= 255u << shift;
      want = select_want;
      __syncthreads();
    }
    // prefix is the kC-th largest key; kC - want keys are larger. Ties go in id order:
    // tiles of 4 * kThreads ids, thread t holding ids 4t .. 4t + 3 of a tile.
    const int tie_start = kC - want;
    int tie_base = 0;
    const int quads = row.quads();
    for (int q0 = 0; q0 < quads; q0 += kThreads) {
      const int q = q0 + tid;
      const float4 x = q < quads ? row.Quad(q) : make_float4(0, 0, 0, 0);
      int ties = 0;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int v = 4 * q + j;
        if (v >= vocab) continue;
        const uint32_t key = OrderedKey(Lane(x, j));
        if (key > prefix) {
          const int at = atomicAdd(&greater_count, 1);
          candidate_key[at] = key;
          candidate_id[at] = v;
        } else if (key == prefix) {
          ++ties;
        }
      }
      int tile_ties = 0;
      const int inclusive_ties = BlockInclusiveScan(ties, int_scratch, &tile_ties);
      int rank = tie_base + inclusive_ties - ties;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int v = 4 * q + j;
        if (v >= vocab || OrderedKey(Lane(x, j)) != prefix) continue;
        if (rank < want) {
          candidate_key[tie_start + rank] = prefix;
          candidate_id[tie_start + rank] = v;
        }
        ++rank;
      }
      tie_base += tile_ties;
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
    record.logits[i] = row.At(candidate_id[i]);
  }
  if (tid == 0) {
    record.log_z = static_cast<double>(max_logit) + log(total_z);
    record.mass = total_mass;
    record.max_logit = max_logit;
    record.count = count;
    const int id = !draw ? -1 : (drawn >= 0 ? drawn : last_positive);
    record.drawn_id = id;
    record.drawn_logit = id >= 0 ? row.At(id) : 0.0f;
  }
}

}  // namespace

void SummarizeLogits(const float* logits, int rows, int world, int slice, const float* temperatures,
                     const double* uniforms, LogitsSummaryRecord* out, cudaStream_t stream) {
  if (rows == 0) return;
  SummarizeLogitsKernel<<<rows, kThreads, 0, stream>>>(logits, rows, world, slice, temperatures,
                                                       uniforms, out);
}

}  // namespace dsm::cuda
