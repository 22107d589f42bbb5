#pragma once
// Post-processors of HF tokenizer.json: add special tokens (BOS, ...) around encoded ids.

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace dsm {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // The ids of a single sequence with the template's special tokens added.
  virtual std::vector<int32_t> Process(const std::vector<int32_t>& ids) const = 0;
};

// TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel (no change to ids),
// Sequence. Null gives nullptr; unknown types fail naming it.
absl::StatusOr<std::unique_ptr<PostProcessor>> ParsePostProcessor(const nlohmann::json& j);

}  // namespace dsm
