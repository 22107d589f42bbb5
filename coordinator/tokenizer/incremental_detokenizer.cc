#include "coordinator/tokenizer/incremental_detokenizer.h"

#include <span>

#include "coordinator/tokenizer/utf8.h"

namespace dsm {

absl::StatusOr<std::string> IncrementalDetokenizer::Add(int32_t id) {
  ids_.push_back(id);
  std::span<const int32_t> all(ids_);
  absl::StatusOr<std::string> before =
      tokenizer_.Decode(all.subspan(prefix_, read_ - prefix_), skip_special_tokens_);
  if (!before.ok()) return before.status();
  absl::StatusOr<std::string> after = tokenizer_.Decode(all.subspan(prefix_), skip_special_tokens_);
  if (!after.ok()) {
    ids_.pop_back();  // an id with no token is rejected and leaves the state as it was
    return after.status();
  }
  // Hold back while the tail is an incomplete character (decoded as U+FFFD), or while
  // the longer decode does not extend the shorter one.
  const bool incomplete = after->size() >= kReplacementCharacter.size() &&
                          after->compare(after->size() - kReplacementCharacter.size(),
                                         kReplacementCharacter.size(), kReplacementCharacter) == 0;
  if (incomplete || after->size() <= before->size() ||
      after->compare(0, before->size(), *before) != 0) {
    return std::string();
  }
  std::string piece = after->substr(before->size());
  prefix_ = read_;
  read_ = ids_.size();
  return piece;
}

absl::StatusOr<std::string> IncrementalDetokenizer::Finish() {
  std::span<const int32_t> all(ids_);
  absl::StatusOr<std::string> before =
      tokenizer_.Decode(all.subspan(prefix_, read_ - prefix_), skip_special_tokens_);
  if (!before.ok()) return before.status();
  absl::StatusOr<std::string> after = tokenizer_.Decode(all.subspan(prefix_), skip_special_tokens_);
  if (!after.ok()) return after.status();
  prefix_ = read_ = ids_.size();
  if (after->size() <= before->size()) return std::string();
  return after->substr(before->size());
}

}  // namespace dsm
