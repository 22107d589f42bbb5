// dsm: the dsmserve command line.
//   dsm serve --model DIR [--tp N] [--replicas R] [--port P] | --demo
//   dsm generate [--addr A] --prompt TEXT [--max-tokens N ...] [--json]
//   dsm chat [--addr A]                  interactive, streaming
//   dsm run --model DIR --tp N [--max-tokens N] [--temperature T] [--seed S] [--ignore-eos]
//           --input prompts.jsonl       offline generation over a TP group of processes
//   dsm tokenize --model DIR [--decode]  JSONL text <-> ids with the model's tokenizer
//   dsm make-model --out DIR [...]      writes a small random LLaMA checkpoint

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/api_key.h"
#include "coordinator/local_worker_group.h"
#include "tools/client_commands.h"
#include "tools/command_help.h"
#include "tools/eval/eval_command.h"
#include "tools/loadtest/loadtest_command.h"
#include "tools/model_generator.h"
#include "tools/run_command.h"
#include "tools/serve_command.h"
#include "tools/tokenize_command.h"

ABSL_FLAG(std::string, model, "", "model directory (HF format)");
ABSL_FLAG(int, tp, 1, "tensor-parallel size: worker processes in the group");
ABSL_FLAG(int, max_tokens, 16, "tokens to generate per prompt");
ABSL_FLAG(float, temperature, 0.0f, "sampling temperature; 0 = greedy");
ABSL_FLAG(int, top_k, 0, "top-k sampling; 0 = off");
ABSL_FLAG(float, top_p, 1.0f, "nucleus sampling mass, (0, 1]");
ABSL_FLAG(float, min_p, 0.0f, "min-p sampling, [0, 1]");
ABSL_FLAG(float, repetition_penalty, 1.0f, "HF repetition penalty; 1 = off");
ABSL_FLAG(float, presence_penalty, 0.0f, "presence penalty, [-2, 2]");
ABSL_FLAG(float, frequency_penalty, 0.0f, "frequency penalty, [-2, 2]");
ABSL_FLAG(uint64_t, seed, 0, "sampling seed: same seed, same tokens");
ABSL_FLAG(bool, ignore_eos, false, "keep generating after EOS");
ABSL_FLAG(std::string, input, "-", "JSONL prompts file ('-' = stdin)");
ABSL_FLAG(bool, logits, false, "add the full-vocab logits of every generated position");
ABSL_FLAG(int, logprobs, 0, "add the top-N logprobs of every generated token (N <= 20)");
ABSL_FLAG(int, threads, 0, "compute threads per rank (0 = cores / tp)");
ABSL_FLAG(int64_t, kv_cache_mib, 1024, "KV-cache pool per rank, MiB");
ABSL_FLAG(int, kv_block_size, 16, "positions per KV block");
ABSL_FLAG(int, max_batch_tokens, 512, "tokens per scheduler step (chunked prefill budget)");
ABSL_FLAG(int, max_running, 256, "sequences decoding together per worker group");
ABSL_FLAG(int, comm_timeout_s, 60, "seconds ranks wait for each other before failing");
ABSL_FLAG(int, drain_timeout_s, 30,
          "serve: after SIGTERM, seconds running requests may take before they are ended");
ABSL_FLAG(double, step_timeout_s, 30.0,
          "a step not finished within this plus --step-timeout-per-token-s per token kills "
          "its hung worker group (which is then restarted)");
ABSL_FLAG(double, step_timeout_per_token_s, 0.25, "see --step-timeout-s");
ABSL_FLAG(std::string, log_format, "text",
          "serve: the per-request log line on stderr: text (key=value) or json");
ABSL_FLAG(int, restart_backoff_max_s, 30,
          "serve: longest wait between attempts to restart a failed worker group");
