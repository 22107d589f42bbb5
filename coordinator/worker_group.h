#pragma once
// The group engine's view of one tensor-parallel group of workers, and the options that
// shape it.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dsm/v1/worker.pb.h"

namespace dsm {

struct WorkerGroupOptions {
  std::string worker_binary;  // path to dsm-worker
  std::string model_dir;
  int tp = 1;
  int threads_per_rank = 0;  // 0 = the cores available divided among the ranks
  int64_t kv_cache_mib = 1024;
  int kv_block_size = 16;
  int comm_timeout_s = 60;
  std::string backend = "cpu";           // "cpu" or "cuda"
  std::string precision = "bf16";        // cuda: bf16 or fp32
  double gpu_memory_fraction = 0.9;      // cuda
  bool device_sampling = true;           // cuda: sample from device summaries of the logits
  std::string kv_cache_dtype = "f32";    // cpu: f32 or bf16
  std::string activation_dtype = "f32";  // cpu: f32 (exact) or bf16 (dot-product mode)
  int first_cuda_device = 0;             // cuda: rank r uses device first_cuda_device + r
  int max_sequences = 256;  // sequences one step may hold (the scheduler's max running)
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

// A tensor-parallel group of workers as the group engine sees it. LocalWorkerGroup forks
// the workers as children of this process; tests drive the engine with in-process groups.
class WorkerGroup {
 public:
  virtual ~WorkerGroup() = default;

  // Rank 0's description (every rank has the same KV block count).
  virtual const v1::WorkerInfo& info() const = 0;

  // Sends the step to every rank at once and returns rank 0's answer. Any rank's failure
  // fails the step; a dead rank gives UNAVAILABLE naming it. A step past its deadline
  // (see WorkerGroupOptions) kills the group's workers and gives UNAVAILABLE naming the
  // stopped or late ranks.
  virtual absl::StatusOr<v1::StepResponse> Step(const v1::StepRequest& request) = 0;

  // Asks the workers to exit and reaps them.
  virtual void Shutdown() = 0;

  // A description of the first rank whose process has exited, if any.
  virtual std::optional<std::string> DeadRank() = 0;

  // Sends a signal to one rank's process (failure tests).
  virtual void Kill(int rank, int signal) = 0;
};

// Starts (or connects to) the workers of group `group_index`.
using WorkerGroupLauncher = std::function<absl::StatusOr<std::unique_ptr<WorkerGroup>>(
    int group_index, const WorkerGroupOptions& options)>;

}  // namespace dsm
