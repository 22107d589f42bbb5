// dsm-worker: serves one tensor-parallel rank of a model.
//
// Start-up: rank 0 first hosts the rendezvous store (on --rendezvous; port 0 picks one)
// and prints "DSM_RENDEZVOUS host:port"; every rank loads its shard, joins the Gloo
// group through the store, starts its Worker service and prints "DSM_WORKER_READY
// host:port". Both lines go to stdout for the launcher; logs go to stderr.
//
// With --coordinator HOST:PORT the worker runs on its own (a pod): it loads its shard,
// starts its Worker service, and registers with the coordinator as rank --rank of group
// --group; the coordinator forms the group's collectives (through its own rendezvous
// store) once every rank has registered, and again after any of them or the coordinator
// restarts. The weights stay loaded through all of it; SIGTERM ends the worker.

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "common/process_stats.h"
#include "common/rendezvous_service.h"
#include "worker/comm/connect_communicator.h"
#include "worker/coordinator_link.h"
#include "worker/executor/executor_factory.h"
#include "worker/step_runner.h"
#include "worker/worker_service.h"

ABSL_FLAG(std::string, model, "", "HuggingFace model directory (config.json + safetensors)");
ABSL_FLAG(int, rank, 0, "this worker's rank in its tensor-parallel group");
ABSL_FLAG(int, tp, 1, "tensor-parallel group size");
ABSL_FLAG(std::string, rendezvous, "127.0.0.1:0",
          "host:port of the rendezvous store; rank 0 hosts it (port 0 = pick a free one)");
ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on (Worker service and Gloo)");
ABSL_FLAG(int, port, 0, "Worker service port (0 = pick a free one)");
ABSL_FLAG(int, threads, 0, "compute threads (0 = all cores available to this process)");
ABSL_FLAG(int, kv_block_size, 16, "positions per KV-cache block");
ABSL_FLAG(int64_t, kv_cache_mib, 1024, "KV-cache pool size of this rank in MiB");
ABSL_FLAG(int, comm_timeout_s, 60, "seconds to wait for peers before failing");
ABSL_FLAG(std::string, backend, "cpu", "compute backend: cpu or cuda");
ABSL_FLAG(int, cuda_device, -1, "cuda: device ordinal (-1 = this rank's index)");
ABSL_FLAG(double, gpu_memory_fraction, 0.9,
          "cuda: fraction of the device's memory for weights, buffers and the KV pool");
ABSL_FLAG(std::string, precision, "bf16",
          "cuda: bf16 (activations and KV cache in bf16) or fp32 (exact, golden-comparable)");
ABSL_FLAG(int, max_step_tokens, 8192, "cuda: tokens per step the activation buffers hold");
ABSL_FLAG(int, max_sequences, 256, "sequences one step may hold (the scheduler's max running)");
ABSL_FLAG(int, parent_pid, 0,
          "exit when this process is no longer our parent (the launcher died); 0 = never");
ABSL_FLAG(bool, cuda_graphs, true, "cuda: capture and replay decode steps as CUDA graphs");
ABSL_FLAG(std::string, kv_cache_dtype, "f32",
          "cpu: KV-cache elements, f32 (exact) or bf16 (half the memory, K/V rounded)");
ABSL_FLAG(std::string, activation_dtype, "f32",
          "cpu: f32 (exact) or bf16 (activations rounded to bf16 for the weight GEMMs, which "
          "use AVX-512 BF16 dot products; inexact, opt-in; bf16 checkpoints only)");
ABSL_FLAG(bool, device_sampling, true,
          "cuda: sample from summaries of the logits made on the device (2 KB per row) "
          "instead of copying every row to the host");
ABSL_FLAG(std::string, coordinator, "",
          "host:port of a `dsm coordinator` to register with (the worker then runs on its own)");
ABSL_FLAG(int, group, 0, "with --coordinator: the tensor-parallel group this rank belongs to");
ABSL_FLAG(std::string, advertise, "",
          "with --coordinator: host:port the coordinator reaches the Worker service on "
          "(default: --host and the bound port; required when --host is 0.0.0.0)");
ABSL_FLAG(std::string, comm_host, "",
          "address this rank's collectives listen on and peers reach it at (default: the "
          "advertised host, else --host)");

