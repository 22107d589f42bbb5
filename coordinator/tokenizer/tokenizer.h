#pragma once
// A HuggingFace tokenizer (tokenizer.json) re-implemented: encode identical to HF's
// `tokenizers`, decode identical except where HF loses text (see decoder.h).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/tokenizer/added_vocabulary.h"
#include "coordinator/tokenizer/bpe_model.h"
#include "coordinator/tokenizer/decoder.h"
#include "coordinator/tokenizer/normalizer.h"
#include "coordinator/tokenizer/post_processor.h"
#include "coordinator/tokenizer/pre_tokenizer.h"

namespace dsm {

// Input to EncodeItems: text, or a token id placed as is (a chat template's BOS/EOS).
struct EncodeItem {
  std::string_view text;
  int32_t token_id = -1;
};

class Tokenizer {
 public:
  // Parses tokenizer.json text; `source` names it in errors.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromJson(std::string_view json,
                                                             const std::string& source);
  // Reads <dir>/tokenizer.json.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromDirectory(const std::string& dir);

  // HF's encode(text, add_special_tokens). With parse_special false, special-token
  // strings in the text are ordinary text (HF's split_special_tokens=True).
  // INVALID_ARGUMENT with the byte offset on invalid UTF-8.
  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text,
                                              bool add_special_tokens = false,
                                              bool parse_special = true) const;
  // Encodes items in order; neighbouring text items are encoded as one text.
  absl::StatusOr<std::vector<int32_t>> EncodeItems(std::span<const EncodeItem> items,
                                                   bool add_special_tokens,
                                                   bool parse_special) const;

  // HF's decode(ids, skip_special_tokens). INVALID_ARGUMENT for an id with no token.
  absl::StatusOr<std::string> Decode(std::span<const int32_t> ids,
                                     bool skip_special_tokens = false) const;

  // One past the largest id with a token string.
  int32_t vocab_size() const { return vocab_size_; }
  std::optional<int32_t> TokenToId(std::string_view token) const;
  bool IsSpecial(int32_t id) const;

 private:
  Tokenizer() = default;
  void EncodeText(std::string_view text, bool starts_input, bool allow_special,
                  std::vector<int32_t>& ids) const;

  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<PostProcessor> post_processor_;
  std::unique_ptr<Decoder> decoder_;
  AddedVocabulary added_;
  int32_t vocab_size_ = 0;
};

}  // namespace dsm
