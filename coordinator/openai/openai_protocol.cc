#include "coordinator/openai/openai_protocol.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace dsm::openai {
namespace {

using nlohmann::json;

absl::Status Bad(const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// A token id must fit int32 before it is narrowed: 2^32 + 1 would otherwise wrap to 1 and
// pass the vocabulary check as a different token. Range against the vocabulary is the
// coordinator's check.
bool IsInt32(const json& id) {
  if (id.is_number_unsigned()) return id.get<uint64_t>() <= INT32_MAX;
  return id.is_number_integer() && id.get<int64_t>() >= INT32_MIN && id.get<int64_t>() <= INT32_MAX;
}

// Typed optional fields: absent or null leaves `out` untouched.
absl::Status GetNumber(const json& j, const char* key, double* out, bool* present) {
  *present = false;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number()) return Bad(key, "must be a number");
  *out = it->get<double>();
  if (!std::isfinite(*out)) return Bad(key, "must be finite");
  *present = true;
  return absl::OkStatus();
}

absl::Status GetInt(const json& j, const char* key, int64_t* out, bool* present) {
  *present = false;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (it->is_number_float()) {
    const double v = it->get<double>();
    if (v != std::floor(v)) return Bad(key, "must be an integer");
    // 2^62 bounds every count; past 2^63 the conversion itself would be undefined.
    if (std::fabs(v) > 0x1p62) return Bad(key, "is out of range");
    *out = static_cast<int64_t>(v);
  } else if (it->is_number_integer()) {
    *out = it->get<int64_t>();
  } else {
    return Bad(key, "must be an integer");
  }
  *present = true;
  return absl::OkStatus();
}

absl::Status GetBool(const json& j, const char* key, bool* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_boolean()) return Bad(key, "must be true or false");
  *out = it->get<bool>();
  return absl::OkStatus();
}

absl::Status ToInt32(const char* key, int64_t v, int32_t* out) {
  if (v < INT32_MIN || v > INT32_MAX) return Bad(key, "is out of range");
  *out = static_cast<int32_t>(v);
  return absl::OkStatus();
}

#define DSM_RETURN_IF_ERROR(expr)                      \
  do {                                                 \
    if (absl::Status s_ = (expr); !s_.ok()) return s_; \
  } while (0)

