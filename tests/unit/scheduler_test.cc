#include "coordinator/scheduler.h"

#include <map>

#include "gtest/gtest.h"

namespace dsm {
namespace {

SchedulerConfig SmallConfig() {
  SchedulerConfig c;
  c.num_blocks = 8;
  c.block_size = 4;
  c.context_length = 32;
  c.max_batch_tokens = 6;
  c.eos_token_ids = {2};
  return c;
}

GenerationRequest Request(uint64_t id, std::vector<int32_t> prompt, int max_tokens) {
  GenerationRequest r;
  r.id = id;
  r.prompt_token_ids = std::move(prompt);
  r.max_tokens = max_tokens;
  return r;
}

// Answers every sampling sequence of `step` with `token`.
v1::StepResponse Answer(const v1::StepRequest& step, int32_t token) {
  v1::StepResponse r;
  for (const v1::SequenceStep& s : step.sequences()) {
    if (!s.sample()) continue;
    v1::SampledToken* t = r.add_tokens();
    t->set_seq_id(s.seq_id());
    t->set_token_id(token);
  }
  return r;
}

TEST(SchedulerTest, ChunksLongPromptsWithinTheTokenBudget) {
  Scheduler s(SmallConfig());
  ASSERT_TRUE(s.Add(Request(7, {1, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 2)).ok());
  v1::StepRequest first = s.NextStep();
  ASSERT_EQ(first.sequences_size(), 1);
  EXPECT_EQ(first.sequences(0).token_ids_size(), 6);
  EXPECT_FALSE(first.sequences(0).sample());
  EXPECT_TRUE(first.sequences(0).has_sampling());
  EXPECT_EQ(first.sequences(0).prompt_length(), 10);
  EXPECT_EQ(first.sequences(0).block_table_size(), 3);  // 10 + 2 tokens in blocks of 4
  ASSERT_TRUE(s.OnStepResult(Answer(first, 0)).ok());

  v1::StepRequest second = s.NextStep();
  ASSERT_EQ(second.sequences_size(), 1);
  EXPECT_EQ(second.sequences(0).start_position(), 6);
  EXPECT_EQ(second.sequences(0).token_ids_size(), 4);
  EXPECT_TRUE(second.sequences(0).sample());
  EXPECT_FALSE(second.sequences(0).has_sampling());  // sent once, at admission
  absl::StatusOr<std::vector<TokenEvent>> events = s.OnStepResult(Answer(second, 30));
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].finish, FinishReason::kNone);

  v1::StepRequest third = s.NextStep();
  ASSERT_EQ(third.sequences_size(), 1);
  EXPECT_EQ(third.sequences(0).token_ids(0), 30);  // the sampled token is fed back
  EXPECT_EQ(third.sequences(0).start_position(), 10);
  events = s.OnStepResult(Answer(third, 31));
  ASSERT_TRUE(events.ok());
  EXPECT_EQ((*events)[0].finish, FinishReason::kLength);
  EXPECT_FALSE(s.HasWork());
  EXPECT_EQ(s.free_blocks(), 8);
  v1::StepRequest after = s.NextStep();
  ASSERT_EQ(after.free_seq_ids_size(), 1);  // the workers drop its state
  EXPECT_EQ(after.free_seq_ids(0), 7u);
}

TEST(SchedulerTest, EosFinishesUnlessIgnored) {
  Scheduler s(SmallConfig());
  GenerationRequest ignoring = Request(1, {1, 5}, 3);
  ignoring.ignore_eos = true;
  ASSERT_TRUE(s.Add(Request(0, {1, 5}, 3)).ok());
  ASSERT_TRUE(s.Add(std::move(ignoring)).ok());
  v1::StepRequest step = s.NextStep();
  EXPECT_EQ(step.sequences_size(), 2);
  absl::StatusOr<std::vector<TokenEvent>> events = s.OnStepResult(Answer(step, 2));
  ASSERT_TRUE(events.ok());
  EXPECT_EQ((*events)[0].finish, FinishReason::kEos);
  EXPECT_EQ((*events)[1].finish, FinishReason::kNone);
  EXPECT_EQ(s.num_running(), 1);
}

TEST(SchedulerTest, PreemptsTheYoungestWhenBlocksRunOutAndRecomputesIt) {
  Scheduler s(SmallConfig());  // 8 blocks of 4 positions
  // Each needs up to 4 blocks (3 + 13 tokens); together 12 > 8.
  for (uint64_t id : {10, 11, 12}) ASSERT_TRUE(s.Add(Request(id, {1, 2, 3}, 13)).ok());
  std::map<uint64_t, std::vector<int32_t>> outputs;
  bool saw_preemption = false, saw_recompute = false;
  int32_t next_token = 30;
  for (int step_count = 0; s.HasWork() && step_count < 200; ++step_count) {
    v1::StepRequest step = s.NextStep();
    for (uint64_t freed : step.free_seq_ids()) {
      if (freed == 12 && outputs[12].size() < 13) saw_preemption = true;
    }
    for (const v1::SequenceStep& q : step.sequences()) {
      // A recomputed sequence comes back from position 0 with its output so far.
      if (q.seq_id() == 12 && q.start_position() == 0 && !outputs[12].empty()) {
        saw_recompute = true;
        EXPECT_TRUE(q.has_sampling());
        // Its first recompute chunk: the prompt, then its own earlier output.
        ASSERT_GE(q.token_ids_size(), 4);
        EXPECT_EQ(q.token_ids(0), 1);
        EXPECT_EQ(q.token_ids(3), outputs[12][0]);
      }
    }
    absl::StatusOr<std::vector<TokenEvent>> events = s.OnStepResult(Answer(step, next_token++));
    ASSERT_TRUE(events.ok()) << events.status();
    for (const TokenEvent& e : *events) outputs[e.request_id].push_back(e.token_id);
  }
  EXPECT_TRUE(saw_preemption);
  EXPECT_TRUE(saw_recompute);
  EXPECT_GT(s.preemptions(), 0);
  for (uint64_t id : {10, 11, 12}) EXPECT_EQ(outputs[id].size(), 13u) << id;
  EXPECT_FALSE(s.HasWork());
  EXPECT_EQ(s.free_blocks(), 8);
}

TEST(SchedulerTest, RejectsRequestsThatCanNeverRun) {
  Scheduler s(SmallConfig());
  EXPECT_EQ(s.Add(Request(0, {}, 1)).code(), absl::StatusCode::kInvalidArgument);
  absl::Status too_long = s.Add(Request(1, std::vector<int32_t>(32, 1), 1));
  EXPECT_EQ(too_long.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_long.message().find("context of 32"), std::string::npos);
  SchedulerConfig tiny = SmallConfig();
  tiny.num_blocks = 2;
  Scheduler small(tiny);
  absl::Status no_room = small.Add(Request(2, {1, 2, 3}, 20));
  EXPECT_NE(no_room.message().find("KV blocks"), std::string::npos) << no_room;
  GenerationRequest bad = Request(3, {1}, 1);
  bad.sampling.top_p = 0;
  EXPECT_NE(s.Add(bad).message().find("top_p"), std::string::npos);
}

}  // namespace
}  // namespace dsm

