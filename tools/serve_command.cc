#include "tools/serve_command.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/model_config.h"
#include "common/rendezvous_service.h"
#include "coordinator/inference_service.h"
#include "coordinator/local_worker_group.h"
#include "coordinator/metrics/metrics_http_server.h"
#include "coordinator/metrics/serving_metrics.h"
#include "coordinator/openai/openai_http_server.h"
#include "coordinator/worker_registry.h"
#include "tools/demo_model.h"
#include "tools/termination_signal.h"

namespace dsm {
namespace {

constexpr char kInferenceServiceName[] = "dsm.v1.Inference";
constexpr char kLivenessServiceName[] = "dsm.liveness";

// FAILED_PRECONDITION "address already in use" when another process holds the port (gRPC
// itself only reports that it could not listen).
absl::Status CheckPortFree(const std::string& host, int port) {
  if (port == 0) return absl::OkStatus();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0 || found == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("--host ", host, " is not an address"));
  }
  absl::Status status;
  const int fd = socket(found->ai_family, found->ai_socktype, found->ai_protocol);
  if (fd >= 0) {
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, found->ai_addr, found->ai_addrlen) != 0) {
      const int err = errno;
      status = absl::FailedPreconditionError(absl::StrCat(
          "cannot listen on ", host, ":", port, ": ", std::strerror(err),
          err == EADDRINUSE ? " (another process holds the port; pick another --port)" : ""));
    }
    close(fd);
  }
  freeaddrinfo(found);
  return status;
}

}  // namespace

