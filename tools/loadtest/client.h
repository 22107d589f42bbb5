#pragma once
// Sends one request to the server under test and records what happened. One client per
// load-test thread; implementations for gRPC (GenerateStream, ChatStream) and for the
// OpenAI HTTP API (/v1/completions, /v1/chat/completions, streamed as server-sent events).

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tools/loadtest/stats.h"
#include "tools/loadtest/workload.h"

namespace dsm::loadtest {

struct ServerInfo {
  int vocab_size = 0;
  std::string model;  // the name HTTP requests must carry
};

class LoadClient {
 public:
  virtual ~LoadClient() = default;
  // Blocks until the request ends; timestamps are relative to `run_start`.
  virtual RequestRecord Send(const RequestSpec& request,
                             std::chrono::steady_clock::time_point run_start) = 0;
};

struct ClientOptions {
  std::string protocol = "grpc";  // or "http"
  // "completions" (gRPC Generate, HTTP /v1/completions) or "chat" (gRPC Chat, HTTP
  // /v1/chat/completions: the server's chat template applies).
  std::string endpoint = "completions";
  std::string address;     // host:port
  bool stream = true;      // false: one reply at the end (no ttft / itl)
  double temperature = 0;  // 0 = greedy
  bool ignore_eos = true;  // generate exactly max_tokens
  double timeout_s = 600;  // per request
  std::string api_key;     // HTTP: sent as "Authorization: Bearer <key>" when set
  std::string model;       // HTTP: the model requests name; empty = the server's first
};

// Asks the server for its vocabulary size and model name (fails with a clear status
// when it cannot be reached).
absl::StatusOr<ServerInfo> QueryServer(const ClientOptions& options);

std::unique_ptr<LoadClient> MakeClient(const ClientOptions& options, const ServerInfo& server);

}  // namespace dsm::loadtest