// serve
ABSL_FLAG(int, replicas, 1, "serve: tensor-parallel groups behind the coordinator");
ABSL_FLAG(std::string, backend, "cpu", "compute backend: cpu or cuda (one GPU per rank)");
ABSL_FLAG(std::string, precision, "bf16",
          "cuda: bf16 (activations and KV cache in bf16) or fp32 (exact, golden-comparable)");
ABSL_FLAG(double, gpu_memory_fraction, 0.9,
          "cuda: fraction of each GPU's memory for weights, buffers and the KV cache");
ABSL_FLAG(std::string, kv_cache_dtype, "f32",
          "cpu: KV-cache elements: f32 (exact, golden-identical) or bf16 (half the memory and "
          "attention reads; K and V rounded to bf16, logits move slightly)");
ABSL_FLAG(std::string, activation_dtype, "f32",
          "cpu: f32 (exact, golden-identical) or bf16 (opt-in fast mode: activations rounded "
          "to bf16 for the weight GEMMs, AVX-512 BF16 dot products, ~2x prefill; logits move "
          "slightly; bf16 checkpoints only)");
ABSL_FLAG(bool, device_sampling, true,
          "cuda: sample from 2 KB summaries of the logits made on the GPU (best 256 "
          "candidates, normalisers, one draw) instead of copying each 400 KB row to the host; "
          "rows a summary cannot decide are still copied");
ABSL_FLAG(std::string, host, "127.0.0.1", "serve: address to listen on");
ABSL_FLAG(int, port, 50051, "serve: port (0 = pick a free one)");
ABSL_FLAG(int, http_port, -1,
          "serve: port of the OpenAI-compatible HTTP API (/v1/completions, "
          "/v1/chat/completions, /v1/models, /health); -1 = off, 0 = pick a free one");
ABSL_FLAG(int, metrics_port, -1,
          "serve: port of GET /metrics (Prometheus text; also on --http-port); -1 = off, 0 = "
          "pick a free one");
ABSL_FLAG(int, groups, 0,
          "coordinator: tensor-parallel worker groups to form from registered workers (as "
          "--replicas)");
ABSL_FLAG(std::string, served_model_name, "",
          "serve: the model id clients name over HTTP (default: the model directory's name)");
ABSL_FLAG(std::string, api_key, "",
          "serve/coordinator: require this key as a bearer token on the API (gRPC metadata "
          "authorization, HTTP /v1/ Authorization header); clients send it (default: "
          "$DSM_API_KEY; loadtest also $OPENAI_API_KEY)");
ABSL_FLAG(bool, demo, false, "serve: a generated demo model (no download needed)");
ABSL_FLAG(int64_t, max_model_len, 0,
          "serve: the longest prompt + output served, at most the model's "
          "max_position_embeddings (0 = that)");
ABSL_FLAG(int, max_queue, 256, "serve: waiting sequences before RESOURCE_EXHAUSTED");
// clients
ABSL_FLAG(std::string, addr, "",
          "generate/chat/tokenize: server address (default 127.0.0.1:50051)");
ABSL_FLAG(std::string, prompt, "", "generate: prompt text (default: read stdin)");
ABSL_FLAG(std::string, prompt_token_ids, "", "generate: comma-separated prompt ids instead");
ABSL_FLAG(std::string, stop, "", "generate/chat: stop strings, separated by '|'");
ABSL_FLAG(int, n, 1, "generate: independent samples");
ABSL_FLAG(bool, json, false, "generate/chat: JSON output for scripts");
ABSL_FLAG(double, timeout_s, 0, "generate/chat: deadline in seconds (0 = none)");
ABSL_FLAG(std::string, system, "", "chat: system message");
// tokenize
ABSL_FLAG(bool, decode, false, "tokenize: ids -> text instead of text -> ids");
ABSL_FLAG(bool, add_special_tokens, false, "tokenize: add BOS (the post-processor's tokens)");
ABSL_FLAG(bool, skip_special_tokens, false, "tokenize --decode: drop special tokens");
// make-model
ABSL_FLAG(std::string, out, "", "make-model: output directory");
ABSL_FLAG(int, layers, 2, "make-model: number of layers");
ABSL_FLAG(int, hidden, 128, "make-model: hidden size");
ABSL_FLAG(int, heads, 4, "make-model: attention heads");
ABSL_FLAG(int, kv_heads, 4, "make-model: KV heads");
ABSL_FLAG(int, intermediate, 344, "make-model: MLP intermediate size");
ABSL_FLAG(int, vocab, 1024, "make-model: vocabulary size");
ABSL_FLAG(int, context, 512, "make-model: max_position_embeddings");
ABSL_FLAG(std::string, dtype, "bf16", "make-model: f32, f16 or bf16");
ABSL_FLAG(int, shards, 1, "make-model: safetensors shards");
ABSL_FLAG(bool, tie, false, "make-model: tie lm_head to the embedding");

