#pragma once
// The LLaMA forward pass of one tensor-parallel rank over a batch that mixes prefill
// chunks and decode tokens of different sequences.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model_config.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/thread_pool.h"
#include "worker/comm/communicator.h"
#include "worker/executor/step_batch.h"
#include "worker/kv_cache.h"
#include "worker/model/llama_weights.h"

namespace dsm {

class LlamaModel {
 public:
  LlamaModel(ModelConfig config, ShardSpec shard, LlamaWeights weights, KvCache* kv_cache,
             Communicator* comm, ThreadPool* pool);

  // Validates the batch (ValidateStepBatch) before any state is touched, then runs it;
  // writes K/V of every token into the cache. Returns full-vocab logits
  // [number of sequences with want_logits, vocab], in batch order, on every rank.
  absl::StatusOr<std::vector<float>> Forward(std::span<const SequenceInput> batch);

  const ModelConfig& config() const { return config_; }
  const LlamaWeights& weights() const { return weights_; }

 private:
  absl::Status Layer(size_t index, size_t num_tokens, const std::vector<AttentionQuery>& queries,
                     const std::vector<int64_t>& positions,
                     const std::vector<std::pair<int32_t, int64_t>>& slots);
  // normed_ = RmsNorm(hidden_) for n tokens, split over the pool by token.
  void ParallelRmsNorm(const float* weight, size_t n, size_t hidden, float eps);

  ModelConfig config_;
  ShardSpec shard_;
  ShardDims local_;
  LlamaWeights weights_;
  KvCache* kv_cache_;
  Communicator* comm_;
  ThreadPool* pool_;
  RopeTable rope_;

  // Activations and logits scratch, grown to the largest batch seen and kept: a step
  // that allocated them afresh would page-fault and zero megabytes each time.
  std::vector<float> hidden_, normed_, qkv_, q_, attn_, proj_, gate_up_, act_;
  std::vector<float> local_logits_, gathered_;
};

}  // namespace dsm
