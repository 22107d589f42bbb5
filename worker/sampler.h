#pragma once
// Picks the next token from full-vocab logits (rank 0).

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "common/sampling_params.h"
#include "worker/logits_summary.h"

namespace dsm {

struct SampleResult {
  int32_t token_id = 0;
  float logprob = 0.0f;  // of token_id under the model's distribution (raw logits)
  std::vector<std::pair<int32_t, float>> top_logprobs;  // best first
};

// Order: penalties, temperature, top-k, top-p, min-p, then a draw. The draw uses a
// counter-based generator keyed by (seed, draw_index), so a sequence's tokens depend
// only on its seed and how many tokens it has generated: reproducible across batches,
// restarts and recomputation after preemption.
SampleResult Sample(std::span<const float> logits, const SamplingParams& params,
                    std::span<const int32_t> prompt_tokens, std::span<const int32_t> output_tokens,
                    uint64_t draw_index);

// Sample()'s token and logprob for plain greedy parameters (temperature 0, no penalties,
// no top logprobs), bit for bit: the first maximum, and its log-softmax.
SampleResult GreedyPick(std::span<const float> logits);

// Whether SampleFromSummary can serve these parameters at all (penalties need the full
// row).
bool SummaryCanSample(const SamplingParams& params);

// Sample()'s result computed from a summary of the row (made with params.temperature and
// `uniform`) instead of the row itself, or nullopt when the summary cannot decide (a cut
// reaching past its candidates, more top logprobs than it holds): then sample the full
// row. Candidates' probabilities use the scalar form of the sampler's exp, so the token is
// Sample()'s except where rounding differences straddle a draw boundary.
std::optional<SampleResult> SampleFromSummary(const LogitsSummary& summary,
                                              const SamplingParams& params, size_t vocab,
                                              double uniform);

// Uniform double in [0, 1) from (seed, index).
double UniformFromCounter(uint64_t seed, uint64_t index);

// The uniform Sample() draws with for (params.seed, draw_index).
inline double DrawUniform(const SamplingParams& params, uint64_t draw_index) {
  return UniformFromCounter(params.seed, draw_index);
}

}  // namespace dsm