namespace dsm {
namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "dsm: error: %s\n", status.ToString().c_str());
  return 1;
}

int RunMain() {
  RunOptions o;
  o.model_dir = absl::GetFlag(FLAGS_model);
  if (o.model_dir.empty()) return Fail(absl::InvalidArgumentError("--model is required"));
  o.tp = absl::GetFlag(FLAGS_tp);
  o.max_tokens = absl::GetFlag(FLAGS_max_tokens);
  o.sampling.temperature = absl::GetFlag(FLAGS_temperature);
  o.sampling.top_k = absl::GetFlag(FLAGS_top_k);
  o.sampling.top_p = absl::GetFlag(FLAGS_top_p);
  o.sampling.min_p = absl::GetFlag(FLAGS_min_p);
  o.sampling.repetition_penalty = absl::GetFlag(FLAGS_repetition_penalty);
  o.sampling.presence_penalty = absl::GetFlag(FLAGS_presence_penalty);
  o.sampling.frequency_penalty = absl::GetFlag(FLAGS_frequency_penalty);
  o.sampling.seed = absl::GetFlag(FLAGS_seed);
  o.ignore_eos = absl::GetFlag(FLAGS_ignore_eos);
  o.return_logits = absl::GetFlag(FLAGS_logits);
  o.logprobs = absl::GetFlag(FLAGS_logprobs);
  o.sampling.logprobs = o.logprobs;
  o.threads_per_rank = absl::GetFlag(FLAGS_threads);
  o.kv_cache_mib = absl::GetFlag(FLAGS_kv_cache_mib);
  o.kv_block_size = absl::GetFlag(FLAGS_kv_block_size);
  o.max_batch_tokens = absl::GetFlag(FLAGS_max_batch_tokens);
  o.comm_timeout_s = absl::GetFlag(FLAGS_comm_timeout_s);
  o.backend = absl::GetFlag(FLAGS_backend);
  o.precision = absl::GetFlag(FLAGS_precision);
  o.gpu_memory_fraction = absl::GetFlag(FLAGS_gpu_memory_fraction);
  o.device_sampling = absl::GetFlag(FLAGS_device_sampling);
  o.kv_cache_dtype = absl::GetFlag(FLAGS_kv_cache_dtype);
  o.activation_dtype = absl::GetFlag(FLAGS_activation_dtype);
  const std::string input = absl::GetFlag(FLAGS_input);
  absl::Status status;
  if (input == "-") {
    status = RunOffline(o, std::cin, std::cout);
  } else {
    std::ifstream file(input);
    if (!file) return Fail(absl::NotFoundError(absl::StrCat(input, ": cannot open input file")));
    status = RunOffline(o, file, std::cout);
  }
  return status.ok() ? 0 : Fail(status);
}