// Sampling parameters shared by both endpoints.
absl::Status ParseParams(const json& j, Endpoint endpoint, v1::GenerationParams* p,
                         ParsedRequest* out) {
  bool present = false;
  double number = 0;
  int64_t integer = 0;
  int32_t i32 = 0;
  // OpenAI's completions default max_tokens to 16; chat leaves it to the server.
  const char* max_key = "max_tokens";
  DSM_RETURN_IF_ERROR(GetInt(j, "max_tokens", &integer, &present));
  if (!present && endpoint == Endpoint::kChat) {
    max_key = "max_completion_tokens";
    DSM_RETURN_IF_ERROR(GetInt(j, max_key, &integer, &present));
  }
  if (present) {
    DSM_RETURN_IF_ERROR(ToInt32(max_key, integer, &i32));
    if (i32 < 1) return Bad(max_key, "must be at least 1");
    p->set_max_tokens(i32);
  } else if (endpoint == Endpoint::kCompletions) {
    p->set_max_tokens(16);
  }
  struct FloatField {
    const char* key;
    void (v1::GenerationParams::*set)(float);
  };
  for (const FloatField& f :
       {FloatField{"temperature", &v1::GenerationParams::set_temperature},
        FloatField{"top_p", &v1::GenerationParams::set_top_p},
        FloatField{"min_p", &v1::GenerationParams::set_min_p},
        FloatField{"presence_penalty", &v1::GenerationParams::set_presence_penalty},
        FloatField{"frequency_penalty", &v1::GenerationParams::set_frequency_penalty},
        FloatField{"repetition_penalty", &v1::GenerationParams::set_repetition_penalty}}) {
    DSM_RETURN_IF_ERROR(GetNumber(j, f.key, &number, &present));
    if (present) (p->*f.set)(static_cast<float>(number));
  }
  DSM_RETURN_IF_ERROR(GetInt(j, "top_k", &integer, &present));
  if (present) {
    // vLLM: -1 (and 0) mean off.
    if (integer == -1) integer = 0;
    DSM_RETURN_IF_ERROR(ToInt32("top_k", integer, &i32));
    p->set_top_k(i32);
  }
  DSM_RETURN_IF_ERROR(GetInt(j, "n", &integer, &present));
  if (present) {
    DSM_RETURN_IF_ERROR(ToInt32("n", integer, &i32));
    p->set_n(i32);
  }
  DSM_RETURN_IF_ERROR(GetInt(j, "seed", &integer, &present));
  if (present) p->set_seed(static_cast<uint64_t>(integer));
  // dsmserve's extension: self-consistency votes (GenerationParams.vote and friends).
  DSM_RETURN_IF_ERROR(GetInt(j, "vote", &integer, &present));
  if (present) {
    DSM_RETURN_IF_ERROR(ToInt32("vote", integer, &i32));
    p->set_vote(i32);
  }
  bool vote_early_stop = false;
  DSM_RETURN_IF_ERROR(GetBool(j, "vote_early_stop", &vote_early_stop));
  p->set_vote_early_stop(vote_early_stop);
  DSM_RETURN_IF_ERROR(GetNumber(j, "vote_confidence", &number, &present));
  if (present) p->set_vote_confidence(static_cast<float>(number));
  DSM_RETURN_IF_ERROR(GetInt(j, "vote_min_answers", &integer, &present));
  if (present) {
    DSM_RETURN_IF_ERROR(ToInt32("vote_min_answers", integer, &i32));
    p->set_vote_min_answers(i32);
  }
  bool ignore_eos = false;
  DSM_RETURN_IF_ERROR(GetBool(j, "ignore_eos", &ignore_eos));
  p->set_ignore_eos(ignore_eos);

  if (auto it = j.find("stop"); it != j.end() && !it->is_null()) {
    if (it->is_string()) {
      p->add_stop(it->get<std::string>());
    } else if (it->is_array()) {
      for (size_t i = 0; i < it->size(); ++i) {
        if (!(*it)[i].is_string()) return Bad(absl::StrCat("stop[", i, "]"), "must be a string");
        p->add_stop((*it)[i].get<std::string>());
      }
    } else {
      return Bad("stop", "must be a string or an array of strings");
    }
  }
  if (auto it = j.find("stop_token_ids"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return Bad("stop_token_ids", "must be an array of integers");
    for (size_t i = 0; i < it->size(); ++i) {
      if (!IsInt32((*it)[i])) {
        return Bad(absl::StrCat("stop_token_ids[", i, "]"), "must be a token id (integer)");
      }
      p->add_stop_token_ids((*it)[i].get<int32_t>());
    }
  }

  // Logprobs: completions take an integer (top alternatives); chat a boolean plus
  // top_logprobs.
  if (endpoint == Endpoint::kCompletions) {
    DSM_RETURN_IF_ERROR(GetInt(j, "logprobs", &integer, &present));
    if (present) {
      if (integer < 0 || integer > 20) return Bad("logprobs", "must be in [0, 20]");
      out->want_logprobs = true;
      // dsm counts the sampled token apart; OpenAI's N alternatives include it.
      p->set_logprobs(static_cast<int32_t>(std::max<int64_t>(integer, 1)));
    }
    DSM_RETURN_IF_ERROR(GetBool(j, "echo", &out->echo));
  } else {
    DSM_RETURN_IF_ERROR(GetBool(j, "logprobs", &out->want_logprobs));
    DSM_RETURN_IF_ERROR(GetInt(j, "top_logprobs", &integer, &present));
    if (present) {
      if (integer < 0 || integer > 20) return Bad("top_logprobs", "must be in [0, 20]");
      if (!out->want_logprobs) return Bad("top_logprobs", "needs logprobs: true");
    }
    if (out->want_logprobs)
      p->set_logprobs(static_cast<int32_t>(present ? std::max<int64_t>(integer, 1) : 1));
    out->chat_top_logprobs = present ? static_cast<int>(integer) : 0;
  }

  DSM_RETURN_IF_ERROR(GetBool(j, "stream", &out->stream));
  if (auto it = j.find("stream_options"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return Bad("stream_options", "must be an object");
    if (!out->stream) return Bad("stream_options", "is only allowed with stream: true");
    if (absl::Status s = GetBool(*it, "include_usage", &out->include_usage); !s.ok()) {
      return Bad("stream_options.include_usage", "must be true or false");
    }
  }
  return absl::OkStatus();
}

// Parameters OpenAI defines that dsmserve does not implement: an error, never silence.
absl::Status RejectUnsupported(const json& j, Endpoint endpoint) {
  std::vector<const char*> keys = {
      "logit_bias",    "suffix",          "tools",       "tool_choice",  "functions",
      "function_call", "response_format", "guided_json", "guided_regex", "guided_choice",
      "audio",         "modalities",      "prediction"};
  for (const char* key : keys) {
    auto it = j.find(key);
    if (it != j.end() && !it->is_null()) {
      return absl::UnimplementedError(absl::StrCat(key, ": not supported by dsmserve"));
    }
  }
  if (auto it = j.find("best_of"); it != j.end() && !it->is_null()) {
    int64_t n = 1, best_of = 0;
    if (!it->is_number_integer()) return Bad("best_of", "must be an integer");
    best_of = it->get<int64_t>();
    if (auto n_it = j.find("n"); n_it != j.end() && n_it->is_number_integer()) n = *n_it;
    if (best_of != n) return absl::UnimplementedError("best_of: only best_of = n is supported");
  }
  (void)endpoint;
  return absl::OkStatus();
}

absl::Status ParsePrompt(const json& j, ParsedRequest* out) {
  auto it = j.find("prompt");
  if (it == j.end() || it->is_null()) return Bad("prompt", "is required");
  const json* prompt = &*it;
  // A one-element batch is the same as its element; larger batches are not supported.
  if (prompt->is_array() && prompt->size() == 1 &&
      ((*prompt)[0].is_string() || (*prompt)[0].is_array())) {
    prompt = &(*prompt)[0];
  }
  if (prompt->is_string()) {
    out->prompt_text = prompt->get<std::string>();
    out->generate.set_text(out->prompt_text);
    return absl::OkStatus();
  }
  if (prompt->is_array()) {
    v1::TokenIds* ids = out->generate.mutable_token_ids();
    for (size_t i = 0; i < prompt->size(); ++i) {
      const json& id = (*prompt)[i];
      if (id.is_string() || id.is_array()) {
        return Bad("prompt", "one prompt per request (send several requests for a batch)");
      }
      if (!IsInt32(id)) {
        return Bad(absl::StrCat("prompt[", i, "]"), "must be a token id (integer)");
      }
      ids->add_ids(id.get<int32_t>());
    }
    return absl::OkStatus();
  }
  return Bad("prompt", "must be a string or an array of token ids");
}

absl::Status ParseMessages(const json& j, ParsedRequest* out) {
  auto it = j.find("messages");
  if (it == j.end() || !it->is_array()) return Bad("messages", "is required (an array)");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    const std::string where = absl::StrCat("messages[", i, "]");
    if (!m.is_object()) return Bad(where, "must be an object");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) return Bad(where + ".role", "must be a string");
    std::string content;
    auto c = m.find("content");
    if (c == m.end() || c->is_null()) {
      content = "";
    } else if (c->is_string()) {
      content = c->get<std::string>();
    } else if (c->is_array()) {
      // Content parts: text only.
      for (size_t k = 0; k < c->size(); ++k) {
        const json& part = (*c)[k];
        const std::string part_where = absl::StrCat(where, ".content[", k, "]");
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
            !part["text"].is_string()) {
          return Bad(part_where, "only {\"type\": \"text\", \"text\": ...} parts are supported");
        }
        content += part["text"].get<std::string>();
      }
    } else {
      return Bad(where + ".content", "must be a string or an array of text parts");
    }
    v1::ChatMessage* message = out->chat.add_messages();
    // OpenAI's newer "developer" role is the system prompt.
    const std::string r = role->get<std::string>();
    message->set_role(r == "developer" ? "system" : r);
    message->set_content(content);
  }
  return absl::OkStatus();
}

