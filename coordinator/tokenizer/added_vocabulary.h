#pragma once
// Added tokens of HF tokenizer.json, cut out of the text before pre-tokenization:
// leftmost-longest, honouring lstrip / rstrip / single_word / normalized / special.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace dsm {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

// A stretch of text: either plain text to tokenize (id < 0) or one added token.
struct TextSegment {
  std::string text;
  int32_t id = -1;
  bool starts_input = false;  // begins at offset 0 of the original text
};

class AddedVocabulary {
 public:
  static absl::StatusOr<AddedVocabulary> Parse(const nlohmann::json& added_tokens);

  const std::vector<AddedToken>& tokens() const { return tokens_; }
  const AddedToken* FindById(int32_t id) const;

  // Splits text at added tokens. With `normalized_pass` false only tokens with
  // normalized=false match (they are found in the raw text); true matches the others
  // (found after normalization). Special tokens match only if `allow_special`.
  std::vector<TextSegment> Split(std::string_view text, bool normalized_pass,
                                 bool allow_special) const;

 private:
  std::vector<AddedToken> tokens_;
  absl::flat_hash_map<int32_t, size_t> by_id_;
  // Candidate tokens by first byte, longest first.
  std::vector<std::vector<size_t>> by_first_byte_ = std::vector<std::vector<size_t>>(256);
};

}  // namespace dsm
