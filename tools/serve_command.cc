#include "tools/serve_command.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "coordinator/inference_service.h"
#include "tools/demo_model.h"

namespace dsm {
namespace {

constexpr char kInferenceServiceName[] = "dsm.v1.Inference";

}  // namespace

absl::Status RunServe(ServeOptions options) {
  // Signals are taken by sigwait below; block them before any thread starts so that
  // every thread inherits the mask.
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
  const auto start = std::chrono::steady_clock::now();
  std::fprintf(stderr, "dsm serve: starting %d worker group(s) of tp %d for %s\n",
               options.coordinator.replicas, options.coordinator.tp,
               options.coordinator.model_dir.c_str());
  absl::StatusOr<std::unique_ptr<Coordinator>> coordinator =
      Coordinator::Start(options.coordinator);
  if (!coordinator.ok()) return coordinator.status();
  std::fprintf(stderr, "dsm serve: workers ready in %.1f s\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());

  InferenceService service(coordinator->get());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  const std::string address = absl::StrCat(options.host, ":", options.port);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0)
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  // Health tells the truth: SERVING ("" and dsm.v1.Inference) only while some group can
  // serve and the server is not draining; the default service's Watch pushes changes.
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  std::atomic<bool> stop_health{false};
  auto report = [health](bool serving) {
    health->SetServingStatus("", serving);
    health->SetServingStatus(kInferenceServiceName, serving);
  };
  report((*coordinator)->CanServe());
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
  std::printf("dsm serve: listening on %s:%d\n", options.host.c_str(), port);
  std::fflush(stdout);

  int signal = 0;
  sigwait(&signals, &signal);
  // Drain: unhealthy at once, no new requests, running ones get the grace period.
  stop_health = true;
  health_monitor.join();
  report(false);
  (*coordinator)->StartDrain();
  std::fprintf(stderr, "dsm serve: %s, draining (up to %d s for %d running request(s))\n",
               signal == SIGINT ? "SIGINT" : "SIGTERM", options.drain_timeout_s,
               (*coordinator)->InFlight());
  const auto drain_end =
      std::chrono::steady_clock::now() + std::chrono::seconds(options.drain_timeout_s);
  while ((*coordinator)->InFlight() > 0 && std::chrono::steady_clock::now() < drain_end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (const int left = (*coordinator)->InFlight(); left > 0) {
    std::fprintf(stderr, "dsm serve: ending %d request(s) still running after the drain\n", left);
    (*coordinator)
        ->AbortInFlight(absl::UnavailableError(absl::StrCat(
            "server is shutting down: the request did not finish within the drain timeout of ",
            options.drain_timeout_s, " s")));
    const auto abort_end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while ((*coordinator)->InFlight() > 0 && std::chrono::steady_clock::now() < abort_end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  coordinator->reset();  // stops the engines and their worker processes
  std::fprintf(stderr, "dsm serve: stopped\n");
  return absl::OkStatus();
}

}  // namespace dsm
