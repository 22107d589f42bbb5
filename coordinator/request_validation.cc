#include "coordinator/request_validation.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "coordinator/tokenizer/utf8.h"

namespace dsm {
namespace {

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

absl::Status NeedsTokenizer(const char* what) {
  return absl::FailedPreconditionError(absl::StrCat(
      what, " needs a tokenizer, and this model is served without one (token ids only)"));
}

// Applies the parameters (and their defaults) to `out`, once the prompt is known.
absl::Status ApplyParams(const v1::GenerationParams& p, const TokenizerFiles* text,
                         const ServingLimits& limits, PreparedRequest& out) {
  SamplingParams& s = out.sampling;
  s.temperature = p.has_temperature() ? p.temperature() : 1.0f;
  s.top_k = p.has_top_k() ? p.top_k() : 0;
  s.top_p = p.has_top_p() ? p.top_p() : 1.0f;
  s.min_p = p.has_min_p() ? p.min_p() : 0.0f;
  s.repetition_penalty = p.has_repetition_penalty() ? p.repetition_penalty() : 1.0f;
  s.presence_penalty = p.has_presence_penalty() ? p.presence_penalty() : 0.0f;
  s.frequency_penalty = p.has_frequency_penalty() ? p.frequency_penalty() : 0.0f;
  s.logprobs = p.logprobs();
  if (p.has_seed()) {
    s.seed = p.seed();
  } else {
    static thread_local std::mt19937_64 rng(std::random_device{}());
    s.seed = rng();
  }
  if (absl::Status st = s.Validate(); !st.ok())
    return Invalid(absl::StrCat("params.", st.message()));

  const int64_t prompt = static_cast<int64_t>(out.prompt_ids.size());
  out.max_tokens = p.has_max_tokens()
                       ? p.max_tokens()
                       : static_cast<int32_t>(std::min<int64_t>(limits.default_max_tokens,
                                                                limits.context_length - prompt));
  if (out.max_tokens < 1) {
    return Invalid(absl::StrCat("params.max_tokens = ", out.max_tokens, " must be at least 1"));
  }
  if (prompt + out.max_tokens > limits.context_length) {
    return Invalid(absl::StrCat(
        "params.max_tokens: the prompt of ", prompt, " tokens plus max_tokens ", out.max_tokens,
        " exceeds the model context of ", limits.context_length, " tokens"));
  }
  out.n = p.has_n() ? p.n() : 1;
  if (out.n < 1 || out.n > limits.max_n) {
    return Invalid(absl::StrCat("params.n = ", out.n, " is outside [1, ", limits.max_n, "]"));
  }
  if (p.has_vote()) {
    if (p.has_n()) return Invalid("set params.n or params.vote, not both");
    if (p.vote() < 1 || p.vote() > limits.max_n) {
      return Invalid(
          absl::StrCat("params.vote = ", p.vote(), " is outside [1, ", limits.max_n, "]"));
    }
    if (out.sampling.temperature <= 0.0f) {
      return Invalid("params.vote needs temperature > 0 (greedy samples all agree)");
    }
    if (text == nullptr) return NeedsTokenizer("params.vote");
    if (!(p.vote_confidence() >= 0.0f && p.vote_confidence() <= 1.0f)) {
      return Invalid(
          absl::StrCat("params.vote_confidence = ", p.vote_confidence(), " is outside [0, 1]"));
    }
    if (p.has_vote_min_answers() && p.vote_min_answers() < 1) {
      return Invalid(
          absl::StrCat("params.vote_min_answers = ", p.vote_min_answers(), " must be at least 1"));
    }
    out.n = out.vote = p.vote();
    out.vote_early_stop = p.vote_early_stop();
    out.vote_confidence = p.vote_confidence();
    if (p.has_vote_min_answers()) out.vote_min_answers = p.vote_min_answers();
  }
  if (p.stop_size() > limits.max_stop_strings) {
    return Invalid(absl::StrCat("params.stop has ", p.stop_size(), " strings; at most ",
                                limits.max_stop_strings));
  }
  for (int i = 0; i < p.stop_size(); ++i) {
    const std::string& stop = p.stop(i);
    if (stop.empty() || static_cast<int>(stop.size()) > limits.max_stop_bytes) {
      return Invalid(
          absl::StrCat("params.stop[", i, "] must be 1 to ", limits.max_stop_bytes, " bytes"));
    }
    if (text == nullptr) return NeedsTokenizer("params.stop");
    out.stop.push_back(stop);
  }
  for (int i = 0; i < p.stop_token_ids_size(); ++i) {
    const int32_t id = p.stop_token_ids(i);
    if (id < 0 || id >= limits.vocab_size) {
      return Invalid(absl::StrCat("params.stop_token_ids[", i, "] = ", id,
                                  " is outside the vocabulary [0, ", limits.vocab_size, ")"));
    }
    out.stop_token_ids.push_back(id);
  }
  out.ignore_eos = p.ignore_eos();
  out.echo = p.echo();
  return absl::OkStatus();
}

absl::Status CheckPromptIds(const std::vector<int32_t>& ids, const char* field,
                            const ServingLimits& limits) {
  if (ids.empty()) return Invalid(absl::StrCat(field, " is empty"));
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= limits.vocab_size) {
      return Invalid(absl::StrCat(field, "[", i, "] = ", ids[i], " is outside the vocabulary [0, ",
                                  limits.vocab_size, ")"));
    }
  }
  if (static_cast<int64_t>(ids.size()) >= limits.context_length) {
    return Invalid(absl::StrCat("the prompt of ", ids.size(),
                                " tokens leaves no room in the model context of ",
                                limits.context_length, " tokens"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PreparedRequest> PrepareGenerate(const v1::GenerateRequest& request,
                                                const TokenizerFiles* text,
                                                const ServingLimits& limits) {
  PreparedRequest out;
  out.request_id = request.request_id();
  const char* field = "prompt.token_ids";
  switch (request.prompt_case()) {
    case v1::GenerateRequest::kTokenIds:
      out.prompt_ids.assign(request.token_ids().ids().begin(), request.token_ids().ids().end());
      break;
    case v1::GenerateRequest::kText: {
      field = "prompt.text";
      if (text == nullptr) return NeedsTokenizer("a text prompt");
      if (request.text().empty()) return Invalid("prompt.text is empty");
      absl::StatusOr<std::vector<int32_t>> ids =
          text->tokenizer->Encode(request.text(), /*add_special_tokens=*/true);
      if (!ids.ok()) return Invalid(absl::StrCat("prompt.text: ", ids.status().message()));
      out.prompt_ids = *std::move(ids);
      break;
    }
    default:
      return Invalid("prompt is empty: set prompt.text or prompt.token_ids");
  }
  if (absl::Status s = CheckPromptIds(out.prompt_ids, field, limits); !s.ok()) return s;
  if (absl::Status s = ApplyParams(request.params(), text, limits, out); !s.ok()) return s;
  return out;
}

absl::StatusOr<PreparedRequest> PrepareChat(const v1::ChatRequest& request,
                                            const TokenizerFiles* text,
                                            const ServingLimits& limits) {
  if (text == nullptr) return NeedsTokenizer("chat");
  if (request.messages().empty()) return Invalid("messages is empty");
  std::vector<ChatMessage> messages;
  for (const v1::ChatMessage& m : request.messages()) messages.push_back({m.role(), m.content()});
  if (!text->bos_id || !text->eos_id) {
    return absl::FailedPreconditionError("the tokenizer defines no BOS/EOS for the chat template");
  }
  absl::StatusOr<std::vector<int32_t>> ids = text->chat_template.Encode(
      *text->tokenizer, messages, /*add_generation_prompt=*/true, *text->bos_id, *text->eos_id);
  if (!ids.ok()) return ids.status();
  PreparedRequest out;
  out.request_id = request.request_id();
  out.prompt_ids = *std::move(ids);
  if (absl::Status s = CheckPromptIds(out.prompt_ids, "messages", limits); !s.ok()) return s;
  if (absl::Status s = ApplyParams(request.params(), text, limits, out); !s.ok()) return s;
  return out;
}

}  // namespace dsm
