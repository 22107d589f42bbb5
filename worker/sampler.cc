#include "worker/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/container/flat_hash_map.h"
#include "kernels/cpu/softmax.h"

namespace dsm {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

int32_t Argmax(std::span<const float> values) {
  return static_cast<int32_t>(FirstMaxIndex(values.data(), values.size()));
}

float LogprobOf(std::span<const float> logits, int32_t id, double log_z) {
  return static_cast<float>(logits[id] - log_z);
}

// The last id with a positive probability (a rounding fallback for the id-order walk).
size_t MaxIndexOfPositive(const std::vector<float>& probs) {
  size_t last = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    if (probs[i] > 0) last = i;
  }
  return last;
}

// Token ids in the order the draw walks them, best first; ties broken by id.
struct ByScore {
  const std::vector<float>& scores;
  bool operator()(int32_t a, int32_t b) const {
    return scores[a] != scores[b] ? scores[a] > scores[b] : a < b;
  }
};

// The `count` best ids, sorted (count <= scores.size()).
std::vector<int32_t> BestIds(const std::vector<float>& scores, size_t count) {
  std::vector<int32_t> ids(scores.size());
  std::iota(ids.begin(), ids.end(), 0);
  ByScore better{scores};
  if (count < ids.size()) {
    std::nth_element(ids.begin(), ids.begin() + count, ids.end(), better);
    ids.resize(count);
  }
  std::sort(ids.begin(), ids.end(), better);
  return ids;
}

// Temperature sampling with top-k, top-p and min-p, without sorting the vocabulary:
// probabilities come from one vectorised pass; only the candidates a cut needs in order
// (the top k, or a best-first prefix grown until it holds the top-p mass) are sorted.
// When no cut applies the draw walks the whole vocabulary in id order.
int32_t Draw(const std::vector<float>& scores, const SamplingParams& params, double uniform) {
  const size_t vocab = scores.size();
  const float max_score = MaxOf(scores.data(), vocab);
  std::vector<float> probs(vocab);  // relative to the best token's, which is 1
  const double total =
      ExpShiftedSum(scores.data(), vocab, max_score, 1.0f / params.temperature, probs.data());

  std::vector<int32_t> order;  // candidates best first; empty = all, in id order
  if (params.top_k > 0 && static_cast<size_t>(params.top_k) < vocab) {
    order = BestIds(scores, params.top_k);
  }
  if (params.top_p < 1.0f) {
    // The smallest best-first prefix whose mass reaches top_p of the candidates' mass.
    double mass = total;
    if (!order.empty()) {
      mass = 0.0;
      for (int32_t id : order) mass += probs[id];
    }
    const double goal = params.top_p * mass;
    for (size_t count = std::min<size_t>(256, vocab);; count = std::min(vocab, count * 8)) {
      std::vector<int32_t> prefix =
          order.empty()
              ? BestIds(scores, count)
              : std::vector<int32_t>(order.begin(), order.begin() + std::min(count, order.size()));
      double cumulative = 0.0;
      size_t cut = 0;
      while (cut < prefix.size() && cumulative < goal) cumulative += probs[prefix[cut++]];
      const bool complete =
          cumulative >= goal || prefix.size() == (order.empty() ? vocab : order.size());
      if (complete) {
        prefix.resize(std::max<size_t>(cut, 1));
        order = std::move(prefix);
        break;
      }
    }
  }
  if (params.min_p > 0.0f) {
    // Drop tokens less likely than min_p times the best (whose probability is 1 here).
    if (order.empty()) {
      for (size_t id = 0; id < vocab; ++id) {
        if (probs[id] >= params.min_p) order.push_back(static_cast<int32_t>(id));
      }
      std::sort(order.begin(), order.end(), ByScore{scores});
    } else {
      size_t cut = 1;
      while (cut < order.size() && probs[order[cut]] >= params.min_p) ++cut;
      order.resize(cut);
    }
  }

  if (order.empty()) {
    const double target = uniform * total;
    double cumulative = 0.0;
    for (size_t id = 0; id < vocab; ++id) {
      cumulative += probs[id];
      if (target < cumulative) return static_cast<int32_t>(id);
    }
    return static_cast<int32_t>(MaxIndexOfPositive(probs));
  }
  double kept = 0.0;
  for (int32_t id : order) kept += probs[id];
  const double target = uniform * kept;
  double cumulative = 0.0;
  for (int32_t id : order) {
    cumulative += probs[id];
    if (target < cumulative) return id;
  }
  return order.back();
}

