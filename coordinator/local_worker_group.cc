#include "coordinator/local_worker_group.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/grpc_status.h"
#include "coordinator/step_fanout.h"
#include "coordinator/worker_registry.h"

namespace dsm {
namespace {

// Reads stdout lines until one starts with `tag`; returns the rest of that line.
absl::StatusOr<std::string> AwaitTag(ChildProcess& child, int rank, const std::string& tag,
                                     std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    absl::StatusOr<std::string> line = child.ReadLine(std::max(left, std::chrono::milliseconds(1)));
    if (!line.ok()) {
      return absl::Status(
          line.status().code(),
          absl::StrCat("worker rank ", rank, " failed to start: ", line.status().message()));
    }
    if (absl::StartsWith(*line, tag + " ")) return line->substr(tag.size() + 1);
  }
}

}  // namespace

std::string DefaultWorkerBinary() {
  if (const char* env = std::getenv("DSM_WORKER_BINARY")) return env;
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (self.parent_path() / "dsm-worker").string();
}

absl::StatusOr<std::unique_ptr<LocalWorkerGroup>> LocalWorkerGroup::Launch(
    const WorkerGroupOptions& o, const LocalRegistration* registration) {
  if (absl::Status s = ValidateWorkerGroupOptions(o); !s.ok()) return s;
  if (access(o.worker_binary.c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("worker binary ", o.worker_binary, " not found"));
  }
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = o.threads_per_rank > 0 ? o.threads_per_rank : std::max(1, cores / o.tp);
  auto group = std::unique_ptr<LocalWorkerGroup>(new LocalWorkerGroup());
  group->options_ = o;
  std::string rendezvous = "127.0.0.1:0";
  for (int rank = 0; rank < o.tp; ++rank) {
    std::vector<std::string> argv = {
        o.worker_binary,
        "--model=" + o.model_dir,
        absl::StrCat("--rank=", rank),
        absl::StrCat("--tp=", o.tp),
        registration != nullptr ? "--coordinator=" + registration->coordinator_address
                                : "--rendezvous=" + rendezvous,
        absl::StrCat("--group=", registration ? registration->group : 0),
        absl::StrCat("--threads=", threads),
        absl::StrCat("--kv_cache_mib=", o.kv_cache_mib),
        absl::StrCat("--kv_block_size=", o.kv_block_size),
        absl::StrCat("--comm_timeout_s=", o.comm_timeout_s),
        "--backend=" + o.backend,
        "--precision=" + o.precision,
        absl::StrCat("--gpu_memory_fraction=", o.gpu_memory_fraction),
        absl::StrCat("--device_sampling=", o.device_sampling ? "true" : "false"),
        "--kv_cache_dtype=" + o.kv_cache_dtype,
        "--activation_dtype=" + o.activation_dtype,
        absl::StrCat("--cuda_device=", o.first_cuda_device + rank),
        absl::StrCat("--max_sequences=", o.max_sequences),
        absl::StrCat("--parent_pid=", getpid())};
    absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn(argv);
    if (!child.ok()) return child.status();
    group->processes_.push_back(*std::move(child));
    if (rank == 0 && o.tp > 1 && registration == nullptr) {
      absl::StatusOr<std::string> address =
          AwaitTag(*group->processes_[0], 0, "DSM_RENDEZVOUS", std::chrono::seconds(30));
      if (!address.ok()) return address.status();
      rendezvous = *address;
    }
  }
  // Wait for every rank together, so that one that fails early is reported at once
  // rather than after its peers time out waiting for it.
  std::vector<std::string> addresses(o.tp);
  const auto deadline = std::chrono::steady_clock::now() + o.start_timeout;
  for (int ready = 0; ready < o.tp;) {
    // A server stopping while its workers load (a relaunch of a 7B group) must not wait
    // out the load: give up, and the group's destructor sends them SIGTERM.
    if (registration != nullptr && registration->registry->IsShutdown()) {
      return absl::UnavailableError("the coordinator is stopping");
    }
    for (int rank = 0; rank < o.tp; ++rank) {
      if (!addresses[rank].empty()) continue;
      absl::StatusOr<std::string> address = AwaitTag(
          *group->processes_[rank], rank, "DSM_WORKER_READY", std::chrono::milliseconds(50));
      if (address.ok()) {
        addresses[rank] = *address;
        ++ready;
      } else if (!absl::IsDeadlineExceeded(address.status()) ||
                 std::chrono::steady_clock::now() > deadline) {
        return address.status();
      }
    }
  }
  // After start-up nothing more is expected on stdout, but a worker that prints must
  // never block on a full pipe.
  for (int rank = 0; rank < o.tp; ++rank) {
    group->processes_[rank]->DrainStdout(absl::StrCat("dsm-worker rank ", rank, " stdout: "));
  }
  if (registration != nullptr) {
    // Loaded; now they register and form the group's collectives through the registry.
    // A worker that exits meanwhile ends the wait with its exit status.
    LocalWorkerGroup* g = group.get();
    auto exited = [g]() -> absl::Status {
      if (std::optional<std::string> dead = g->DeadRank()) return absl::UnavailableError(*dead);
      return absl::OkStatus();
    };
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    absl::StatusOr<WorkerRegistry::Formation> formation = registration->registry->Form(
        registration->group, absl::Milliseconds(std::max<int64_t>(left.count(), 1000)), exited);
    if (!formation.ok()) return formation.status();
    addresses = formation->addresses;
    group->registry_ = registration->registry;
    group->group_ = registration->group;
    group->epoch_ = formation->epoch;
  }
  for (const std::string& address : addresses) group->stubs_.push_back(NewWorkerStub(address));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Status status = group->stubs_[0]->GetInfo(&context, v1::GetInfoRequest(), &group->info_);
  if (!status.ok()) return FromGrpcStatus(status);
  return group;
}

