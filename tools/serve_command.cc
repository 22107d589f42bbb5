#include "tools/serve_command.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>

#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "coordinator/inference_service.h"
#include "tools/demo_model.h"

namespace dsm {

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
  server->GetHealthCheckService()->SetServingStatus(true);
  std::printf("dsm serve: listening on %s:%d\n", options.host.c_str(), port);
  std::fflush(stdout);

  int signal = 0;
  sigwait(&signals, &signal);
  std::fprintf(stderr, "dsm serve: %s, shutting down\n", signal == SIGINT ? "SIGINT" : "SIGTERM");
  server->GetHealthCheckService()->SetServingStatus(false);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  coordinator->reset();  // stops the engines and their worker processes
  return absl::OkStatus();
}

}  // namespace dsm