const char* FinishReasonText(v1::FinishReason reason) {
  switch (reason) {
    case v1::FINISH_REASON_LENGTH:
      return "length";
    case v1::FINISH_REASON_STOP:
    case v1::FINISH_REASON_EOS:
      return "stop";
    default:
      return nullptr;
  }
}

// dsmserve's extension: the choice's math final answer, when its text states one.
void AddFinalAnswer(const std::string& normalized, const std::string& text, json& choice) {
  if (text.empty()) return;
  choice["final_answer"] = normalized;
  choice["final_answer_text"] = text;
}

json VoteJson(const v1::VoteResult& vote) {
  json distribution = json::array();
  for (const v1::VoteResult::Count& c : vote.distribution()) {
    distribution.push_back({{"answer", c.answer()}, {"votes", c.votes()}});
  }
  return {{"answer", vote.answer().empty() ? json(nullptr) : json(vote.answer())},
          {"answer_text", vote.answer_text()},
          {"share", vote.share()},
          {"distribution", distribution},
          {"supporters", vote.supporters()},
          {"samples", vote.samples()},
          {"samples_completed", vote.samples_completed()},
          {"samples_stopped", vote.samples_stopped()},
          {"tokens_saved", vote.tokens_saved()},
          {"stopped_because", vote.stopped_because()}};
}

