#include "coordinator/coordinator.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "answers/final_answer.h"
#include "answers/majority_vote.h"
#include "answers/normalize_answer.h"
#include "common/shard_spec.h"
#include "coordinator/tokenizer/incremental_detokenizer.h"

namespace dsm {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Choice i > 0 gets its own seed derived from the request's, so n samples differ but
// the whole request stays reproducible.
uint64_t ChoiceSeed(uint64_t seed, int index) {
  if (index == 0) return seed;
  uint64_t x = seed + 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(index);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

v1::FinishReason ToProto(FinishReason reason) {
  switch (reason) {
    case FinishReason::kLength:
      return v1::FINISH_REASON_LENGTH;
    case FinishReason::kEos:
      return v1::FINISH_REASON_EOS;
    case FinishReason::kStop:
      return v1::FINISH_REASON_STOP;
    case FinishReason::kNone:
      break;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

// Bytes at the end of `text` that could be the start of a stop string: held back from
// the stream until it is clear they are not.
size_t StopHoldback(const std::string& text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const std::string& stop : stops) {
    for (size_t k = std::min(stop.size() - 1, text.size()); k > hold; --k) {
      if (text.compare(text.size() - k, k, stop, 0, k) == 0) {
        hold = k;
        break;
      }
    }
  }
  return hold;
}

struct ChoiceState {
  uint64_t sequence_id = 0;
  v1::Choice choice;
  std::unique_ptr<IncrementalDetokenizer> detokenizer;
  std::string text;
  size_t streamed = 0;  // bytes of `text` already sent
  bool finished = false;
  bool stopped_by_vote = false;  // finished because the vote was already decided
  FinishReason finish = FinishReason::kNone;
  std::chrono::steady_clock::time_point last_token{};  // for inter-token latency
};

// The normalized answers of the samples that ran to their end ("" = none stated), and the
// indices they belong to.
answers::Vote TallyCompleted(const std::vector<ChoiceState>& choices) {
  std::vector<std::string> stated;
  for (const ChoiceState& c : choices) {
    stated.push_back(c.finished && !c.stopped_by_vote ? c.choice.final_answer() : "");
  }
  return answers::MajorityVote(stated);
}

// Whether the samples still running can be stopped: "decided" when they could not
// overtake the leader even if all of them agreed on another answer, "confidence" when the
// leader's share of the answers so far reaches the request's threshold; else empty.
std::string VoteStopReason(const PreparedRequest& request, const answers::Vote& vote, int running) {
  if (vote.answer.empty() || running == 0) return "";
  const int runner_up = vote.distribution.size() > 1 ? vote.distribution[1].second : 0;
  if (request.vote_early_stop && vote.count > runner_up + running) return "decided";
  if (request.vote_confidence > 0 && vote.voters >= request.vote_min_answers &&
      vote.share >= request.vote_confidence) {
    return "confidence";
  }
  return "";
}

v1::VoteResult VoteResultOf(const PreparedRequest& request, const std::vector<ChoiceState>& choices,
                            int tokens_saved, const std::string& stopped_because) {
  const answers::Vote vote = TallyCompleted(choices);
  v1::VoteResult result;
  result.set_answer(vote.answer);
  result.set_share(vote.share);
  for (const auto& [answer, votes] : vote.distribution) {
    v1::VoteResult::Count* count = result.add_distribution();
    count->set_answer(answer);
    count->set_votes(votes);
  }
  for (int i : vote.supporters) result.add_supporters(i);
  if (!vote.supporters.empty()) {
    result.set_answer_text(choices[vote.supporters.front()].choice.final_answer_text());
  }
  result.set_samples(request.vote);
  for (const ChoiceState& c : choices) {
    if (c.stopped_by_vote) {
      result.set_samples_stopped(result.samples_stopped() + 1);
    } else if (c.finished) {
      result.set_samples_completed(result.samples_completed() + 1);
    }
  }
  result.set_tokens_saved(tokens_saved);
  result.set_stopped_because(stopped_because);
  return result;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Start(const CoordinatorOptions& options) {
  auto c = std::unique_ptr<Coordinator>(new Coordinator());
  c->options_ = options;
  absl::StatusOr<ModelConfig> config = LoadModelConfig(options.model_dir);
  if (!config.ok()) return config.status();
  c->config_ = *config;
  if (absl::Status s = ValidateShardable(c->config_, options.tp); !s.ok()) return s;
  if (options.replicas < 1) return absl::InvalidArgumentError("--replicas must be at least 1");
  if (!options.launcher) return absl::InvalidArgumentError("no worker group launcher given");
  if (absl::StatusOr<TokenizerFiles> files = LoadTokenizerFiles(options.model_dir); files.ok()) {
    c->text_ = std::make_unique<TokenizerFiles>(*std::move(files));
  } else if (!absl::IsNotFound(files.status())) {
    return files.status();
  }
  if (options.max_model_len < 0 || options.max_model_len > c->config_.max_position_embeddings) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-model-len ", options.max_model_len, " is outside [0, ",
        c->config_.max_position_embeddings, "] (the model's max_position_embeddings)"));
  }
  const int64_t context_length =
      options.max_model_len > 0 ? options.max_model_len : c->config_.max_position_embeddings;
  c->limits_.context_length = context_length;
  c->limits_.vocab_size = c->config_.vocab_size;

  SchedulerConfig scheduler;
  scheduler.context_length = context_length;
  scheduler.max_batch_tokens = options.max_batch_tokens;
  scheduler.max_running = options.max_running;
  std::optional<int64_t> eos = c->config_.eos_token_id;
  if (c->text_ && c->text_->eos_id) eos = c->text_->eos_id;
  if (eos) scheduler.eos_token_ids.push_back(static_cast<int32_t>(*eos));
  for (int r = 0; r < options.replicas; ++r) {
    WorkerGroupOptions workers = options.workers;
    workers.model_dir = options.model_dir;
    workers.tp = options.tp;
    workers.backend = options.backend;
    workers.first_cuda_device = r * options.tp;  // one GPU per rank, groups side by side
    workers.max_sequences = options.max_running;
    absl::StatusOr<std::unique_ptr<GroupEngine>> engine =
        GroupEngine::Start(r, workers, scheduler, options.launcher, options.observer);
    if (!engine.ok()) {
      return absl::Status(engine.status().code(),
                          absl::StrCat("worker group ", r, ": ", engine.status().message()));
    }
    c->engines_.push_back(*std::move(engine));
  }
  return c;
}

absl::StatusOr<GroupEngine*> Coordinator::PickGroup(int sequences) {
  absl::MutexLock lock(&pick_mu_);
  GroupEngine* best = nullptr;
  for (auto& engine : engines_) {
    if (!engine->healthy()) continue;
    if (best == nullptr || engine->load() < best->load()) best = engine.get();
  }
  // What truly waits: in each group, the sequences beyond its running slots.
  int waiting = 0;
  for (auto& engine : engines_) {
    const int load = engine->load() + (engine.get() == best ? sequences : 0);
    waiting += std::max(0, load - options_.max_running);
  }
  if (waiting > options_.max_queued_requests) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the queue is full: ", waiting, " sequences would wait for a running slot (limit ",
        options_.max_queued_requests, ", --max-queue)"));
  }
  if (best == nullptr) {
    return absl::UnavailableError("no worker group is available (all are restarting)");
  }
  best->Reserve(sequences);
  return best;
}

