#include "worker/executor/cpu_executor.h"

#include <malloc.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "kernels/cpu/matmul.h"             // MatMulTargetName
#include "kernels/cpu/pair_panel_matmul.h"  // HasBf16DotProducts
#include "worker/model/llama_weights.h"
#include "worker/sampler.h"

namespace dsm {

absl::StatusOr<std::unique_ptr<CpuExecutor>> CpuExecutor::Create(const ExecutorOptions& options,
                                                                 const Checkpoint& checkpoint,
                                                                 Communicator* comm) {
  const ModelConfig& config = checkpoint.config();
  const ShardSpec shard{comm->rank(), comm->world_size()};
  if (options.kv_block_size <= 0) return absl::InvalidArgumentError("--kv-block-size must be > 0");
  if (options.kv_cache_bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the KV cache size must be > 0 bytes, got ", options.kv_cache_bytes));
  }
  DType kv_dtype = DType::kF32;
  if (options.kv_cache_dtype == "bf16") {
    kv_dtype = DType::kBF16;
  } else if (options.kv_cache_dtype != "f32") {
    return absl::InvalidArgumentError(
        absl::StrCat("--kv-cache-dtype must be f32 or bf16, got '", options.kv_cache_dtype, "'"));
  }
  WeightLayout layout = WeightLayout::kPanels;
  if (options.activation_dtype == "bf16") {
    layout = WeightLayout::kPairPanels;
  } else if (options.activation_dtype != "f32") {
    return absl::InvalidArgumentError(absl::StrCat("--activation-dtype must be f32 or bf16, got '",
                                                   options.activation_dtype, "'"));
  }
  absl::StatusOr<LlamaWeights> weights =
      LoadLlamaWeights(checkpoint, shard, options.progress, layout);
  if (!weights.ok()) return weights.status();

  // From here on the rank allocates per-step buffers of up to a few vocab-sized rows
  // (logits, sampler scratch): keep freed memory in the heap instead of returning it to
  // the kernel, which made every decode step page-fault and zero those megabytes again.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);

  const ShardDims local = LocalDims(config, shard.world_size);
  const size_t block_bytes = KvCache::BlockBytes(config.num_hidden_layers, options.kv_block_size,
                                                 local.kv_heads, config.head_dim, kv_dtype);
  const size_t blocks_per_context =
      (config.max_position_embeddings + options.kv_block_size - 1) / options.kv_block_size;
  const size_t num_blocks =
      std::min<size_t>(options.kv_cache_bytes / block_bytes,
                       blocks_per_context * std::max(1, options.max_sequences));
  if (num_blocks < 1) {
    return absl::ResourceExhaustedError(absl::StrCat("KV cache of ", options.kv_cache_bytes,
                                                     " bytes holds no block of ", block_bytes,
                                                     " bytes"));
  }
  auto executor = std::unique_ptr<CpuExecutor>(new CpuExecutor());
  executor->device_ = MatMulTargetName();
  if (layout == WeightLayout::kPairPanels) {
    absl::StrAppend(&executor->device_, HasBf16DotProducts()
                                            ? ", bf16 activations (VDPBF16PS)"
                                            : ", bf16 activations (emulated: no AVX-512 BF16)");
  }
  executor->pool_ =
      std::make_unique<ThreadPool>(options.threads > 0 ? options.threads : DefaultThreadCount());
  executor->kv_cache_ =
      std::make_unique<KvCache>(config.num_hidden_layers, num_blocks, options.kv_block_size,
                                local.kv_heads, config.head_dim, kv_dtype);
  if (!executor->kv_cache_->ok()) {
    return absl::ResourceExhaustedError(absl::StrCat("out of memory: the KV cache of ", num_blocks,
                                                     " blocks needs ", num_blocks * block_bytes,
                                                     " bytes (--kv-cache-mib)"));
  }
  executor->rank0_ = shard.rank == 0;
  executor->model_ = std::make_unique<LlamaModel>(
      config, shard, *std::move(weights), executor->kv_cache_.get(), comm, executor->pool_.get());
  return executor;
}

absl::StatusOr<StepOutput> CpuExecutor::Forward(std::span<const SequenceInput> batch) {
  absl::StatusOr<std::vector<float>> logits = model_->Forward(batch);
  if (!logits.ok()) return logits.status();
  StepOutput output;
  output.logits = *std::move(logits);
  PickGreedyRows(batch, output);
  return output;
}

// Greedy rows are picked here, in parallel over rows on the pool, rather than one after
// another on the step runner's thread after a copy of each 400 KB row (5% of a
// 16-sequence decode step). GreedyPick is Sample()'s greedy arithmetic, so the tokens and
// logprobs are the same bits.
void CpuExecutor::PickGreedyRows(std::span<const SequenceInput> batch, StepOutput& output) {
  const size_t vocab = model_->config().vocab_size;
  std::vector<size_t> greedy_rows;
  size_t row = 0;
  for (const SequenceInput& seq : batch) {
    if (!seq.want_logits) continue;
    if (seq.greedy_only) greedy_rows.push_back(row);
    ++row;
  }
  if (!rank0_ || greedy_rows.empty() || output.logits.size() < row * vocab) return;
  output.greedy_ids.assign(row, -1);
  output.greedy_logprobs.assign(row, 0.0f);
  ForEachRow(greedy_rows.size(), [&](size_t i) {
    const size_t r = greedy_rows[i];
    const SampleResult pick =
        GreedyPick(std::span<const float>(output.logits.data() + r * vocab, vocab));
    output.greedy_ids[r] = pick.token_id;
    output.greedy_logprobs[r] = pick.logprob;
  });
}

void CpuExecutor::ForEachRow(size_t rows, const std::function<void(size_t)>& fn) {
  pool_->ParallelFor(rows, 1, [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; ++r) fn(r);
  });
}

ExecutorInfo CpuExecutor::Info() const {
  ExecutorInfo info;
  info.backend = "cpu";
  info.device = device_;
  info.threads = pool_->num_threads();
  info.weight_bytes = model_->weights().num_bytes();
  info.kv_cache_bytes = kv_cache_->num_bytes();
  info.kv_block_size = kv_cache_->block_size();
  info.kv_num_blocks = kv_cache_->num_blocks();
  return info;
}

}  // namespace dsm
