#include "coordinator/scheduler.h"

#include <algorithm>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "common/sampling_params_proto.h"

namespace dsm {

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone:
      return "none";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kEos:
      return "eos";
    case FinishReason::kStop:
      return "stop";
  }
  return "?";
}

Scheduler::Scheduler(SchedulerConfig config)
    : config_(std::move(config)), blocks_(config_.num_blocks) {}

int32_t Scheduler::BlocksFor(const GenerationRequest& request) const {
  // Blocks are reserved for the whole generation at admission, so a running sequence
  // never waits for memory. (Preemption and lazy growth come with the server.)
  const int64_t length =
      std::min<int64_t>(static_cast<int64_t>(request.prompt_token_ids.size()) + request.max_tokens,
                        config_.context_length);
  return static_cast<int32_t>((length + config_.block_size - 1) / config_.block_size);
}

std::vector<uint64_t> Scheduler::PrefixHashes(const std::vector<int32_t>& prompt) const {
  std::vector<uint64_t> hashes;
  const size_t bs = config_.block_size;
  const size_t full = (prompt.size() - 1) / bs;
  uint64_t h = 0x243f6a8885a308d3ull;
  for (size_t b = 0; b < full; ++b) {
    // Chained: a block's hash covers every token before it too.
    h = absl::HashOf(h, absl::MakeConstSpan(prompt.data() + b * bs, bs));
    hashes.push_back(h);
  }
  return hashes;
}

absl::Status Scheduler::Add(GenerationRequest request) {
  const int64_t prompt = static_cast<int64_t>(request.prompt_token_ids.size());
  if (prompt == 0) return absl::InvalidArgumentError("the prompt is empty");
  if (prompt >= config_.context_length) {
    return absl::InvalidArgumentError(
        absl::StrCat("the prompt of ", prompt, " tokens leaves no room in the model context of ",
                     config_.context_length, " tokens"));
  }
  if (request.max_tokens < 1) return absl::InvalidArgumentError("max_tokens must be at least 1");
  if (BlocksFor(request) > blocks_.num_blocks()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request needs ", BlocksFor(request), " KV blocks but the pool has ",
                     blocks_.num_blocks(), "; raise --kv-cache-mib or lower max_tokens"));
  }
  if (absl::Status s = request.sampling.Validate(); !s.ok()) return s;
  Sequence seq;
  seq.tokens = request.prompt_token_ids;
  seq.request = std::move(request);
  waiting_.push_back(std::move(seq));
  return absl::OkStatus();
}

void Scheduler::Cancel(uint64_t id) {
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    if (it->request.id == id) {
      waiting_.erase(it);
      return;
    }
  }
  auto it = running_.find(id);
  if (it == running_.end()) return;
  blocks_.Free(it->second.blocks);
  // Only sequences the workers have seen have state there to drop.
  if (it->second.admitted_sent) to_free_.push_back(id);
  running_.erase(it);
}

std::vector<uint64_t> Scheduler::ActiveIds() const {
  std::vector<uint64_t> ids;
  for (const Sequence& s : waiting_) ids.push_back(s.request.id);
  for (const auto& [id, seq] : running_) ids.push_back(id);
  return ids;
}

v1::StepRequest Scheduler::NextStep() {
  v1::StepRequest step;
  step.set_step_id(next_step_id_++);
  for (uint64_t id : to_free_) step.add_free_seq_ids(id);
  to_free_.clear();
  sampled_in_step_.clear();
  admitted_in_step_.clear();

  // Admit waiting requests, oldest first, while blocks and slots allow. Prompt blocks
  // found in the prefix cache are shared instead of recomputed.
  while (!waiting_.empty() && static_cast<int>(running_.size()) < config_.max_running) {
    Sequence& next = waiting_.front();
    std::vector<uint64_t> hashes = PrefixHashes(next.tokens);
    std::vector<int32_t> blocks;
    for (uint64_t h : hashes) {
      std::optional<int32_t> cached = blocks_.AcquireCached(h);
      if (!cached) break;
      blocks.push_back(*cached);
    }
    const size_t shared = blocks.size();
    // Blocks for the tokens there are now; decoding takes more as it goes.
    const int32_t needed =
        static_cast<int32_t>((next.tokens.size() + config_.block_size - 1) / config_.block_size);
    absl::StatusOr<std::vector<int32_t>> fresh =
        blocks_.Allocate(needed - static_cast<int32_t>(shared));
    if (!fresh.ok()) {
      blocks_.Free(blocks);
      break;
    }
    blocks.insert(blocks.end(), fresh->begin(), fresh->end());
    Sequence seq = std::move(waiting_.front());
    waiting_.pop_front();
    seq.blocks = std::move(blocks);
    seq.num_computed = static_cast<int64_t>(shared) * config_.block_size;
    seq.prefix_hashes = std::move(hashes);
    seq.registered = shared;
    admitted_in_step_.emplace_back(seq.request.id, static_cast<int32_t>(seq.num_computed));
    running_.emplace(seq.request.id, std::move(seq));
  }

  // Decodes first (one token each), then prefill chunks within the remaining budget.
  int64_t budget = config_.max_batch_tokens;
  for (int pass = 0; pass < 2; ++pass) {
    for (auto it = running_.begin(); it != running_.end(); ++it) {
      auto& [id, seq] = *it;
      const int64_t pending = static_cast<int64_t>(seq.tokens.size()) - seq.num_computed;
      const bool decoding = pending == 1 && seq.num_output > 0;
      if (pending <= 0 || (pass == 0) != decoding || budget <= 0) continue;
      const int64_t chunk = std::min(pending, budget);
      if (!EnsureBlocks(id, seq, seq.num_computed + chunk, step)) continue;
      budget -= chunk;
      v1::SequenceStep* s = step.add_sequences();
      s->set_seq_id(id);
      s->mutable_token_ids()->Assign(seq.tokens.begin() + seq.num_computed,
                                     seq.tokens.begin() + seq.num_computed + chunk);
      s->set_start_position(seq.num_computed);
      s->mutable_block_table()->Assign(seq.blocks.begin(), seq.blocks.end());
      if (!seq.admitted_sent) {
        ToProto(seq.request.sampling, s->mutable_sampling());
        s->mutable_cached_token_ids()->Assign(seq.tokens.begin(),
                                              seq.tokens.begin() + seq.num_computed);
        s->set_prompt_length(static_cast<int32_t>(seq.request.prompt_token_ids.size()));
        seq.admitted_sent = true;
      }
      seq.num_computed += chunk;
      // Prompt blocks this step completes become findable for later requests.
      while (seq.registered < seq.prefix_hashes.size() &&
             static_cast<int64_t>(seq.registered + 1) * config_.block_size <= seq.num_computed) {
        blocks_.Register(seq.blocks[seq.registered], seq.prefix_hashes[seq.registered]);
        ++seq.registered;
      }
      if (seq.num_computed == static_cast<int64_t>(seq.tokens.size())) {
        s->set_sample(true);
        s->set_return_logits(seq.request.return_logits);
        sampled_in_step_.push_back(id);
      }
    }
  }
  return step;
}

