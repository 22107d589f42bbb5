#pragma once
// One step as the executors see it: per sequence, the tokens it feeds, where they sit
// and which KV blocks hold its positions.

#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "common/model_config.h"

namespace dsm {

// The tokens one sequence feeds in a step.
struct SequenceInput {
  std::span<const int32_t> token_ids;
  int64_t start_position = 0;
  std::span<const int32_t> block_table;  // covers [0, start_position + token_ids.size())
  bool want_logits = false;              // logits after the last token
  // With want_logits: the caller only needs the greedy token and its logprob, which an
  // executor may compute where the logits are (the GPU) instead of returning the row.
  bool greedy_only = false;
  // With want_logits: the caller can sample from a LogitsSummary of the row (made with
  // `temperature` and `uniform`), which an executor may compute where the logits are and
  // return instead of the row; the caller fetches the row (LastStepLogits) when the
  // summary cannot decide.
  bool summary = false;
  float temperature = 0.0f;
  double uniform = 0.0;
};

// Checks ids, positions and block tables against the model and a KV pool of
// `num_blocks` blocks of `block_size` positions, with a message naming the problem.
// Every backend runs it before touching any state, so a bad step fails alone.
absl::Status ValidateStepBatch(const ModelConfig& config, size_t block_size, size_t num_blocks,
                               std::span<const SequenceInput> batch);

}  // namespace dsm
