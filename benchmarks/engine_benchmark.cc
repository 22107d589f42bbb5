// Prefill and decode throughput of one rank in-process (tp 1), next to the machine's
// limits measured in the same run: the weights streamed per decode step against the read
// bandwidth, the prefill FLOP rate against the fp32 FMA peak. The build machine's speed
// drifts over minutes, so the ratios are also taken from neighbouring runs: the FMA peak
// around every prefill round, and batch b against batch 1 in every decode round.
//
// Without --model it writes (once, under /tmp) a random bf16 model of --shape:
//   1b: the CPU-speed issue's 1.23 B model of DeepSeek-Math's family (hidden 2048, 16
//       layers, 16 MHA heads, intermediate 5504, vocab 102400);
//   7b: DeepSeek-Math-7B's layer shapes (hidden 4096, 32 heads, intermediate 11008),
//       --layers layers, vocab --vocab, so per-layer figures extrapolate to 30 layers.
//
//   ./build/benchmarks/engine_benchmark --batches 1,16 --threads 2 --json out.json

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "benchmarks/roofline.h"
#include "common/model_config.h"
#include "common/process_stats.h"
#include "nlohmann/json.hpp"
#include "tools/model_generator.h"
#include "worker/step_runner.h"

ABSL_FLAG(std::string, model, "", "model directory (default: a generated model of --shape)");
ABSL_FLAG(std::string, shape, "1b", "generated model: 1b or 7b (see the file's comment)");
ABSL_FLAG(int, layers, 2, "7b shape: layers of the generated model");
ABSL_FLAG(int, vocab, 32000, "7b shape: vocabulary of the generated model");
ABSL_FLAG(std::string, batches, "1,16", "comma-separated numbers of sequences decoding together");
ABSL_FLAG(int, prompt, 128, "prompt tokens per sequence (prefilled one sequence per step)");
ABSL_FLAG(int, steps, 16, "decode steps to time per batch size");
ABSL_FLAG(int, prefill_rounds, 3,
          "prefill timed in this many rounds of up to 4 prompts (mean and best round)");
ABSL_FLAG(int, decode_rounds, 3,
          "decode timed in this many rounds, each running every --batches size for --steps "
          "steps in turn, so that each batch-size ratio is taken from neighbouring minutes");
ABSL_FLAG(int, threads, 0, "threads (0 = all cores)");
ABSL_FLAG(float, temperature, 0.0f, "sampling temperature of every sequence (0 = greedy)");
ABSL_FLAG(std::string, kv_cache_dtype, "f32", "KV-cache elements: f32 (exact) or bf16");
ABSL_FLAG(std::string, activation_dtype, "f32",
          "f32 (exact) or bf16 (the opt-in AVX-512 BF16 dot-product mode)");
ABSL_FLAG(bool, roofline, true, "measure read bandwidth and FMA peak in the same run");
ABSL_FLAG(std::string, json, "", "also write the figures to this JSON file");

namespace dsm {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

absl::StatusOr<std::string> ModelDir() {
  std::string dir = absl::GetFlag(FLAGS_model);
  if (!dir.empty()) return dir;
  GeneratedModelSpec spec;
  spec.max_position_embeddings = 4096;
  const std::string shape = absl::GetFlag(FLAGS_shape);
  if (shape == "1b") {
    spec.hidden_size = 2048;
    spec.intermediate_size = 5504;
    spec.num_attention_heads = spec.num_key_value_heads = 16;
    spec.num_hidden_layers = 16;
    spec.vocab_size = 102400;
    dir = "/tmp/dsm-bench-1b";
  } else if (shape == "7b") {
    spec.hidden_size = 4096;
    spec.intermediate_size = 11008;
    spec.num_attention_heads = spec.num_key_value_heads = 32;
    spec.num_hidden_layers = absl::GetFlag(FLAGS_layers);
    spec.vocab_size = absl::GetFlag(FLAGS_vocab);
    dir = absl::StrCat("/tmp/dsm-bench-7b-shape-", spec.num_hidden_layers, "l-", spec.vocab_size,
                       "v");
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--shape must be 1b or 7b, got ", shape));
  }
  if (!std::filesystem::exists(dir + "/config.json")) {
    std::fprintf(stderr, "writing %s ...\n", dir.c_str());
    if (absl::Status s = WriteRandomModel(dir, spec); !s.ok()) return s;
  }
  return dir;
}

class Bench {
 public:
  Bench(StepRunner& runner, int prompt, int max_batch, int64_t blocks_per_seq)
      : runner_(runner),
        info_(runner.Info()),
        prompt_(prompt),
        blocks_per_seq_(blocks_per_seq),
        last_(max_batch),
        position_(max_batch, 0) {}