namespace dsm {
namespace {

TEST(SchedulerTest, SharedPromptPrefixIsReusedFromTheCache) {
  SchedulerConfig config = SmallConfig();  // blocks of 4
  config.max_batch_tokens = 64;
  Scheduler s(config);
  const std::vector<int32_t> a = {1, 5, 6, 7, 8, 9, 10, 11, 12, 13};
  ASSERT_TRUE(s.Add(Request(1, a, 2)).ok());
  v1::StepRequest first = s.NextStep();
  ASSERT_EQ(first.sequences_size(), 1);
  EXPECT_EQ(s.admitted_in_step()[0].second, 0);  // nothing cached yet
  ASSERT_TRUE(s.OnStepResult(Answer(first, 40)).ok());

  // Same first 8 tokens (2 full blocks), different tail.
  std::vector<int32_t> b(a.begin(), a.begin() + 8);
  b.insert(b.end(), {20, 21, 22});
  ASSERT_TRUE(s.Add(Request(2, b, 1)).ok());
  v1::StepRequest second = s.NextStep();
  const v1::SequenceStep* seq_b = nullptr;
  for (const auto& q : second.sequences()) {
    if (q.seq_id() == 2) seq_b = &q;
  }
  ASSERT_NE(seq_b, nullptr);
  EXPECT_EQ(seq_b->start_position(), 8);  // the cached blocks are not recomputed
  // Rank 0 still learns the whole history (for penalties and the sampling counter).
  EXPECT_EQ(
      std::vector<int32_t>(seq_b->cached_token_ids().begin(), seq_b->cached_token_ids().end()),
      std::vector<int32_t>(a.begin(), a.begin() + 8));
  EXPECT_EQ(seq_b->token_ids_size(), 3);
  EXPECT_EQ(seq_b->block_table(0), first.sequences(0).block_table(0));
  EXPECT_EQ(seq_b->block_table(1), first.sequences(0).block_table(1));
  EXPECT_NE(seq_b->block_table(2), first.sequences(0).block_table(2));
  ASSERT_EQ(s.admitted_in_step().size(), 1u);
  EXPECT_EQ(s.admitted_in_step()[0].second, 8);

  // A prompt that is entirely a cached prefix still computes its last token.
  ASSERT_TRUE(s.OnStepResult(Answer(second, 2)).ok());
  const std::vector<int32_t> c(a.begin(), a.begin() + 8);
  ASSERT_TRUE(s.Add(Request(3, c, 1)).ok());
  v1::StepRequest third = s.NextStep();
  for (const auto& q : third.sequences()) {
    if (q.seq_id() != 3) continue;
    EXPECT_EQ(q.start_position(), 4);  // only whole blocks before the last token are shared
    EXPECT_TRUE(q.sample());
  }
}

}  // namespace
}  // namespace dsm
