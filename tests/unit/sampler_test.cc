#include "worker/sampler.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace dsm {
namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, 2.0f, 0.5f, 2.9f, -1.0f};

SampleResult Draw(const SamplingParams& p, uint64_t index, std::vector<int32_t> output = {}) {
  return Sample(kLogits, p, {}, output, index);
}

TEST(SamplerTest, GreedyTakesArgmax) {
  SamplingParams p;
  EXPECT_EQ(Draw(p, 0).token_id, 1);
}

// GreedyPick is Sample()'s greedy arithmetic: the same token (the first of tied maxima)
// and the same logprob bits.
TEST(SamplerTest, GreedyPickIsSampleAtTemperatureZeroBitForBit) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> logits(102400);
  for (float& v : logits) v = normal(rng);
  logits[777] = logits[91234] = 40.0f;  // a tie: the lower id wins
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  const SampleResult expected = Sample(logits, greedy, {}, {}, 0);
  const SampleResult picked = GreedyPick(logits);
  EXPECT_EQ(picked.token_id, 777);
  EXPECT_EQ(picked.token_id, expected.token_id);
  EXPECT_EQ(picked.logprob, expected.logprob);
}

TEST(SamplerTest, SameSeedSameTokensDifferentSeedDifferentTokens) {
  SamplingParams p;
  p.temperature = 1.5f;
  p.seed = 42;
  std::vector<int32_t> a, b, c;
  for (uint64_t i = 0; i < 64; ++i) {
    a.push_back(Draw(p, i).token_id);
    b.push_back(Draw(p, i).token_id);
  }
  p.seed = 43;
  for (uint64_t i = 0; i < 64; ++i) c.push_back(Draw(p, i).token_id);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(SamplerTest, FrequenciesFollowSoftmax) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 7;
  const int draws = 20000;
  std::map<int32_t, int> counts;
  for (int i = 0; i < draws; ++i) ++counts[Draw(p, i).token_id];
  double z = 0;
  for (float l : kLogits) z += std::exp(l);
  for (size_t t = 0; t < kLogits.size(); ++t) {
    const double expected = std::exp(kLogits[t]) / z;
    EXPECT_NEAR(counts[t] / double(draws), expected, 0.015) << "token " << t;
  }
}

TEST(SamplerTest, TopKOneTopPTinyAndMinPOneAreGreedy) {
  for (int variant = 0; variant < 3; ++variant) {
    SamplingParams p;
    p.temperature = 5.0f;
    if (variant == 0) p.top_k = 1;
    if (variant == 1) p.top_p = 0.01f;
    if (variant == 2) p.min_p = 1.0f;
    for (uint64_t i = 0; i < 50; ++i) EXPECT_EQ(Draw(p, i).token_id, 1) << variant;
  }
}

TEST(SamplerTest, TopKLimitsTheCandidates) {
  SamplingParams p;
  p.temperature = 10.0f;
  p.top_k = 2;
  for (uint64_t i = 0; i < 200; ++i) {
    const int32_t t = Draw(p, i).token_id;
    EXPECT_TRUE(t == 1 || t == 4) << t;
  }
}

TEST(SamplerTest, TopPKeepsTheSmallestNucleus) {
  // Probabilities at T=1: token 1 ~0.38, token 4 ~0.34, token 2 ~0.14; top_p 0.7 keeps 1 and 4.
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.7f;
  std::map<int32_t, int> counts;
  for (uint64_t i = 0; i < 500; ++i) ++counts[Draw(p, i).token_id];
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_GT(counts[1], 0);
  EXPECT_GT(counts[4], 0);
}

// The nucleus of a vocabulary-sized row, by sorting everything (the definition).
std::set<int32_t> ReferenceNucleus(const std::vector<float>& logits, float temperature, int top_k,
                                   float top_p) {
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  });
  if (top_k > 0) order.resize(top_k);
  std::vector<double> probs;
  double total = 0;
  for (int32_t id : order) {
    probs.push_back(std::exp((logits[id] - logits[order[0]]) / temperature));
    total += probs.back();
  }
  std::set<int32_t> kept;
  double cumulative = 0;
  for (size_t i = 0; i < order.size() && cumulative < top_p * total; ++i) {
    cumulative += probs[i];
    kept.insert(order[i]);
  }
  return kept;
}

