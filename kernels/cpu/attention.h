#pragma once
// Causal attention of query tokens over a paged KV cache.

#include <cstddef>
#include <cstdint>

#include "common/dtype.h"
#include "kernels/cpu/thread_pool.h"

namespace dsm {

// One layer's cache: K and V each laid out [block][slot][kv_head][head_dim], as f32 or
// (the opt-in compact cache) bf16 elements.
struct PagedKvLayer {
  const void* k = nullptr;
  const void* v = nullptr;
  size_t block_size = 0;
  size_t kv_heads = 0;
  size_t head_dim = 0;
  DType dtype = DType::kF32;  // kF32 or kBF16
};

// A query token attends to positions [0, position] of its sequence, found through the
// sequence's block table (block_table[p / block_size] holds position p).
struct AttentionQuery {
  int64_t position = 0;
  const int32_t* block_table = nullptr;
};

// q: [num_tokens, heads * head_dim]; out: same shape. heads must be a multiple of
// kv.kv_heads (GQA groups consecutive query heads onto one KV head).
void PagedAttention(ThreadPool& pool, const float* q, size_t num_tokens,
                    const AttentionQuery* queries, size_t heads, const PagedKvLayer& kv,
                    float scale, float* out);

}  // namespace dsm
