#pragma once
// Drives one tensor-parallel worker group: a thread that admits queued requests into the
// group's Scheduler, runs steps on the workers, and hands sampled tokens to each
// request's SequenceStream. If the group fails (a worker dies), its in-flight requests
// end with UNAVAILABLE and the engine relaunches the workers; until they are back the
// group is unhealthy and takes no requests.

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/scheduler.h"
#include "coordinator/sequence_stream.h"
#include "coordinator/worker_group.h"

namespace dsm {

struct GroupStats {
  bool healthy = false;
  int running = 0;
  int waiting = 0;  // queued in the engine or the scheduler
  int kv_blocks_total = 0;
  int kv_blocks_free = 0;
  int kv_blocks_cached = 0;
};

class GroupEngine {
 public:
  // Launches the workers and starts the engine thread.
  static absl::StatusOr<std::unique_ptr<GroupEngine>> Start(int index, WorkerGroupOptions options,
                                                            SchedulerConfig scheduler_config);
  ~GroupEngine();  // stops the thread and the workers

  // Queues a request; its tokens go to `stream`. UNAVAILABLE if the group is down.
  absl::Status Submit(GenerationRequest request, std::shared_ptr<SequenceStream> stream);
  // Stops a request within one step and frees its KV blocks.
  void Cancel(uint64_t id);

  GroupStats Stats() const;
  int load() const;  // running + waiting, for routing
  bool healthy() const { return healthy_.load(); }
  const v1::WorkerInfo& worker_info() const { return info_; }

  // Kills one worker process (tests of failure handling use it).
  void KillWorkerForTesting(int rank);

 private:
  GroupEngine() = default;
  void Loop();
  void FailAll(const absl::Status& status);
  absl::Status Relaunch();

  int index_ = 0;
  WorkerGroupOptions options_;
  SchedulerConfig scheduler_config_;
  v1::WorkerInfo info_;
  std::atomic<bool> healthy_{false};

  mutable absl::Mutex mu_;
  std::vector<std::pair<GenerationRequest, std::shared_ptr<SequenceStream>>> incoming_
      ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> cancelled_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  GroupStats stats_ ABSL_GUARDED_BY(mu_);

  // Owned by the engine thread.
  std::unique_ptr<WorkerGroup> group_;
  std::unique_ptr<Scheduler> scheduler_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<SequenceStream>> streams_;
  std::thread thread_;
};

}  // namespace dsm
