#pragma once
// The public dsm.v1.Inference gRPC service over a Coordinator.

#include <atomic>
#include <string>

#include "coordinator/coordinator.h"
#include "dsm/v1/inference.grpc.pb.h"

namespace dsm {

class InferenceService final : public v1::Inference::Service {
 public:
  explicit InferenceService(Coordinator* coordinator = nullptr) : coordinator_(coordinator) {}

  // The server listens before the model is loaded; until this is called every call
  // answers UNAVAILABLE "server is starting".
  void SetCoordinator(Coordinator* coordinator) { coordinator_.store(coordinator); }

  // With a key, every call must carry the metadata "authorization: Bearer <key>" or gets
  // UNAUTHENTICATED. Set before the server starts.
  void SetApiKey(std::string key) { api_key_ = std::move(key); }

  grpc::Status Generate(grpc::ServerContext* context, const v1::GenerateRequest* request,
                        v1::GenerateResponse* response) override;
  grpc::Status GenerateStream(grpc::ServerContext* context, const v1::GenerateRequest* request,
                              grpc::ServerWriter<v1::GenerateStreamResponse>* writer) override;
  grpc::Status Chat(grpc::ServerContext* context, const v1::ChatRequest* request,
                    v1::GenerateResponse* response) override;
  grpc::Status ChatStream(grpc::ServerContext* context, const v1::ChatRequest* request,
                          grpc::ServerWriter<v1::GenerateStreamResponse>* writer) override;
  grpc::Status Tokenize(grpc::ServerContext* context, const v1::TokenizeRequest* request,
                        v1::TokenizeResponse* response) override;
  grpc::Status Detokenize(grpc::ServerContext* context, const v1::DetokenizeRequest* request,
                          v1::DetokenizeResponse* response) override;
  grpc::Status GetModelInfo(grpc::ServerContext* context, const v1::GetModelInfoRequest* request,
                            v1::ModelInfo* response) override;

 private:
  grpc::Status Run(grpc::ServerContext* context, const absl::StatusOr<PreparedRequest>& prepared,
                   v1::GenerateResponse* response,
                   grpc::ServerWriter<v1::GenerateStreamResponse>* writer);

  // The coordinator, or UNAUTHENTICATED without the API key, or UNAVAILABLE while the
  // server is still loading.
  absl::StatusOr<Coordinator*> Ready(const grpc::ServerContext* context) const;

  std::atomic<Coordinator*> coordinator_;
  std::string api_key_;
};

}  // namespace dsm