namespace dsm {
namespace {

// The registered worker's service once it serves; null before (loading) and after.
std::atomic<WorkerService*> g_serving{nullptr};

// SIGTERM/SIGINT (blocked in every thread, taken here): a serving worker stops cleanly;
// one still loading its weights or starting its device exits at once, as a pod being
// deleted mid-start must, instead of holding the signal until the load is done.
void WatchTerminationSignals(int rank, sigset_t signals) {
  std::thread([rank, signals] {
    int signal = 0;
    sigwait(&signals, &signal);
    if (WorkerService* service = g_serving.load()) {
      service->RequestShutdown();
      return;
    }
    std::fprintf(stderr, "dsm-worker rank %d: %s before serving; exiting\n", rank,
                 signal == SIGINT ? "SIGINT" : "SIGTERM");
    std::_Exit(0);
  }).detach();
}

int Fail(int rank, const absl::Status& status) {
  std::fprintf(stderr, "dsm-worker rank %d: error: %s\n", rank, status.ToString().c_str());
  return 1;
}

// A worker started by a launcher lives as long as the launcher's process (whatever
// thread forked it): when it is reparented, the launcher is gone and so is the worker.
void WatchParent(int parent_pid, int rank) {
  if (parent_pid <= 0) return;
  std::thread([parent_pid, rank] {
    for (;;) {
      if (getppid() != parent_pid) {
        std::fprintf(stderr, "dsm-worker rank %d: the launcher (pid %d) is gone; exiting\n", rank,
                     parent_pid);
        std::_Exit(1);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }).detach();
}

int Main() {
  const int rank = absl::GetFlag(FLAGS_rank);
  if (!absl::GetFlag(FLAGS_coordinator).empty()) {
    // Signals are taken by a sigwait thread; block them before any thread starts.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    WatchTerminationSignals(rank, signals);
  }
  WatchParent(absl::GetFlag(FLAGS_parent_pid), rank);
  const int tp = absl::GetFlag(FLAGS_tp);
  if (absl::GetFlag(FLAGS_model).empty()) {
    return Fail(rank, absl::InvalidArgumentError("--model is required"));
  }

  std::string rendezvous = absl::GetFlag(FLAGS_rendezvous);
  RendezvousService rendezvous_service;
  std::unique_ptr<grpc::Server> rendezvous_server;
  if (rank == 0 && tp > 1 && absl::GetFlag(FLAGS_coordinator).empty()) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(rendezvous, grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&rendezvous_service);
    rendezvous_server = builder.BuildAndStart();
    if (!rendezvous_server || port == 0) {
      return Fail(rank, absl::UnavailableError(
                            absl::StrCat("cannot listen for rendezvous on ", rendezvous)));
    }
    rendezvous = absl::StrCat(rendezvous.substr(0, rendezvous.rfind(':')), ":", port);
    std::printf("DSM_RENDEZVOUS %s\n", rendezvous.c_str());
    std::fflush(stdout);
  }

  const std::string backend = absl::GetFlag(FLAGS_backend);
  if (!BackendCompiledIn(backend)) {
    return Fail(rank, backend == "cuda"
                          ? absl::FailedPreconditionError(
                                "--backend cuda: this dsm-worker was built without the CUDA "
                                "backend (configure with -DDSM_CUDA=ON)")
                          : absl::InvalidArgumentError(absl::StrCat("unknown backend \"", backend,
                                                                    "\"; use cpu or cuda")));
  }
  const std::string coordinator = absl::GetFlag(FLAGS_coordinator);
  const std::string host = absl::GetFlag(FLAGS_host);
  std::string advertise = absl::GetFlag(FLAGS_advertise);
  std::string comm_host = absl::GetFlag(FLAGS_comm_host);
  if (comm_host.empty()) {
    comm_host = !advertise.empty() ? advertise.substr(0, advertise.rfind(':')) : host;
  }
  if (!coordinator.empty() && advertise.empty() && (host == "0.0.0.0" || host == "::")) {
    return Fail(rank,
                absl::InvalidArgumentError("--host " + host +
                                           " is not an address peers can reach: give "
                                           "--advertise HOST:PORT (the pod's IP or DNS name)"));
  }
  CommSpec spec;
  spec.backend = backend;
  spec.rank = rank;
  spec.world_size = tp;
  spec.rendezvous_address = rendezvous;
  spec.bind_host = comm_host;
  spec.cuda_device =
      absl::GetFlag(FLAGS_cuda_device) >= 0 ? absl::GetFlag(FLAGS_cuda_device) : rank;
  spec.timeout = std::chrono::seconds(absl::GetFlag(FLAGS_comm_timeout_s));
  std::unique_ptr<Communicator> comm;
  if (!coordinator.empty() && tp > 1) {
    // Formed later, when the coordinator has every rank of the group.
    comm = std::make_unique<UnformedCommunicator>(rank, tp);
  } else {
    absl::StatusOr<std::unique_ptr<Communicator>> connected = ConnectCommunicator(spec);
    if (!connected.ok()) return Fail(rank, connected.status());
    comm = *std::move(connected);
  }

  RunnerOptions options;
  options.model_dir = absl::GetFlag(FLAGS_model);
  ExecutorOptions& executor = options.executor;
  executor.backend = absl::GetFlag(FLAGS_backend);
  executor.threads = absl::GetFlag(FLAGS_threads);
  executor.kv_block_size = absl::GetFlag(FLAGS_kv_block_size);
  executor.kv_cache_bytes = absl::GetFlag(FLAGS_kv_cache_mib) << 20;
  executor.cuda_device = absl::GetFlag(FLAGS_cuda_device);
  executor.gpu_memory_fraction = absl::GetFlag(FLAGS_gpu_memory_fraction);
  executor.cuda_precision = absl::GetFlag(FLAGS_precision);
  executor.max_step_tokens = absl::GetFlag(FLAGS_max_step_tokens);
  executor.cuda_graphs = absl::GetFlag(FLAGS_cuda_graphs);
  executor.kv_cache_dtype = absl::GetFlag(FLAGS_kv_cache_dtype);
  executor.activation_dtype = absl::GetFlag(FLAGS_activation_dtype);
  executor.device_sampling = absl::GetFlag(FLAGS_device_sampling);
  executor.max_sequences = absl::GetFlag(FLAGS_max_sequences);
  const auto start = std::chrono::steady_clock::now();
  auto last_report = start;
  executor.progress = [&](size_t done, size_t total) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_report < std::chrono::seconds(1) && done < total) return;
    last_report = now;
    std::fprintf(stderr, "dsm-worker rank %d: loaded %.1f / %.1f MiB in %.1f s\n", rank,
                 done / 1048576.0, total / 1048576.0,
                 std::chrono::duration<double>(now - start).count());
  };
  absl::StatusOr<std::unique_ptr<StepRunner>> runner = StepRunner::Create(options, std::move(comm));
  if (!runner.ok()) return Fail(rank, runner.status());

