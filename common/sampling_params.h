#pragma once
// How to pick the next token: one plain type, validated in one place (the coordinator
// validates requests with it; the sampler trusts what passed).

#include <cstdint>

#include "absl/status/status.h"

namespace dsm {

struct SamplingParams {
  float temperature = 0.0f;         // 0 = greedy (argmax; ties go to the lowest id)
  int32_t top_k = 0;                // 0 = off
  float top_p = 1.0f;               // (0, 1]; 1 = off
  float min_p = 0.0f;               // [0, 1]; keep tokens with p >= min_p * max p
  float repetition_penalty = 1.0f;  // > 0; HF semantics over prompt and output tokens
  float presence_penalty = 0.0f;    // [-2, 2]; OpenAI semantics over output tokens
  float frequency_penalty = 0.0f;   // [-2, 2]
  uint64_t seed = 0;                // same seed, same prompt -> same tokens
  int32_t logprobs = 0;             // top-n logprobs to report, [0, kMaxLogprobs]

  static constexpr int32_t kMaxLogprobs = 20;

  // INVALID_ARGUMENT naming the first field out of range.
  absl::Status Validate() const;

  // Argmax of the raw logits and nothing else (no penalties, no top-n logprobs): what a
  // GPU executor can sample without copying the vocabulary to the host.
  bool IsPlainGreedy() const {
    return temperature == 0.0f && repetition_penalty == 1.0f && presence_penalty == 0.0f &&
           frequency_penalty == 0.0f && logprobs == 0;
  }
};

}  // namespace dsm
