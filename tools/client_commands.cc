#include "tools/client_commands.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/api_key.h"
#include "common/grpc_status.h"
#include "dsm/v1/inference.grpc.pb.h"
#include "nlohmann/json.hpp"

namespace dsm {
namespace {

std::unique_ptr<v1::Inference::Stub> Connect(const ClientOptions& options) {
  return v1::Inference::NewStub(
      grpc::CreateChannel(options.address, grpc::InsecureChannelCredentials()));
}

// The deadline and the API key of every call.
void SetDeadline(const ClientOptions& options, grpc::ClientContext& context) {
  if (!options.api_key.empty()) {
    context.AddMetadata("authorization", BearerAuthorization(options.api_key));
  }
  if (options.timeout_s > 0) {
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(static_cast<int64_t>(options.timeout_s * 1000)));
  }
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, print);
  return json;
}

absl::Status Failed(const grpc::Status& status, const ClientOptions& options) {
  absl::Status s = FromGrpcStatus(status);
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return absl::UnavailableError(
        absl::StrCat("cannot reach dsm serve at ", options.address, ": ", s.message()));
  }
  return s;
}

// Streams one request; text goes to `out` as it arrives unless --json.
template <typename Request, typename Call>
absl::Status Stream(const ClientOptions& options, const Request& request, Call call,
                    std::ostream& out, std::string* text) {
  grpc::ClientContext context;
  SetDeadline(options, context);
  auto reader = call(&context, request);
  v1::GenerateStreamResponse chunk;
  v1::GenerateResponse summary;
  std::vector<v1::Choice> choices(options.params.has_n() ? options.params.n() : 1);
  while (reader->Read(&chunk)) {
    if (chunk.has_usage()) {
      *summary.mutable_usage() = chunk.usage();
      *summary.mutable_timing() = chunk.timing();
      continue;
    }
    if (chunk.index() < 0 || chunk.index() >= static_cast<int>(choices.size())) continue;
    v1::Choice& c = choices[chunk.index()];
    c.set_index(chunk.index());
    for (int32_t id : chunk.token_ids()) c.add_token_ids(id);
    c.mutable_text()->append(chunk.text());
    if (chunk.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
      c.set_finish_reason(chunk.finish_reason());
    }
    if (!options.json && choices.size() == 1) out << chunk.text() << std::flush;
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return Failed(status, options);
  for (v1::Choice& c : choices) *summary.add_choices() = std::move(c);
  if (options.json) {
    out << ToJson(summary) << "\n";
  } else {
    if (choices.size() > 1) {
      for (const v1::Choice& c : summary.choices())
        out << "[" << c.index() << "] " << c.text() << "\n";
    } else {
      out << "\n";
    }
    std::cerr << "(" << summary.usage().completion_tokens() << " tokens, "
              << v1::FinishReason_Name(summary.choices(0).finish_reason()) << ", first token "
              << summary.timing().first_token_seconds() << " s, total "
              << summary.timing().total_seconds() << " s)\n";
  }
  if (text != nullptr) *text = summary.choices(0).text();
  return absl::OkStatus();
}

}  // namespace

absl::Status RunGenerate(const ClientOptions& options, const std::string& prompt,
                         const std::vector<int32_t>& prompt_token_ids, std::ostream& out) {
  auto stub = Connect(options);
  v1::GenerateRequest request;
  if (prompt_token_ids.empty()) {
    request.set_text(prompt);
  } else {
    request.mutable_token_ids()->mutable_ids()->Assign(prompt_token_ids.begin(),
                                                       prompt_token_ids.end());
  }
  *request.mutable_params() = options.params;
  return Stream(
      options, request,
      [&](grpc::ClientContext* context, const v1::GenerateRequest& r) {
        return stub->GenerateStream(context, r);
      },
      out, nullptr);
}

absl::Status RunChat(const ClientOptions& options, const std::string& system, std::istream& in,
                     std::ostream& out) {
  auto stub = Connect(options);
  v1::ChatRequest request;
  *request.mutable_params() = options.params;
  if (!system.empty()) {
    v1::ChatMessage* m = request.add_messages();
    m->set_role("system");
    m->set_content(system);
  }
  std::string line;
  if (!options.json) std::cerr << "you> " << std::flush;
  while (std::getline(in, line)) {
    if (line.empty()) {
      if (!options.json) std::cerr << "you> " << std::flush;
      continue;
    }
    v1::ChatMessage* user = request.add_messages();
    user->set_role("user");
    user->set_content(line);
    if (!options.json) out << "assistant> " << std::flush;
    std::string answer;
    absl::Status s = Stream(
        options, request,
        [&](grpc::ClientContext* context, const v1::ChatRequest& r) {
          return stub->ChatStream(context, r);
        },
        out, &answer);
    if (!s.ok()) return s;
    v1::ChatMessage* assistant = request.add_messages();
    assistant->set_role("assistant");
    assistant->set_content(answer);
    if (!options.json) std::cerr << "you> " << std::flush;
  }
  return absl::OkStatus();
}

absl::Status RunRemoteTokenize(const ClientOptions& options, bool decode, bool add_special_tokens,
                               bool skip_special_tokens, std::istream& in, std::ostream& out) {
  auto stub = Connect(options);
  std::string line;
  int failures = 0;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    nlohmann::ordered_json result;
    grpc::ClientContext context;
    SetDeadline(options, context);
    grpc::Status status;
    if (j.is_discarded() || !j.is_object()) {
      status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "not a JSON object");
    } else if (decode) {
      v1::DetokenizeRequest request;
      if (j.contains("ids") && j["ids"].is_array()) {
        for (const auto& id : j["ids"]) request.add_ids(id.get<int32_t>());
      }
      request.set_skip_special_tokens(skip_special_tokens);
      v1::DetokenizeResponse response;
      status = stub->Detokenize(&context, request, &response);
      if (status.ok()) result = {{"text", response.text()}};
    } else {
      v1::TokenizeRequest request;
      request.set_text(j.value("text", ""));
      request.set_add_special_tokens(add_special_tokens);
      v1::TokenizeResponse response;
      status = stub->Tokenize(&context, request, &response);
      if (status.ok())
        result = {{"ids", std::vector<int32_t>(response.ids().begin(), response.ids().end())}};
    }
    if (!status.ok()) {
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE) return Failed(status, options);
      ++failures;
      result = {{"error", absl::StrCat("line ", n, ": ", status.error_message())}};
    }
    out << result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  if (failures > 0) return absl::InvalidArgumentError(absl::StrCat(failures, " line(s) failed"));
  return absl::OkStatus();
}

absl::Status RunInfo(const ClientOptions& options, std::ostream& out) {
  auto stub = v1::Inference::NewStub(
      grpc::CreateChannel(options.address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  SetDeadline(options, context);
  v1::ModelInfo info;
  if (grpc::Status s = stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info); !s.ok()) {
    return Failed(s, options);
  }
  if (options.json) {
    out << ToJson(info) << "\n";
    return absl::OkStatus();
  }
  out << info.model_id() << ": context " << info.context_length() << ", tp "
      << info.tensor_parallel_size() << ", " << info.backend() << ", " << info.queued_requests()
      << " queued\n";
  for (const v1::ModelInfo::GroupStats& g : info.groups()) {
    out << "  group " << g.index() << ": " << (g.healthy() ? "healthy" : "DOWN") << ", running "
        << g.running() << ", waiting " << g.waiting() << ", KV blocks free " << g.kv_blocks_free()
        << "/" << g.kv_blocks_total() << "\n";
  }
  return absl::OkStatus();
}

}  // namespace dsm
