#include "tools/run_command.h"

#include <cstdio>
#include <istream>
#include <map>
#include <ostream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/model_config.h"
#include "common/shard_spec.h"
#include "coordinator/local_worker_group.h"
#include "coordinator/scheduler.h"
#include "coordinator/tokenizer/tokenizer_files.h"
#include "nlohmann/json.hpp"

namespace dsm {
namespace {

// Reads and checks every input line before any worker starts, so bad input costs nothing.
// The prompt of one input line: "prompt_token_ids", "prompt" (text, BOS added as HF
// does) or "messages" (rendered with the chat template).
absl::StatusOr<std::vector<int32_t>> PromptIds(const nlohmann::json& j, const TokenizerFiles* text,
                                               const std::string& model_dir) {
  if (auto ids = j.find("prompt_token_ids"); ids != j.end()) {
    if (!ids->is_array()) return absl::InvalidArgumentError("prompt_token_ids must be a list");
    std::vector<int32_t> out;
    for (const auto& id : *ids) {
      if (!id.is_number_integer() || id.get<int64_t>() < INT32_MIN ||
          id.get<int64_t>() > INT32_MAX) {
        return absl::InvalidArgumentError("prompt_token_ids must be integers");
      }
      out.push_back(id.get<int32_t>());
    }
    return out;
  }
  const bool has_prompt = j.contains("prompt"), has_messages = j.contains("messages");
  if (!has_prompt && !has_messages) {
    return absl::InvalidArgumentError("needs \"prompt_token_ids\", \"prompt\" or \"messages\"");
  }
  if (text == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "text prompts need ", model_dir, "/tokenizer.json; this model serves token ids only"));
  }
  if (has_prompt) {
    if (!j["prompt"].is_string()) return absl::InvalidArgumentError("prompt must be a string");
    return text->tokenizer->Encode(j["prompt"].get<std::string>(), /*add_special_tokens=*/true);
  }
  if (!j["messages"].is_array()) return absl::InvalidArgumentError("messages must be a list");
  std::vector<ChatMessage> messages;
  for (const auto& m : j["messages"]) {
    if (!m.is_object() || !m.contains("role") || !m.contains("content") || !m["role"].is_string() ||
        !m["content"].is_string()) {
      return absl::InvalidArgumentError("each message needs string \"role\" and \"content\"");
    }
    messages.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
  }
  if (!text->bos_id || !text->eos_id) {
    return absl::FailedPreconditionError("the tokenizer defines no BOS/EOS for the chat template");
  }
  return text->chat_template.Encode(*text->tokenizer, messages, /*add_generation_prompt=*/true,
                                    *text->bos_id, *text->eos_id);
}

absl::StatusOr<std::vector<GenerationRequest>> ReadRequests(const RunOptions& options,
                                                            const ModelConfig& config,
                                                            const TokenizerFiles* text,
                                                            std::istream& input) {
  std::vector<GenerationRequest> requests;
  std::string line;
  for (int line_number = 1; std::getline(input, line); ++line_number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto bad = [&](const std::string& what) {
      return absl::InvalidArgumentError(absl::StrCat("input line ", line_number, ": ", what));
    };
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
    GenerationRequest r;
    r.id = requests.size();
    absl::StatusOr<std::vector<int32_t>> ids = PromptIds(j, text, options.model_dir);
    if (!ids.ok()) {
      return absl::Status(ids.status().code(),
                          absl::StrCat("input line ", line_number, ": ", ids.status().message()));
    }
    for (int32_t v : *ids) {
      if (v < 0 || v >= config.vocab_size) {
        return bad(absl::StrCat("token id ", v, " is outside the vocabulary [0, ",
                                config.vocab_size, ")"));
      }
    }
    r.prompt_token_ids = *std::move(ids);
    if (r.prompt_token_ids.empty()) return bad("the prompt is empty");
    if (static_cast<int64_t>(r.prompt_token_ids.size()) >= config.max_position_embeddings) {
      return bad(absl::StrCat("the prompt of ", r.prompt_token_ids.size(),
                              " tokens is longer than the model context of ",
                              config.max_position_embeddings, " tokens allows"));
    }
    r.sampling = options.sampling;
    r.max_tokens = options.max_tokens;
    r.ignore_eos = options.ignore_eos;
    r.return_logits = options.return_logits;
    r.sampling.logprobs = options.logprobs;
    if (auto v = j.find("max_tokens"); v != j.end()) {
      if (!v->is_number_integer() || v->get<int64_t>() < 1) return bad("max_tokens must be >= 1");
      r.max_tokens = v->get<int32_t>();
    }
    if (auto v = j.find("seed"); v != j.end()) {
      if (!v->is_number_unsigned()) return bad("seed must be a non-negative integer");
      r.sampling.seed = v->get<uint64_t>();
    }
    if (auto v = j.find("temperature"); v != j.end()) {
      if (!v->is_number()) return bad("temperature must be a number");
      r.sampling.temperature = v->get<float>();
    }
    if (absl::Status s = r.sampling.Validate(); !s.ok()) return bad(std::string(s.message()));
    requests.push_back(std::move(r));
  }
  return requests;
}

}  // namespace

