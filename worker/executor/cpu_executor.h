#pragma once
// The CPU backend: bf16/f16/f32 weights as stored, fp32 activations and KV cache, Highway
// kernels on a thread pool. Exact: golden-identical and bitwise batch-invariant.

#include <memory>

#include "absl/status/statusor.h"
#include "common/shard_spec.h"
#include "kernels/cpu/thread_pool.h"
#include "worker/checkpoint.h"
#include "worker/comm/communicator.h"
#include "worker/executor/model_executor.h"
#include "worker/kv_cache.h"
#include "worker/model/llama_model.h"

namespace dsm {

class CpuExecutor : public ModelExecutor {
 public:
  // Loads this rank's shard from the checkpoint and sizes the KV pool from
  // options.kv_cache_bytes; `comm` must outlive the executor.
  static absl::StatusOr<std::unique_ptr<CpuExecutor>> Create(const ExecutorOptions& options,
                                                             const Checkpoint& checkpoint,
                                                             Communicator* comm);

  // Always full logits (sampling on the host keeps the CPU path exact); on rank 0 also
  // the greedy_only rows' tokens.
  absl::StatusOr<StepOutput> Forward(std::span<const SequenceInput> batch) override;
  void ForEachRow(size_t rows, const std::function<void(size_t)>& fn) override;
  ExecutorInfo Info() const override;
  const ModelConfig& config() const override { return model_->config(); }

 private:
  CpuExecutor() = default;

  void PickGreedyRows(std::span<const SequenceInput> batch, StepOutput& output);

  std::string device_;  // SIMD target, and the bf16 dot-product mode when it is on
  bool rank0_ = false;  // the rank that samples
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<KvCache> kv_cache_;
  std::unique_ptr<LlamaModel> model_;
};

}  // namespace dsm