// A flat 32000-entry row puts thousands of tokens in the nucleus, so the sampler's
// best-first prefix must grow several times; every draw stays inside the nucleus and
// the draws reach deep into it.
TEST(SamplerTest, TopPOverALargeFlatVocabularyStaysInTheNucleus) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 0.5f);
  std::vector<float> logits(32000);
  for (float& x : logits) x = dist(rng);
  for (int top_k : {0, 3000}) {
    SamplingParams p;
    p.temperature = 1.0f;
    p.top_p = 0.6f;
    p.top_k = top_k;
    p.seed = 11;
    const std::set<int32_t> nucleus = ReferenceNucleus(logits, 1.0f, top_k, 0.6f);
    ASSERT_GT(nucleus.size(), 1000u);
    std::set<int32_t> drawn;
    for (uint64_t i = 0; i < 400; ++i) {
      const int32_t id = Sample(logits, p, {}, {}, i).token_id;
      ASSERT_TRUE(nucleus.count(id)) << "token " << id << " (top_k " << top_k << ")";
      drawn.insert(id);
    }
    EXPECT_GT(drawn.size(), 300u);
  }
}

TEST(SamplerTest, MinPDropsUnlikelyTokens) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.min_p = 0.5f;  // keeps p >= 0.5 * p(token 1): tokens 1, 4 (2 is e^-1 = 0.37 of the max)
  for (uint64_t i = 0; i < 300; ++i) {
    const int32_t t = Draw(p, i).token_id;
    EXPECT_TRUE(t == 1 || t == 4) << t;
  }
}

TEST(SamplerTest, RepetitionPenaltyFollowsHf) {
  SamplingParams p;
  p.repetition_penalty = 2.0f;
  // Token 1 (logit 3 -> 1.5) and token 4 (2.9 -> 1.45) were seen; token 2 (2.0) wins.
  const std::vector<int32_t> prompt = {1};
  const std::vector<int32_t> output = {4};
  EXPECT_EQ(Sample(kLogits, p, prompt, output, 0).token_id, 2);
}

TEST(SamplerTest, PresenceAndFrequencyPenaliseOutputTokensOnly) {
  SamplingParams p;
  p.frequency_penalty = 0.2f;
  // Token 1 generated once: 3 - 0.2 = 2.8 < 2.9, token 4 wins.
  EXPECT_EQ(Draw(p, 0, {1}).token_id, 4);
  // In the prompt only, it is not penalised.
  const std::vector<int32_t> prompt = {1};
  EXPECT_EQ(Sample(kLogits, p, prompt, {}, 0).token_id, 1);
  SamplingParams q;
  q.presence_penalty = 0.05f;  // 3 - 0.05 > 2.9 still wins once; twice is no worse
  EXPECT_EQ(Draw(q, 0, {1, 1}).token_id, 1);
  q.presence_penalty = 0.2f;
  EXPECT_EQ(Draw(q, 0, {1}).token_id, 4);
}

TEST(SamplerTest, LogprobsAreNormalisedAndSorted) {
  SamplingParams p;
  p.logprobs = 3;
  SampleResult r = Draw(p, 0);
  double z = 0;
  for (float l : kLogits) z += std::exp(l);
  EXPECT_NEAR(r.logprob, 3.0 - std::log(z), 1e-5);
  ASSERT_EQ(r.top_logprobs.size(), 3u);
  EXPECT_EQ(r.top_logprobs[0].first, 1);
  EXPECT_EQ(r.top_logprobs[1].first, 4);
  EXPECT_EQ(r.top_logprobs[2].first, 2);
  EXPECT_GT(r.top_logprobs[0].second, r.top_logprobs[1].second);
}

