#include "worker/logits_summary.h"

#include <algorithm>
#include <numeric>

#include "kernels/cpu/softmax.h"

namespace dsm {

LogitsSummary SummarizeLogits(std::span<const float> logits, float temperature, double uniform,
                              size_t candidates) {
  LogitsSummary summary;
  const size_t vocab = logits.size();
  if (vocab == 0) return summary;
  summary.max_logit = MaxOf(logits.data(), vocab);
  summary.log_z = LogSumExp(logits.data(), vocab);
  std::vector<float> probs(vocab);
  const float scale = temperature > 0.0f ? 1.0f / temperature : 1.0f;
  summary.mass = ExpShiftedSum(logits.data(), vocab, summary.max_logit, scale, probs.data());
  if (temperature > 0.0f) {
    const double target = uniform * summary.mass;
    double cumulative = 0.0;
    for (size_t id = 0; id < vocab; ++id) {
      cumulative += probs[id];
      if (probs[id] > 0.0f) summary.drawn_id = static_cast<int32_t>(id);
      if (target < cumulative) break;
    }
    summary.drawn_logit = logits[summary.drawn_id];
  }
  std::vector<int32_t> ids(vocab);
  std::iota(ids.begin(), ids.end(), 0);
  const auto better = [&](int32_t a, int32_t b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  };
  const size_t count = std::min(candidates, vocab);
  std::partial_sort(ids.begin(), ids.begin() + count, ids.end(), better);
  summary.ids.assign(ids.begin(), ids.begin() + count);
  for (int32_t id : summary.ids) summary.logits.push_back(logits[id]);
  return summary;
}

}  // namespace dsm