bool Scheduler::EnsureBlocks(uint64_t id, Sequence& seq, int64_t positions, v1::StepRequest& step) {
  while (static_cast<int64_t>(seq.blocks.size()) * config_.block_size < positions) {
    absl::StatusOr<std::vector<int32_t>> block = blocks_.Allocate(1);
    if (block.ok()) {
      seq.blocks.push_back((*block)[0]);
      continue;
    }
    // The youngest running sequence (largest id) makes room; never the one asking.
    auto victim = running_.end();
    for (auto it = running_.begin(); it != running_.end(); ++it) {
      if (it->first != id) victim = it;
    }
    if (victim == running_.end() || victim->first < id) return false;
    Preempt(victim->first, step);
  }
  return true;
}

void Scheduler::Preempt(uint64_t id, v1::StepRequest& step) {
  auto it = running_.find(id);
  Sequence seq = std::move(it->second);
  running_.erase(it);
  blocks_.Free(seq.blocks);
  if (seq.admitted_sent) step.add_free_seq_ids(id);  // the workers drop its state now
  seq.blocks.clear();
  seq.num_computed = 0;
  seq.admitted_sent = false;
  seq.prefix_hashes.clear();
  seq.registered = 0;
  ++preemptions_;
  waiting_.push_front(std::move(seq));
}

FinishReason Scheduler::CheckFinished(const Sequence& seq, int32_t token) const {
  const GenerationRequest& r = seq.request;
  if (!r.ignore_eos && std::find(config_.eos_token_ids.begin(), config_.eos_token_ids.end(),
                                 token) != config_.eos_token_ids.end()) {
    return FinishReason::kEos;
  }
  if (std::find(r.stop_token_ids.begin(), r.stop_token_ids.end(), token) !=
      r.stop_token_ids.end()) {
    return FinishReason::kStop;
  }
  if (seq.num_output >= r.max_tokens ||
      static_cast<int64_t>(seq.tokens.size()) >= config_.context_length) {
    return FinishReason::kLength;
  }
  return FinishReason::kNone;
}

absl::StatusOr<std::vector<TokenEvent>> Scheduler::OnStepResult(const v1::StepResponse& response) {
  if (response.tokens_size() != static_cast<int>(sampled_in_step_.size())) {
    return absl::InternalError(absl::StrCat("rank 0 returned ", response.tokens_size(),
                                            " tokens for ", sampled_in_step_.size(),
                                            " sampling sequences"));
  }
  std::vector<TokenEvent> events;
  for (const v1::SampledToken& t : response.tokens()) {
    auto it = running_.find(t.seq_id());
    if (it == running_.end()) {
      return absl::InternalError(absl::StrCat("token for unknown sequence ", t.seq_id()));
    }
    Sequence& seq = it->second;
    seq.tokens.push_back(t.token_id());
    ++seq.num_output;
    TokenEvent event;
    event.request_id = t.seq_id();
    event.token_id = t.token_id();
    event.logprob = t.logprob();
    for (const v1::TopLogprob& top : t.top_logprobs()) {
      event.top_logprobs.emplace_back(top.token_id(), top.logprob());
    }
    event.logits.assign(t.logits().begin(), t.logits().end());
    event.finish = CheckFinished(seq, t.token_id());
    if (event.finish != FinishReason::kNone) {
      blocks_.Free(seq.blocks);
      to_free_.push_back(t.seq_id());
      running_.erase(it);
    }
    events.push_back(std::move(event));
  }
  return events;
}

}  // namespace dsm
