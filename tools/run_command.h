#pragma once
// `dsm run`: runs a whole tensor-parallel group offline over a JSONL file of prompts.
// Input lines: {"prompt_token_ids": [...]} (optionally "max_tokens", "seed",
// "temperature" to override the flags for that line). Output lines, same order:
// {"token_ids": [...new tokens...], "finish_reason": "..."} (+ "logits" with --logits,
// "logprobs" with --logprobs N).

#include <iosfwd>
#include <string>

#include "absl/status/status.h"
#include "common/sampling_params.h"

namespace dsm {

struct RunOptions {
  std::string model_dir;
  int tp = 1;
  int max_tokens = 16;
  SamplingParams sampling;
  bool ignore_eos = false;
  bool return_logits = false;
  int logprobs = 0;  // > 0: add "logprobs" with the top-n alternatives per token
  int threads_per_rank = 0;
  int64_t kv_cache_mib = 1024;
  int kv_block_size = 16;
  int max_batch_tokens = 512;
  int comm_timeout_s = 60;
  std::string backend = "cpu";     // "cpu" or "cuda"
  std::string precision = "bf16";  // cuda: bf16 or fp32
  double gpu_memory_fraction = 0.9;
  bool device_sampling = true;           // cuda
  std::string kv_cache_dtype = "f32";    // cpu: f32 or bf16
  std::string activation_dtype = "f32";  // cpu: f32 (exact) or bf16 (dot-product mode)
  std::string worker_binary;             // empty = beside this executable
};

absl::Status RunOffline(const RunOptions& options, std::istream& input, std::ostream& output);

}  // namespace dsm