// Sampling from a summary of the row gives Sample()'s token, logprob and top logprobs for
// every cut the summary can decide, and declines (nullopt) the ones it cannot.
TEST(SamplerTest, SummaryGivesTheFullSamplersResultOrDeclines) {
  std::mt19937 rng(5);
  struct Case {
    float temperature;
    int top_k;
    float top_p, min_p;
    int logprobs;
  };
  const Case cases[] = {
      {0.0f, 0, 1.0f, 0.0f, 3},  {1.0f, 0, 1.0f, 0.0f, 0},     {0.7f, 0, 1.0f, 0.0f, 2},
      {1.0f, 40, 1.0f, 0.0f, 0}, {0.8f, 0, 0.9f, 0.0f, 0},     {1.2f, 20, 0.8f, 0.0f, 5},
      {1.0f, 0, 1.0f, 0.1f, 0},  {0.9f, 100, 0.95f, 0.05f, 1}, {1.0f, 256, 1.0f, 0.0f, 0}};
  int decided = 0;
  for (float spread : {4.0f, 1.0f}) {  // peaked rows (small nuclei) and flatter ones
    std::normal_distribution<float> dist(0.0f, spread);
    for (int row_index = 0; row_index < 40; ++row_index) {
      std::vector<float> logits(3000);
      for (float& x : logits) x = dist(rng);
      logits[row_index * 7] = logits[row_index * 7 + 1];  // a tie
      for (const Case& c : cases) {
        SamplingParams p;
        p.temperature = c.temperature;
        p.top_k = c.top_k;
        p.top_p = c.top_p;
        p.min_p = c.min_p;
        p.logprobs = c.logprobs;
        p.seed = 17;
        const uint64_t index = row_index;
        const double uniform = DrawUniform(p, index);
        const LogitsSummary summary = SummarizeLogits(logits, p.temperature, uniform);
        const SampleResult full = Sample(logits, p, {}, {}, index);
        const std::optional<SampleResult> from_summary =
            SampleFromSummary(summary, p, logits.size(), uniform);
        if (!from_summary) continue;
        ++decided;
        EXPECT_EQ(from_summary->token_id, full.token_id)
            << "row " << row_index << " T " << c.temperature << " k " << c.top_k;
        EXPECT_FLOAT_EQ(from_summary->logprob, full.logprob);
        EXPECT_EQ(from_summary->top_logprobs, full.top_logprobs);
      }
    }
  }
  EXPECT_GT(decided, 600);  // of 720: only wide top-p / min-p sets on flat rows decline

  // What a summary cannot decide: top-k past its candidates, a nucleus wider than them.
  std::vector<float> flat(5000, 0.0f);
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 1000;
  EXPECT_FALSE(SampleFromSummary(SummarizeLogits(flat, 1.0f, 0.5), p, flat.size(), 0.5));
  p.top_k = 0;
  p.top_p = 0.5f;
  EXPECT_FALSE(SampleFromSummary(SummarizeLogits(flat, 1.0f, 0.5), p, flat.size(), 0.5));
  p.top_p = 1.0f;
  p.min_p = 0.5f;
  EXPECT_FALSE(SampleFromSummary(SummarizeLogits(flat, 1.0f, 0.5), p, flat.size(), 0.5));
  p.min_p = 0.0f;
  p.repetition_penalty = 1.1f;
  EXPECT_FALSE(SampleFromSummary(SummarizeLogits(flat, 1.0f, 0.5), p, flat.size(), 0.5));
  // A summary holding the whole vocabulary decides everything.
  std::vector<float> small(100, 0.0f);
  p.repetition_penalty = 1.0f;
  p.top_p = 0.5f;
  EXPECT_TRUE(SampleFromSummary(SummarizeLogits(small, 1.0f, 0.5), p, small.size(), 0.5));
}

TEST(SamplerTest, UniformCounterIsInRange) {
  for (uint64_t i = 0; i < 1000; ++i) {
    const double u = UniformFromCounter(3, i);
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
  }
}

}  // namespace
}  // namespace dsm