  const v1::WorkerInfo info = (*runner)->Info();
  std::fprintf(stderr,
               "dsm-worker rank %d: %.1f MiB of weights, KV pool of %d blocks x %d positions "
               "(%.1f MiB), %d threads, %s; peak RSS so far %.1f MiB\n",
               rank, info.weight_bytes() / 1048576.0, info.kv_num_blocks(), info.kv_block_size(),
               info.kv_cache_bytes() / 1048576.0, info.threads(), info.simd_target().c_str(),
               PeakResidentBytes() / 1048576.0);
  WorkerService service(*std::move(runner));
  // grpc.health.v1 ("" SERVING once the shard is loaded): what a pod's probes ask.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  const std::string address = absl::StrCat(host, ":", absl::GetFlag(FLAGS_port));
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(256 << 20);
  builder.SetMaxSendMessageSize(256 << 20);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    return Fail(rank, absl::UnavailableError(absl::StrCat("cannot listen on ", address)));
  }
  std::printf("DSM_WORKER_READY %s:%d\n", host.c_str(), port);
  std::fflush(stdout);
  std::unique_ptr<CoordinatorLink> link;
  if (!coordinator.empty()) {
    CoordinatorLinkOptions o;
    o.coordinator_address = coordinator;
    o.group = absl::GetFlag(FLAGS_group);
    o.rank = rank;
    o.tp = tp;
    o.worker_address = advertise.empty() ? absl::StrCat(host, ":", port) : advertise;
    o.info = service.Info();
    o.comm = spec;
    link = std::make_unique<CoordinatorLink>(
        o, [&service](std::unique_ptr<Communicator> c) { service.Reform(std::move(c)); });
    link->Start();
    std::fprintf(stderr, "dsm-worker group %d rank %d: registering with %s as %s\n", o.group, rank,
                 coordinator.c_str(), o.worker_address.c_str());
    // A registered worker lives until SIGTERM/SIGINT (the coordinator may come and go).
    g_serving.store(&service);
  }
  service.WaitForShutdown();
  g_serving.store(nullptr);
  link.reset();
  // Told to exit: a step still in flight is moot, and waiting would only wait for
  // idle clients (the coordinator) to acknowledge the GOAWAY, which they may never read.
  server->Shutdown(std::chrono::system_clock::now());
  if (rendezvous_server) rendezvous_server->Shutdown();
  std::fprintf(stderr, "dsm-worker rank %d: exiting, peak RSS %.1f MiB\n", rank,
               PeakResidentBytes() / 1048576.0);
  return 0;
}

}  // namespace
}  // namespace dsm

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return dsm::Main();
}
