#pragma once
// Pre-tokenizers of HF tokenizer.json: split a section of text into the pieces BPE runs on.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace dsm {

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `pieces` by their splits. `first_section` is true when the pieces come from
  // the start of the input (Metaspace's prepend_scheme "first" needs it).
  virtual void Split(std::vector<std::string>& pieces, bool first_section) const = 0;
};

// Sequence, Split (String/Regex pattern, every behavior, invert), Digits, ByteLevel,
// Metaspace, Whitespace, WhitespaceSplit. Null gives nullptr; unknown types fail naming it.
absl::StatusOr<std::unique_ptr<PreTokenizer>> ParsePreTokenizer(const nlohmann::json& j);

}  // namespace dsm