  // Prefills sequences [0, batch) one step each; returns seconds.
  absl::StatusOr<double> Prefill(int batch) {
    const auto start = std::chrono::steady_clock::now();
    for (int s = 0; s < batch; ++s) {
      std::vector<int32_t> tokens(prompt_);
      for (int i = 0; i < prompt_; ++i) tokens[i] = (i * 37 + s * 11) % info_.vocab_size();
      v1::StepRequest request;
      *request.add_sequences() = Step(s, tokens, 0, true);
      absl::StatusOr<v1::StepResponse> r = runner_.Step(request);
      if (!r.ok()) return r.status();
      last_[s] = r->tokens(0).token_id();
      position_[s] = prompt_;
    }
    return Seconds(start);
  }

  // Decodes sequences [0, batch) together for `steps` steps, each from where it stands;
  // returns each step's seconds (the service's inter-token latencies are compared with
  // their median and mean).
  absl::StatusOr<std::vector<double>> Decode(int batch, int steps) {
    std::vector<double> step_seconds;
    for (int step = 0; step < steps; ++step) {
      const auto start = std::chrono::steady_clock::now();
      v1::StepRequest request;
      for (int s = 0; s < batch; ++s)
        *request.add_sequences() = Step(s, {last_[s]}, position_[s], false);
      absl::StatusOr<v1::StepResponse> r = runner_.Step(request);
      if (!r.ok()) return r.status();
      for (int s = 0; s < batch; ++s) {
        last_[s] = r->tokens(s).token_id();
        ++position_[s];
      }
      step_seconds.push_back(Seconds(start));
    }
    return step_seconds;
  }

 private:
  v1::SequenceStep Step(int seq, const std::vector<int32_t>& tokens, int64_t start, bool first) {
    v1::SequenceStep s;
    s.set_seq_id(seq);
    s.mutable_token_ids()->Assign(tokens.begin(), tokens.end());
    s.set_start_position(start);
    for (int b = 0; b < blocks_per_seq_; ++b) s.add_block_table(seq * blocks_per_seq_ + b);
    s.set_sample(true);
    if (first) {
      s.mutable_sampling()->set_temperature(absl::GetFlag(FLAGS_temperature));
      s.mutable_sampling()->set_top_p(1.0f);
      s.mutable_sampling()->set_repetition_penalty(1.0f);
      s.mutable_sampling()->set_seed(seq + 1);
      s.set_prompt_length(static_cast<int32_t>(tokens.size()));
    }
    return s;
  }

  StepRunner& runner_;
  v1::WorkerInfo info_;
  int prompt_;
  int64_t blocks_per_seq_;
  std::vector<int32_t> last_;
  std::vector<int64_t> position_;
};

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "%s\n", s.ToString().c_str());
  return 1;
}

