#include "worker/step_runner.h"

#include <algorithm>
#include <chrono>
#include <list>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/sampling_params_proto.h"
#include "worker/checkpoint.h"
#include "worker/executor/executor_factory.h"
#include "worker/sampler.h"

namespace dsm {

absl::StatusOr<std::unique_ptr<StepRunner>> StepRunner::Create(const RunnerOptions& options,
                                                               std::unique_ptr<Communicator> comm) {
  absl::StatusOr<std::unique_ptr<Checkpoint>> checkpoint = Checkpoint::Open(options.model_dir);
  if (!checkpoint.ok()) return checkpoint.status();
  auto runner = std::unique_ptr<StepRunner>(new StepRunner());
  runner->comm_ = std::make_unique<TimedCommunicator>(std::move(comm));
  absl::StatusOr<std::unique_ptr<ModelExecutor>> executor =
      CreateModelExecutor(options.executor, **checkpoint, runner->comm_.get());
  if (!executor.ok()) return executor.status();
  runner->executor_ = *std::move(executor);
  runner->info_ = runner->executor_->Info();
  return runner;
}

v1::WorkerInfo StepRunner::Info() const {
  const ModelConfig& c = executor_->config();
  v1::WorkerInfo info;
  info.set_rank(comm_->rank());
  info.set_world_size(comm_->world_size());
  info.set_vocab_size(c.vocab_size);
  info.set_max_position_embeddings(c.max_position_embeddings);
  info.set_kv_block_size(static_cast<int32_t>(info_.kv_block_size));
  info.set_kv_num_blocks(static_cast<int32_t>(info_.kv_num_blocks));
  info.set_weight_bytes(static_cast<int64_t>(info_.weight_bytes));
  info.set_kv_cache_bytes(static_cast<int64_t>(info_.kv_cache_bytes));
  info.set_simd_target(info_.device);
  info.set_threads(info_.threads);
  info.set_backend(info_.backend);
  if (c.bos_token_id) info.set_bos_token_id(*c.bos_token_id);
  if (c.eos_token_id) info.set_eos_token_id(*c.eos_token_id);
  return info;
}

namespace {

// A row sampled from its full logits after the loop over the batch.
struct FullRowSample {
  v1::SampledToken* token;
  std::span<const float> row;
  SamplingParams params;
  std::vector<int32_t> tokens;  // a copy: the prompt, then the output so far
  size_t prompt_length;
};

void SetSampled(const SampleResult& sampled, v1::SampledToken& token) {
  token.set_token_id(sampled.token_id);
  token.set_logprob(sampled.logprob);
  for (const auto& [id, logprob] : sampled.top_logprobs) {
    v1::TopLogprob* top = token.add_top_logprobs();
    top->set_token_id(id);
    top->set_logprob(logprob);
  }
}

}  // namespace

absl::StatusOr<v1::StepResponse> StepRunner::Step(const v1::StepRequest& request) {
  const auto step_start = std::chrono::steady_clock::now();
  for (uint64_t id : request.free_seq_ids()) sequences_.erase(id);

  if (request.sequences_size() == 0) {
    v1::StepResponse empty;
    empty.set_step_id(request.step_id());
    return empty;
  }
  std::vector<SequenceInput> batch;
  batch.reserve(request.sequences_size());
  for (const v1::SequenceStep& seq : request.sequences()) {
    batch.push_back(
        SequenceInput{std::span<const int32_t>(seq.token_ids().data(), seq.token_ids().size()),
                      seq.start_position(),
                      std::span<const int32_t>(seq.block_table().data(), seq.block_table().size()),
                      seq.sample() || seq.return_logits()});
  }
  // Sampling parameters are checked before the forward pass, like the batch itself.
  std::vector<uint64_t> draw_index(batch.size(), 0);  // of rows sampled from a summary
  for (size_t i = 0; i < batch.size(); ++i) {
    const v1::SequenceStep& seq = request.sequences(static_cast<int>(i));
    const SamplingParams* params = nullptr;
    SamplingParams incoming;
    uint64_t prompt_length = 0;
    if (seq.has_sampling()) {
      incoming = FromProto(seq.sampling());
      if (absl::Status s = incoming.Validate(); !s.ok()) return s;
      params = &incoming;
      prompt_length = seq.prompt_length();
    } else if (auto it = sequences_.find(seq.seq_id()); it != sequences_.end()) {
      params = &it->second.params;
      prompt_length = it->second.prompt_length;
    } else if (seq.sample()) {
      // Every rank keeps the sequence table, so every rank rejects this step alike and
      // none is left waiting in a collective for a peer that refused it.
      return absl::FailedPreconditionError(
          absl::StrCat("sequence ", seq.seq_id(), " samples without sampling parameters"));
    }
    batch[i].greedy_only =
        seq.sample() && !seq.return_logits() && params != nullptr && params->IsPlainGreedy();
    // Other sampled rows may be summarised where the logits are; the draw's uniform is
    // the one Sample() would use after this step's tokens.
    if (seq.sample() && !seq.return_logits() && params != nullptr && !batch[i].greedy_only &&
        SummaryCanSample(*params)) {
      const uint64_t length = seq.start_position() + seq.token_ids_size();
      draw_index[i] = length - std::min(prompt_length, length);
      batch[i].summary = true;
      batch[i].temperature = params->temperature;
      batch[i].uniform = DrawUniform(*params, draw_index[i]);
    }
  }
  if (absl::Status s =
          ValidateStepBatch(executor_->config(), info_.kv_block_size, info_.kv_num_blocks, batch);
      !s.ok())
    return s;
  const auto forward_start = std::chrono::steady_clock::now();
  comm_->TakeSeconds();  // only this step's collectives count
  absl::StatusOr<StepOutput> output = executor_->Forward(batch);
  if (!output.ok()) return output.status();

  v1::StepResponse response;
  response.set_step_id(request.step_id());
  v1::WorkerStepTiming* timing = response.add_rank_timings();
  timing->set_rank(comm_->rank());
  timing->set_forward_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - forward_start).count());
  timing->set_allreduce_seconds(comm_->TakeSeconds());
  const size_t vocab = executor_->config().vocab_size;
  size_t logits_row = 0;
  std::vector<FullRowSample> full_rows;
  std::list<std::vector<float>> fetched_rows;  // rows fetched from the executor, kept alive
  for (size_t i = 0; i < batch.size(); ++i) {
    const v1::SequenceStep& seq = request.sequences(static_cast<int>(i));
    {  // every rank: the table decides whether later steps are valid
      SequenceState& state = sequences_[seq.seq_id()];
      if (seq.has_sampling()) {
        state.params = FromProto(seq.sampling());
        state.prompt_length = seq.prompt_length();
        state.tokens.assign(seq.cached_token_ids().begin(), seq.cached_token_ids().end());
      }
      state.tokens.resize(std::min<size_t>(state.tokens.size(), seq.start_position()));
      state.tokens.insert(state.tokens.end(), seq.token_ids().begin(), seq.token_ids().end());
    }
    if (!batch[i].want_logits || comm_->rank() != 0) continue;
    const size_t r = logits_row++;
    SequenceState& state = sequences_[seq.seq_id()];
    v1::SampledToken* token = response.add_tokens();
    token->set_seq_id(seq.seq_id());
    if (batch[i].greedy_only && r < output->greedy_ids.size()) {
      token->set_token_id(output->greedy_ids[r]);
      token->set_logprob(output->greedy_logprobs[r]);
      continue;
    }
    const size_t prompt = std::min<size_t>(state.prompt_length, state.tokens.size());
    std::span<const int32_t> all(state.tokens);
    std::optional<SampleResult> sampled;
    const bool summarised = batch[i].summary && r < output->summaries.size() &&
                            !output->summaries[r].ids.empty() &&
                            draw_index[i] == all.size() - prompt;
    if (summarised) {
      sampled = SampleFromSummary(output->summaries[r], state.params, vocab, batch[i].uniform);
    }
    if (!sampled) {
      std::vector<float> fetched;
      std::span<const float> row;
      if (output->logits.size() >= (r + 1) * vocab) {
        row = std::span<const float>(output->logits.data() + r * vocab, vocab);
      } else if (batch[i].summary) {
        absl::StatusOr<std::vector<float>> last = executor_->LastStepLogits(r);
        if (!last.ok()) return last.status();
        fetched = *std::move(last);
        row = fetched;
      }
      if (row.size() != vocab) {
        return absl::InternalError("the executor returned fewer logits rows than requested");
      }
      if (seq.return_logits()) token->mutable_logits()->Assign(row.begin(), row.end());
      if (!seq.sample()) continue;
      // Sampled below, all rows together (the response's tokens and the logits stay put).
      if (!fetched.empty()) row = fetched_rows.emplace_back(std::move(fetched));
      full_rows.push_back(FullRowSample{token, row, state.params, state.tokens, prompt});
      continue;
    }
    SetSampled(*sampled, *token);
  }
  // Full-row sampling is independent per row: on the executor's threads when it has them
  // (16 rows at temperature 1 were ~4% of a CPU decode step on one thread).
  std::vector<SampleResult> results(full_rows.size());
  executor_->ForEachRow(full_rows.size(), [&](size_t k) {
    const FullRowSample& f = full_rows[k];
    const std::span<const int32_t> all(f.tokens);
    results[k] = Sample(f.row, f.params, all.first(f.prompt_length), all.subspan(f.prompt_length),
                        all.size() - f.prompt_length);
  });
  for (size_t k = 0; k < full_rows.size(); ++k) SetSampled(results[k], *full_rows[k].token);
  timing->set_step_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count());
  return response;
}

void StepRunner::Reform(std::unique_ptr<Communicator> comm) {
  comm_->Reset(std::move(comm));
  sequences_.clear();
}

}  // namespace dsm