ClientOptions ClientFlags() {
  ClientOptions o;
  if (!absl::GetFlag(FLAGS_addr).empty()) o.address = absl::GetFlag(FLAGS_addr);
  o.json = absl::GetFlag(FLAGS_json);
  o.timeout_s = absl::GetFlag(FLAGS_timeout_s);
  o.api_key = ApiKeyFromFlagOrEnv(absl::GetFlag(FLAGS_api_key));
  v1::GenerationParams& p = o.params;
  p.set_max_tokens(absl::GetFlag(FLAGS_max_tokens));
  p.set_temperature(absl::GetFlag(FLAGS_temperature));
  p.set_top_k(absl::GetFlag(FLAGS_top_k));
  p.set_top_p(absl::GetFlag(FLAGS_top_p));
  p.set_min_p(absl::GetFlag(FLAGS_min_p));
  p.set_repetition_penalty(absl::GetFlag(FLAGS_repetition_penalty));
  p.set_presence_penalty(absl::GetFlag(FLAGS_presence_penalty));
  p.set_frequency_penalty(absl::GetFlag(FLAGS_frequency_penalty));
  p.set_seed(absl::GetFlag(FLAGS_seed));
  p.set_ignore_eos(absl::GetFlag(FLAGS_ignore_eos));
  p.set_n(absl::GetFlag(FLAGS_n));
  p.set_logprobs(absl::GetFlag(FLAGS_logprobs));
  for (absl::string_view stop : absl::StrSplit(absl::GetFlag(FLAGS_stop), '|', absl::SkipEmpty())) {
    p.add_stop(std::string(stop));
  }
  return o;
}

// `dsm serve` (registered = false) forks its workers; `dsm coordinator` waits for
// workers started on their own to register.
int ServeMain(bool registered) {
  ServeOptions o;
  o.registered_workers = registered;
  o.coordinator.model_dir = absl::GetFlag(FLAGS_model);
  o.coordinator.tp = absl::GetFlag(FLAGS_tp);
  o.coordinator.replicas = absl::GetFlag(FLAGS_replicas);
  if (registered && absl::GetFlag(FLAGS_groups) > 0)
    o.coordinator.replicas = absl::GetFlag(FLAGS_groups);
  o.coordinator.backend = absl::GetFlag(FLAGS_backend);
  o.coordinator.max_batch_tokens = absl::GetFlag(FLAGS_max_batch_tokens);
  o.coordinator.max_running = absl::GetFlag(FLAGS_max_running);
  o.coordinator.max_queued_requests = absl::GetFlag(FLAGS_max_queue);
  o.coordinator.max_model_len = absl::GetFlag(FLAGS_max_model_len);
  o.coordinator.workers.worker_binary = DefaultWorkerBinary();
  o.coordinator.workers.threads_per_rank = absl::GetFlag(FLAGS_threads);
  o.coordinator.workers.kv_cache_mib = absl::GetFlag(FLAGS_kv_cache_mib);
  o.coordinator.workers.kv_block_size = absl::GetFlag(FLAGS_kv_block_size);
  o.coordinator.workers.comm_timeout_s = absl::GetFlag(FLAGS_comm_timeout_s);
  o.coordinator.workers.precision = absl::GetFlag(FLAGS_precision);
  o.coordinator.workers.step_timeout_s = absl::GetFlag(FLAGS_step_timeout_s);
  o.coordinator.workers.step_timeout_per_token_s = absl::GetFlag(FLAGS_step_timeout_per_token_s);
  o.coordinator.workers.gpu_memory_fraction = absl::GetFlag(FLAGS_gpu_memory_fraction);
  o.coordinator.workers.device_sampling = absl::GetFlag(FLAGS_device_sampling);
  o.coordinator.workers.kv_cache_dtype = absl::GetFlag(FLAGS_kv_cache_dtype);
  o.coordinator.workers.activation_dtype = absl::GetFlag(FLAGS_activation_dtype);
  o.host = absl::GetFlag(FLAGS_host);
  o.port = absl::GetFlag(FLAGS_port);
  o.http_port = absl::GetFlag(FLAGS_http_port);
  o.metrics_port = absl::GetFlag(FLAGS_metrics_port);
  o.served_model_name = absl::GetFlag(FLAGS_served_model_name);
  o.api_key = ApiKeyFromFlagOrEnv(absl::GetFlag(FLAGS_api_key));
  o.demo = absl::GetFlag(FLAGS_demo);
  o.drain_timeout_s = absl::GetFlag(FLAGS_drain_timeout_s);
  if (absl::Status s = ParseLogFormat(absl::GetFlag(FLAGS_log_format), &o.coordinator.log_format);
      !s.ok()) {
    return Fail(s);
  }
  o.coordinator.workers.restart_backoff_max =
      std::chrono::seconds(std::max(1, absl::GetFlag(FLAGS_restart_backoff_max_s)));
  absl::Status status = RunServe(o);
  return status.ok() ? 0 : Fail(status);
}