absl::Status RunOffline(const RunOptions& options, std::istream& input, std::ostream& output) {
  if (options.max_tokens < 1) return absl::InvalidArgumentError("--max-tokens must be >= 1");
  if (options.max_batch_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-batch-tokens must be >= 1, got ", options.max_batch_tokens));
  }
  if (absl::Status s = options.sampling.Validate(); !s.ok()) return s;
  absl::StatusOr<ModelConfig> config = LoadModelConfig(options.model_dir);
  if (!config.ok()) return config.status();
  if (absl::Status s = ValidateShardable(*config, options.tp); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(options.model_dir, ": ", s.message()));
  }
  // Text prompts and "text" in the output need the tokenizer; a model without one
  // serves token ids only.
  std::unique_ptr<TokenizerFiles> text;
  if (absl::StatusOr<TokenizerFiles> files = LoadTokenizerFiles(options.model_dir); files.ok()) {
    text = std::make_unique<TokenizerFiles>(*std::move(files));
  } else if (!absl::IsNotFound(files.status())) {
    return files.status();
  }
  absl::StatusOr<std::vector<GenerationRequest>> requests =
      ReadRequests(options, *config, text.get(), input);
  if (!requests.ok()) return requests.status();
  if (requests->empty()) return absl::OkStatus();

  WorkerGroupOptions group_options;
  group_options.worker_binary =
      options.worker_binary.empty() ? DefaultWorkerBinary() : options.worker_binary;
  group_options.model_dir = options.model_dir;
  group_options.tp = options.tp;
  group_options.threads_per_rank = options.threads_per_rank;
  group_options.kv_cache_mib = options.kv_cache_mib;
  group_options.kv_block_size = options.kv_block_size;
  group_options.comm_timeout_s = options.comm_timeout_s;
  group_options.backend = options.backend;
  group_options.precision = options.precision;
  group_options.gpu_memory_fraction = options.gpu_memory_fraction;
  group_options.device_sampling = options.device_sampling;
  group_options.kv_cache_dtype = options.kv_cache_dtype;
  group_options.activation_dtype = options.activation_dtype;
  absl::StatusOr<std::unique_ptr<LocalWorkerGroup>> group = LocalWorkerGroup::Launch(group_options);
  if (!group.ok()) return group.status();

  SchedulerConfig scheduler_config;
  scheduler_config.num_blocks = (*group)->info().kv_num_blocks();
  scheduler_config.block_size = (*group)->info().kv_block_size();
  scheduler_config.context_length = config->max_position_embeddings;
  scheduler_config.max_batch_tokens = options.max_batch_tokens;
  if (config->eos_token_id) {
    scheduler_config.eos_token_ids.push_back(static_cast<int32_t>(*config->eos_token_id));
  }
  Scheduler scheduler(scheduler_config);
  for (GenerationRequest& r : *requests) {
    const uint64_t id = r.id;
    if (absl::Status s = scheduler.Add(std::move(r)); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("input line ", id + 1, ": ", s.message()));
    }
  }

  struct Output {
    std::vector<int32_t> token_ids;
    std::vector<std::vector<float>> logits;
    nlohmann::ordered_json logprobs = nlohmann::ordered_json::array();
    FinishReason finish = FinishReason::kNone;
  };
  std::vector<Output> outputs(requests->size());
  int64_t steps = 0;
  while (scheduler.HasWork()) {
    ++steps;
    absl::StatusOr<v1::StepResponse> response = (*group)->Step(scheduler.NextStep());
    if (!response.ok()) return response.status();
    absl::StatusOr<std::vector<TokenEvent>> events = scheduler.OnStepResult(*response);
    if (!events.ok()) return events.status();
    for (TokenEvent& e : *events) {
      Output& out = outputs[e.request_id];
      out.token_ids.push_back(e.token_id);
      if (options.return_logits) out.logits.push_back(std::move(e.logits));
      if (options.logprobs > 0) {
        nlohmann::ordered_json top = nlohmann::ordered_json::array();
        for (const auto& [id, logprob] : e.top_logprobs) top.push_back({id, logprob});
        out.logprobs.push_back({{"token_id", e.token_id}, {"logprob", e.logprob}, {"top", top}});
      }
      out.finish = e.finish;
    }
  }
  (*group)->Shutdown();
  std::fprintf(stderr, "dsm run: %zu sequences, %lld steps, %lld preemptions\n", outputs.size(),
               static_cast<long long>(steps), static_cast<long long>(scheduler.preemptions()));

  for (const Output& out : outputs) {
    nlohmann::ordered_json line = {{"token_ids", out.token_ids},
                                   {"finish_reason", FinishReasonName(out.finish)}};
    if (options.return_logits) line["logits"] = out.logits;
    if (options.logprobs > 0) line["logprobs"] = out.logprobs;
    if (text) {
      absl::StatusOr<std::string> decoded =
          text->tokenizer->Decode(out.token_ids, /*skip_special_tokens=*/true);
      if (decoded.ok()) {
        line["text"] = *decoded;
      } else {
        line["text_error"] = std::string(decoded.status().message());
      }
    }
    output << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  output.flush();
  return absl::OkStatus();
}

}  // namespace dsm
