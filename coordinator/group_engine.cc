#include "coordinator/group_engine.h"

#include <signal.h>

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace dsm {

absl::StatusOr<std::unique_ptr<GroupEngine>> GroupEngine::Start(int index,
                                                                WorkerGroupOptions options,
                                                                SchedulerConfig scheduler_config) {
  auto engine = std::unique_ptr<GroupEngine>(new GroupEngine());
  engine->index_ = index;
  engine->options_ = std::move(options);
  engine->scheduler_config_ = std::move(scheduler_config);
  if (absl::Status s = engine->Relaunch(); !s.ok()) return s;
  engine->info_ = engine->group_->info();
  engine->thread_ = std::thread([e = engine.get()] { e->Loop(); });
  return engine;
}

GroupEngine::~GroupEngine() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  if (group_) group_->Shutdown();
}

absl::Status GroupEngine::Relaunch() {
  if (group_) group_->Shutdown();
  group_.reset();
  absl::StatusOr<std::unique_ptr<WorkerGroup>> group = WorkerGroup::Launch(options_);
  if (!group.ok()) return group.status();
  group_ = *std::move(group);
  SchedulerConfig config = scheduler_config_;
  config.num_blocks = group_->info().kv_num_blocks();
  config.block_size = group_->info().kv_block_size();
  scheduler_ = std::make_unique<Scheduler>(config);
  healthy_ = true;
  return absl::OkStatus();
}

absl::Status GroupEngine::Submit(GenerationRequest request,
                                 std::shared_ptr<SequenceStream> stream) {
  if (!healthy_) {
    return absl::UnavailableError(absl::StrCat("worker group ", index_, " is restarting"));
  }
  absl::MutexLock lock(&mu_);
  incoming_.emplace_back(std::move(request), std::move(stream));
  ++stats_.waiting;
  return absl::OkStatus();
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
  return stats_.running + stats_.waiting;
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
    {
      absl::MutexLock lock(&mu_);
      // Sleep until there is something to do.
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || !incoming_.empty() || !cancelled_.empty() || scheduler_->HasWork();
      };
      mu_.AwaitWithTimeout(absl::Condition(&has_work), absl::Milliseconds(100));
      if (stop_) break;
      incoming.swap(incoming_);
      cancelled.swap(cancelled_);
    }
    for (auto& [request, stream] : incoming) {
      const uint64_t id = request.id;
      if (absl::Status s = scheduler_->Add(std::move(request)); !s.ok()) {
        stream->Fail(s);
        continue;
      }
      streams_[id] = std::move(stream);
    }
    for (uint64_t id : cancelled) {
      scheduler_->Cancel(id);
      streams_.erase(id);
    }
    // A worker can die while the group is idle: notice it without waiting for a request.
    std::optional<std::string> dead = group_->DeadRank();
    if (dead || scheduler_->HasWork()) {
      v1::StepRequest step = scheduler_->NextStep();
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
          dead ? absl::StatusOr<v1::StepResponse>(absl::UnavailableError(*dead))
               : group_->Step(step);
      absl::StatusOr<std::vector<TokenEvent>> events =
          response.ok() ? scheduler_->OnStepResult(*response)
                        : absl::StatusOr<std::vector<TokenEvent>>(response.status());
      if (!events.ok()) {
        // The group is broken (a worker died or misbehaved): end its requests and
        // bring it back.
        healthy_ = false;
        std::fprintf(stderr, "dsm: worker group %d failed: %s; restarting it\n", index_,
                     events.status().ToString().c_str());
        FailAll(absl::UnavailableError(
            absl::StrCat("worker group ", index_, " failed: ", events.status().message())));
        if (absl::Status s = Relaunch(); !s.ok()) {
          std::fprintf(stderr, "dsm: worker group %d could not restart: %s\n", index_,
                       s.ToString().c_str());
          absl::MutexLock lock(&mu_);
          for (auto& [request, stream] : incoming_) stream->Fail(s);
          incoming_.clear();
          mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::Seconds(5));
          continue;
        }
        std::fprintf(stderr, "dsm: worker group %d is back\n", index_);
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