int Main() {
  absl::StatusOr<std::string> dir = ModelDir();
  if (!dir.ok()) return Fail(dir.status());
  std::vector<int> batches;
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_batches), ',')) {
    int b;
    if (!absl::SimpleAtoi(part, &b) || b < 1) {
      return Fail(absl::InvalidArgumentError(absl::StrCat("bad --batches entry '", part, "'")));
    }
    batches.push_back(b);
  }
  const int max_batch = *std::max_element(batches.begin(), batches.end());
  const int prompt = absl::GetFlag(FLAGS_prompt);
  const int steps = absl::GetFlag(FLAGS_steps);
  if (prompt < 1 || steps < 1) {
    return Fail(absl::InvalidArgumentError("--prompt and --steps must be at least 1"));
  }
  const int threads =
      absl::GetFlag(FLAGS_threads) > 0 ? absl::GetFlag(FLAGS_threads) : DefaultThreadCount();
  nlohmann::json out;
  double bandwidth = 0, fma_peak = 0;
  if (absl::GetFlag(FLAGS_roofline)) {
    ThreadPool pool(threads);
    bandwidth = MeasureReadBandwidth(pool);
    fma_peak = MeasureFmaPeak(pool);
    std::printf("machine: read bandwidth %.1f GB/s, fp32 FMA peak %.1f GFLOP/s (%d threads)\n",
                bandwidth / 1e9, fma_peak / 1e9, threads);
    out["read_bandwidth_GBps"] = bandwidth / 1e9;
    out["fma_peak_GFLOPps"] = fma_peak / 1e9;
  }

  RunnerOptions options;
  options.model_dir = *dir;
  options.executor.threads = threads;
  // A KV pool of just the blocks the run uses.
  absl::StatusOr<ModelConfig> config = LoadModelConfig(*dir);
  if (!config.ok()) return Fail(config.status());
  const int64_t block = options.executor.kv_block_size;
  const int decode_rounds = std::max(1, absl::GetFlag(FLAGS_decode_rounds));
  // Sequence 0 decodes in every round of every batch size, continuing where it stood.
  const int64_t most_decoded =
      std::max<int64_t>(steps + 2, static_cast<int64_t>(batches.size()) * decode_rounds * steps);
  const int64_t blocks_per_seq = (prompt + most_decoded + 1 + block - 1) / block;
  const int64_t kv_element_bytes = absl::GetFlag(FLAGS_kv_cache_dtype) == "bf16" ? 2 : 4;
  options.executor.kv_cache_bytes = max_batch * blocks_per_seq * block * 2 *
                                    config->num_hidden_layers * config->kv_size() *
                                    kv_element_bytes;
  options.executor.kv_cache_dtype = absl::GetFlag(FLAGS_kv_cache_dtype);
  options.executor.activation_dtype = absl::GetFlag(FLAGS_activation_dtype);
  const auto load_start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<StepRunner>> runner =
      StepRunner::Create(options, std::make_unique<SingleRankCommunicator>());
  if (!runner.ok()) return Fail(runner.status());
  const double load_s = Seconds(load_start);
  const v1::WorkerInfo info = (*runner)->Info();
  // Per token every layer weight is used once (2 FLOP per weight); a decode step reads
  // all layer weights and the lm_head, not the embedding (one row per token).
  const double hidden = config->hidden_size;
  const double layer_weights =
      config->num_hidden_layers *
      (hidden * (config->q_size() + 2.0 * config->kv_size()) + config->q_size() * hidden +
       3.0 * hidden * config->intermediate_size);
  const double vocab_weights = static_cast<double>(config->vocab_size) * hidden;
  const double bytes_per_weight =
      static_cast<double>(info.weight_bytes()) / (layer_weights + 2.0 * vocab_weights);
  const double streamed_bytes = bytes_per_weight * (layer_weights + vocab_weights);
  const double prefill_flop_per_token = 2.0 * layer_weights;
  // A decode token also runs the lm_head (attention's few FLOPs left out).
  const double decode_flop_per_token = 2.0 * (layer_weights + vocab_weights);
  std::printf(
      "model %s: %.2f GB of weights (%.2f GB read per decode step), simd %s, %d threads, "
      "loaded in %.2f s\n",
      dir->c_str(), info.weight_bytes() / 1e9, streamed_bytes / 1e9, info.simd_target().c_str(),
      info.threads(), load_s);
  out["model"] = *dir;
  out["threads"] = info.threads();
  out["weight_GB"] = info.weight_bytes() / 1e9;
  out["temperature"] = absl::GetFlag(FLAGS_temperature);

  Bench bench(**runner, prompt, max_batch, blocks_per_seq);
  // Warm-up over every sequence: touches the KV pages and scratch buffers once, as a
  // serving process long since has.
  if (absl::StatusOr<double> s = bench.Prefill(max_batch); !s.ok()) return Fail(s.status());
  if (absl::StatusOr<std::vector<double>> s = bench.Decode(max_batch, steps + 2); !s.ok())
    return Fail(s.status());

  // Rounds of up to 4 prompts: the mean over all of them, and the best round, which is
  // what compares like for like with the limits (each the best of its repeats). Beside
  // each round the FMA peak is measured again just before and after it, so each round
  // also has a ratio taken within seconds (this machine's speed drifts over minutes).
  const int prefill_runs = std::min(max_batch, 4);
  const int prefill_rounds = std::max(1, absl::GetFlag(FLAGS_prefill_rounds));
  std::unique_ptr<ThreadPool> probe_pool;
  if (absl::GetFlag(FLAGS_roofline)) probe_pool = std::make_unique<ThreadPool>(threads);
  double prefill_total_s = 0, prefill_best_s = 0;
  std::vector<double> round_fractions;
  for (int round = 0; round < prefill_rounds; ++round) {
    const double peak_before = probe_pool ? MeasureFmaPeak(*probe_pool, 3) : 0;
    absl::StatusOr<double> s = bench.Prefill(prefill_runs);
    if (!s.ok()) return Fail(s.status());
    const double peak_after = probe_pool ? MeasureFmaPeak(*probe_pool, 3) : 0;
    prefill_total_s += *s;
    prefill_best_s = round == 0 ? *s : std::min(prefill_best_s, *s);
    if (probe_pool) {
      round_fractions.push_back(prefill_runs * prompt / *s * prefill_flop_per_token /
                                std::max(peak_before, peak_after));
    }
  }
  const double prefill_tps = prefill_rounds * prefill_runs * prompt / prefill_total_s;
  const double prefill_flops = prefill_tps * prefill_flop_per_token;
  const double prefill_best_flops = prefill_runs * prompt / prefill_best_s * prefill_flop_per_token;
  std::printf("prefill: %d-token prompt, %.1f tokens/s = %.1f GFLOP/s", prompt, prefill_tps,
              prefill_flops / 1e9);
  if (fma_peak > 0) std::printf(" = %.0f%% of the FMA peak", 100 * prefill_flops / fma_peak);
  std::printf("; best of %d rounds %.1f GFLOP/s", prefill_rounds, prefill_best_flops / 1e9);
  if (fma_peak > 0) std::printf(" = %.0f%%", 100 * prefill_best_flops / fma_peak);
  std::printf("\n");
  if (!round_fractions.empty()) {
    std::printf("prefill rounds against the FMA peak measured around each:");
    for (double f : round_fractions) std::printf(" %.0f%%", 100 * f);
    std::printf(" (median %.0f%%)\n", 100 * Median(round_fractions));
  }
  out["prefill"] = {{"prompt", prompt},
                    {"rounds", prefill_rounds},
                    {"tokens_per_s", prefill_tps},
                    {"GFLOPps", prefill_flops / 1e9},
                    {"best_round_GFLOPps", prefill_best_flops / 1e9},
                    {"fraction_of_fma_peak", fma_peak > 0 ? prefill_flops / fma_peak : 0},
                    {"round_fractions_of_fma_peak_around", round_fractions}};

  // Decode in rounds: each round runs every batch size in turn, so the ratio of batch b
  // to batch 1 is also taken round by round from runs seconds apart; batch 1 also has
  // the read bandwidth measured just before and after it in each round.
  if (absl::StatusOr<double> s = bench.Prefill(max_batch); !s.ok()) return Fail(s.status());
  std::vector<std::vector<double>> step_seconds(batches.size());
  std::vector<std::vector<double>> round_medians(batches.size());
  std::vector<double> batch1_round_fractions;
  for (int round = 0; round < decode_rounds; ++round) {
    for (size_t b = 0; b < batches.size(); ++b) {
      const bool probe = probe_pool && batches[b] == 1;
      const double bandwidth_before = probe ? MeasureReadBandwidth(*probe_pool, 1) : 0;
      absl::StatusOr<std::vector<double>> s = bench.Decode(batches[b], steps);
      if (!s.ok()) return Fail(s.status());
      const double bandwidth_after = probe ? MeasureReadBandwidth(*probe_pool, 1) : 0;
      step_seconds[b].insert(step_seconds[b].end(), s->begin(), s->end());
      round_medians[b].push_back(Median(*s));
      if (probe) {
        batch1_round_fractions.push_back(streamed_bytes / Median(*s) /
                                         std::max(bandwidth_before, bandwidth_after));
      }
    }
  }
  probe_pool.reset();
  const auto batch1 = std::find(batches.begin(), batches.end(), 1);
  const size_t batch1_index = batch1 - batches.begin();
  double batch1_tps = 0;
  for (size_t b = 0; b < batches.size(); ++b) {
    const int batch = batches[b];
    const std::vector<double>& seconds = step_seconds[b];
    const double step_s = std::accumulate(seconds.begin(), seconds.end(), 0.0) / seconds.size();
    const double median_s = Median(seconds);
    const double tps = batch / step_s;
    if (batch == 1) batch1_tps = tps;
    const double gbps = streamed_bytes / step_s;
    std::printf(
        "decode: batch %d, %.2f ms/step (median %.2f), %.1f tokens/s, weights streamed at %.1f "
        "GB/s",
        batch, 1e3 * step_s, 1e3 * median_s, tps, gbps / 1e9);
    if (bandwidth > 0) std::printf(" = %.0f%% of the read bandwidth", 100 * gbps / bandwidth);
    if (batch == 1 && !batch1_round_fractions.empty()) {
      std::printf(" (median steps, round by round against the bandwidth measured around each:");
      for (double f : batch1_round_fractions) std::printf(" %.0f%%", 100 * f);
      std::printf(")");
    }
    // Per round: tokens/s of the round's median step against batch 1's in the same round.
    std::vector<double> round_ratios;
    if (batch > 1 && batch1 != batches.end()) {
      for (int r = 0; r < decode_rounds; ++r) {
        round_ratios.push_back(batch * round_medians[batch1_index][r] / round_medians[b][r]);
      }
    }
    if (batch > 1 && batch1_tps > 0) {
      std::printf(", %.2fx batch 1 (median steps, round by round:", tps / batch1_tps);
      for (double ratio : round_ratios) std::printf(" %.2fx", ratio);
      std::printf(")");
    }
    // How far batching can go on this machine: the ratio to batch 1 depends on its balance
    // of bandwidth (batch 1) and arithmetic (large batches), so print the step's share of
    // the FMA peak and the ratio the peak itself would give.
    const double step_flops = tps * decode_flop_per_token;
    const double ratio_at_peak =
        fma_peak > 0 && batch1_tps > 0 ? fma_peak / decode_flop_per_token / batch1_tps : 0;
    if (batch > 1 && fma_peak > 0) {
      std::printf("; GEMMs at %.1f GFLOP/s = %.0f%% of the FMA peak", step_flops / 1e9,
                  100 * step_flops / fma_peak);
      if (ratio_at_peak > 0) std::printf(" (at 100%%: %.2fx batch 1)", ratio_at_peak);
    }
    std::printf("\n");
    out["decode"].push_back({{"batch", batch},
                             {"ms_per_step", 1e3 * step_s},
                             {"median_ms_per_step", 1e3 * median_s},
                             {"tokens_per_s", tps},
                             {"weight_GBps", gbps / 1e9},
                             {"fraction_of_bandwidth", bandwidth > 0 ? gbps / bandwidth : 0},
                             {"vs_batch1", batch1_tps > 0 ? tps / batch1_tps : 0},
                             {"vs_batch1_round_medians", round_ratios},
                             {"round_fractions_of_bandwidth_around",
                              batch == 1 ? batch1_round_fractions : std::vector<double>{}},
                             {"GFLOPps", step_flops / 1e9},
                             {"fraction_of_fma_peak", fma_peak > 0 ? step_flops / fma_peak : 0},
                             {"vs_batch1_at_fma_peak", ratio_at_peak}});
  }
  if (absl::GetFlag(FLAGS_roofline)) {
    // The machine is shared: measure the limits again after the decode runs and keep
    // the better figures, so a quiet moment in the model's runs is not compared with a
    // noisy one in the limits'.
    ThreadPool pool(threads);
    const double bandwidth_after = MeasureReadBandwidth(pool);
    const double fma_after = MeasureFmaPeak(pool);
    std::printf("machine again: read bandwidth %.1f GB/s, fp32 FMA peak %.1f GFLOP/s\n",
                bandwidth_after / 1e9, fma_after / 1e9);
    out["read_bandwidth_after_GBps"] = bandwidth_after / 1e9;
    out["fma_peak_after_GFLOPps"] = fma_after / 1e9;
    // The targets' ratios, against the better of the two measurements of each limit.
    const double best_bandwidth = std::max(bandwidth, bandwidth_after);
    const double best_peak = std::max(fma_peak, fma_after);
    std::printf(
        "against the run's best limits (%.1f GB/s, %.1f GFLOP/s): prefill %.0f%% of the FMA "
        "peak (best round %.0f%%)",
        best_bandwidth / 1e9, best_peak / 1e9, 100 * prefill_flops / best_peak,
        100 * prefill_best_flops / best_peak);
    if (batch1_tps > 0) {
      std::printf(", batch-1 decode %.0f%% of the read bandwidth",
                  100 * batch1_tps * streamed_bytes / best_bandwidth);
    }
    std::printf("\n");
    out["prefill_fraction_of_best_fma_peak"] = prefill_flops / best_peak;
    out["prefill_best_round_fraction_of_best_fma_peak"] = prefill_best_flops / best_peak;
    out["batch1_fraction_of_best_bandwidth"] =
        batch1_tps > 0 ? batch1_tps * streamed_bytes / best_bandwidth : 0;
  }
  std::printf("peak RSS %.2f GB\n", PeakResidentBytes() / 1e9);
  out["peak_rss_GB"] = PeakResidentBytes() / 1e9;
  if (const std::string path = absl::GetFlag(FLAGS_json); !path.empty()) {
    std::ofstream(path) << out.dump(2) << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace dsm

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return dsm::Main();
}
