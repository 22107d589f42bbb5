#include "worker/executor/step_batch.h"

#include "absl/strings/str_cat.h"

namespace dsm {

absl::Status ValidateStepBatch(const ModelConfig& config, size_t block_size, size_t num_blocks,
                               std::span<const SequenceInput> batch) {
  const int64_t block = static_cast<int64_t>(block_size);
  for (size_t s = 0; s < batch.size(); ++s) {
    const SequenceInput& seq = batch[s];
    if (seq.token_ids.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", s, " feeds no tokens"));
    }
    for (int32_t id : seq.token_ids) {
      if (id < 0 || id >= config.vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat(
            "token id ", id, " is outside the vocabulary [0, ", config.vocab_size, ")"));
      }
    }
    const int64_t end = seq.start_position + static_cast<int64_t>(seq.token_ids.size());
    if (seq.start_position < 0 || end > config.max_position_embeddings) {
      return absl::InvalidArgumentError(absl::StrCat("positions [", seq.start_position, ", ", end,
                                                     ") exceed the model context of ",
                                                     config.max_position_embeddings));
    }
    const int64_t blocks_needed = (end + block - 1) / block;
    if (static_cast<int64_t>(seq.block_table.size()) < blocks_needed) {
      return absl::InvalidArgumentError(absl::StrCat("block table of ", seq.block_table.size(),
                                                     " blocks cannot hold ", end, " positions"));
    }
    for (int64_t b = 0; b < blocks_needed; ++b) {
      const int32_t id = seq.block_table[b];
      if (id < 0 || static_cast<size_t>(id) >= num_blocks) {
        return absl::InvalidArgumentError(
            absl::StrCat("KV block ", id, " is outside the pool of ", num_blocks));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace dsm
