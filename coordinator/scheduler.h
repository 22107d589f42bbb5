#pragma once
// Iteration-level (continuous) batching for one worker group. Each step, running
// sequences decode one token, sequences still prefilling take a chunk of their prompt,
// and waiting requests are admitted while KV blocks and the step's token budget allow.
// Blocks are taken as positions are reached; when the pool runs dry the youngest
// running sequence is preempted and later recomputed (prompt plus output so far), which
// gives the same tokens as if it had never stopped. The scheduler owns all sequence
// state; workers only see steps.

#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/block_allocator.h"
#include "coordinator/generation_request.h"
#include "dsm/v1/worker.pb.h"

namespace dsm {

struct SchedulerConfig {
  int32_t num_blocks = 0;
  int32_t block_size = 16;
  int64_t context_length = 0;
  int32_t max_batch_tokens = 512;  // tokens fed per step (prefill chunks + decodes)
  int32_t max_running = 256;
  std::vector<int32_t> eos_token_ids;
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerConfig config);

  // Queues a request. INVALID_ARGUMENT if it can never run (empty prompt, longer than
  // the context, more KV blocks than the pool holds).
  absl::Status Add(GenerationRequest request);

  bool HasWork() const { return !waiting_.empty() || !running_.empty(); }
  int num_running() const { return static_cast<int>(running_.size()); }
  int num_waiting() const { return static_cast<int>(waiting_.size()); }
  int32_t free_blocks() const { return blocks_.num_free(); }

  // Drops a request, waiting or running; its blocks return to the pool and the workers
  // drop its state with the next step. Unknown ids are ignored.
  void Cancel(uint64_t id);

  // Every request, waiting or running (e.g. to fail them all when the group dies).
  std::vector<uint64_t> ActiveIds() const;
  int32_t total_blocks() const { return blocks_.num_blocks(); }

  // The next step for the group; sequences finished since the last step are freed in it.
  v1::StepRequest NextStep();

  // Requests admitted by the last NextStep(), with the prompt tokens found in the
  // prefix cache (not recomputed).
  const std::vector<std::pair<uint64_t, int32_t>>& admitted_in_step() const {
    return admitted_in_step_;
  }
  int32_t cached_blocks() const { return blocks_.num_cached(); }
  int64_t preemptions() const { return preemptions_; }

  // Applies rank 0's answer to the step built last; returns the new tokens.
  absl::StatusOr<std::vector<TokenEvent>> OnStepResult(const v1::StepResponse& response);

 private:
  struct Sequence {
    GenerationRequest request;
    std::vector<int32_t> tokens;  // prompt then output
    int64_t num_computed = 0;     // tokens whose K/V are in the cache
    std::vector<int32_t> blocks;
    bool admitted_sent = false;  // sampling params already sent to the workers
    int32_t num_output = 0;
    std::vector<uint64_t> prefix_hashes;  // of the prompt's cacheable full blocks
    size_t registered = 0;                // blocks already in the prefix cache
  };

  // Hashes of the prompt's full blocks that lie before its last token (the last token
  // is always computed, so the logits it yields are this request's own).
  std::vector<uint64_t> PrefixHashes(const std::vector<int32_t>& prompt) const;

  int32_t BlocksFor(const GenerationRequest& request) const;
  // Gives `seq` blocks for `positions` positions, preempting the youngest other running
  // sequences while the pool is short. False if even that cannot make room.
  bool EnsureBlocks(uint64_t id, Sequence& seq, int64_t positions, v1::StepRequest& step);
  // Returns a running sequence to the front of the queue, dropping its KV blocks; it is
  // recomputed (prompt and output so far) when admitted again.
  void Preempt(uint64_t id, v1::StepRequest& step);
  FinishReason CheckFinished(const Sequence& seq, int32_t token) const;

  SchedulerConfig config_;
  BlockAllocator blocks_;
  std::deque<Sequence> waiting_;          // new requests, and preempted ones at the front
  std::map<uint64_t, Sequence> running_;  // ordered by id: older requests first
  std::vector<uint64_t> to_free_;
  std::vector<uint64_t> sampled_in_step_;  // ids that sample in the step last built
  std::vector<std::pair<uint64_t, int32_t>> admitted_in_step_;
  uint64_t next_step_id_ = 0;
  int64_t preemptions_ = 0;
};

}  // namespace dsm
