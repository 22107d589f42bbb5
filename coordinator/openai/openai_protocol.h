#pragma once
// OpenAI's HTTP API in terms of dsm.v1 messages: request JSON (completions and chat
// completions, with vLLM's extensions top_k, min_p, repetition_penalty, ignore_eos,
// stop_token_ids) to GenerateRequest/ChatRequest, and responses, stream chunks and errors
// back to OpenAI's JSON. Pure functions: the HTTP server adapts, the coordinator serves.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/tokenizer/tokenizer.h"
#include "dsm/v1/inference.pb.h"
#include "nlohmann/json.hpp"

namespace dsm::openai {

enum class Endpoint { kCompletions, kChat };

// One parsed request. Exactly one of generate/chat is used, by endpoint.
struct ParsedRequest {
  Endpoint endpoint = Endpoint::kCompletions;
  v1::GenerateRequest generate;
  v1::ChatRequest chat;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  // completions: logprobs = N (top N alternatives); chat: logprobs = true (+ top_logprobs).
  bool want_logprobs = false;
  int chat_top_logprobs = 0;  // chat: alternatives per token (top_logprobs)
  bool echo = false;
  std::string prompt_text;  // completions with a text prompt (echo prepends it)
  std::string model;        // as the client named it
};

// INVALID_ARGUMENT naming the field (its JSON path) for malformed or out-of-range
// input; NOT_FOUND for a model other than `served_model`; UNIMPLEMENTED naming a
// parameter dsmserve does not support (logit_bias, tools, ...). Ranges the coordinator
// also checks (max_tokens against the context, ...) are left to it.
absl::StatusOr<ParsedRequest> ParseRequest(Endpoint endpoint, const std::string& body,
                                           const std::string& served_model);

// What a response needs besides the coordinator's answer.
struct ResponseContext {
  std::string id;  // "cmpl-..." or "chatcmpl-..."
  int64_t created = 0;
  std::string model;
  const Tokenizer* tokenizer = nullptr;  // token strings for logprobs; may be null
};

nlohmann::json CompletionResponse(const ParsedRequest& request, const ResponseContext& context,
                                  const v1::GenerateResponse& response);

// Builds the server-sent events of one stream. Chunks arrive as the coordinator streams
// them; Usage() is the last event when include_usage was asked for.
class StreamEncoder {
 public:
  StreamEncoder(const ParsedRequest& request, ResponseContext context)
      : request_(request), context_(std::move(context)) {}

  // Zero or more "data: {...}\n\n" events for one coordinator chunk.
  std::string Encode(const v1::GenerateStreamResponse& chunk);
  // The usage event (with include_usage) and "data: [DONE]".
  std::string Finish(const v1::Usage& usage);

 private:
  nlohmann::json Envelope() const;

  const ParsedRequest& request_;
  ResponseContext context_;
  std::vector<bool> role_sent_;  // chat: the first delta of each choice carries the role
};

// OpenAI's error body and the HTTP status for a failed request.
struct HttpError {
  int http_status = 500;
  nlohmann::json body;
};
HttpError ErrorFor(const absl::Status& status);

// OpenAI's error body: {"object": "error", "error": {message, type, param, code}}.
nlohmann::json ErrorBody(const std::string& message, const std::string& type,
                         const std::string& code, nlohmann::json param = nullptr);

// "data: <json>\n\n"
std::string SseEvent(const nlohmann::json& payload);

}  // namespace dsm::openai
