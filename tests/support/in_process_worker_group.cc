#include "tests/support/in_process_worker_group.h"

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"

namespace dsm::testing {

int32_t InProcessNextToken(int32_t last, int64_t position, int32_t vocab_size) {
  const uint64_t x = static_cast<uint64_t>(last) * 31 + static_cast<uint64_t>(position) * 7 + 3;
  return static_cast<int32_t>(x % static_cast<uint64_t>(vocab_size));
}

std::vector<int32_t> InProcessExpectedTokens(const std::vector<int32_t>& prompt, int count,
                                             int32_t vocab_size) {
  std::vector<int32_t> out;
  int32_t last = prompt.back();
  int64_t position = static_cast<int64_t>(prompt.size()) - 1;
  for (int i = 0; i < count; ++i) {
    last = InProcessNextToken(last, position++, vocab_size);
    out.push_back(last);
  }
  return out;
}

InProcessWorkerGroup::InProcessWorkerGroup(std::shared_ptr<InProcessGroupControl> control)
    : control_(std::move(control)) {
  info_.set_rank(0);
  info_.set_world_size(1);
  info_.set_vocab_size(control_->vocab_size);
  info_.set_kv_block_size(control_->block_size);
  info_.set_kv_num_blocks(control_->num_blocks);
  info_.set_backend("in-process");
}

absl::StatusOr<v1::StepResponse> InProcessWorkerGroup::Step(const v1::StepRequest& request) {
  if (std::optional<std::string> dead = DeadRank()) return absl::UnavailableError(*dead);
  if (const int us = control_->step_sleep_us.load(); us > 0) {
    std::this_thread::sleep_for(std::chrono::microseconds(us));
  }
  for (uint64_t id : request.free_seq_ids()) next_position_.erase(id);
  v1::StepResponse response;
  response.set_step_id(request.step_id());
  for (const v1::SequenceStep& seq : request.sequences()) {
    // The scheduler must feed each sequence's positions in order: from where it was
    // (re)admitted, without gaps or repeats.
    if (seq.token_ids().empty()) {
      return absl::InternalError(absl::StrCat("sequence ", seq.seq_id(), " fed no tokens"));
    }
    if (seq.has_sampling()) {
      next_position_[seq.seq_id()] = seq.start_position();
    }
    auto it = next_position_.find(seq.seq_id());
    if (it == next_position_.end() || it->second != seq.start_position()) {
      return absl::InternalError(absl::StrCat(
          "sequence ", seq.seq_id(), " starts at ", seq.start_position(), ", expected ",
          it == next_position_.end() ? std::string("an admission") : absl::StrCat(it->second)));
    }
    const int64_t end = seq.start_position() + seq.token_ids_size();
    it->second = end;
    const int64_t blocks_needed = (end + control_->block_size - 1) / control_->block_size;
    if (seq.block_table_size() < blocks_needed) {
      return absl::InternalError(absl::StrCat("sequence ", seq.seq_id(), " has ",
                                              seq.block_table_size(), " blocks for ", end,
                                              " positions"));
    }
    for (int32_t block : seq.block_table()) {
      if (block < 0 || block >= control_->num_blocks) {
        return absl::InternalError(absl::StrCat("block ", block, " is outside the pool"));
      }
    }
    if (!seq.sample()) continue;
    v1::SampledToken* token = response.add_tokens();
    token->set_seq_id(seq.seq_id());
    token->set_token_id(
        InProcessNextToken(seq.token_ids(seq.token_ids_size() - 1), end - 1, control_->vocab_size));
    token->set_logprob(-1.0f);
  }
  return response;
}

std::optional<std::string> InProcessWorkerGroup::DeadRank() {
  const int rank = dead_rank_.load();
  if (rank < 0) return std::nullopt;
  return absl::StrCat("worker rank ", rank, " died (killed by the test)");
}

void InProcessWorkerGroup::Kill(int rank, int /*signal*/) { dead_rank_.store(rank); }

WorkerGroupLauncher InProcessLauncher(std::shared_ptr<InProcessGroupControl> control) {
  return [control](int group_index,
                   const WorkerGroupOptions&) -> absl::StatusOr<std::unique_ptr<WorkerGroup>> {
    control->launches.fetch_add(1);
    for (int left = control->failing_launches.load(); left > 0;) {
      if (control->failing_launches.compare_exchange_weak(left, left - 1)) {
        return absl::UnavailableError(
            absl::StrCat("group ", group_index, ": weights unreadable (test)"));
      }
    }
    return std::make_unique<InProcessWorkerGroup>(control);
  };
}

}  // namespace dsm::testing
