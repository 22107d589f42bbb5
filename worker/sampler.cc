#include "worker/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/container/flat_hash_map.h"

namespace dsm {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Log-softmax normaliser of raw logits, for reported logprobs.
double LogSumExp(std::span<const float> logits) {
  const float max = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - max);
  return max + std::log(sum);
}

int32_t Argmax(const std::vector<float>& values) {
  return static_cast<int32_t>(std::max_element(values.begin(), values.end()) - values.begin());
}

}  // namespace

double UniformFromCounter(uint64_t seed, uint64_t index) {
  const uint64_t bits = SplitMix64(SplitMix64(seed) ^ index);
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
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
    // Candidates sorted by score, best first; ties broken by id for determinism.
    std::vector<int32_t> order(vocab);
    std::iota(order.begin(), order.end(), 0);
    auto better = [&](int32_t a, int32_t b) {
      return scores[a] != scores[b] ? scores[a] > scores[b] : a < b;
    };
    size_t keep = vocab;
    if (params.top_k > 0 && static_cast<size_t>(params.top_k) < vocab) {
      keep = params.top_k;
      std::partial_sort(order.begin(), order.begin() + keep, order.end(), better);
    } else {
      std::sort(order.begin(), order.end(), better);
    }
    std::vector<double> probs(keep);
    const double max_score = scores[order[0]];
    double total = 0.0;
    for (size_t i = 0; i < keep; ++i) {
      probs[i] = std::exp((scores[order[i]] - max_score) / params.temperature);
      total += probs[i];
    }
    // top-p: the smallest prefix whose mass reaches top_p (at least one token).
    if (params.top_p < 1.0f) {
      double cumulative = 0.0;
      size_t cut = 0;
      while (cut < keep && cumulative < params.top_p * total) cumulative += probs[cut++];
      keep = std::max<size_t>(cut, 1);
    }
    // min-p: drop tokens less likely than min_p times the most likely one.
    if (params.min_p > 0.0f) {
      const double threshold = params.min_p * probs[0];
      size_t cut = 1;
      while (cut < keep && probs[cut] >= threshold) ++cut;
      keep = cut;
    }
    total = std::accumulate(probs.begin(), probs.begin() + keep, 0.0);
    const double target = UniformFromCounter(params.seed, draw_index) * total;
    double cumulative = 0.0;
    result.token_id = order[keep - 1];
    for (size_t i = 0; i < keep; ++i) {
      cumulative += probs[i];
      if (target < cumulative) {
        result.token_id = order[i];
        break;
      }
    }
  }

  const double log_z = LogSumExp(logits);
  result.logprob = static_cast<float>(logits[result.token_id] - log_z);
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