int GenerateMain() {
  std::vector<int32_t> ids;
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_prompt_token_ids), ',', absl::SkipWhitespace())) {
    int32_t id;
    if (!absl::SimpleAtoi(part, &id)) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("--prompt-token-ids: \"", std::string(part), "\" is not an integer")));
    }
    ids.push_back(id);
  }
  std::string prompt = absl::GetFlag(FLAGS_prompt);
  if (prompt.empty() && ids.empty()) {
    std::string line;
    while (std::getline(std::cin, line)) prompt += (prompt.empty() ? "" : "\n") + line;
  }
  absl::Status status = RunGenerate(ClientFlags(), prompt, ids, std::cout);
  return status.ok() ? 0 : Fail(status);
}

int InfoMain() {
  absl::Status status = RunInfo(ClientFlags(), std::cout);
  return status.ok() ? 0 : Fail(status);
}

int ChatMain() {
  absl::Status status = RunChat(ClientFlags(), absl::GetFlag(FLAGS_system), std::cin, std::cout);
  return status.ok() ? 0 : Fail(status);
}

int TokenizeMain() {
  if (!absl::GetFlag(FLAGS_addr).empty()) {
    absl::Status status = RunRemoteTokenize(
        ClientFlags(), absl::GetFlag(FLAGS_decode), absl::GetFlag(FLAGS_add_special_tokens),
        absl::GetFlag(FLAGS_skip_special_tokens), std::cin, std::cout);
    return status.ok() ? 0 : Fail(status);
  }
  TokenizeOptions o;
  o.model_dir = absl::GetFlag(FLAGS_model);
  if (o.model_dir.empty()) {
    return Fail(
        absl::InvalidArgumentError("--model DIR (offline) or --addr HOST:PORT is required"));
  }
  o.decode = absl::GetFlag(FLAGS_decode);
  o.add_special_tokens = absl::GetFlag(FLAGS_add_special_tokens);
  o.skip_special_tokens = absl::GetFlag(FLAGS_skip_special_tokens);
  absl::Status status = RunTokenize(o, std::cin, std::cout);
  return status.ok() ? 0 : Fail(status);
}

int MakeModelMain() {
  GeneratedModelSpec spec = TinyDeepSeekSpec();
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) return Fail(absl::InvalidArgumentError("--out is required"));
  spec.num_hidden_layers = absl::GetFlag(FLAGS_layers);
  spec.hidden_size = absl::GetFlag(FLAGS_hidden);
  spec.num_attention_heads = absl::GetFlag(FLAGS_heads);
  spec.num_key_value_heads = absl::GetFlag(FLAGS_kv_heads);
  spec.intermediate_size = absl::GetFlag(FLAGS_intermediate);
  spec.vocab_size = absl::GetFlag(FLAGS_vocab);
  spec.max_position_embeddings = absl::GetFlag(FLAGS_context);
  spec.num_shards = absl::GetFlag(FLAGS_shards);
  spec.tie_word_embeddings = absl::GetFlag(FLAGS_tie);
  spec.seed = absl::GetFlag(FLAGS_seed);
  const std::string dtype = absl::GetFlag(FLAGS_dtype);
  if (dtype == "f32") {
    spec.dtype = DType::kF32;
  } else if (dtype == "f16") {
    spec.dtype = DType::kF16;
  } else if (dtype != "bf16") {
    return Fail(absl::InvalidArgumentError("--dtype must be f32, f16 or bf16"));
  }
  if (absl::Status s = WriteRandomModel(out, spec); !s.ok()) return Fail(s);
  std::fprintf(stderr, "dsm: wrote %s\n", out.c_str());
  return 0;
}

