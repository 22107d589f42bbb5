#pragma once
// A worker group that lives in this process and answers each step with a deterministic
// token function instead of a model. It drives the scheduler, the group engine and the
// coordinator in tests (the ThreadSanitizer build included) without processes or gRPC,
// and checks that every step is consistent with what it was sent before.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "coordinator/worker_group.h"

namespace dsm::testing {

// Shared by a test and every launch of its groups.
struct InProcessGroupControl {
  int32_t vocab_size = 97;
  int32_t num_blocks = 64;
  int32_t block_size = 4;
  std::atomic<int> launches{0};
  std::atomic<int> failing_launches{0};  // the next N launches fail (weights "unreadable")
  std::atomic<int> step_sleep_us{0};     // widens the windows in which threads interleave
};

// The token sampled after `last` at `position`; a sequence's tokens depend on nothing
// else, so batching, preemption and recompute cannot change them.
int32_t InProcessNextToken(int32_t last, int64_t position, int32_t vocab_size);
// What a lone run of `prompt` produces: `count` tokens.
std::vector<int32_t> InProcessExpectedTokens(const std::vector<int32_t>& prompt, int count,
                                             int32_t vocab_size);

class InProcessWorkerGroup : public WorkerGroup {
 public:
  explicit InProcessWorkerGroup(std::shared_ptr<InProcessGroupControl> control);

  const v1::WorkerInfo& info() const override { return info_; }
  absl::StatusOr<v1::StepResponse> Step(const v1::StepRequest& request) override;
  void Shutdown() override {}
  std::optional<std::string> DeadRank() override;
  // Any signal "kills" the group: the next step fails as a dead worker's would.
  void Kill(int rank, int signal) override;

 private:
  std::shared_ptr<InProcessGroupControl> control_;
  v1::WorkerInfo info_;
  std::atomic<int> dead_rank_{-1};
  absl::flat_hash_map<uint64_t, int64_t> next_position_;  // per live sequence
};

// Launches InProcessWorkerGroups; fails while control->failing_launches > 0.
WorkerGroupLauncher InProcessLauncher(std::shared_ptr<InProcessGroupControl> control);

}  // namespace dsm::testing