// Draw() over a summary's candidates: the same cuts in the same order, or nullopt where a
// cut needs tokens beyond the candidates.
std::optional<int32_t> DrawFromSummary(const LogitsSummary& summary, const SamplingParams& params,
                                       size_t vocab, double uniform) {
  const size_t count = summary.ids.size();
  const bool all_present = count == vocab;
  const bool top_k = params.top_k > 0 && static_cast<size_t>(params.top_k) < vocab;
  if (!top_k && params.top_p >= 1.0f && params.min_p <= 0.0f) {
    if (summary.drawn_id < 0) return std::nullopt;
    return summary.drawn_id;
  }
  // Probabilities relative to the best token's, as Draw computes them (its scalar form).
  const float scale = 1.0f / params.temperature;
  std::vector<float> probs(count);
  for (size_t i = 0; i < count; ++i) {
    probs[i] = std::exp((summary.logits[i] - summary.max_logit) * scale);
  }
  size_t kept = count;  // candidates [0, kept) remain, best first
  bool cut = false;
  if (top_k) {
    if (static_cast<size_t>(params.top_k) > count) return std::nullopt;
    kept = params.top_k;
    cut = true;
  }
  if (params.top_p < 1.0f) {
    double mass = summary.mass;
    if (cut) {
      mass = 0.0;
      for (size_t i = 0; i < kept; ++i) mass += probs[i];
    }
    const double goal = params.top_p * mass;
    double cumulative = 0.0;
    size_t prefix = 0;
    while (prefix < kept && cumulative < goal) cumulative += probs[prefix++];
    if (cumulative < goal && !cut && !all_present) return std::nullopt;
    kept = std::max<size_t>(prefix, 1);
    cut = true;
  }
  if (params.min_p > 0.0f) {
    size_t prefix = 1;
    while (prefix < kept && probs[prefix] >= params.min_p) ++prefix;
    if (!cut && prefix == count && !all_present) return std::nullopt;
    kept = prefix;
  }
  double total = 0.0;
  for (size_t i = 0; i < kept; ++i) total += probs[i];
  const double target = uniform * total;
  double cumulative = 0.0;
  for (size_t i = 0; i < kept; ++i) {
    cumulative += probs[i];
    if (target < cumulative) return summary.ids[i];
  }
  return summary.ids[kept - 1];
}

}  // namespace

bool SummaryCanSample(const SamplingParams& params) {
  return params.repetition_penalty == 1.0f && params.presence_penalty == 0.0f &&
         params.frequency_penalty == 0.0f;
}

std::optional<SampleResult> SampleFromSummary(const LogitsSummary& summary,
                                              const SamplingParams& params, size_t vocab,
                                              double uniform) {
  if (!SummaryCanSample(params) || summary.ids.empty()) return std::nullopt;
  if (params.logprobs > 0 && static_cast<size_t>(params.logprobs) > summary.ids.size() &&
      summary.ids.size() < vocab) {
    return std::nullopt;
  }
  SampleResult result;
  float logit = summary.logits[0];
  if (params.temperature == 0.0f) {
    result.token_id = summary.ids[0];
  } else {
    std::optional<int32_t> drawn = DrawFromSummary(summary, params, vocab, uniform);
    if (!drawn) return std::nullopt;
    result.token_id = *drawn;
    if (*drawn == summary.drawn_id) {
      logit = summary.drawn_logit;
    } else {
      const auto at = std::find(summary.ids.begin(), summary.ids.end(), *drawn);
      logit = summary.logits[at - summary.ids.begin()];
    }
  }
  result.logprob = static_cast<float>(logit - summary.log_z);
  const size_t n = std::min<size_t>(params.logprobs, summary.ids.size());
  for (size_t i = 0; i < n; ++i) {
    result.top_logprobs.emplace_back(summary.ids[i],
                                     static_cast<float>(summary.logits[i] - summary.log_z));
  }
  return result;
}

double UniformFromCounter(uint64_t seed, uint64_t index) {
  const uint64_t bits = SplitMix64(SplitMix64(seed) ^ index);
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

SampleResult GreedyPick(std::span<const float> logits) {
  SampleResult result;
  result.token_id = Argmax(logits);
  result.logprob = LogprobOf(logits, result.token_id, LogSumExp(logits.data(), logits.size()));
  return result;
}

SampleResult Sample(std::span<const float> logits, const SamplingParams& params,
                    std::span<const int32_t> prompt_tokens, std::span<const int32_t> output_tokens,
                    uint64_t draw_index) {
  const size_t vocab = logits.size();
  std::vector<float> scores(logits.begin(), logits.end());

  if (params.repetition_penalty != 1.0f) {
    std::vector<bool> seen(vocab, false);
    for (auto tokens : {prompt_tokens, output_tokens}) {
      for (int32_t t : tokens) seen[t] = true;
    }
    for (size_t i = 0; i < vocab; ++i) {
      if (!seen[i]) continue;
      scores[i] = scores[i] > 0 ? scores[i] / params.repetition_penalty
                                : scores[i] * params.repetition_penalty;
    }
  }
  if (params.presence_penalty != 0.0f || params.frequency_penalty != 0.0f) {
    absl::flat_hash_map<int32_t, int> counts;
    for (int32_t t : output_tokens) ++counts[t];
    for (const auto& [token, count] : counts) {
      scores[token] -= params.frequency_penalty * count + params.presence_penalty;
    }
  }

  SampleResult result;
  if (params.temperature == 0.0f) {
    result.token_id = Argmax(scores);
  } else {
    result.token_id = Draw(scores, params, DrawUniform(params, draw_index));
  }

  const double log_z = LogSumExp(logits.data(), vocab);
  result.logprob = LogprobOf(logits, result.token_id, log_z);
  if (params.logprobs > 0) {
    const size_t n = std::min<size_t>(params.logprobs, vocab);
    std::vector<int32_t> top(vocab);
    std::iota(top.begin(), top.end(), 0);
    std::partial_sort(top.begin(), top.begin() + n, top.end(), [&](int32_t a, int32_t b) {
      return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
    });
    for (size_t i = 0; i < n; ++i) {
      result.top_logprobs.emplace_back(top[i], static_cast<float>(logits[top[i]] - log_z));
    }
  }
  return result;
}

}  // namespace dsm
