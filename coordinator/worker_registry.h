#pragma once
// The coordinator's side of independently started workers (`dsm coordinator`): workers
// join over WorkerRegistry.Join and keep the stream open; FormGroup waits until every
// rank of a group is there, has them form the group's collectives for a new epoch (the
// coordinator hosts the rendezvous store), and returns the group to drive. A rank whose
// stream breaks (process or host lost) makes its group's formation stale: the engine
// fails the group's requests and forms it again once the rank is back, whichever
// process it is now.

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/worker_group.h"
#include "dsm/v1/worker.grpc.pb.h"

namespace dsm {

struct RegistryOptions {
  int groups = 1;
  int tp = 1;
  int64_t vocab_size = 0;  // what a worker's shard must agree with (0: not checked)
  std::string backend = "cpu";
  absl::Duration first_form_wait = absl::Minutes(10);  // loading 7B weights takes a while
  absl::Duration reform_wait = absl::Seconds(10);
  absl::Duration formed_timeout = absl::Seconds(70);  // the collectives' rendezvous
};

class WorkerRegistry final : public v1::WorkerRegistry::Service {
 public:
  explicit WorkerRegistry(RegistryOptions options);
  ~WorkerRegistry() override;

  grpc::Status Join(grpc::ServerContext* context, const v1::JoinRequest* request,
                    grpc::ServerWriter<v1::RegistryEvent>* writer) override;
  grpc::Status Formed(grpc::ServerContext* context, const v1::FormedRequest* request,
                      v1::FormedResponse* response) override;

  // The launcher of registered groups: waits for group `group`'s ranks, forms a new
  // epoch and returns the group. UNAVAILABLE naming the missing ranks after the wait.
  absl::StatusOr<std::unique_ptr<WorkerGroup>> FormGroup(int group,
                                                         const WorkerGroupOptions& options);

  // What FormGroup does before it connects: waits up to `wait` for every rank, then has
  // them form a new epoch. `abort` (may be null) is polled while waiting; an error from
  // it ends the wait with that error (a local launcher's worker process exited).
  struct Formation {
    uint64_t epoch = 0;
    std::vector<std::string> addresses;  // by rank
  };
  absl::StatusOr<Formation> Form(int group, absl::Duration wait,
                                 const std::function<absl::Status()>& abort);

  // "worker rank R of group G left (...)" once a member of that formation is gone.
  std::optional<std::string> Lost(int group, uint64_t epoch);

  // Ends every Join stream (the server is stopping).
  void Shutdown();
  bool IsShutdown() {
    absl::MutexLock lock(&mu_);
    return shutdown_;
  }

 private:
  struct Member;
  struct Group {
    std::vector<std::shared_ptr<Member>> ranks;  // null: never joined
    uint64_t epoch = 0;
    std::vector<std::shared_ptr<Member>> formed;  // the members of `epoch`
    bool ever_formed = false;
  };

  RegistryOptions options_;
  absl::Mutex mu_;
  std::vector<Group> groups_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace dsm