absl::Status RunServe(ServeOptions options) {
  // Signals are taken by a TerminationSignal thread; block them before any thread
  // starts so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (options.demo) {
    options.coordinator.model_dir = DefaultDemoModelDir();
    std::fprintf(stderr, "dsm serve: demo model in %s\n", options.coordinator.model_dir.c_str());
    if (absl::Status s = EnsureDemoModel(options.coordinator.model_dir); !s.ok()) return s;
  }
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--port must be in [0, 65535] (0 = pick a free one), got ", options.port));
  }
  const CoordinatorOptions& c = options.coordinator;
  if (c.replicas < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--replicas must be >= 1, got ", c.replicas));
  }
  if (c.max_running < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-running must be >= 1, got ", c.max_running));
  }
  if (c.max_queued_requests < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-queue must be >= 0 (sequences that may wait for a slot), got ",
                     c.max_queued_requests));
  }
  if (c.max_batch_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-batch-tokens must be >= 1, got ", c.max_batch_tokens));
  }
  {
    WorkerGroupOptions workers = c.workers;
    workers.tp = c.tp;
    workers.backend = c.backend;
    workers.max_sequences = c.max_running;
    if (absl::Status s = ValidateWorkerGroupOptions(workers); !s.ok()) return s;
  }
  if (options.drain_timeout_s < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--drain-timeout-s must be >= 0, got ", options.drain_timeout_s));
  }
  if (options.coordinator.model_dir.empty()) {
    return absl::InvalidArgumentError("--model DIR (or --demo) is required");
  }
  if (options.coordinator.backend != "cpu" && options.coordinator.backend != "cuda") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown --backend \"", options.coordinator.backend, "\"; use cpu or cuda"));
  }
  // Listen first (exclusively: a second server on the port fails instead of sharing it
  // through SO_REUSEPORT), answering UNAVAILABLE and NOT_SERVING while the model loads.
  const std::string address = absl::StrCat(options.host, ":", options.port);
  if (absl::Status s = CheckPortFree(options.host, options.port); !s.ok()) return s;
  InferenceService service;
  service.SetApiKey(options.api_key);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  // Workers register on the public port (the registry), and their collectives meet in
  // the rendezvous store beside it: forked ones (`dsm serve`) and independently started
  // ones (`dsm coordinator`) alike.
  RegistryOptions r;
  r.groups = options.coordinator.replicas;
  r.tp = options.coordinator.tp;
  r.backend = options.coordinator.backend;
  r.formed_timeout = absl::Seconds(options.coordinator.workers.comm_timeout_s + 10);
  if (options.registered_workers) {
    // Strangers register: check they load this model. (Forked workers load it by
    // construction, and a bad model directory is reported once the workers start.)
    absl::StatusOr<ModelConfig> config = LoadModelConfig(options.coordinator.model_dir);
    if (!config.ok()) return config.status();
    r.vocab_size = config->vocab_size;
  }
  auto registry = std::make_unique<WorkerRegistry>(r);
  // A signal before the workers are up shuts the registry: launches and formations
  // waiting on it give up, and the start ends at once.
  TerminationSignal termination(signals, [&registry] { registry->Shutdown(); });
  RendezvousService rendezvous_store;
  builder.RegisterService(registry.get());
  builder.RegisterService(&rendezvous_store);
  // Workers ping every 5 s so a lost host is noticed; let them, and ping them too.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 4000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }
  if (options.registered_workers) {
    options.coordinator.launcher = [reg = registry.get()](int group,
                                                          const WorkerGroupOptions& workers) {
      return reg->FormGroup(group, workers);
    };
  } else {
    // Forked workers reach the registry over loopback unless the server has a
    // specific address.
    const bool wildcard = options.host == "0.0.0.0" || options.host == "::" ||
                          options.host == "[::]" || options.host.empty();
    options.coordinator.launcher = LocalRegisteredLauncher(
        registry.get(), absl::StrCat(wildcard ? "127.0.0.1" : options.host, ":", port));
  }
  // Health tells the truth: SERVING ("" and dsm.v1.Inference) only while some group can
  // serve and the server is not draining; the default service's Watch pushes changes.
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  auto report = [health](bool serving) {
    health->SetServingStatus("", serving);
    health->SetServingStatus(kInferenceServiceName, serving);
  };
  report(false);
  // Liveness apart from readiness: SERVING for as long as the process runs, so a probe
  // on it never restarts a server that is loading, re-forming or draining.
  health->SetServingStatus(kLivenessServiceName, true);
  std::printf("dsm serve: listening on %s:%d\n", options.host.c_str(), port);
  std::string model_id = options.served_model_name;
  if (model_id.empty()) {
    model_id = std::filesystem::path(options.coordinator.model_dir).filename().string();
  }
  // Metrics: on the HTTP API's port and, with --metrics-port, on their own.
  ServingMetrics metrics(model_id);
  options.coordinator.observer = &metrics;
  std::atomic<Coordinator*> ready{nullptr};
  auto scrape = [&metrics, &ready] { return metrics.Scrape(ready.load()); };
  std::unique_ptr<MetricsHttpServer> metrics_http;
  if (options.metrics_port >= 0) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> started =
        MetricsHttpServer::Start(options.host, options.metrics_port, scrape);
    if (!started.ok()) {
      server->Shutdown(std::chrono::system_clock::now());
      return started.status();
    }
    metrics_http = *std::move(started);
    std::printf("dsm serve: metrics on %s:%d/metrics\n", options.host.c_str(),
                metrics_http->port());
  }
  std::unique_ptr<OpenAiHttpServer> http;
  if (options.http_port >= 0) {
    absl::StatusOr<std::unique_ptr<OpenAiHttpServer>> bound =
        OpenAiHttpServer::Bind(options.host, options.http_port, model_id, scrape, options.api_key);
    if (!bound.ok()) {
      server->Shutdown(std::chrono::system_clock::now());
      return bound.status();
    }
    http = *std::move(bound);
    std::printf("dsm serve: HTTP (OpenAI API) on %s:%d, model \"%s\"\n", options.host.c_str(),
                http->port(), model_id.c_str());
  }
  std::fflush(stdout);

  const auto start = std::chrono::steady_clock::now();
  std::fprintf(stderr,
               options.registered_workers
                   ? "dsm serve: waiting for %d worker group(s) of tp %d to register for %s\n"
                   : "dsm serve: starting %d worker group(s) of tp %d for %s\n",
               options.coordinator.replicas, options.coordinator.tp,
               options.coordinator.model_dir.c_str());
  absl::StatusOr<std::unique_ptr<Coordinator>> coordinator =
      Coordinator::Start(options.coordinator);
  const bool start_stopped = !termination.Started();
  if (start_stopped || !coordinator.ok()) {
    if (coordinator.ok()) (*coordinator)->StopEngines();
    if (http) http->Stop();
    server->Shutdown(std::chrono::system_clock::now());
    if (coordinator.ok()) coordinator->reset();
    if (!start_stopped) return coordinator.status();
    std::fprintf(stderr, "dsm serve: %s while starting; stopped\n",
                 termination.received() == SIGINT ? "SIGINT" : "SIGTERM");
    return absl::OkStatus();
  }
  std::fprintf(stderr, "dsm serve: workers ready in %.1f s\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  service.SetCoordinator(coordinator->get());
  if (http) http->SetCoordinator(coordinator->get());
  ready.store(coordinator->get());
  report((*coordinator)->CanServe());
  std::atomic<bool> stop_health{false};
  std::thread health_monitor([&] {
    bool serving = (*coordinator)->CanServe();
    while (!stop_health.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const bool now = !stop_health.load() && (*coordinator)->CanServe();
      if (now != serving && !stop_health.load()) {
        report(now);
        std::fprintf(stderr, "dsm serve: health %s\n", now ? "SERVING" : "NOT_SERVING");
        serving = now;
      }
    }
  });
  std::printf("dsm serve: ready\n");
  std::fflush(stdout);

  const int signal = termination.Wait();
  // Drain: unhealthy at once, no new requests, running ones get the grace period.
  stop_health = true;
  health_monitor.join();
  (*coordinator)->StartDrain();  // before health turns: a client that saw it is refused
  report(false);
  std::fprintf(stderr, "dsm serve: %s, draining (up to %d s for %d running request(s))\n",
               signal == SIGINT ? "SIGINT" : "SIGTERM", options.drain_timeout_s,
               (*coordinator)->InFlight());
  const auto drain_end =
      std::chrono::steady_clock::now() + std::chrono::seconds(options.drain_timeout_s);
  // A second signal ends the drain at once.
  while ((*coordinator)->InFlight() > 0 && std::chrono::steady_clock::now() < drain_end &&
         !termination.forced()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (const int left = (*coordinator)->InFlight(); left > 0) {
    const bool forced = termination.forced();
    std::fprintf(stderr, "dsm serve: ending %d request(s) still running %s\n", left,
                 forced ? "(second signal: not waiting for the drain)" : "after the drain");
    (*coordinator)
        ->AbortInFlight(absl::UnavailableError(
            forced ? std::string("server is shutting down: a second signal ended the drain")
                   : absl::StrCat("server is shutting down: the request did not finish within "
                                  "the drain timeout of ",
                                  options.drain_timeout_s, " s")));
    const auto abort_end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while ((*coordinator)->InFlight() > 0 && std::chrono::steady_clock::now() < abort_end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  // Stop the engines first: the workers' Join streams end next, and a group that sees
  // its workers leave must not relaunch them (that loads the model again and waits for
  // registrations that can no longer come).
  (*coordinator)->StopEngines();
  registry->Shutdown();  // ends the workers' Join streams (registered ones re-register)
  // Every request has ended by now (drained or aborted); the grace only lets final
  // statuses flush. Longer would wait on idle clients that never read the GOAWAY.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(250));
  if (http) http->Stop();
  ready.store(nullptr);
  metrics_http.reset();
  coordinator->reset();  // stops the engines and their worker processes
  std::fprintf(stderr, "dsm serve: stopped\n");
  return absl::OkStatus();
}

}  // namespace dsm