json FinishReasonJson(v1::FinishReason reason) {
  const char* text = FinishReasonText(reason);
  return text ? json(text) : json(nullptr);
}

std::string TokenText(const Tokenizer* tokenizer, int32_t id) {
  if (tokenizer == nullptr) return absl::StrCat("token_id:", id);
  const int32_t ids[] = {id};
  absl::StatusOr<std::string> text = tokenizer->Decode(ids, false);
  return text.ok() ? *text : absl::StrCat("token_id:", id);
}

json Bytes(const std::string& s) {
  json out = json::array();
  for (unsigned char c : s) out.push_back(static_cast<int>(c));
  return out;
}

// OpenAI's completions logprobs for `logprobs` (tokens, token_logprobs, top_logprobs,
// text_offset), starting at text offset `offset`.
json CompletionLogprobs(const google::protobuf::RepeatedPtrField<v1::TokenLogprob>& logprobs,
                        const Tokenizer* tokenizer, size_t offset) {
  json tokens = json::array(), values = json::array(), tops = json::array(),
       offsets = json::array();
  for (const v1::TokenLogprob& lp : logprobs) {
    const std::string text = TokenText(tokenizer, lp.token_id());
    tokens.push_back(text);
    values.push_back(lp.logprob());
    json top = json::object();
    for (const auto& t : lp.top()) top[TokenText(tokenizer, t.token_id())] = t.logprob();
    tops.push_back(top);
    offsets.push_back(offset);
    offset += text.size();
  }
  return {{"tokens", tokens},
          {"token_logprobs", values},
          {"top_logprobs", tops},
          {"text_offset", offsets}};
}

json ChatLogprobs(const google::protobuf::RepeatedPtrField<v1::TokenLogprob>& logprobs,
                  const Tokenizer* tokenizer, int top_n) {
  json content = json::array();
  for (const v1::TokenLogprob& lp : logprobs) {
    const std::string text = TokenText(tokenizer, lp.token_id());
    json top = json::array();
    for (int k = 0; k < std::min(top_n, lp.top_size()); ++k) {
      const std::string alt = TokenText(tokenizer, lp.top(k).token_id());
      top.push_back({{"token", alt}, {"logprob", lp.top(k).logprob()}, {"bytes", Bytes(alt)}});
    }
    content.push_back({{"token", text},
                       {"logprob", lp.logprob()},
                       {"bytes", Bytes(text)},
                       {"top_logprobs", top}});
  }
  return {{"content", content}};
}

json UsageJson(const v1::Usage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens()},
          {"completion_tokens", usage.completion_tokens()},
          {"total_tokens", usage.prompt_tokens() + usage.completion_tokens()},
          {"prompt_tokens_details", {{"cached_tokens", usage.cached_prompt_tokens()}}}};
}

}  // namespace

