#include "coordinator/group_engine.h"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace dsm {

absl::StatusOr<std::unique_ptr<GroupEngine>> GroupEngine::Start(int index,
                                                                WorkerGroupOptions options,
                                                                SchedulerConfig scheduler_config,
                                                                WorkerGroupLauncher launcher,
                                                                ServingObserver* observer) {
  auto engine = std::unique_ptr<GroupEngine>(new GroupEngine());
  engine->index_ = index;
  engine->options_ = std::move(options);
  engine->scheduler_config_ = std::move(scheduler_config);
  engine->launcher_ = std::move(launcher);
  engine->observer_ = observer;
  if (absl::Status s = engine->Relaunch(); !s.ok()) return s;
  engine->info_ = engine->group_->info();  // the first launch must succeed
  engine->thread_ = std::thread([e = engine.get()] { e->Loop(); });
  return engine;
}

GroupEngine::~GroupEngine() {
  Stop();
  if (thread_.joinable()) thread_.join();
  if (group_) group_->Shutdown();
}

absl::Status GroupEngine::Relaunch() {
  std::unique_ptr<WorkerGroup> old;
  {
    absl::MutexLock lock(&mu_);
    old = std::move(group_);
  }
  if (old) old->Shutdown();
  old.reset();
  scheduler_.reset();
  absl::StatusOr<std::unique_ptr<WorkerGroup>> group = launcher_(index_, options_);
  if (!group.ok()) return group.status();
  SchedulerConfig config = scheduler_config_;
  config.num_blocks = (*group)->info().kv_num_blocks();
  config.block_size = (*group)->info().kv_block_size();
  scheduler_ = std::make_unique<Scheduler>(config);
  {
    absl::MutexLock lock(&mu_);
    group_ = *std::move(group);
  }
  healthy_ = true;
  return absl::OkStatus();
}

void GroupEngine::WhileDown(
    std::vector<std::pair<GenerationRequest, std::shared_ptr<SequenceStream>>>& incoming) {
  for (auto& [request, stream] : incoming) {
    stream->Fail(absl::UnavailableError(absl::StrCat(
        "worker group ", index_, " is restarting (last attempt: ", last_restart_error_, ")")));
  }
  incoming.clear();
  if (Stopping() || absl::Now() < next_restart_) return;
  if (absl::Status s = Relaunch(); s.ok()) {
    std::fprintf(stderr, "dsm: worker group %d is back after %d failed restart(s)\n", index_,
                 failed_restarts_);
    failed_restarts_ = 0;
    return;
  } else if (Stopping()) {
    std::fprintf(stderr, "dsm: worker group %d: relaunch abandoned, the server is stopping\n",
                 index_);
  } else {
    ++failed_restarts_;
    last_restart_error_ = std::string(s.message());
    const absl::Duration cap = absl::FromChrono(options_.restart_backoff_max);
    const absl::Duration delay =
        std::min(cap, absl::Seconds(1) * (1 << std::min(failed_restarts_ - 1, 20)));
    next_restart_ = absl::Now() + delay;
    std::fprintf(
        stderr, "dsm: worker group %d could not restart (attempt %d): %s; retrying in %s\n", index_,
        failed_restarts_, s.ToString().c_str(), absl::FormatDuration(delay).c_str());
  }
}

absl::Status GroupEngine::Submit(GenerationRequest request,
                                 std::shared_ptr<SequenceStream> stream) {
  if (!healthy_) {
    return absl::UnavailableError(absl::StrCat("worker group ", index_, " is restarting"));
  }
  absl::MutexLock lock(&mu_);
  incoming_.emplace_back(std::move(request), std::move(stream));
  ++stats_.waiting;
  reserved_.fetch_sub(1);  // from reserved to waiting, under mu_ so load() never dips
  return absl::OkStatus();
}

void GroupEngine::Stop() {
  absl::MutexLock lock(&mu_);
  stop_ = true;
  // After the drain nothing waits for a step still running (a hung worker's, or the
  // last of aborted requests): end it now rather than at the step deadline, so that
  // shutdown fits a pod's grace period. Forked workers only; registered ones are not
  // ours to kill and their step runs into its deadline.
  if (in_step_ && group_) {
    for (int rank = 0; rank < options_.tp; ++rank) group_->Kill(rank, SIGKILL);
  }
}

absl::StatusOr<v1::StepResponse> GroupEngine::RunStep(const v1::StepRequest& step) {
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return absl::UnavailableError("the server is stopping");
    in_step_ = true;
  }
  absl::StatusOr<v1::StepResponse> response = group_->Step(step);
  absl::MutexLock lock(&mu_);
  in_step_ = false;
  return response;
}

bool GroupEngine::Stopping() const {
  absl::MutexLock lock(&mu_);
  return stop_;
}

void GroupEngine::AbortAll(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  abort_ = status;
}

void GroupEngine::Cancel(uint64_t id) {
  absl::MutexLock lock(&mu_);
  cancelled_.push_back(id);
}

GroupStats GroupEngine::Stats() const {
  absl::MutexLock lock(&mu_);
  GroupStats s = stats_;
  s.healthy = healthy_;
  return s;
}

