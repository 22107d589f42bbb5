#include "coordinator/inference_service.h"

#include "absl/strings/str_cat.h"
#include "common/api_key.h"
#include "common/grpc_status.h"

namespace dsm {

absl::StatusOr<Coordinator*> InferenceService::Ready(const grpc::ServerContext* context) const {
  if (!api_key_.empty()) {
    const auto& metadata = context->client_metadata();
    const auto it = metadata.find("authorization");
    const absl::string_view sent = it == metadata.end()
                                       ? absl::string_view()
                                       : absl::string_view(it->second.data(), it->second.size());
    if (!BearerTokenMatches(sent, api_key_)) {
      return absl::UnauthenticatedError(
          it == metadata.end()
              ? "this server needs an API key: send the metadata authorization: Bearer <key>"
              : "the API key in the authorization metadata is not this server's");
    }
  }
  Coordinator* c = coordinator_.load();
  if (c == nullptr) {
    return absl::UnavailableError("server is starting: the model is still loading");
  }
  return c;
}

// Binds `c` to the ready coordinator or returns UNAUTHENTICATED or UNAVAILABLE from the
// handler (`context` is the call's).
#define DSM_COORDINATOR_OR_RETURN(c)                      \
  absl::StatusOr<Coordinator*> c##_or = Ready(context);   \
  if (!c##_or.ok()) return ToGrpcStatus(c##_or.status()); \
  Coordinator* c = *c##_or

grpc::Status InferenceService::Run(grpc::ServerContext* context,
                                   const absl::StatusOr<PreparedRequest>& prepared,
                                   v1::GenerateResponse* response,
                                   grpc::ServerWriter<v1::GenerateStreamResponse>* writer) {
  if (!prepared.ok()) return ToGrpcStatus(prepared.status());
  const CancelCheck cancelled = [context] { return context->IsCancelled(); };
  ChunkWriter write = [writer](const v1::GenerateStreamResponse& chunk) {
    return writer->Write(chunk);
  };
  absl::StatusOr<v1::GenerateResponse> result =
      coordinator_.load()->Generate(*prepared, cancelled, writer ? &write : nullptr);
  if (!result.ok()) {
    if (absl::IsCancelled(result.status()) &&
        context->deadline() < std::chrono::system_clock::now()) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "the deadline passed");
    }
    return ToGrpcStatus(result.status());
  }
  if (response != nullptr) *response = *std::move(result);
  return grpc::Status::OK;
}

grpc::Status InferenceService::Generate(grpc::ServerContext* context,
                                        const v1::GenerateRequest* request,
                                        v1::GenerateResponse* response) {
  DSM_COORDINATOR_OR_RETURN(coordinator);
  return Run(context, PrepareGenerate(*request, coordinator->text(), coordinator->limits()),
             response, nullptr);
}

grpc::Status InferenceService::GenerateStream(
    grpc::ServerContext* context, const v1::GenerateRequest* request,
    grpc::ServerWriter<v1::GenerateStreamResponse>* writer) {
  DSM_COORDINATOR_OR_RETURN(coordinator);
  return Run(context, PrepareGenerate(*request, coordinator->text(), coordinator->limits()),
             nullptr, writer);
}

grpc::Status InferenceService::Chat(grpc::ServerContext* context, const v1::ChatRequest* request,
                                    v1::GenerateResponse* response) {
  DSM_COORDINATOR_OR_RETURN(coordinator);
  return Run(context, PrepareChat(*request, coordinator->text(), coordinator->limits()), response,
             nullptr);
}

grpc::Status InferenceService::ChatStream(grpc::ServerContext* context,
                                          const v1::ChatRequest* request,
                                          grpc::ServerWriter<v1::GenerateStreamResponse>* writer) {
  DSM_COORDINATOR_OR_RETURN(coordinator);
  return Run(context, PrepareChat(*request, coordinator->text(), coordinator->limits()), nullptr,
             writer);
}

grpc::Status InferenceService::Tokenize(grpc::ServerContext* context,
                                        const v1::TokenizeRequest* request,
                                        v1::TokenizeResponse* response) {
  DSM_COORDINATOR_OR_RETURN(coordinator);
  const TokenizerFiles* text = coordinator->text();
  if (text == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "this model is served without a tokenizer (token ids only)");
  }
  absl::StatusOr<std::vector<int32_t>> ids =
      text->tokenizer->Encode(request->text(), request->add_special_tokens());
  if (!ids.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("text: ", ids.status().message()));
  }
  response->mutable_ids()->Assign(ids->begin(), ids->end());
  return grpc::Status::OK;
}

grpc::Status InferenceService::Detokenize(grpc::ServerContext* context,
                                          const v1::DetokenizeRequest* request,
                                          v1::DetokenizeResponse* response) {
  DSM_COORDINATOR_OR_RETURN(coordinator);
  const TokenizerFiles* text = coordinator->text();
  if (text == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "this model is served without a tokenizer (token ids only)");
  }
  std::vector<int32_t> ids(request->ids().begin(), request->ids().end());
  absl::StatusOr<std::string> decoded =
      text->tokenizer->Decode(ids, request->skip_special_tokens());
  if (!decoded.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("ids: ", decoded.status().message()));
  }
  response->set_text(*decoded);
  return grpc::Status::OK;
}

grpc::Status InferenceService::GetModelInfo(grpc::ServerContext* context,
                                            const v1::GetModelInfoRequest*,
                                            v1::ModelInfo* response) {
  DSM_COORDINATOR_OR_RETURN(coordinator);
  *response = coordinator->Info();
  return grpc::Status::OK;
}

}  // namespace dsm