absl::StatusOr<ParsedRequest> ParseRequest(Endpoint endpoint, const std::string& body,
                                           const std::string& served_model) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::parse_error& e) {
    // The parser's own words say where and why ("parse error at line 1, column 13: ...
    // ill-formed UTF-8 byte"); its "[json.exception.parse_error.101] " tag is noise.
    std::string why = e.what();
    if (const size_t tag_end = why.find("] ");
        why.rfind("[json.exception", 0) == 0 && tag_end != std::string::npos) {
      why = why.substr(tag_end + 2);
    }
    return absl::InvalidArgumentError(absl::StrCat("the request body is not valid JSON: ", why));
  }
  if (!j.is_object()) return absl::InvalidArgumentError("the request body must be a JSON object");
  ParsedRequest out;
  out.endpoint = endpoint;
  if (auto it = j.find("model"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) return Bad("model", "must be a string");
    out.model = it->get<std::string>();
    if (!out.model.empty() && out.model != served_model) {
      return absl::NotFoundError(absl::StrCat(
          "The model `", out.model, "` does not exist (this server serves `", served_model, "`)"));
    }
  }
  if (out.model.empty()) out.model = served_model;
  DSM_RETURN_IF_ERROR(RejectUnsupported(j, endpoint));
  v1::GenerationParams* params = endpoint == Endpoint::kCompletions ? out.generate.mutable_params()
                                                                    : out.chat.mutable_params();
  DSM_RETURN_IF_ERROR(ParseParams(j, endpoint, params, &out));
  if (endpoint == Endpoint::kCompletions) {
    DSM_RETURN_IF_ERROR(ParsePrompt(j, &out));
    params->set_echo(out.echo);
  } else {
    DSM_RETURN_IF_ERROR(ParseMessages(j, &out));
  }
  return out;
}

json CompletionResponse(const ParsedRequest& request, const ResponseContext& context,
                        const v1::GenerateResponse& response) {
  json choices = json::array();
  for (const v1::Choice& c : response.choices()) {
    json choice;
    choice["index"] = c.index();
    if (request.endpoint == Endpoint::kCompletions) {
      const std::string prefix = request.echo ? request.prompt_text : "";
      choice["text"] = prefix + c.text();
      choice["logprobs"] = request.want_logprobs
                               ? CompletionLogprobs(c.logprobs(), context.tokenizer, prefix.size())
                               : json(nullptr);
    } else {
      choice["message"] = {{"role", "assistant"}, {"content", c.text()}};
      choice["logprobs"] = request.want_logprobs ? ChatLogprobs(c.logprobs(), context.tokenizer,
                                                                request.chat_top_logprobs)
                                                 : json(nullptr);
    }
    choice["finish_reason"] = FinishReasonJson(c.finish_reason());
    if (!c.stop().empty()) choice["stop_reason"] = c.stop();
    AddFinalAnswer(c.final_answer(), c.final_answer_text(), choice);
    choices.push_back(choice);
  }
  json body = {{"id", context.id},
               {"object",
                request.endpoint == Endpoint::kCompletions ? "text_completion" : "chat.completion"},
               {"created", context.created},
               {"model", context.model},
               {"choices", choices},
               {"usage", UsageJson(response.usage())}};
  if (response.has_vote()) body["vote"] = VoteJson(response.vote());
  return body;
}

json StreamEncoder::Envelope() const {
  return {{"id", context_.id},
          {"object", request_.endpoint == Endpoint::kCompletions ? "text_completion"
                                                                 : "chat.completion.chunk"},
          {"created", context_.created},
          {"model", context_.model}};
}

