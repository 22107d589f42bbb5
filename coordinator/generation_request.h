#pragma once
// A request to generate from a tokenized prompt, and what the scheduler reports back.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/sampling_params.h"

namespace dsm {

struct GenerationRequest {
  uint64_t id = 0;
  std::vector<int32_t> prompt_token_ids;
  SamplingParams sampling;
  int32_t max_tokens = 16;
  bool ignore_eos = false;
  std::vector<int32_t> stop_token_ids;  // besides the model's EOS
  bool return_logits = false;           // full-vocab logits of every sampled position
};

enum class FinishReason { kNone, kLength, kEos, kStop };

const char* FinishReasonName(FinishReason reason);

// One generated token of one request.
struct TokenEvent {
  uint64_t request_id = 0;
  int32_t token_id = 0;
  float logprob = 0.0f;
  std::vector<std::pair<int32_t, float>> top_logprobs;
  std::vector<float> logits;
  FinishReason finish = FinishReason::kNone;  // set on the request's last token
  bool admitted = false;      // no token: the scheduler admitted the request (queue time ends)
  int32_t cached_tokens = 0;  // with `admitted`: prompt tokens reused from the prefix cache
};

}  // namespace dsm
