#include "worker/model/llama_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/matmul.h"

namespace dsm {
namespace {

// Tokens per chunk of a per-token op over rows of `width` floats: ~16K floats a chunk
// amortise the hand-off, and one token (decode) stays on the calling thread.
size_t TokensPerChunk(size_t width) {
  return std::max<size_t>(1, 16384 / std::max<size_t>(1, width));
}

}  // namespace

void LlamaModel::ParallelRmsNorm(const float* weight, size_t n, size_t hidden, float eps) {
  pool_->ParallelFor(n, TokensPerChunk(hidden), [&](size_t begin, size_t end) {
    RmsNorm(hidden_.data() + begin * hidden, weight, end - begin, hidden, eps,
            normed_.data() + begin * hidden);
  });
}

LlamaModel::LlamaModel(ModelConfig config, ShardSpec shard, LlamaWeights weights, KvCache* kv_cache,
                       Communicator* comm, ThreadPool* pool)
    : config_(std::move(config)),
      shard_(shard),
      local_(LocalDims(config_, shard.world_size)),
      weights_(std::move(weights)),
      kv_cache_(kv_cache),
      comm_(comm),
      pool_(pool),
      rope_(config_.max_position_embeddings, config_.head_dim, config_.rope_theta,
            config_.rope_linear_factor) {}

absl::StatusOr<std::vector<float>> LlamaModel::Forward(std::span<const SequenceInput> batch) {
  if (absl::Status s =
          ValidateStepBatch(config_, kv_cache_->block_size(), kv_cache_->num_blocks(), batch);
      !s.ok())
    return s;
  const size_t hidden = config_.hidden_size;
  const size_t block_size = kv_cache_->block_size();

  // Flatten the batch: per token its position, KV slot and attention query.
  std::vector<int32_t> ids;
  std::vector<int64_t> positions;
  std::vector<std::pair<int32_t, int64_t>> slots;  // (block, slot)
  std::vector<AttentionQuery> queries;
  std::vector<size_t> logit_rows;
  for (const SequenceInput& seq : batch) {
    for (size_t i = 0; i < seq.token_ids.size(); ++i) {
      const int64_t pos = seq.start_position + static_cast<int64_t>(i);
      ids.push_back(seq.token_ids[i]);
      positions.push_back(pos);
      slots.emplace_back(seq.block_table[pos / block_size], pos % block_size);
      queries.push_back(AttentionQuery{pos, seq.block_table.data()});
    }
    if (seq.want_logits) logit_rows.push_back(ids.size() - 1);
  }
  const size_t n = ids.size();

  // Vocab-parallel embedding: each rank fills the rows it owns, the all-reduce the rest.
  hidden_.assign(n * hidden, 0.0f);
  const int64_t vocab_begin = shard_.rank * local_.vocab;
  const OwnedMatrix& embedding = weights_.embedding;
  for (size_t t = 0; t < n; ++t) {
    const int64_t row = ids[t] - vocab_begin;
    if (row < 0 || row >= local_.vocab) continue;
    const uint8_t* src = embedding.bytes.get() + row * hidden * DTypeSize(embedding.dtype);
    for (size_t i = 0; i < hidden; ++i)
      hidden_[t * hidden + i] = LoadAsFloat(src, embedding.dtype, i);
  }
  if (absl::Status s = comm_->AllReduceSum(hidden_.data(), hidden_.size()); !s.ok()) return s;

  for (size_t l = 0; l < static_cast<size_t>(config_.num_hidden_layers); ++l) {
    if (absl::Status s = Layer(l, n, queries, positions, slots); !s.ok()) return s;
  }

  // Final norm and the vocab-parallel lm_head on the rows that need logits only.
  const size_t rows = logit_rows.size();
  if (rows == 0) return std::vector<float>();
  normed_.resize(rows * hidden);
  for (size_t r = 0; r < rows; ++r) {
    RmsNorm(hidden_.data() + logit_rows[r] * hidden, weights_.final_norm.data(), 1, hidden,
            static_cast<float>(config_.rms_norm_eps), normed_.data() + r * hidden);
  }
  const size_t vl = local_.vocab;
  const size_t world = shard_.world_size;
  std::vector<float> logits(rows * config_.vocab_size);
  if (world == 1) {
    MatMul(*pool_, normed_.data(), rows, weights_.output_matrix().view(), logits.data());
    return logits;
  }
  local_logits_.resize(rows * vl);
  MatMul(*pool_, normed_.data(), rows, weights_.output_matrix().view(), local_logits_.data());
  gathered_.resize(world * rows * vl);
  if (absl::Status s =
          comm_->AllGather(local_logits_.data(), local_logits_.size(), gathered_.data());
      !s.ok())
    return s;
  for (size_t r = 0; r < rows; ++r) {
    for (size_t w = 0; w < world; ++w) {
      std::memcpy(logits.data() + r * config_.vocab_size + w * vl,
                  gathered_.data() + (w * rows + r) * vl, vl * sizeof(float));
    }
  }
  return logits;
}

absl::Status LlamaModel::Layer(size_t index, size_t n, const std::vector<AttentionQuery>& queries,
                               const std::vector<int64_t>& positions,
                               const std::vector<std::pair<int32_t, int64_t>>& slots) {
  const LlamaLayerWeights& w = weights_.layers[index];
  const size_t hidden = config_.hidden_size;
  const size_t d = config_.head_dim;
  const size_t q_width = local_.heads * d;
  const size_t kv_width = local_.kv_heads * d;
  const size_t qkv_width = q_width + 2 * kv_width;
  const size_t inter = local_.intermediate;
  const float eps = static_cast<float>(config_.rms_norm_eps);

  // Attention block.
  normed_.resize(n * hidden);
  ParallelRmsNorm(w.input_norm.data(), n, hidden, eps);
  qkv_.resize(n * qkv_width);
  MatMul(*pool_, normed_.data(), n, w.qkv.view(), qkv_.data());
  attn_.resize(n * q_width);
  q_.resize(n * q_width);
  // Per token on the pool: RoPE, and K/V into the token's own cache slot (distinct
  // slots, so the writes never overlap).
  pool_->ParallelFor(n, TokensPerChunk(qkv_width), [&](size_t begin, size_t end) {
    for (size_t t = begin; t < end; ++t) {
      float* row = qkv_.data() + t * qkv_width;
      rope_.Apply(row, local_.heads, positions[t]);
      rope_.Apply(row + q_width, local_.kv_heads, positions[t]);
      std::memcpy(q_.data() + t * q_width, row, q_width * sizeof(float));
      kv_cache_->Store(index, slots[t].first, slots[t].second, row + q_width,
                       row + q_width + kv_width);
    }
  });
  PagedAttention(*pool_, q_.data(), n, queries.data(), local_.heads, kv_cache_->Layer(index),
                 1.0f / std::sqrt(static_cast<float>(d)), attn_.data());
  proj_.resize(n * hidden);
  MatMul(*pool_, attn_.data(), n, w.o.view(), proj_.data());
  if (absl::Status s = comm_->AllReduceSum(proj_.data(), proj_.size()); !s.ok()) return s;
  AddInPlace(hidden_.data(), proj_.data(), n * hidden);

  // MLP block.
  ParallelRmsNorm(w.post_attention_norm.data(), n, hidden, eps);
  gate_up_.resize(n * 2 * inter);
  MatMul(*pool_, normed_.data(), n, w.gate_up.view(), gate_up_.data());
  act_.resize(n * inter);
  // Per token on the pool (a 128-token prefill's SiLU was ~2% of it, on one thread); each
  // token's arithmetic is the same whatever the split.
  pool_->ParallelFor(n, TokensPerChunk(2 * inter), [&](size_t begin, size_t end) {
    SiluMul(gate_up_.data() + begin * 2 * inter, end - begin, inter, act_.data() + begin * inter);
  });
  MatMul(*pool_, act_.data(), n, w.down.view(), proj_.data());
  if (absl::Status s = comm_->AllReduceSum(proj_.data(), proj_.size()); !s.ok()) return s;
  AddInPlace(hidden_.data(), proj_.data(), n * hidden);
  return absl::OkStatus();
}

}  // namespace dsm