std::string StreamEncoder::Encode(const v1::GenerateStreamResponse& chunk) {
  if (chunk.has_usage()) {  // the final chunk: Finish() reports its usage
    if (!chunk.has_vote()) return "";
    json event = Envelope();
    event["choices"] = json::array();
    event["vote"] = VoteJson(chunk.vote());
    return SseEvent(event);
  }
  const int index = chunk.index();
  if (static_cast<int>(role_sent_.size()) <= index) role_sent_.resize(index + 1, false);
  const bool finished = chunk.finish_reason() != v1::FINISH_REASON_UNSPECIFIED;
  std::string text = chunk.text();
  // The echoed prompt leads choice's first chunk.
  if (request_.endpoint == Endpoint::kCompletions && request_.echo && !role_sent_[index]) {
    text = request_.prompt_text + text;
  }
  const bool first = !role_sent_[index];
  role_sent_[index] = true;
  // Tokens held back for a possible stop string carry no text yet: nothing to send.
  if (text.empty() && !finished && !(first && request_.endpoint == Endpoint::kChat) &&
      !request_.want_logprobs) {
    return "";
  }
  json choice = {{"index", index}};
  if (request_.endpoint == Endpoint::kCompletions) {
    choice["text"] = text;
    choice["logprobs"] = request_.want_logprobs
                             ? CompletionLogprobs(chunk.logprobs(), context_.tokenizer, 0)
                             : json(nullptr);
  } else {
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (!text.empty() || first) delta["content"] = text;
    choice["delta"] = delta;
    choice["logprobs"] = request_.want_logprobs ? ChatLogprobs(chunk.logprobs(), context_.tokenizer,
                                                               request_.chat_top_logprobs)
                                                : json(nullptr);
  }
  choice["finish_reason"] = FinishReasonJson(chunk.finish_reason());
  AddFinalAnswer(chunk.final_answer(), chunk.final_answer_text(), choice);
  json event = Envelope();
  event["choices"] = json::array({choice});
  if (request_.include_usage) event["usage"] = nullptr;
  return SseEvent(event);
}

std::string StreamEncoder::Finish(const v1::Usage& usage) {
  std::string out;
  if (request_.include_usage) {
    json event = Envelope();
    event["choices"] = json::array();
    event["usage"] = UsageJson(usage);
    out += SseEvent(event);
  }
  return out + "data: [DONE]\n\n";
}

HttpError ErrorFor(const absl::Status& status) {
  HttpError e;
  std::string type = "server_error";
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      e.http_status = 400;
      type = "invalid_request_error";
      break;
    case absl::StatusCode::kUnimplemented:
      e.http_status = 400;
      type = "invalid_request_error";
      break;
    case absl::StatusCode::kNotFound:
      e.http_status = 404;
      type = "invalid_request_error";
      break;
    case absl::StatusCode::kResourceExhausted:
      e.http_status = 429;
      type = "rate_limit_error";
      break;
    case absl::StatusCode::kUnavailable:
      e.http_status = 503;
      type = "service_unavailable";
      break;
    case absl::StatusCode::kDeadlineExceeded:
      e.http_status = 504;
      type = "timeout";
      break;
    case absl::StatusCode::kCancelled:
      e.http_status = 499;
      type = "cancelled";
      break;
    default:
      e.http_status = 500;
      break;
  }
  // The field is the message's prefix up to ':' when the message names one.
  const std::string message(status.message());
  json param = nullptr;
  if (e.http_status == 400) {
    // Messages about one field name it first ("max_tokens: ...", "params.top_p = 2 is
    // ...", "prompt is empty"); the request's own field name is the param (the gRPC
    // message's "params." dropped). Others ("the request body is not valid JSON", "set
    // params.n or params.vote") start with an ordinary word and name no param.
    const size_t end = message.find_first_of(" :");
    std::string field = message.substr(0, end);
    const std::string_view rest = std::string_view(message).substr(std::min(end, message.size()));
    bool names_field = false;
    for (const std::string_view follower : {":", " = ", " is ", " has ", " must ", " needs "}) {
      names_field = names_field || rest.starts_with(follower);
    }
    if (field.rfind("params.", 0) == 0) field = field.substr(7);
    const bool identifier =
        !field.empty() &&
        field.find_first_not_of("abcdefghijklmnopqrstuvwxyz_0123456789.[]") == std::string::npos;
    if (identifier && names_field) param = field;
  }
  e.body = ErrorBody(message, type, absl::StatusCodeToString(status.code()), std::move(param));
  return e;
}

json ErrorBody(const std::string& message, const std::string& type, const std::string& code,
               json param) {
  return {{"object", "error"},
          {"error",
           {{"message", message}, {"type", type}, {"param", std::move(param)}, {"code", code}}}};
}

std::string SseEvent(const json& payload) {
  return absl::StrCat("data: ", payload.dump(-1, ' ', false, json::error_handler_t::replace),
                      "\n\n");
}

}  // namespace dsm::openai
