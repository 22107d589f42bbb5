#pragma once
// Turns public API requests into validated generation requests: defaults applied, every
// field range-checked with INVALID_ARGUMENT naming the field, prompts tokenized.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/sampling_params.h"
#include "coordinator/tokenizer/tokenizer_files.h"
#include "dsm/v1/inference.pb.h"

namespace dsm {

struct ServingLimits {
  int64_t context_length = 0;
  int64_t vocab_size = 0;  // the model's embedding rows
  int32_t default_max_tokens = 256;
  int32_t max_n = 16;
  int32_t max_stop_strings = 16;
  int32_t max_stop_bytes = 256;
};

// A request ready to schedule: n choices of one prompt.
struct PreparedRequest {
  std::string request_id;
  std::vector<int32_t> prompt_ids;
  SamplingParams sampling;  // seed is the request's; choice i derives its own
  int32_t max_tokens = 0;
  int32_t n = 1;     // samples (with vote: the vote's)
  int32_t vote = 0;  // > 0: the samples elect a final answer
  bool vote_early_stop = false;
  float vote_confidence = 0.0f;
  int32_t vote_min_answers = 3;
  bool ignore_eos = false;
  bool echo = false;
  std::vector<std::string> stop;
  std::vector<int32_t> stop_token_ids;
};

// `text` may be null (a model without tokenizer): text prompts and stop strings then
// fail with FAILED_PRECONDITION.
absl::StatusOr<PreparedRequest> PrepareGenerate(const v1::GenerateRequest& request,
                                                const TokenizerFiles* text,
                                                const ServingLimits& limits);
absl::StatusOr<PreparedRequest> PrepareChat(const v1::ChatRequest& request,
                                            const TokenizerFiles* text,
                                            const ServingLimits& limits);

}  // namespace dsm
