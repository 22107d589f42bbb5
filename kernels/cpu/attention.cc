#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace dsm {

void PagedAttention(ThreadPool& pool, const float* q, size_t num_tokens,
                    const AttentionQuery* queries, size_t heads, const PagedKvLayer& kv,
                    float scale, float* out) {
  const size_t d = kv.head_dim;
  const size_t group = heads / kv.kv_heads;
  const size_t slot_stride = kv.kv_heads * d;
  pool.ParallelFor(num_tokens * heads, 1, [&](size_t begin, size_t end) {
    std::vector<float> scores;
    for (size_t item = begin; item < end; ++item) {
      const size_t t = item / heads;
      const size_t h = item % heads;
      const size_t kvh = h / group;
      const float* qv = q + t * heads * d + h * d;
      const AttentionQuery& query = queries[t];
      const size_t length = static_cast<size_t>(query.position) + 1;
      scores.resize(length);
      float max_score = -INFINITY;
      for (size_t p = 0; p < length; ++p) {
        const size_t block = static_cast<size_t>(query.block_table[p / kv.block_size]);
        const float* kp =
            kv.k + (block * kv.block_size + p % kv.block_size) * slot_stride + kvh * d;
        float dot = 0.0f;
        for (size_t i = 0; i < d; ++i) dot += qv[i] * kp[i];
        scores[p] = dot * scale;
        max_score = std::max(max_score, scores[p]);
      }
      float denom = 0.0f;
      for (size_t p = 0; p < length; ++p) {
        scores[p] = std::exp(scores[p] - max_score);
        denom += scores[p];
      }
      float* o = out + t * heads * d + h * d;
      std::fill(o, o + d, 0.0f);
      for (size_t p = 0; p < length; ++p) {
        const size_t block = static_cast<size_t>(query.block_table[p / kv.block_size]);
        const float* vp =
            kv.v + (block * kv.block_size + p % kv.block_size) * slot_stride + kvh * d;
        const float w = scores[p] / denom;
        for (size_t i = 0; i < d; ++i) o[i] += w * vp[i];
      }
    }
  });
}

}  // namespace dsm
