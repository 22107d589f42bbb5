#pragma once
// Streams text as token ids arrive: never emits a broken UTF-8 sequence, and the pieces
// it emits concatenate to exactly Decode(all ids).
//
// It keeps two offsets into the ids: text up to `read_` has been emitted; decoding
// starts at `prefix_` (a little before `read_`) so that decoders that treat the first
// token specially (Metaspace strips its leading space) see the same context twice and
// the difference of the two decodes is the new text.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/tokenizer/tokenizer.h"

namespace dsm {

class IncrementalDetokenizer {
 public:
  IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens)
      : tokenizer_(tokenizer), skip_special_tokens_(skip_special_tokens) {}

  // Adds one id; returns the text that became final (possibly empty).
  absl::StatusOr<std::string> Add(int32_t id);
  // Returns whatever is still held back (an incomplete character becomes U+FFFD).
  absl::StatusOr<std::string> Finish();

  const std::vector<int32_t>& ids() const { return ids_; }

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_tokens_;
  std::vector<int32_t> ids_;
  size_t prefix_ = 0;  // decode window start
  size_t read_ = 0;    // ids whose text has been emitted
};

}  // namespace dsm
