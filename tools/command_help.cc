#include "tools/command_help.h"

#include <algorithm>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace dsm {
namespace {

struct CommandSpec {
  const char* name;
  const char* summary;
  const char* usage;
  std::vector<const char*> flags;  // as declared (underscores)
};

const std::vector<const char*> kSamplingFlags = {
    "max_tokens",       "temperature",       "top_k", "top_p",      "min_p",   "repetition_penalty",
    "presence_penalty", "frequency_penalty", "seed",  "ignore_eos", "logprobs"};
const std::vector<const char*> kClientFlags = {"addr", "stop", "n", "json", "timeout_s", "api_key"};

// What `dsm serve` and `dsm coordinator` share: listening, the backend, scheduling,
// timeouts, drain and logs (workers' own flags are serve's alone).
const std::vector<const char*> kServingFlags = {"host",
                                                "port",
                                                "http_port",
                                                "metrics_port",
                                                "served_model_name",
                                                "backend",
                                                "precision",
                                                "gpu_memory_fraction",
                                                "device_sampling",
                                                "kv_cache_dtype",
                                                "activation_dtype",
                                                "max_batch_tokens",
                                                "max_running",
                                                "max_queue",
                                                "max_model_len",
                                                "comm_timeout_s",
                                                "step_timeout_s",
                                                "step_timeout_per_token_s",
                                                "restart_backoff_max_s",
                                                "drain_timeout_s",
                                                "log_format",
                                                "api_key"};

std::vector<const char*> Join(std::vector<const char*> a, const std::vector<const char*>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const std::vector<CommandSpec>& Commands() {
  static const auto* commands = new std::vector<CommandSpec>{
      {"serve", "serve a model over gRPC (dsm.v1.Inference, grpc.health.v1) and OpenAI's HTTP API",
       "dsm serve --model DIR [--tp N] [--replicas R] [--port P] [--http-port H] "
       "[--backend cpu|cuda] | --demo",
       Join(Join({"model", "demo", "tp", "replicas"}, kServingFlags),
            {"threads", "kv_cache_mib", "kv_block_size"})},
      {"coordinator",
       "serve like `dsm serve`, with workers started on their own (dsm-worker --coordinator)",
       "dsm coordinator --model DIR --groups R --tp N [--port P] [--http-port H] [--metrics-port "
       "M]",
       Join({"model", "tp", "groups", "replicas"}, kServingFlags)},
      {"generate", "complete a prompt against a running server",
       "dsm generate [--addr HOST:PORT] --prompt TEXT | --prompt-token-ids 1,2,3 [flags]",
       Join(Join({"prompt", "prompt_token_ids"}, kSamplingFlags), kClientFlags)},
      {"info", "the served model and each worker group's health and load",
       "dsm info [--addr HOST:PORT] [--json]", kClientFlags},
      {"loadtest",
       "load-test a running server (gRPC or OpenAI HTTP): closed loop or Poisson/bursty arrivals",
       "dsm loadtest [--addr HOST:PORT] [--protocol grpc|http] (--requests N | --duration_s S) "
       "[--concurrency C] [--rate R[,R2,...]] [--prompts FILE | --prompt_len D] [--output_len D]",
       {"addr",    "protocol",     "concurrency", "rate",       "requests",       "duration_s",
        "prompts", "prompt_len",   "output_len",  "stream",     "temperature",    "ignore_eos",
        "seed",    "timeout_s",    "slo_ttft_ms", "slo_itl_ms", "slo_e2e_ms",     "report_json",
        "plot",    "progress",     "burstiness",  "warmup",     "requests_jsonl", "endpoint",
        "api_key", "request_model"}},
      {"eval",
       "score math answers: a problem set against a running server, or prepared completions",
       "dsm eval --score-only FILE.jsonl | dsm eval [--addr HOST:PORT] --data FILE.jsonl [flags]",
       {"score_only", "addr", "data", "template", "vote", "early_stop", "vote_confidence",
        "concurrency", "temperature", "seed", "max_tokens", "timeout_s", "output", "limit",
        "api_key"}},
      {"chat", "interactive, streaming chat against a running server",
       "dsm chat [--addr HOST:PORT] [--system TEXT] [flags]",
       Join(Join({"system"}, kSamplingFlags), kClientFlags)},
      {"run", "offline generation over a tensor-parallel group of worker processes",
       "dsm run --model DIR [--tp N] [--backend cpu|cuda] --input prompts.jsonl [flags]",
       Join({"model", "input", "tp", "backend", "precision", "gpu_memory_fraction",
             "device_sampling", "kv_cache_dtype", "activation_dtype", "threads", "kv_cache_mib",
             "kv_block_size", "max_batch_tokens", "comm_timeout_s", "logits"},
            kSamplingFlags)},
      {"tokenize",
       "text <-> token ids, JSONL on stdin (offline, or against a server)",
       "dsm tokenize --model DIR | --addr HOST:PORT [--decode] < lines.jsonl",
       {"model", "addr", "decode", "add_special_tokens", "skip_special_tokens", "api_key"}},
      {"make-model",
       "write a random LLaMA checkpoint (tests, benchmarks)",
       "dsm make-model --out DIR [--layers N --hidden N --heads N --kv-heads N ...]",
       {"out", "layers", "hidden", "heads", "kv_heads", "intermediate", "vocab", "context", "dtype",
        "shards", "tie", "seed"}},
  };
  return *commands;
}

std::string FlagLine(const char* name) {
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  std::string shown = absl::StrReplaceAll(name, {{"_", "-"}});
  if (flag == nullptr) return absl::StrCat("  --", shown, " (no such flag in this build)\n");
  std::string value = flag->DefaultValue();
  if (value.empty()) value = "\"\"";
  return absl::StrCat("  --", shown, " (default ", value, ")\n      ", flag->Help(), "\n");
}

}  // namespace

std::string GeneralHelp() {
  std::string text = "usage: dsm <command> [flags]     dsm <command> --help for its flags\n\n";
  for (const CommandSpec& c : Commands()) {
    absl::StrAppend(&text, "  ", c.name, std::string(12 - std::string(c.name).size(), ' '),
                    c.summary, "\n");
  }
  absl::StrAppend(&text, "\n  --version   print the version\n");
  return text;
}

std::string CommandHelp(const std::string& command) {
  for (const CommandSpec& c : Commands()) {
    if (command != c.name) continue;
    std::string text = absl::StrCat("usage: ", c.usage, "\n\n", c.summary, "\n\nflags:\n");
    for (const char* flag : c.flags) absl::StrAppend(&text, FlagLine(flag));
    return text;
  }
  return "";
}

std::string VersionText() { return absl::StrCat("dsm ", DSM_VERSION); }

}  // namespace dsm
