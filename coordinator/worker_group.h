#pragma once
// One tensor-parallel group of worker processes: launched as children of this process,
// driven step by step over the internal Worker service.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/child_process.h"
#include "dsm/v1/worker.grpc.pb.h"

namespace dsm {

struct WorkerGroupOptions {
  std::string worker_binary;  // path to dsm-worker
  std::string model_dir;
  int tp = 1;
  int threads_per_rank = 0;  // 0 = the cores available divided among the ranks
  int64_t kv_cache_mib = 1024;
  int kv_block_size = 16;
  int comm_timeout_s = 60;
  std::string backend = "cpu";       // "cpu" or "cuda"
  std::string precision = "bf16";    // cuda: bf16 or fp32
  double gpu_memory_fraction = 0.9;  // cuda
  int first_cuda_device = 0;         // cuda: rank r uses device first_cuda_device + r
  int max_sequences = 256;           // sequences one step may hold (the scheduler's max running)
  std::chrono::seconds start_timeout{600};       // loading 7B weights takes a while
  std::chrono::seconds restart_backoff_max{30};  // cap of the retry delay after failed restarts
  // Every step must finish within step_timeout + step_timeout_per_token x its tokens, or
  // the group's workers are killed (a hung or stopped rank) and the step fails.
  double step_timeout_s = 30.0;
  double step_timeout_per_token_s = 0.25;
};

// INVALID_ARGUMENT naming the first flag out of range (--tp, --threads, --kv-cache-mib,
// --kv-block-size, --comm-timeout-s, --backend, --precision, --gpu-memory-fraction, step
// timeouts, --max-running), before any worker starts.
absl::Status ValidateWorkerGroupOptions(const WorkerGroupOptions& options);

class WorkerGroup {
 public:
  static absl::StatusOr<std::unique_ptr<WorkerGroup>> Launch(const WorkerGroupOptions& options);
  ~WorkerGroup();

  // Rank 0's description (every rank has the same KV block count).
  const v1::WorkerInfo& info() const { return info_; }

  // Sends the step to every rank at once and returns rank 0's answer. Any rank's failure
  // fails the step; a dead rank gives UNAVAILABLE naming it. A step past its deadline
  // (see WorkerGroupOptions) kills the group's workers and gives UNAVAILABLE naming the
  // stopped or late ranks.
  absl::StatusOr<v1::StepResponse> Step(const v1::StepRequest& request);

  // Asks the workers to exit and reaps them.
  void Shutdown();

  // A description of the first rank whose process has exited, if any.
  std::optional<std::string> DeadRank();

  // Sends a signal to one rank's process (failure tests).
  void Kill(int rank, int signal);

 private:
  WorkerGroup() = default;

  WorkerGroupOptions options_;
  std::vector<std::unique_ptr<ChildProcess>> processes_;
  std::vector<std::unique_ptr<v1::Worker::Stub>> stubs_;
  v1::WorkerInfo info_;
};

// dsm-worker beside the running executable, or $DSM_WORKER_BINARY.
std::string DefaultWorkerBinary();

}  // namespace dsm