LocalWorkerGroup::~LocalWorkerGroup() { Shutdown(); }

absl::StatusOr<v1::StepResponse> LocalWorkerGroup::Step(const v1::StepRequest& request) {
  FanOutResult result = FanOutStep(stubs_, options_, request);
  // A rank past the deadline is hung (stopped, or stuck in a collective): the group is
  // killed so that the relaunch starts clean, naming the stopped ranks if any.
  std::vector<std::string> late, stopped;
  for (int r : result.late) {
    late.push_back(absl::StrCat(r));
    if (processes_[r]->IsStopped()) stopped.push_back(absl::StrCat(r));
  }
  if (!late.empty()) {
    for (auto& process : processes_) process->Kill(SIGKILL);
    return absl::UnavailableError(absl::StrCat(
        "worker rank ", absl::StrJoin(stopped.empty() ? late : stopped, ", "),
        stopped.empty() ? " did not finish a step" : " is stopped and did not finish a step",
        " within its deadline of ", absl::StrFormat("%.1f", result.timeout_s),
        " s; the group's workers were killed"));
  }
  // Report the most telling failure: a dead process first, then a rank's own error.
  for (size_t r = 0; r < processes_.size(); ++r) {
    if (std::optional<int> exit = processes_[r]->TryWait()) {
      return absl::UnavailableError(
          absl::StrCat("worker rank ", r, " died (", ChildProcess::DescribeWaitStatus(*exit), ")"));
    }
  }
  return MergeStepResults(std::move(result));
}

std::optional<std::string> LocalWorkerGroup::DeadRank() {
  for (size_t r = 0; r < processes_.size(); ++r) {
    if (std::optional<int> exit = processes_[r]->TryWait()) {
      return absl::StrCat("worker rank ", r, " died (", ChildProcess::DescribeWaitStatus(*exit),
                          ")");
    }
  }
  if (registry_ != nullptr && epoch_ != 0) return registry_->Lost(group_, epoch_);
  return std::nullopt;
}

void LocalWorkerGroup::Kill(int rank, int signal) {
  if (rank >= 0 && rank < static_cast<int>(processes_.size())) processes_[rank]->Kill(signal);
}

void LocalWorkerGroup::Shutdown() {
  // Ask every rank to exit: over RPC once connected, else (a launch that failed half
  // way, with workers still loading or registering) with SIGTERM. Then one shared
  // grace period for all of them, so a group's shutdown is bounded by 5 s, not 5 s a rank.
  for (size_t r = 0; r < processes_.size(); ++r) {
    if (processes_[r]->TryWait()) continue;
    bool asked = false;
    if (r < stubs_.size()) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      v1::ShutdownResponse response;
      asked = stubs_[r]->Shutdown(&context, v1::ShutdownRequest(), &response).ok();
    }
    if (!asked) processes_[r]->Kill(SIGTERM);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (auto& process : processes_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    process->WaitOrKill(std::max(left, std::chrono::milliseconds(0)));
  }
  stubs_.clear();
}

WorkerGroupLauncher LocalRegisteredLauncher(WorkerRegistry* registry,
                                            std::string coordinator_address) {
  return [registry, coordinator_address](
             int group_index,
             const WorkerGroupOptions& options) -> absl::StatusOr<std::unique_ptr<WorkerGroup>> {
    LocalRegistration registration{registry, group_index, coordinator_address};
    absl::StatusOr<std::unique_ptr<LocalWorkerGroup>> group =
        LocalWorkerGroup::Launch(options, &registration);
    if (!group.ok()) return group.status();
    return std::unique_ptr<WorkerGroup>(*std::move(group));
  };
}

}  // namespace dsm
