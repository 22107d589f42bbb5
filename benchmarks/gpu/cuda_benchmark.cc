// Prefill and decode throughput of the CUDA executor on DeepSeek-Math-7B's shape (30
// layers, hidden 4096, 32 heads, intermediate 11008, vocab 102400) with random bf16
// weights made on the device, at several batch sizes. Writes one JSON object per batch
// size to --out and a summary to stdout. Run by benchmarks/gpu/run.sh.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "kernels/cuda/device_info.h"
#include "nlohmann/json.hpp"
#include "worker/comm/communicator.h"
#include "worker/cuda/cuda_executor.h"
#include "worker/sampler.h"

ABSL_FLAG(int, layers, 30, "decoder layers");
ABSL_FLAG(int, hidden, 4096, "hidden size");
ABSL_FLAG(int, heads, 32, "attention heads");
ABSL_FLAG(int, kv_heads, 32, "KV heads");
ABSL_FLAG(int, intermediate, 11008, "MLP intermediate size");
ABSL_FLAG(int, vocab, 102400, "vocabulary size");
ABSL_FLAG(int, context, 4096, "max positions");
ABSL_FLAG(std::string, precision, "bf16", "bf16 or fp32");
ABSL_FLAG(std::string, batches, "1,8,64,256", "batch sizes (sequences decoding together)");
ABSL_FLAG(int, prompt, 128, "prompt tokens per sequence (prefill)");
ABSL_FLAG(int, decode_steps, 64, "timed decode steps per batch size");
ABSL_FLAG(int, max_step_tokens, 8192, "tokens per prefill step (chunked prefill)");
ABSL_FLAG(bool, cuda_graphs, true, "replay decode steps as CUDA graphs");
ABSL_FLAG(bool, custom_gemv, true, "bf16: own GEMV kernel for 1-token steps");
ABSL_FLAG(std::string, gemv_kernel, "rows2-cs-pdl",
          "which GEMV kernel: warp, rows1, rows2, rows4, rows8 (+ -cs: streaming loads, "
          "+ -pdl: overlap the previous kernel)");
ABSL_FLAG(bool, fuse_decode_epilogues, true,
          "1-token steps: RoPE + KV-cache store and SiLU·mul as epilogues of the q/k/v and "
          "gate/up GEMVs (else kernels of their own)");
ABSL_FLAG(std::string, out, "", "JSON lines output (one object per batch size)");

