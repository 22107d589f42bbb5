#pragma once
// The worker's one backend seam. An executor owns a rank's weights, its KV cache (layout
// and dtype are its business), scratch buffers and kernels, and turns one step into
// logits. The step runner above it validates, keeps sampling state and samples; the
// CPU executor wraps LlamaModel + KvCache + ThreadPool, the CUDA executor cuBLASLt,
// its own kernels and a KV pool in device memory.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model_config.h"
#include "worker/executor/step_batch.h"
#include "worker/load_progress.h"
#include "worker/logits_summary.h"

namespace dsm {

struct ExecutorOptions {
  std::string backend = "cpu";  // "cpu" or "cuda"
  int kv_block_size = 16;
  int max_sequences = 256;  // with a full context each, bounds the KV pool
  LoadProgress progress;    // may be empty

  // CPU backend.
  int threads = 0;  // 0 = all cores this process may use
  int64_t kv_cache_bytes = int64_t{1} << 30;
  // "f32" (exact, the default) or "bf16" (half the memory; K/V rounded to bf16).
  std::string kv_cache_dtype = "f32";
  // "f32" (exact, the default) or "bf16": activations rounded to bf16 for the weight
  // GEMMs, which then use AVX-512 BF16 dot products (opt-in, inexact; bf16 weights only).
  std::string activation_dtype = "f32";

  // CUDA backend.
  int cuda_device = -1;                      // -1: the rank's index among the visible devices
  double gpu_memory_fraction = 0.9;          // of the device's memory, for weights + buffers + KV
  std::string cuda_precision = "bf16";       // "bf16" (activations + KV) or "fp32" (exact)
  int max_step_tokens = 8192;                // activation buffers reserved for this many tokens
  bool cuda_graphs = true;                   // replay captured decode steps
  bool device_sampling = true;               // summarise rows that ask for it (else full rows)
  bool custom_gemv = true;                   // bf16: own GEMV kernel for 1-token steps
  std::string gemv_kernel = "rows2-cs-pdl";  // which (kernels/cuda/gemv.h: ParseGemvKernel)
  bool fuse_decode_epilogues = true;         // 1-token steps: RoPE + KV store, SiLU·mul in GEMVs
};

struct ExecutorInfo {
  std::string backend;  // "cpu" / "cuda"
  std::string device;   // SIMD target, or the GPU's name and precision
  int threads = 0;
  size_t weight_bytes = 0;
  size_t kv_cache_bytes = 0;
  size_t kv_block_size = 0;
  size_t kv_num_blocks = 0;
};

// What a step returns for its sequences with want_logits (its rows).
struct StepOutput {
  // Full-vocab f32 logits [rows, vocab]; empty when every row is greedy_only and the
  // executor filled `greedy_ids` instead.
  std::vector<float> logits;
  // Per row, when the executor sampled greedily itself: the argmax and its log-softmax.
  std::vector<int32_t> greedy_ids;
  std::vector<float> greedy_logprobs;
  // Per row, when the executor summarised rows that asked for a summary (rows that did not
  // ask have an empty entry); rows with a summary may be missing from `logits`.
  std::vector<LogitsSummary> summaries;
};

class ModelExecutor {
 public:
  virtual ~ModelExecutor() = default;

  // Runs the batch (already validated with ValidateStepBatch) and writes K/V of every
  // token into the cache. Returns, on rank 0, one row per sequence with want_logits in
  // batch order; other ranks may return nothing.
  virtual absl::StatusOr<StepOutput> Forward(std::span<const SequenceInput> batch) = 0;

  // The full logits of row `row` of the last Forward, for rows it only summarised.
  virtual absl::StatusOr<std::vector<float>> LastStepLogits(size_t row) {
    (void)row;
    return absl::UnimplementedError("this executor returns full logits rows");
  }

  // Calls fn(row) for rows [0, rows), in parallel where the executor has host threads
  // (the CPU pool, idle between forward passes); fn must be safe to run concurrently.
  virtual void ForEachRow(size_t rows, const std::function<void(size_t)>& fn) {
    for (size_t r = 0; r < rows; ++r) fn(r);
  }

  virtual ExecutorInfo Info() const = 0;
  virtual const ModelConfig& config() const = 0;
};

}  // namespace dsm