int GroupEngine::load() const {
  absl::MutexLock lock(&mu_);
  return stats_.running + stats_.waiting + reserved_.load();
}

void GroupEngine::KillWorkerForTesting(int rank) {
  absl::MutexLock lock(&mu_);
  if (group_) group_->Kill(rank, SIGKILL);
}

void GroupEngine::FailAll(const absl::Status& status) {
  for (auto& [id, stream] : streams_) stream->Fail(status);
  streams_.clear();
}

void GroupEngine::Loop() {
  for (;;) {
    std::vector<std::pair<GenerationRequest, std::shared_ptr<SequenceStream>>> incoming;
    std::vector<uint64_t> cancelled;
    std::optional<absl::Status> abort;
    {
      absl::MutexLock lock(&mu_);
      // Sleep until there is something to do.
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || !incoming_.empty() || !cancelled_.empty() || abort_.has_value() ||
               (scheduler_ && scheduler_->HasWork());
      };
      mu_.AwaitWithTimeout(absl::Condition(&has_work), absl::Milliseconds(100));
      if (stop_) break;
      incoming.swap(incoming_);
      cancelled.swap(cancelled_);
      abort.swap(abort_);
    }
    if (abort) {  // every request of the group ends now, with the caller's status
      for (auto& [request, stream] : incoming) stream->Fail(*abort);
      incoming.clear();
      for (auto& [id, stream] : streams_) {
        if (scheduler_) scheduler_->Cancel(id);
        stream->Fail(*abort);
      }
      streams_.clear();
    }
    if (!scheduler_) {  // the workers are down: nothing runs, cancellations are moot
      WhileDown(incoming);
      absl::MutexLock lock(&mu_);
      stats_ = GroupStats();
      stats_.waiting = static_cast<int>(incoming_.size());
      continue;
    }
    for (auto& [request, stream] : incoming) {
      const uint64_t id = request.id;
      if (absl::Status s = scheduler_->Add(std::move(request)); !s.ok()) {
        stream->Fail(s);
        continue;
      }
      streams_[id] = std::move(stream);
    }
    incoming.clear();  // moved into the scheduler and streams_
    for (uint64_t id : cancelled) {
      scheduler_->Cancel(id);
      streams_.erase(id);
    }
    // A worker can die while the group is idle: notice it without waiting for a request.
    std::optional<std::string> dead = group_->DeadRank();
    if (dead || scheduler_->HasWork()) {
      const int64_t preempted_before = scheduler_->preemptions();
      v1::StepRequest step = scheduler_->NextStep();
      const auto step_start = std::chrono::steady_clock::now();
      for (const auto& [id, cached_tokens] : scheduler_->admitted_in_step()) {
        auto it = streams_.find(id);
        if (it == streams_.end()) continue;
        TokenEvent admitted;
        admitted.request_id = id;
        admitted.admitted = true;
        admitted.cached_tokens = cached_tokens;
        it->second->Push(std::move(admitted));
      }
      absl::StatusOr<v1::StepResponse> response =
          dead ? absl::StatusOr<v1::StepResponse>(absl::UnavailableError(*dead)) : RunStep(step);
      if (response.ok() && observer_ != nullptr) {
        StepRecord record;
        record.group = index_;
        record.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count();
        record.sequences = step.sequences_size();
        for (const v1::SequenceStep& s : step.sequences())
          record.batch_tokens += s.token_ids_size();
        record.preemptions = static_cast<int>(scheduler_->preemptions() - preempted_before);
        record.ranks.assign(response->rank_timings().begin(), response->rank_timings().end());
        observer_->OnStep(record);
      }
      absl::StatusOr<std::vector<TokenEvent>> events =
          response.ok() ? scheduler_->OnStepResult(*response)
                        : absl::StatusOr<std::vector<TokenEvent>>(response.status());
      if (!events.ok()) {
        // The group is broken (a worker died or misbehaved): end its requests and
        // bring it back.
        healthy_ = false;
        std::fprintf(
            stderr, "dsm: worker group %d failed: %s%s\n", index_,
            events.status().ToString().c_str(),
            Stopping() ? " (the server is stopping: not restarting it)" : "; restarting it");
        FailAll(absl::UnavailableError(
            absl::StrCat("worker group ", index_, " failed: ", events.status().message())));
        next_restart_ = absl::InfinitePast();  // the first attempt is immediate
        last_restart_error_ = std::string(events.status().message());
        WhileDown(incoming);  // incoming is empty (moved above); this relaunches
        if (!scheduler_) continue;
      } else {
        for (TokenEvent& event : *events) {
          auto it = streams_.find(event.request_id);
          if (it == streams_.end()) continue;
          const bool last = event.finish != FinishReason::kNone;
          it->second->Push(std::move(event));
          if (last) streams_.erase(it);
        }
      }
    }
    absl::MutexLock lock(&mu_);
    stats_.running = scheduler_->num_running();
    stats_.waiting = scheduler_->num_waiting() + static_cast<int>(incoming_.size());
    stats_.kv_blocks_total = scheduler_->total_blocks();
    stats_.kv_blocks_free = scheduler_->free_blocks();
    stats_.kv_blocks_cached = scheduler_->cached_blocks();
  }
}

}  // namespace dsm