namespace dsm {
namespace {

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int Main() {
  absl::StatusOr<std::vector<CudaDevice>> devices = ListCudaDevices();
  if (!devices.ok() || devices->empty()) {
    std::fprintf(stderr, "cuda_benchmark: no CUDA device: %s\n",
                 devices.ok() ? "none visible" : std::string(devices.status().message()).c_str());
    return 77;
  }
  ModelConfig config;
  config.model_type = "llama";
  config.hidden_size = absl::GetFlag(FLAGS_hidden);
  config.intermediate_size = absl::GetFlag(FLAGS_intermediate);
  config.num_hidden_layers = absl::GetFlag(FLAGS_layers);
  config.num_attention_heads = absl::GetFlag(FLAGS_heads);
  config.num_key_value_heads = absl::GetFlag(FLAGS_kv_heads);
  config.head_dim = config.hidden_size / config.num_attention_heads;
  config.vocab_size = absl::GetFlag(FLAGS_vocab);
  config.max_position_embeddings = absl::GetFlag(FLAGS_context);
  config.torch_dtype = DType::kBF16;

  std::vector<int> batches;
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_batches), ',')) {
    int b = 0;
    if (!absl::SimpleAtoi(part, &b) || b < 1) {
      std::fprintf(stderr, "cuda_benchmark: bad --batches entry \"%s\"\n",
                   std::string(part).c_str());
      return 2;
    }
    batches.push_back(b);
  }
  const int max_batch = *std::max_element(batches.begin(), batches.end());
  const int prompt = absl::GetFlag(FLAGS_prompt);
  const int steps = absl::GetFlag(FLAGS_decode_steps);
  const int warmup = 3;  // eager, capture, first replay

  ExecutorOptions options;
  options.backend = "cuda";
  options.cuda_precision = absl::GetFlag(FLAGS_precision);
  options.max_sequences = max_batch;
  options.max_step_tokens = std::max(absl::GetFlag(FLAGS_max_step_tokens), max_batch);
  options.cuda_graphs = absl::GetFlag(FLAGS_cuda_graphs);
  options.custom_gemv = absl::GetFlag(FLAGS_custom_gemv);
  options.gemv_kernel = absl::GetFlag(FLAGS_gemv_kernel);
  options.fuse_decode_epilogues = absl::GetFlag(FLAGS_fuse_decode_epilogues);
  SingleRankCommunicator comm;
  const auto load_start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<ModelExecutor>> executor =
      CreateCudaExecutorWithRandomWeights(config, options, &comm, 1234);
  if (!executor.ok()) {
    std::fprintf(stderr, "cuda_benchmark: %s\n", executor.status().ToString().c_str());
    return 1;
  }
  const ExecutorInfo info = (*executor)->Info();
  std::printf(
      "device: %s\nweights: %.2f GB, KV pool: %zu blocks x %zu positions (%.1f GB), "
      "set up in %.1f s\n",
      info.device.c_str(), info.weight_bytes / 1e9, info.kv_num_blocks, info.kv_block_size,
      info.kv_cache_bytes / 1e9, Since(load_start));

  const int block = static_cast<int>(info.kv_block_size);
  const int positions = prompt + 3 * warmup + steps + 2 * std::max(4, steps / 4) + 1;
  const int blocks_per_seq = (positions + block - 1) / block;
  if (static_cast<size_t>(max_batch) * blocks_per_seq > info.kv_num_blocks) {
    std::fprintf(stderr, "cuda_benchmark: the KV pool holds %zu blocks, %d needed\n",
                 info.kv_num_blocks, max_batch * blocks_per_seq);
    return 1;
  }
  std::ofstream out;
  if (!absl::GetFlag(FLAGS_out).empty()) out.open(absl::GetFlag(FLAGS_out));
  // step ms: a decode step with greedy sampling on the device; sampled ms: the same step
  // sampling at temperature 1, top-k 50, top-p 0.95 from device summaries of the rows (the full row
  // fetched when a summary cannot decide); host-sample ms: the step returning full logits,
  // plus an argmax on the host.
  std::printf("%6s %14s %14s %12s %14s %12s %14s\n", "batch", "prefill tok/s", "decode tok/s",
              "step ms", "weights GB/s", "sampled ms", "host-sample ms");

  for (int batch : batches) {
    std::vector<std::vector<int32_t>> tables(batch), tokens(batch);
    for (int s = 0; s < batch; ++s) {
      tables[s].resize(blocks_per_seq);
      std::iota(tables[s].begin(), tables[s].end(), s * blocks_per_seq);
      tokens[s].resize(prompt);
      for (int i = 0; i < prompt; ++i) tokens[s][i] = (s * 7919 + i * 104729) % config.vocab_size;
    }
    // Prefill: whole prompts, packed into steps of at most max_step_tokens tokens. The
    // first pass warms up (cuBLASLt picks its algorithms per shape); the second is timed.
    auto prefill_start = std::chrono::steady_clock::now();
    for (int pass = 0; pass < 2; ++pass) {
      prefill_start = std::chrono::steady_clock::now();
      for (int first = 0; first < batch;) {
        std::vector<SequenceInput> step;
        int tokens_in_step = 0;
        while (first < batch && tokens_in_step + prompt <= options.max_step_tokens) {
          step.push_back(SequenceInput{tokens[first], 0, tables[first], true});
          tokens_in_step += prompt;
          ++first;
        }
        if (step.empty()) {
          std::fprintf(stderr, "cuda_benchmark: --prompt exceeds --max_step_tokens\n");
          return 1;
        }
        absl::StatusOr<StepOutput> logits = (*executor)->Forward(step);
        if (!logits.ok()) {
          std::fprintf(stderr, "prefill: %s\n", logits.status().ToString().c_str());
          return 1;
        }
      }
    }
    const double prefill_s = Since(prefill_start);

    // Decode: every sequence feeds one token per step. Greedy on the device (token ids
    // come back); then sampling from device summaries; then a few steps with the full
    // logits on the host and a host argmax: the cost of host-side sampling.
    std::vector<int32_t> next(batch, 1);
    double decode_s = 0, sampled_s = 0, host_s = 0;
    int fetched_rows = 0;
    const int side_steps = std::max(4, steps / 4);
    SamplingParams sampling;
    sampling.temperature = 1.0f;
    sampling.top_k = 50;  // random weights give flat rows: a top-p nucleus alone is wide
    sampling.top_p = 0.95f;
    int position = prompt;
    enum Phase { kGreedy, kSummary, kHost };
    for (Phase phase : {kGreedy, kSummary, kHost}) {
      const int timed_steps = phase == kGreedy ? steps : side_steps;
      for (int step = 0; step < warmup + timed_steps; ++step) {
        std::vector<SequenceInput> inputs;
        for (int s = 0; s < batch; ++s) {
          SequenceInput input{std::span<const int32_t>(&next[s], 1), position, tables[s], true};
          input.greedy_only = phase == kGreedy;
          input.summary = phase == kSummary;
          input.temperature = sampling.temperature;
          input.uniform = DrawUniform(sampling, position * 1000 + s);
          inputs.push_back(input);
        }
        ++position;
        const auto start = std::chrono::steady_clock::now();
        absl::StatusOr<StepOutput> out = (*executor)->Forward(inputs);
        if (!out.ok()) {
          std::fprintf(stderr, "decode: %s\n", out.status().ToString().c_str());
          return 1;
        }
        for (int s = 0; s < batch; ++s) {
          if (phase == kGreedy) {
            next[s] = out->greedy_ids[s];
          } else if (phase == kSummary) {
            std::optional<SampleResult> sampled = SampleFromSummary(
                out->summaries[s], sampling, config.vocab_size, inputs[s].uniform);
            if (!sampled) {
              absl::StatusOr<std::vector<float>> row = (*executor)->LastStepLogits(s);
              if (!row.ok()) {
                std::fprintf(stderr, "decode: %s\n", row.status().ToString().c_str());
                return 1;
              }
              sampled = Sample(*row, sampling, {}, {}, position * 1000 + s);
              ++fetched_rows;
            }
            next[s] = sampled->token_id;
          } else {
            const float* row = out->logits.data() + static_cast<size_t>(s) * config.vocab_size;
            next[s] = static_cast<int32_t>(std::max_element(row, row + config.vocab_size) - row);
          }
        }
        if (step >= warmup)
          (phase == kGreedy ? decode_s : phase == kSummary ? sampled_s : host_s) += Since(start);
      }
    }
    const double step_ms = decode_s / steps * 1e3;
    const double decode_tps = batch * steps / decode_s;
    const double prefill_tps = static_cast<double>(batch) * prompt / prefill_s;
    const double bandwidth = info.weight_bytes / (decode_s / steps) / 1e9;
    const double host_step_ms = host_s / side_steps * 1e3;
    const double sampled_step_ms = sampled_s / side_steps * 1e3;
    std::printf("%6d %14.0f %14.1f %12.3f %14.0f %12.3f %14.3f\n", batch, prefill_tps, decode_tps,
                step_ms, bandwidth, sampled_step_ms, host_step_ms);
    std::fflush(stdout);
    if (out.is_open()) {
      nlohmann::json j = {{"device", info.device},
                          {"batch", batch},
                          {"prompt_tokens", prompt},
                          {"prefill_tokens_per_s", prefill_tps},
                          {"decode_tokens_per_s", decode_tps},
                          {"decode_step_ms", step_ms},
                          {"weight_read_gb_per_s", bandwidth},
                          {"host_sampling_step_ms", host_step_ms},
                          {"summary_sampling_step_ms", sampled_step_ms},
                          {"summary_rows_fetched_in_full", fetched_rows},
                          {"cuda_graphs", options.cuda_graphs},
                          {"custom_gemv", options.custom_gemv},
                          {"gemv_kernel", options.gemv_kernel},
                          {"fuse_decode_epilogues", options.fuse_decode_epilogues},
                          {"precision", options.cuda_precision},
                          {"weight_bytes", info.weight_bytes}};
      out << j.dump() << "\n";
    }
  }
  return 0;
}

}  // namespace
}  // namespace dsm

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return dsm::Main();
}
