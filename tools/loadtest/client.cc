#include "tools/loadtest/client.h"

#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/api_key.h"
#include "dsm/v1/inference.grpc.pb.h"
#include "nlohmann/json.hpp"

namespace dsm::loadtest {
namespace {

using Clock = std::chrono::steady_clock;

// The conversation a chat request sends: the spec's own, or its text as one user turn.
std::vector<ChatTurn> ChatTurns(const RequestSpec& spec) {
  if (!spec.messages.empty()) return spec.messages;
  return {ChatTurn{"user", spec.text}};
}

// Records chunk arrival times: the first gives the time to first token, the others the
// gaps between chunks.
class ChunkClock {
 public:
  explicit ChunkClock(Clock::time_point sent) : sent_(sent), last_(sent) {}
  void Chunk(RequestRecord& r) {
    const Clock::time_point now = Clock::now();
    if (r.ttft_s < 0) {
      r.ttft_s = std::chrono::duration<double>(now - sent_).count();
    } else {
      r.token_gaps_s.push_back(std::chrono::duration<double>(now - last_).count());
    }
    last_ = now;
  }

 private:
  Clock::time_point sent_, last_;
};

class GrpcClient : public LoadClient {
 public:
  GrpcClient(const ClientOptions& options) : options_(options) {
    stub_ = v1::Inference::NewStub(
        grpc::CreateChannel(options.address, grpc::InsecureChannelCredentials()));
  }

  RequestRecord Send(const RequestSpec& spec, Clock::time_point run_start) override {
    const bool chat = options_.endpoint == "chat";
    v1::GenerateRequest request;
    v1::ChatRequest chat_request;
    v1::GenerationParams* params = chat ? chat_request.mutable_params() : request.mutable_params();
    if (chat) {
      for (const ChatTurn& turn : ChatTurns(spec)) {
        v1::ChatMessage* m = chat_request.add_messages();
        m->set_role(turn.role);
        m->set_content(turn.content);
      }
    } else if (spec.token_ids.empty()) {
      request.set_text(spec.text);
    } else {
      request.mutable_token_ids()->mutable_ids()->Assign(spec.token_ids.begin(),
                                                         spec.token_ids.end());
    }
    params->set_max_tokens(spec.max_tokens);
    params->set_ignore_eos(options_.ignore_eos);
    params->set_temperature(static_cast<float>(options_.temperature));
    RequestRecord r;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_s * 1e3)));
    if (!options_.api_key.empty()) {
      context.AddMetadata("authorization", BearerAuthorization(options_.api_key));
    }
    const Clock::time_point sent = Clock::now();
    r.start_s = std::chrono::duration<double>(sent - run_start).count();
    grpc::Status status;
    if (options_.stream) {
      ChunkClock clock(sent);
      auto reader = chat ? stub_->ChatStream(&context, chat_request)
                         : stub_->GenerateStream(&context, request);
      v1::GenerateStreamResponse chunk;
      while (reader->Read(&chunk)) {
        if (chunk.token_ids_size() > 0) {
          clock.Chunk(r);
          r.output_tokens += chunk.token_ids_size();
        }
        if (chunk.has_usage()) r.prompt_tokens = chunk.usage().prompt_tokens();
      }
      status = reader->Finish();
    } else {
      v1::GenerateResponse response;
      status = chat ? stub_->Chat(&context, chat_request, &response)
                    : stub_->Generate(&context, request, &response);
      r.prompt_tokens = response.usage().prompt_tokens();
      r.output_tokens = response.usage().completion_tokens();
    }
    r.e2e_s = SecondsSince(sent);
    if (!status.ok()) {
      // gRPC's codes are absl's, so the names match the server's logs and metrics.
      r.status = absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
      r.error = status.error_message();
    }
    return r;
  }

 private:
  ClientOptions options_;
  std::unique_ptr<v1::Inference::Stub> stub_;
};

