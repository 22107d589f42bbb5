#pragma once
// CUDA kernels of a LLaMA layer, for activations of type T (float or __nv_bfloat16).
// Launchers enqueue on `stream` and never synchronise; the executor checks errors once
// per step. Math is in float whatever T is; results are rounded to T when stored.

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace dsm::cuda {

// out[t] = table[ids[t] - vocab_begin] for ids this rank owns, else zeros (the
// all-reduce of the vocab-parallel embedding fills them in).
template <typename T>
void EmbeddingGather(const int32_t* ids, int n, const T* table, int64_t vocab_begin,
                     int64_t vocab_local, int hidden, T* out, cudaStream_t stream);

// The residual stream stays f32 in both precisions (bf16 mode rounds only what the
// GEMMs and attention read): with `add`, residual = residual + add (accumulate) or
// residual = add (the embedding, !accumulate) first. Then out = residual / rms(residual)
// * weight, rounded to T, per row of `dim`.
template <typename T>
void AddRmsNorm(float* residual, const T* add, bool accumulate, const float* weight, int n, int dim,
                float eps, T* out, cudaStream_t stream);

// Greedy sampling on the device: per row, the index of the largest logit (the lowest
// index among ties, as std::max_element) and its log-softmax. Row r's logits are the
// `world` slices logits[(w * rows + r) * slice ...] of an all-gather, in rank order.
void ArgmaxLogprob(const float* logits, int rows, int world, int slice, int32_t* ids,
                   float* logprobs, cudaStream_t stream);

// For each token t: rotates its q heads and k heads by RoPE at positions[t] (cos/sin
// tables [max_positions, head_dim / 2]), writes q to q_out [n, heads * head_dim] and
// k, v into the cache at slots[t] (layout [slot][kv_head][head_dim]).
template <typename T>
void RopeStoreKv(const T* qkv, int n, const int32_t* positions, const int64_t* slots,
                 const float* cos, const float* sin, int heads, int kv_heads, int head_dim,
                 T* q_out, T* k_cache, T* v_cache, cudaStream_t stream);

struct AttentionShape {
  int heads = 0;
  int kv_heads = 0;
  int head_dim = 0;
  int block_size = 0;
  int max_blocks_per_seq = 0;  // row length of block_tables
  float scale = 1.0f;
};

// Causal attention of n query tokens over the paged cache: token t attends to
// positions [0, positions[t]] of sequence token_seq[t], whose blocks are
// block_tables[token_seq[t] * max_blocks_per_seq ...]. With splits > 1 (at most 16)
// each query's keys are divided among `splits` thread blocks that write partial
// softmaxes to `partials` ([n, heads, splits, head_dim + 2] floats); the last block of
// a query to finish (counted in `counters`: [n, heads] ints that start at zero and are
// left at zero) merges them.
template <typename T>
void PagedAttention(const T* q, int n, const int32_t* positions, const int32_t* token_seq,
                    const int32_t* block_tables, const T* k_cache, const T* v_cache,
                    const AttentionShape& shape, int splits, float* partials, int* counters, T* out,
                    cudaStream_t stream);

// gate_up rows are [gate (width) | up (width)]; out = silu(gate) * up.
template <typename T>
void SiluMul(const T* gate_up, int n, int width, T* out, cudaStream_t stream);

// dst[r] = src[rows[r]] for `count` rows of `dim` elements.
template <typename T>
void GatherRows(const T* src, const int32_t* rows, int count, int dim, T* dst, cudaStream_t stream);

// Fills `count` elements with uniform values in [-scale, scale) from a counter-based
// hash of (seed, index): random weights for benchmarks, made on the device.
template <typename T>
void FillUniform(T* data, size_t count, uint64_t seed, float scale, cudaStream_t stream);

// Converts `count` floats to T.
template <typename T>
void ConvertFromFloat(const float* in, size_t count, T* out, cudaStream_t stream);

}  // namespace dsm::cuda
