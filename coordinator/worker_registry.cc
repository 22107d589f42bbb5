#include "coordinator/worker_registry.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "coordinator/remote_worker_group.h"

namespace dsm {

struct WorkerRegistry::Member {
  int group = 0;
  int rank = 0;
  std::string address;
  uint64_t incarnation = 0;
  std::deque<v1::RegistryEvent> outbox;
  bool gone = false;
  std::string gone_reason;
  uint64_t formed_epoch = 0;
  std::string formed_error;
};

WorkerRegistry::WorkerRegistry(RegistryOptions options) : options_(std::move(options)) {
  groups_.resize(options_.groups);
  for (Group& g : groups_) g.ranks.resize(options_.tp);
}

WorkerRegistry::~WorkerRegistry() { Shutdown(); }

void WorkerRegistry::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutdown_ = true;
}

grpc::Status WorkerRegistry::Join(grpc::ServerContext* context, const v1::JoinRequest* request,
                                  grpc::ServerWriter<v1::RegistryEvent>* writer) {
  const int g = request->group(), r = request->rank();
  auto invalid = [](const std::string& message) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
  };
  if (g < 0 || g >= options_.groups) {
    return invalid(absl::StrCat("--group ", g, " is out of range: this coordinator serves ",
                                options_.groups, " group(s)"));
  }
  if (request->tp() != options_.tp) {
    return invalid(absl::StrCat("--tp ", request->tp(), " does not match the coordinator's --tp ",
                                options_.tp));
  }
  if (r < 0 || r >= options_.tp) return invalid(absl::StrCat("--rank ", r, " is out of range"));
  if ((options_.vocab_size != 0 && request->info().vocab_size() != options_.vocab_size) ||
      request->info().backend() != options_.backend) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("the worker serves a different model or backend (vocab ",
                                     request->info().vocab_size(), ", ", request->info().backend(),
                                     ") than the coordinator (vocab ", options_.vocab_size, ", ",
                                     options_.backend, ")"));
  }
  auto member = std::make_shared<Member>();
  member->group = g;
  member->rank = r;
  member->address = request->worker_address();
  member->incarnation = request->incarnation();
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<Member>& slot = groups_[g].ranks[r];
    if (slot && !slot->gone) {
      slot->gone = true;  // a newer process holds the rank now
      slot->gone_reason = "replaced by a newer worker";
    }
    slot = member;
  }
  std::fprintf(stderr, "dsm coordinator: group %d rank %d registered from %s\n", g, r,
               member->address.c_str());
  auto next_heartbeat = absl::Now();
  for (;;) {
    std::deque<v1::RegistryEvent> events;
    if (absl::Now() >= next_heartbeat) {
      events.emplace_back().mutable_heartbeat();
      next_heartbeat = absl::Now() + absl::Seconds(2);
    }
    {
      absl::MutexLock lock(&mu_);
      auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return shutdown_ || member->gone || !member->outbox.empty();
      };
      mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(200));
      if (shutdown_ || member->gone) break;
      if (context->IsCancelled()) {
        member->gone = true;
        member->gone_reason = "its registration stream broke (process or host lost)";
        break;
      }
      while (!member->outbox.empty()) {
        events.push_back(std::move(member->outbox.front()));
        member->outbox.pop_front();
      }
    }
    for (const v1::RegistryEvent& event : events) {
      if (!writer->Write(event)) {
        absl::MutexLock lock(&mu_);
        member->gone = true;
        member->gone_reason = "its registration stream broke (process or host lost)";
        break;
      }
    }
  }
  std::string reason;
  {
    absl::MutexLock lock(&mu_);
    if (!member->gone) {
      member->gone = true;
      member->gone_reason = "the coordinator is stopping";
    }
    reason = member->gone_reason;
  }
  std::fprintf(stderr, "dsm coordinator: group %d rank %d (%s) left: %s\n", g, r,
               member->address.c_str(), reason.c_str());
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, reason);
}

grpc::Status WorkerRegistry::Formed(grpc::ServerContext*, const v1::FormedRequest* request,
                                    v1::FormedResponse*) {
  absl::MutexLock lock(&mu_);
  if (request->group() < 0 || request->group() >= options_.groups || request->rank() < 0 ||
      request->rank() >= options_.tp) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "group or rank out of range");
  }
  const std::shared_ptr<Member>& m = groups_[request->group()].ranks[request->rank()];
  if (m && m->incarnation == request->incarnation()) {
    m->formed_epoch = request->epoch();
    m->formed_error = request->error();
  }
  return grpc::Status::OK;
}