// Accepts --max-tokens as well as absl's --max_tokens spelling.
std::vector<char*> NormalizeFlagNames(int argc, char** argv, std::vector<std::string>& storage) {
  storage.assign(argv, argv + argc);
  for (std::string& arg : storage) {
    if (arg.rfind("--", 0) != 0) continue;
    const size_t end = std::min(arg.find('='), arg.size());
    for (size_t i = 2; i < end; ++i) {
      if (arg[i] == '-') arg[i] = '_';
    }
  }
  std::vector<char*> out;
  for (std::string& arg : storage) out.push_back(arg.data());
  return out;
}

}  // namespace
}  // namespace dsm

int main(int argc, char** argv) {
  // Help and version first, per command, before the flags are parsed (absl's own
  // --help would list every command's flags together).
  const std::string first = argc > 1 ? argv[1] : "";
  if (argc < 2 || first == "--help" || first == "-h" || first == "help") {
    std::fputs(dsm::GeneralHelp().c_str(), argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (first == "--version" || first == "version") {
    std::puts(dsm::VersionText().c_str());
    return 0;
  }
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "--helpshort") {
      const std::string help = dsm::CommandHelp(first);
      if (help.empty()) break;  // unknown command: reported below
      std::fputs(help.c_str(), stdout);
      return 0;
    }
  }
  absl::SetProgramUsageMessage(dsm::GeneralHelp());
  const std::string command = first;
  std::vector<std::string> storage;
  std::vector<char*> args = dsm::NormalizeFlagNames(argc - 1, argv + 1, storage);
  absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  if (command == "run") return dsm::RunMain();
  if (command == "make-model") return dsm::MakeModelMain();
  if (command == "tokenize") return dsm::TokenizeMain();
  if (command == "serve") return dsm::ServeMain(false);
  if (command == "coordinator") return dsm::ServeMain(true);
  if (command == "generate") return dsm::GenerateMain();
  if (command == "chat") return dsm::ChatMain();
  if (command == "info") return dsm::InfoMain();
  if (command == "loadtest") {
    return dsm::LoadTestMain({absl::GetFlag(FLAGS_addr), absl::GetFlag(FLAGS_temperature),
                              absl::GetFlag(FLAGS_seed), absl::GetFlag(FLAGS_ignore_eos),
                              absl::GetFlag(FLAGS_timeout_s),
                              dsm::ApiKeyFromFlagOrEnv(absl::GetFlag(FLAGS_api_key))});
  }
  if (command == "eval") {
    // Chains of thought need more than the 16 tokens `dsm generate` defaults to: left at
    // its default, --max_tokens leaves the length to the server (its default, capped by
    // the context).
    const absl::CommandLineFlag* max_tokens = absl::FindCommandLineFlag("max_tokens");
    const bool max_tokens_default =
        max_tokens != nullptr && max_tokens->CurrentValue() == max_tokens->DefaultValue();
    return dsm::EvalMain({absl::GetFlag(FLAGS_addr), absl::GetFlag(FLAGS_temperature),
                          absl::GetFlag(FLAGS_seed), absl::GetFlag(FLAGS_timeout_s),
                          max_tokens_default ? 0 : absl::GetFlag(FLAGS_max_tokens),
                          dsm::ApiKeyFromFlagOrEnv(absl::GetFlag(FLAGS_api_key))});
  }
  std::fprintf(stderr, "dsm: unknown command '%s'\n%s", command.c_str(),
               dsm::GeneralHelp().c_str());
  return 2;
}