class HttpClient : public LoadClient {
 public:
  HttpClient(const ClientOptions& options, const ServerInfo& server)
      : options_(options), server_(server), client_(absl::StrCat("http://", options.address)) {
    const auto timeout = static_cast<time_t>(options.timeout_s);
    client_.set_read_timeout(timeout, 0);
    client_.set_write_timeout(timeout, 0);
    client_.set_connection_timeout(10, 0);
    client_.set_keep_alive(true);
    if (!options.api_key.empty()) client_.set_bearer_token_auth(options.api_key.c_str());
  }

  RequestRecord Send(const RequestSpec& spec, Clock::time_point run_start) override {
    const bool chat = options_.endpoint == "chat";
    nlohmann::json body = {{"model", server_.model},
                           {"max_tokens", spec.max_tokens},
                           {"temperature", options_.temperature},
                           {"ignore_eos", options_.ignore_eos},
                           {"stream", options_.stream}};
    if (chat) {
      body["messages"] = nlohmann::json::array();
      for (const ChatTurn& turn : ChatTurns(spec)) {
        body["messages"].push_back({{"role", turn.role}, {"content", turn.content}});
      }
    } else if (spec.token_ids.empty()) {
      body["prompt"] = spec.text;
    } else {
      body["prompt"] = spec.token_ids;
    }
    if (options_.stream) body["stream_options"] = {{"include_usage", true}};
    RequestRecord r;
    const Clock::time_point sent = Clock::now();
    r.start_s = std::chrono::duration<double>(sent - run_start).count();
    ChunkClock clock(sent);
    std::string pending, whole;
    auto on_event = [&](absl::string_view data) {
      if (data == "[DONE]") return;
      const nlohmann::json j = nlohmann::json::parse(data.begin(), data.end(), nullptr, false);
      if (j.is_discarded()) return;
      if (j.contains("choices") && !j["choices"].empty() && j["choices"][0].is_object()) {
        // Completions stream "text"; chat streams "delta": {"content": ...}.
        const nlohmann::json& choice = j["choices"][0];
        const bool has_text = chat ? choice.contains("delta") && choice["delta"].is_object() &&
                                         choice["delta"].contains("content") &&
                                         choice["delta"]["content"].is_string() &&
                                         !choice["delta"]["content"].get<std::string>().empty()
                                   : !choice.value("text", std::string()).empty();
        if (has_text) clock.Chunk(r);
      }
      if (j.contains("usage") && j["usage"].is_object()) {
        r.prompt_tokens = j["usage"].value("prompt_tokens", 0);
        r.output_tokens = j["usage"].value("completion_tokens", 0);
      }
    };
    httplib::Request request;
    request.method = "POST";
    request.path = chat ? "/v1/chat/completions" : "/v1/completions";
    request.body = body.dump();
    request.set_header("Content-Type", "application/json");
    request.content_receiver = [&](const char* data, size_t length, uint64_t, uint64_t) {
      whole.append(data, length);
      if (!options_.stream) return true;
      pending.append(data, length);
      // Server-sent events: "data: <json>" lines separated by blank lines.
      size_t end;
      while ((end = pending.find("\n\n")) != std::string::npos) {
        for (absl::string_view line : absl::StrSplit(pending.substr(0, end), '\n')) {
          if (absl::ConsumePrefix(&line, "data:"))
            on_event(absl::StripLeadingAsciiWhitespace(line));
        }
        pending.erase(0, end + 2);
      }
      return true;
    };
    httplib::Response response;
    httplib::Error error = httplib::Error::Success;
    const bool sent_ok = client_.send(request, response, error);
    r.e2e_s = SecondsSince(sent);
    if (!sent_ok) {
      r.status = "HTTP connection error";
      r.error = httplib::to_string(error);
      return r;
    }
    if (response.status != 200) {
      r.status = absl::StrCat("HTTP ", response.status);
      const nlohmann::json j = nlohmann::json::parse(whole, nullptr, false);
      r.error = !j.is_discarded() && j.contains("error") && j["error"].is_object()
                    ? j["error"].value("message", whole)
                    : whole.substr(0, 200);
      return r;
    }
    if (!options_.stream) {
      const nlohmann::json j = nlohmann::json::parse(whole, nullptr, false);
      if (!j.is_discarded() && j.contains("usage")) {
        r.prompt_tokens = j["usage"].value("prompt_tokens", 0);
        r.output_tokens = j["usage"].value("completion_tokens", 0);
      }
    }
    return r;
  }