bool Coordinator::CanServe() const {
  if (draining_) return false;
  for (const auto& engine : engines_) {
    if (engine->healthy()) return true;
  }
  return false;
}

void Coordinator::AbortInFlight(const absl::Status& status) {
  {
    // The handlers return at once, even if an engine is inside a long or stuck step.
    absl::MutexLock lock(&active_mu_);
    for (SequenceStream* stream : active_) stream->Abort(status);
  }
  for (auto& engine : engines_) engine->AbortAll(status);  // frees their KV blocks
}

void Coordinator::StopEngines() {
  for (auto& engine : engines_) engine->Stop();
}

absl::StatusOr<v1::GenerateResponse> Coordinator::Generate(const PreparedRequest& request,
                                                           const CancelCheck& cancelled,
                                                           const ChunkWriter* stream) {
  const Clock::time_point arrival = Clock::now();
  RequestRecord record;
  // The client's id, else a server-side one so every log line can be told apart.
  record.request_id = request.request_id.empty()
                          ? absl::StrCat("server-", next_log_id_.fetch_add(1))
                          : request.request_id;
  record.choices = request.n;
  record.prompt_tokens = static_cast<int>(request.prompt_ids.size());
  absl::StatusOr<v1::GenerateResponse> result = Run(request, cancelled, stream, &record);
  record.total_seconds = SecondsSince(arrival);
  record.status = result.status();
  LogRequest(record, options_.log_format);
  if (options_.observer != nullptr) options_.observer->OnRequestFinished(record);
  return result;
}

