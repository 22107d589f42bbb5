#pragma once
// OpenAI-compatible HTTP front end of the coordinator: POST /v1/completions and
// /v1/chat/completions (streamed as server-sent events or not), GET /v1/models and
// /health. A thin adapter: requests go through the same validation and Coordinator path
// as gRPC. A client that closes its connection cancels its sequences.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "coordinator/coordinator.h"

namespace httplib {
class Server;
}

namespace dsm {

class OpenAiHttpServer {
 public:
  // Binds host:port (exclusively; 0 picks a free port) before the model loads; until
  // SetCoordinator, requests get 503 "server is starting".
  // With `scrape`, GET /metrics serves the text it returns (Prometheus exposition).
  // With `api_key`, every /v1/ request must carry "Authorization: Bearer <key>" (401
  // otherwise); /health and /metrics stay open for probes and Prometheus, as in vLLM.
  static absl::StatusOr<std::unique_ptr<OpenAiHttpServer>> Bind(
      const std::string& host, int port, std::string model_id,
      std::function<std::string()> scrape = nullptr, std::string api_key = "");
  ~OpenAiHttpServer();  // stops serving

  int port() const { return port_; }
  void SetCoordinator(Coordinator* coordinator) { coordinator_.store(coordinator); }
  // Stops accepting and ends the serving thread (streams in progress end first).
  void Stop();

 private:
  OpenAiHttpServer() = default;
  void Route();

  std::unique_ptr<httplib::Server> server_;
  std::string model_id_;
  std::string api_key_;
  int port_ = 0;
  std::atomic<Coordinator*> coordinator_{nullptr};
  std::atomic<uint64_t> next_id_{1};
  std::function<std::string()> metrics_;
  std::thread thread_;
};

}  // namespace dsm
