// Prefill and decode throughput of one rank in-process (tp 1), and its peak RSS.
// Without --model it writes (once) a random model with DeepSeek-Math-7B's layer shapes
// (hidden 4096, 32 MHA heads, intermediate 11008, bf16) and --layers layers, so that
// per-layer figures extrapolate to the 30-layer model.
//
//   ./build/benchmarks/engine_benchmark --layers 2 --batch 1 --steps 16

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "common/process_stats.h"
#include "tools/model_generator.h"
#include "worker/step_runner.h"

ABSL_FLAG(std::string, model, "", "model directory (default: generated 7B-shaped layers)");
ABSL_FLAG(int, layers, 2, "layers of the generated model");
ABSL_FLAG(int, vocab, 32000, "vocabulary of the generated model");
ABSL_FLAG(int, batch, 1, "sequences decoding together");
ABSL_FLAG(int, prompt, 128, "prompt tokens per sequence");
ABSL_FLAG(int, steps, 16, "decode steps to time");
ABSL_FLAG(int, threads, 0, "threads (0 = all cores)");

namespace dsm {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

int Main() {
  std::string dir = absl::GetFlag(FLAGS_model);
  if (dir.empty()) {
    dir = absl::StrCat(std::filesystem::temp_directory_path().string(), "/dsm-bench-7b-shape-",
                       absl::GetFlag(FLAGS_layers), "l-", absl::GetFlag(FLAGS_vocab), "v");
    if (!std::filesystem::exists(dir + "/config.json")) {
      GeneratedModelSpec spec;
      spec.hidden_size = 4096;
      spec.intermediate_size = 11008;
      spec.num_attention_heads = 32;
      spec.num_key_value_heads = 32;
      spec.num_hidden_layers = absl::GetFlag(FLAGS_layers);
      spec.vocab_size = absl::GetFlag(FLAGS_vocab);
      spec.max_position_embeddings = 4096;
      std::fprintf(stderr, "writing %s ...\n", dir.c_str());
      if (absl::Status s = WriteRandomModel(dir, spec); !s.ok()) {
        std::fprintf(stderr, "%s\n", s.ToString().c_str());
        return 1;
      }
    }
  }
  const int batch = absl::GetFlag(FLAGS_batch);
  const int prompt = absl::GetFlag(FLAGS_prompt);
  const int steps = absl::GetFlag(FLAGS_steps);
  RunnerOptions options;
  options.model_dir = dir;
  options.executor.threads = absl::GetFlag(FLAGS_threads);
  options.executor.kv_cache_bytes = int64_t{4} << 30;
  const auto load_start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<StepRunner>> runner =
      StepRunner::Create(options, std::make_unique<SingleRankCommunicator>());
  if (!runner.ok()) {
    std::fprintf(stderr, "%s\n", runner.status().ToString().c_str());
    return 1;
  }
  const double load_s = Seconds(load_start);
  const v1::WorkerInfo info = (*runner)->Info();
  const int block = info.kv_block_size();
  const int blocks_per_seq = (prompt + steps + 1 + block - 1) / block;

  auto make_step = [&](int seq, std::vector<int32_t> tokens, int64_t start, bool first) {
    v1::SequenceStep s;
    s.set_seq_id(seq);
    s.mutable_token_ids()->Assign(tokens.begin(), tokens.end());
    s.set_start_position(start);
    for (int b = 0; b < blocks_per_seq; ++b) s.add_block_table(seq * blocks_per_seq + b);
    s.set_sample(true);
    if (first) {
      s.mutable_sampling()->set_top_p(1.0f);
      s.mutable_sampling()->set_repetition_penalty(1.0f);
      s.set_prompt_length(static_cast<int32_t>(tokens.size()));
    }
    return s;
  };

  // Prefill every sequence (one step each), then decode them together.
  std::vector<int32_t> last(batch);
  const auto prefill_start = std::chrono::steady_clock::now();
  for (int s = 0; s < batch; ++s) {
    std::vector<int32_t> tokens(prompt);
    for (int i = 0; i < prompt; ++i) tokens[i] = (i * 37 + s * 11) % info.vocab_size();
    v1::StepRequest request;
    *request.add_sequences() = make_step(s, tokens, 0, true);
    absl::StatusOr<v1::StepResponse> r = (*runner)->Step(request);
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
      return 1;
    }
    last[s] = r->tokens(0).token_id();
  }
  const double prefill_s = Seconds(prefill_start);
  const auto decode_start = std::chrono::steady_clock::now();
  for (int step = 0; step < steps; ++step) {
    v1::StepRequest request;
    for (int s = 0; s < batch; ++s)
      *request.add_sequences() = make_step(s, {last[s]}, prompt + step, false);
    absl::StatusOr<v1::StepResponse> r = (*runner)->Step(request);
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
      return 1;
    }
    for (int s = 0; s < batch; ++s) last[s] = r->tokens(s).token_id();
  }
  const double decode_s = Seconds(decode_start);
  const double weight_gb = info.weight_bytes() / 1e9;
  std::printf("model %s: %.2f GB of weights, simd %s, %d threads, loaded in %.2f s\n", dir.c_str(),
              weight_gb, info.simd_target().c_str(), info.threads(), load_s);
  std::printf("prefill: %d x %d tokens in %.3f s = %.1f tokens/s\n", batch, prompt, prefill_s,
              batch * prompt / prefill_s);
  std::printf(
      "decode: batch %d, %d steps, %.2f ms/step, %.1f tokens/s, weights streamed at %.2f GB/s\n",
      batch, steps, 1e3 * decode_s / steps, batch * steps / decode_s, weight_gb * steps / decode_s);
  std::printf("peak RSS %.2f GB (weights %.2f GB + KV in use + activations)\n",
              PeakResidentBytes() / 1e9, weight_gb);
  return 0;
}

}  // namespace
}  // namespace dsm

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return dsm::Main();
}