std::optional<std::string> WorkerRegistry::Lost(int group, uint64_t epoch) {
  absl::MutexLock lock(&mu_);
  const Group& g = groups_[group];
  if (g.epoch != epoch) return absl::StrCat("worker group ", group, " was formed again");
  for (const auto& m : g.formed) {
    if (m->gone) {
      return absl::StrCat("worker rank ", m->rank, " of group ", group, " (", m->address,
                          ") left: ", m->gone_reason);
    }
  }
  return std::nullopt;
}

absl::StatusOr<WorkerRegistry::Formation> WorkerRegistry::Form(
    int group, absl::Duration wait, const std::function<absl::Status()>& abort) {
  // Waits for `done` (evaluated under mu_) until `deadline`, polling `abort` between
  // slices; false on timeout.
  auto await = [&](const std::function<bool()>& done, absl::Time deadline) -> absl::Status {
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return shutdown_ || done(); };
        if (mu_.AwaitWithDeadline(absl::Condition(&ready),
                                  std::min(deadline, absl::Now() + absl::Milliseconds(100)))) {
          return absl::OkStatus();
        }
      }
      if (abort) {
        if (absl::Status s = abort(); !s.ok()) return s;
      }
      if (absl::Now() >= deadline) return absl::DeadlineExceededError("");
    }
  };
  Group& g = groups_[group];
  auto all_here = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    for (const auto& m : g.ranks) {
      if (!m || m->gone) return false;
    }
    return true;
  };
  if (absl::Status s = await(all_here, absl::Now() + wait); !s.ok()) {
    if (!absl::IsDeadlineExceeded(s)) return s;
    absl::MutexLock lock(&mu_);
    std::vector<std::string> missing;
    for (int r = 0; r < options_.tp; ++r) {
      if (!g.ranks[r] || g.ranks[r]->gone) missing.push_back(absl::StrCat(r));
    }
    return absl::UnavailableError(absl::StrCat("worker group ", group, " is waiting for rank(s) ",
                                               absl::StrJoin(missing, ", "), " to register"));
  }
  std::vector<std::shared_ptr<Member>> members;
  uint64_t epoch = 0;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return absl::UnavailableError("the coordinator is stopping");
    epoch = ++g.epoch;
    g.formed.clear();
    members = g.ranks;
    v1::RegistryEvent event;
    event.mutable_form()->set_epoch(epoch);
    // Empty address: the store is the coordinator the worker registered with.
    event.mutable_form()->set_group_name(absl::StrCat("group", group, "-epoch", epoch));
    for (auto& m : members) {
      m->formed_epoch = 0;
      m->formed_error.clear();
      m->outbox.push_back(event);
    }
  }
  // Every rank forms its collectives; one that fails or leaves fails the formation.
  auto settled = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    for (const auto& m : members) {
      if (m->gone || !m->formed_error.empty()) return true;
      if (m->formed_epoch != epoch) return false;
    }
    return true;
  };
  if (absl::Status s = await(settled, absl::Now() + options_.formed_timeout); !s.ok()) {
    if (!absl::IsDeadlineExceeded(s)) return s;
    return absl::UnavailableError(
        absl::StrCat("worker group ", group, " did not form its collectives in time"));
  }
  Formation formation;
  formation.epoch = epoch;
  absl::MutexLock lock(&mu_);
  for (const auto& m : members) {
    if (shutdown_ || m->gone) {
      return absl::UnavailableError(absl::StrCat("worker rank ", m->rank, " of group ", group,
                                                 " left while the group formed"));
    }
    if (!m->formed_error.empty()) {
      return absl::UnavailableError(absl::StrCat("worker rank ", m->rank, " of group ", group,
                                                 " could not form: ", m->formed_error));
    }
    formation.addresses.push_back(m->address);
  }
  if (g.epoch != epoch) return absl::UnavailableError("the group was formed again meanwhile");
  g.formed = members;
  g.ever_formed = true;
  return formation;
}

absl::StatusOr<std::unique_ptr<WorkerGroup>> WorkerRegistry::FormGroup(
    int group, const WorkerGroupOptions& options) {
  bool ever_formed = false;
  {
    absl::MutexLock lock(&mu_);
    ever_formed = groups_[group].ever_formed;
  }
  absl::StatusOr<Formation> formation =
      Form(group, ever_formed ? options_.reform_wait : options_.first_form_wait, nullptr);
  if (!formation.ok()) return formation.status();
  const uint64_t epoch = formation->epoch;
  auto remote = std::make_unique<RemoteWorkerGroup>(
      options, formation->addresses, [this, group, epoch] { return Lost(group, epoch); });
  if (absl::Status s = remote->Connect(); !s.ok()) return s;
  std::fprintf(stderr, "dsm coordinator: worker group %d formed (epoch %llu)\n", group,
               static_cast<unsigned long long>(epoch));
  return std::unique_ptr<WorkerGroup>(std::move(remote));
}

}  // namespace dsm