absl::StatusOr<v1::GenerateResponse> Coordinator::Run(const PreparedRequest& request,
                                                      const CancelCheck& cancelled,
                                                      const ChunkWriter* stream,
                                                      RequestRecord* record) {
  const Clock::time_point arrival = Clock::now();
  in_flight_.fetch_add(1);
  absl::Cleanup leave = [this] { in_flight_.fetch_sub(1); };
  if (draining_) return absl::UnavailableError("server is draining: it takes no new requests");
  absl::StatusOr<GroupEngine*> picked = PickGroup(request.n);
  if (!picked.ok()) return picked.status();
  GroupEngine* engine = *picked;
  record->group = engine->index();
  // Choices not yet submitted stay reserved; whatever ends this call releases the rest.
  int unsubmitted = request.n;
  absl::Cleanup release = [&] { engine->Release(unsubmitted); };

  std::shared_ptr<SequenceStream> events;
  auto use_stream = [&](std::shared_ptr<SequenceStream> next) {
    absl::MutexLock lock(&active_mu_);
    if (events) active_.erase(events.get());
    events = std::move(next);
    if (events) active_.insert(events.get());
  };
  use_stream(std::make_shared<SequenceStream>());
  absl::Cleanup unregister = [&] { use_stream(nullptr); };
  std::vector<ChoiceState> choices(request.n);
  absl::flat_hash_map<uint64_t, int> choice_of;
  auto cancel_all = [&] {
    for (ChoiceState& c : choices) {
      if (!c.finished && c.sequence_id != 0) engine->Cancel(c.sequence_id);
    }
  };
  // Choice 0 goes first; the others follow once its prompt is computed, so that they
  // share the prompt's KV blocks through the prefix cache instead of recomputing them.
  auto submit = [&](int i) -> absl::Status {
    ChoiceState& c = choices[i];
    c.sequence_id = next_sequence_id_.fetch_add(1);
    choice_of[c.sequence_id] = i;
    GenerationRequest g;
    g.id = c.sequence_id;
    g.prompt_token_ids = request.prompt_ids;
    g.sampling = request.sampling;
    g.sampling.seed = ChoiceSeed(request.sampling.seed, i);
    g.max_tokens = request.max_tokens;
    g.ignore_eos = request.ignore_eos;
    g.stop_token_ids = request.stop_token_ids;
    absl::Status s = engine->Submit(std::move(g), events);
    if (s.ok()) --unsubmitted;  // Submit moved it from reserved to waiting
    if (!s.ok()) {
      c.sequence_id = 0;
      cancel_all();
    }
    return s;
  };
  for (int i = 0; i < request.n; ++i) {
    choices[i].choice.set_index(i);
    if (text_) {
      choices[i].detokenizer = std::make_unique<IncrementalDetokenizer>(*text_->tokenizer, true);
    }
  }
  if (absl::Status s = submit(0); !s.ok()) return s;
  bool others_submitted = request.n == 1;

  double queue_seconds = -1, first_token_seconds = -1;
  int completion_tokens = 0;
  int cached_tokens = 0;
  int unfinished = request.n;
  int tokens_saved = 0;  // by samples the vote stopped
  std::string vote_stopped_because;
  int moves = 0;  // to another group after a failure
  bool first_chunk = true;
  size_t max_stop = 0;
  for (const std::string& s : request.stop) max_stop = std::max(max_stop, s.size());
  // Whatever way this call ends, the request log gets what happened so far.
  absl::Cleanup fill_record = [&] {
    record->queue_seconds = queue_seconds;
    record->first_token_seconds = first_token_seconds;
    record->completion_tokens = completion_tokens;
    record->cached_tokens = cached_tokens;
    std::vector<std::string> reasons;
    for (const ChoiceState& c : choices) {
      reasons.push_back(c.stopped_by_vote ? "vote"
                        : c.finished      ? FinishReasonName(c.finish)
                                          : "none");
    }
    record->finish_reasons = absl::StrJoin(reasons, ",");
  };

  auto write = [&](v1::GenerateStreamResponse& chunk) -> bool {
    if (stream == nullptr) return true;
    chunk.set_request_id(request.request_id);
    if (first_chunk && request.echo) {
      chunk.mutable_prompt_token_ids()->Assign(request.prompt_ids.begin(),
                                               request.prompt_ids.end());
    }
    first_chunk = false;
    return (*stream)(chunk);
  };

  while (unfinished > 0) {
    if (cancelled()) {
      cancel_all();
      return absl::CancelledError("the request was cancelled or its deadline passed");
    }
    std::optional<absl::StatusOr<TokenEvent>> next = events->Next(std::chrono::milliseconds(50));
    if (!next) continue;
    if (!next->ok()) {
      cancel_all();
      // The group failed before this request produced anything (it was queued there,
      // or its prompt was being computed): run it on a healthy group instead.
      if (absl::IsUnavailable(next->status()) && completion_tokens == 0 && !draining_ &&
          ++moves < static_cast<int>(engines_.size())) {
        absl::StatusOr<GroupEngine*> other = PickGroup(request.n);
        if (other.ok()) {
          std::fprintf(stderr, "dsm: request %s moves from worker group %d to %d (%s)\n",
                       record->request_id.c_str(), engine->index(), (*other)->index(),
                       std::string(next->status().message()).c_str());
          engine->Release(unsubmitted);
          engine = *other;
          record->group = engine->index();
          unsubmitted = request.n;
          choice_of.clear();
          for (ChoiceState& c : choices) c.sequence_id = 0;
          use_stream(std::make_shared<SequenceStream>());
          if (absl::Status s = submit(0); !s.ok()) return s;
          continue;
        }
      }
      return next->status();
    }
    TokenEvent& event = **next;
    auto it = choice_of.find(event.request_id);
    if (it == choice_of.end()) continue;
    ChoiceState& c = choices[it->second];
    if (event.admitted) {
      if (queue_seconds < 0) queue_seconds = SecondsSince(arrival);
      cached_tokens = std::max(cached_tokens, event.cached_tokens);
      continue;
    }
    if (!others_submitted) {
      others_submitted = true;
      for (int i = 1; i < request.n; ++i) {
        if (absl::Status s = submit(i); !s.ok()) return s;
      }
    }
    if (c.finished) continue;  // tokens after a stop string matched
    if (first_token_seconds < 0) first_token_seconds = SecondsSince(arrival);
    const Clock::time_point now = Clock::now();
    if (options_.observer != nullptr && c.last_token != Clock::time_point{}) {
      options_.observer->OnTokenGap(std::chrono::duration<double>(now - c.last_token).count());
    }
    c.last_token = now;
    ++completion_tokens;
    c.choice.add_token_ids(event.token_id);
    v1::TokenLogprob* logprob = nullptr;
    if (request.sampling.logprobs > 0) {
      logprob = c.choice.add_logprobs();
      logprob->set_token_id(event.token_id);
      logprob->set_logprob(event.logprob);
      for (const auto& [id, lp] : event.top_logprobs) {
        v1::TokenLogprob::TopLogprob* top = logprob->add_top();
        top->set_token_id(id);
        top->set_logprob(lp);
      }
    }
    FinishReason finish = event.finish;
    if (c.detokenizer) {
      const size_t before = c.text.size();
      if (absl::StatusOr<std::string> piece = c.detokenizer->Add(event.token_id); piece.ok()) {
        c.text += *piece;
      }
      if (finish != FinishReason::kNone) {
        if (absl::StatusOr<std::string> rest = c.detokenizer->Finish(); rest.ok()) c.text += *rest;
      }
      // Stop strings: look where the new text could complete one.
      const size_t from = before >= max_stop ? before - max_stop + 1 : 0;
      size_t best = std::string::npos;
      for (const std::string& stop : request.stop) {
        const size_t at = c.text.find(stop, from);
        if (at != std::string::npos && at < best) {
          best = at;
          c.choice.set_stop(stop);
        }
      }
      if (best != std::string::npos) {
        c.text.resize(best);
        if (finish == FinishReason::kNone) engine->Cancel(c.sequence_id);
        finish = FinishReason::kStop;
      }
    }
    if (finish != FinishReason::kNone) {
      c.finished = true;
      c.finish = finish;
      c.choice.set_finish_reason(ToProto(finish));
      if (std::optional<std::string> answer = answers::ExtractFinalAnswer(c.text)) {
        c.choice.set_final_answer(answers::NormalizeAnswer(*answer));
        c.choice.set_final_answer_text(*std::move(answer));
      }
      --unfinished;
    }
    const size_t safe =
        c.finished ? c.text.size() : c.text.size() - StopHoldback(c.text, request.stop);
    v1::GenerateStreamResponse chunk;
    chunk.set_index(c.choice.index());
    chunk.add_token_ids(event.token_id);
    if (safe > c.streamed) {
      chunk.set_text(c.text.substr(c.streamed, safe - c.streamed));
      c.streamed = safe;
    }
    if (logprob != nullptr) *chunk.add_logprobs() = *logprob;
    chunk.set_finish_reason(c.choice.finish_reason());
    if (c.finished) {
      chunk.set_final_answer(c.choice.final_answer());
      chunk.set_final_answer_text(c.choice.final_answer_text());
    }
    if (!write(chunk)) {
      cancel_all();
      return absl::CancelledError("the client went away");
    }
    // A sample just voted: the others may no longer matter.
    if (request.vote > 0 && c.finished && vote_stopped_because.empty()) {
      vote_stopped_because = VoteStopReason(request, TallyCompleted(choices), unfinished);
      if (!vote_stopped_because.empty()) {
        for (ChoiceState& other : choices) {
          if (other.finished) continue;
          if (other.sequence_id != 0) engine->Cancel(other.sequence_id);
          other.finished = true;
          other.stopped_by_vote = true;
          other.choice.set_finish_reason(v1::FINISH_REASON_CANCELLED);
          tokens_saved += std::max(0, request.max_tokens - other.choice.token_ids_size());
          --unfinished;
          v1::GenerateStreamResponse stopped;
          stopped.set_index(other.choice.index());
          stopped.set_finish_reason(v1::FINISH_REASON_CANCELLED);
          if (!write(stopped)) {
            cancel_all();
            return absl::CancelledError("the client went away");
          }
        }
      }
    }
  }

  v1::GenerateResponse response;
  response.set_request_id(request.request_id);
  if (request.vote > 0) {
    *response.mutable_vote() = VoteResultOf(request, choices, tokens_saved, vote_stopped_because);
  }
  for (ChoiceState& c : choices) {
    c.choice.set_text(c.text);
    *response.add_choices() = std::move(c.choice);
  }
  if (request.echo) {
    response.mutable_prompt_token_ids()->Assign(request.prompt_ids.begin(),
                                                request.prompt_ids.end());
  }
  response.mutable_usage()->set_prompt_tokens(static_cast<int32_t>(request.prompt_ids.size()));
  response.mutable_usage()->set_completion_tokens(completion_tokens);
  response.mutable_usage()->set_cached_prompt_tokens(cached_tokens);
  response.mutable_timing()->set_queue_seconds(std::max(0.0, queue_seconds));
  response.mutable_timing()->set_first_token_seconds(std::max(0.0, first_token_seconds));
  response.mutable_timing()->set_total_seconds(SecondsSince(arrival));
  if (stream != nullptr) {
    v1::GenerateStreamResponse last;
    *last.mutable_usage() = response.usage();
    *last.mutable_timing() = response.timing();
    if (request.vote > 0) *last.mutable_vote() = response.vote();
    write(last);
  }
  return response;
}

v1::ModelInfo Coordinator::Info() const {
  v1::ModelInfo info;
  info.set_model_id(std::filesystem::path(options_.model_dir).filename().string());
  info.set_context_length(limits_.context_length);
  info.set_vocab_size(config_.vocab_size);
  info.set_tensor_parallel_size(options_.tp);
  info.set_replicas(options_.replicas);
  info.set_backend(options_.backend);
  info.set_has_tokenizer(text_ != nullptr);
  info.set_has_chat_template(text_ && text_->chat_template.kind() == ChatTemplate::Kind::kDeepSeek);
  int queued = 0;
  for (size_t i = 0; i < engines_.size(); ++i) {
    const GroupStats s = engines_[i]->Stats();
    v1::ModelInfo::GroupStats* g = info.add_groups();
    g->set_index(static_cast<int32_t>(i));
    g->set_healthy(s.healthy);
    g->set_running(s.running);
    g->set_waiting(s.waiting);
    g->set_kv_blocks_total(s.kv_blocks_total);
    g->set_kv_blocks_free(s.kv_blocks_free);
    g->set_kv_blocks_cached(s.kv_blocks_cached);
    queued += s.waiting;
  }
  info.set_queued_requests(queued);
  return info;
}

}  // namespace dsm
