#pragma once
// Drives one tensor-parallel worker group: a thread that admits queued requests into the
// group's Scheduler, runs steps on the workers, and hands sampled tokens to each
// request's SequenceStream. If the group fails (a worker dies), its in-flight requests
// end with UNAVAILABLE and the engine relaunches the workers; until they are back the
// group is unhealthy and takes no requests. A relaunch that fails (say the weights are
// briefly unreadable) is retried with exponential backoff (1 s doubling, capped at
// WorkerGroupOptions::restart_backoff_max), each attempt logged, until one succeeds.

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/scheduler.h"
#include "coordinator/sequence_stream.h"
#include "coordinator/serving_observer.h"
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
  // Launches the workers through `launcher` (again after each failure) and starts the
  // engine thread.
  static absl::StatusOr<std::unique_ptr<GroupEngine>> Start(int index, WorkerGroupOptions options,
                                                            SchedulerConfig scheduler_config,
                                                            WorkerGroupLauncher launcher,
                                                            ServingObserver* observer = nullptr);
  ~GroupEngine();  // stops the thread and the workers

  // Queues a request; its tokens go to `stream`. UNAVAILABLE if the group is down.
  absl::Status Submit(GenerationRequest request, std::shared_ptr<SequenceStream> stream);
  // Stops a request within one step and frees its KV blocks.
  void Cancel(uint64_t id);
  // Ends every request of the group with `status` within one step (drain timeout).
  void AbortAll(const absl::Status& status);
  // The server is stopping (after the drain): a step still running is ended by killing
  // the group's forked workers, the thread ends, and a group that fails from now on is
  // not relaunched (workers leaving at shutdown are no failure to recover from). Does
  // not wait; the destructor joins.
  void Stop();

  GroupStats Stats() const;
  int index() const { return index_; }
  int load() const;  // running + waiting + reserved, for routing and the queue limit
  // Sequences a request will submit (its n choices), counted in load() from the moment
  // it is routed here until each is submitted (Submit releases one) or released.
  void Reserve(int sequences) { reserved_.fetch_add(sequences); }
  void Release(int sequences) { reserved_.fetch_sub(sequences); }
  bool healthy() const { return healthy_.load(); }
  const v1::WorkerInfo& worker_info() const { return info_; }

  // Kills one worker process (tests of failure handling use it).
  void KillWorkerForTesting(int rank);

 private:
  GroupEngine() = default;
  void Loop();
  bool Stopping() const;
  // group_->Step with in_step_ set, so that Stop can end a step still running.
  absl::StatusOr<v1::StepResponse> RunStep(const v1::StepRequest& step);
  void FailAll(const absl::Status& status);
  absl::Status Relaunch();
  // While the workers are down: refuses queued requests and retries the launch when
  // the backoff allows.
  void WhileDown(
      std::vector<std::pair<GenerationRequest, std::shared_ptr<SequenceStream>>>& incoming);

  int index_ = 0;
  WorkerGroupOptions options_;
  SchedulerConfig scheduler_config_;
  WorkerGroupLauncher launcher_;
  ServingObserver* observer_ = nullptr;
  v1::WorkerInfo info_;
  std::atomic<bool> healthy_{false};
  std::atomic<int> reserved_{0};

  mutable absl::Mutex mu_;
  std::vector<std::pair<GenerationRequest, std::shared_ptr<SequenceStream>>> incoming_
      ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> cancelled_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> abort_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool in_step_ ABSL_GUARDED_BY(mu_) = false;
  GroupStats stats_ ABSL_GUARDED_BY(mu_);

  // Swapped by the engine thread under mu_ (KillWorkerForTesting reads it under mu_).
  std::unique_ptr<WorkerGroup> group_;
  // Owned by the engine thread; null while the workers are down.
  std::unique_ptr<Scheduler> scheduler_;
  int failed_restarts_ = 0;
  absl::Time next_restart_ = absl::InfinitePast();
  std::string last_restart_error_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<SequenceStream>> streams_;
  std::thread thread_;
};

}  // namespace dsm
