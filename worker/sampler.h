#pragma once
// Picks the next token from full-vocab logits (rank 0).

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "common/sampling_params.h"

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

// Uniform double in [0, 1) from (seed, index).
double UniformFromCounter(uint64_t seed, uint64_t index);

}  // namespace dsm
