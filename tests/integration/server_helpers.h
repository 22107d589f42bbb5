#pragma once
// A real `dsm serve` process on 127.0.0.1 for integration tests, and small client helpers.

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "coordinator/child_process.h"
#include "dsm/v1/inference.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace dsm::testing {

// Pids of the live dsm-worker children of `parent`.
std::vector<pid_t> WorkerPidsOf(pid_t parent);

// A tiny random model in `dir`: 1 layer of hidden 64, vocabulary 64, no tokenizer.
bool WriteTinyModel(const std::string& dir);

// Replaces the weights file of the model in `dir` with a FIFO nobody writes: a worker
// that loads it from now on blocks in open() for as long as the test likes (a running
// one keeps its mapping of the unlinked file).
bool BlockWeightsLoad(const std::string& dir);

class ServerProcess {
 public:
  // Starts `dsm serve <args> --port 0` and waits until it listens and its workers are up.
  static std::unique_ptr<ServerProcess> Start(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {BinDir() + "/dsm", "serve", "--port", "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn(argv);
    EXPECT_TRUE(child.ok()) << child.status();
    if (!child.ok()) return nullptr;
    auto server = std::unique_ptr<ServerProcess>(new ServerProcess());
    server->process_ = *std::move(child);
    for (;;) {
      absl::StatusOr<std::string> line = server->process_->ReadLine(std::chrono::seconds(120));
      EXPECT_TRUE(line.ok()) << line.status();
      if (!line.ok()) return nullptr;
      const std::string tag = "dsm serve: listening on ";
      if (absl::StartsWith(*line, tag)) server->address_ = line->substr(tag.size());
      const std::string metrics_tag = "dsm serve: metrics on ";
      if (absl::StartsWith(*line, metrics_tag)) {
        const std::string rest = line->substr(metrics_tag.size());
        const size_t colon = rest.rfind(':');
        server->metrics_port_ = std::atoi(rest.substr(colon + 1).c_str());
      }
      const std::string http_tag = "dsm serve: HTTP (OpenAI API) on ";
      if (absl::StartsWith(*line, http_tag)) {
        const std::string rest = line->substr(http_tag.size());
        server->http_port_ = std::atoi(rest.substr(rest.rfind(':') + 1).c_str());
      }
      if (*line == "dsm serve: ready") break;  // the workers are up
    }
    server->stub_ = v1::Inference::NewStub(
        grpc::CreateChannel(server->address_, grpc::InsecureChannelCredentials()));
    return server;
  }

  ~ServerProcess() {
    process_->Kill(SIGTERM);
    process_->WaitOrKill(std::chrono::seconds(15));
  }

  const std::string& address() const { return address_; }
  void Signal(int signal) { process_->Kill(signal); }

  // Sends `signal` and waits up to `timeout` for the exit; the wait status, or -1.
  int SignalAndWait(int signal, std::chrono::seconds timeout) {
    process_->Kill(signal);
    return WaitForExit(timeout);
  }

  // The wait status once the server has exited, or -1 after `timeout`.
  int WaitForExit(std::chrono::seconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {  // looks at least once, so a zero timeout polls
      if (std::optional<int> status = process_->TryWait()) return *status;
      if (std::chrono::steady_clock::now() >= end) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // grpc.health.v1 status of `service` ("" = the server as a whole).
  grpc::health::v1::HealthCheckResponse::ServingStatus Health(const std::string& service) {
    auto stub = grpc::health::v1::Health::NewStub(
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    if (!stub->Check(&context, request, &response).ok()) {
      return grpc::health::v1::HealthCheckResponse::UNKNOWN;
    }
    return response.status();
  }
  v1::Inference::Stub& stub() { return *stub_; }
  // The OpenAI HTTP port (started with --http-port), else 0.
  int http_port() const { return http_port_; }
  // The --metrics-port port, else 0.
  int metrics_port() const { return metrics_port_; }
  pid_t pid() const { return process_->pid(); }

  // Pids of this server's dsm-worker children.
  std::vector<pid_t> WorkerPids() const { return WorkerPidsOf(process_->pid()); }

 private:
  ServerProcess() = default;
  std::unique_ptr<ChildProcess> process_;
  std::string address_;
  int http_port_ = 0;
  int metrics_port_ = 0;
  std::unique_ptr<v1::Inference::Stub> stub_;
};

// A model slow enough (a few ms per token on this machine) that requests are still
// running when a test acts on them: random weights, 6 layers of hidden 768, no tokenizer.
const std::string& SlowModel();

// Greedy, EOS ignored: the parameters of golden comparisons.
inline v1::GenerationParams Greedy(int max_tokens) {
  v1::GenerationParams p;
  p.set_temperature(0);
  p.set_max_tokens(max_tokens);
  p.set_ignore_eos(true);
  return p;
}

inline v1::GenerateRequest IdsRequest(const std::vector<int32_t>& ids,
                                      v1::GenerationParams params) {
  v1::GenerateRequest r;
  r.mutable_token_ids()->mutable_ids()->Assign(ids.begin(), ids.end());
  *r.mutable_params() = std::move(params);
  return r;
}

struct StreamResult {
  grpc::Status status;
  std::vector<std::vector<int32_t>> tokens;  // per choice
  std::vector<std::string> text;
  std::vector<v1::FinishReason> finish;
  v1::Usage usage;
};

inline StreamResult CollectStream(v1::Inference::Stub& stub, const v1::GenerateRequest& request,
                                  int choices = 1, double timeout_s = 120) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)));
  auto reader = stub.GenerateStream(&context, request);
  StreamResult result;
  result.tokens.resize(choices);
  result.text.resize(choices);
  result.finish.resize(choices, v1::FINISH_REASON_UNSPECIFIED);
  v1::GenerateStreamResponse chunk;
  while (reader->Read(&chunk)) {
    if (chunk.has_usage()) result.usage = chunk.usage();
    if (chunk.index() >= choices) continue;
    for (int32_t id : chunk.token_ids()) result.tokens[chunk.index()].push_back(id);
    result.text[chunk.index()] += chunk.text();
    if (chunk.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
      result.finish[chunk.index()] = chunk.finish_reason();
    }
  }
  result.status = reader->Finish();
  return result;
}

}  // namespace dsm::testing