 private:
  ClientOptions options_;
  ServerInfo server_;
  httplib::Client client_;
};

}  // namespace

absl::StatusOr<ServerInfo> QueryServer(const ClientOptions& options) {
  ServerInfo info;
  if (options.protocol == "grpc") {
    auto stub = v1::Inference::NewStub(
        grpc::CreateChannel(options.address, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(
        std::chrono::system_clock::now() +
        std::chrono::milliseconds(static_cast<int64_t>(1e3 * std::min(10.0, options.timeout_s))));
    if (!options.api_key.empty()) {
      context.AddMetadata("authorization", BearerAuthorization(options.api_key));
    }
    v1::ModelInfo model;
    grpc::Status s = stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &model);
    if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      return absl::UnauthenticatedError(absl::StrCat("the gRPC server at ", options.address,
                                                     " refused the call: ", s.error_message(),
                                                     " (give --api_key or set DSM_API_KEY)"));
    }
    if (!s.ok()) {
      return absl::UnavailableError(absl::StrCat("cannot reach the gRPC server at ",
                                                 options.address, ": ", s.error_message()));
    }
    info.vocab_size = static_cast<int>(model.vocab_size());
    return info;
  }
  if (options.protocol != "http") {
    return absl::InvalidArgumentError(
        absl::StrCat("--protocol must be grpc or http, got '", options.protocol, "'"));
  }
  httplib::Client client(absl::StrCat("http://", options.address));
  client.set_connection_timeout(static_cast<time_t>(std::min(10.0, options.timeout_s)), 0);
  if (!options.api_key.empty()) client.set_bearer_token_auth(options.api_key.c_str());
  httplib::Result models = client.Get("/v1/models");
  if (!models || models->status != 200) {
    return absl::UnavailableError(absl::StrCat(
        "cannot list models at http://", options.address, "/v1/models: ",
        models ? absl::StrCat("HTTP ", models->status,
                              models->status == 401 ? " (give --api_key or set DSM_API_KEY)" : "")
               : httplib::to_string(models.error())));
  }
  const nlohmann::json j = nlohmann::json::parse(models->body, nullptr, false);
  if (j.is_discarded() || !j.contains("data") || !j["data"].is_array() || j["data"].empty()) {
    return absl::UnavailableError("/v1/models answered without a model");
  }
  // The requested model's card, or the first; the vocabulary (a dsmserve extension of
  // the card) bounds synthetic token ids.
  const nlohmann::json* card = &j["data"][0];
  if (!options.model.empty()) {
    card = nullptr;
    for (const nlohmann::json& m : j["data"]) {
      if (m.is_object() && m.value("id", "") == options.model) card = &m;
    }
    if (card == nullptr) {
      return absl::NotFoundError(absl::StrCat("--request_model \"", options.model,
                                              "\" is not among the server's /v1/models"));
    }
  }
  if (!card->is_object()) return absl::UnavailableError("/v1/models answered without a model");
  info.model = card->value("id", "");
  info.vocab_size = card->value("vocab_size", 0);
  return info;
}

std::unique_ptr<LoadClient> MakeClient(const ClientOptions& options, const ServerInfo& server) {
  if (options.protocol == "http") return std::make_unique<HttpClient>(options, server);
  return std::make_unique<GrpcClient>(options);
}

}  // namespace dsm::loadtest
