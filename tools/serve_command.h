#pragma once
// `dsm serve`: the coordinator with its worker groups as child processes, serving the
// public API until SIGINT/SIGTERM.

#include <string>

#include "absl/status/status.h"
#include "coordinator/coordinator.h"

namespace dsm {

struct ServeOptions {
  CoordinatorOptions coordinator;
  std::string host = "127.0.0.1";
  int port = 50051;               // 0 = pick a free one
  int http_port = -1;             // OpenAI-compatible HTTP API; -1 = off, 0 = pick a free one
  int metrics_port = -1;          // Prometheus /metrics on its own port; -1 = off, 0 = a free one
  std::string served_model_name;  // default: the model directory's name
  bool demo = false;
  // `dsm coordinator`: no workers are forked; groups form from workers that register
  // (WorkerRegistry on the same port, which also hosts their rendezvous store).
  bool registered_workers = false;
  // After SIGTERM/SIGINT: how long running requests may take to finish before they are
  // ended with UNAVAILABLE.
  int drain_timeout_s = 30;
  // Non-empty: the public API needs this bearer token (gRPC dsm.v1.Inference calls and
  // HTTP /v1/ requests); health checks and metrics stay open.
  std::string api_key;
};

absl::Status RunServe(ServeOptions options);

}  // namespace dsm
