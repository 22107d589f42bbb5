#pragma once
// What the sampler needs of a logits row when the row stays where it was computed (the
// GPU): the best candidates in order, the softmax normalisers and one draw over the whole
// vocabulary. A row of 102400 floats is 400 KB; its summary is 2 KB.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace dsm {

// How many of a row's best logits a summary keeps.
inline constexpr size_t kLogitsSummaryCandidates = 256;

struct LogitsSummary {
  float max_logit = 0.0f;
  double log_z = 0.0;  // log sum_i exp(logit_i): logprob = logit - log_z
  // sum_i exp((logit_i - max_logit) / temperature) over the vocabulary (temperature 1
  // when the summary's temperature is 0).
  double mass = 0.0;
  // Walking ids in order, the first whose cumulative mass exceeds uniform * mass (the
  // sampler's draw without cuts); -1 when the temperature was 0.
  int32_t drawn_id = -1;
  float drawn_logit = 0.0f;
  // The row's best logits, best first, ties by lower id.
  std::vector<int32_t> ids;
  std::vector<float> logits;
};

// The reference summary of a full row, computed on the host as the sampler computes
// (used by tests and as the backends' specification).
LogitsSummary SummarizeLogits(std::span<const float> logits, float temperature, double uniform,
                              size_t candidates = kLogitsSummaryCandidates);

}  // namespace dsm
