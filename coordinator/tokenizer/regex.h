#pragma once
// Regular expressions for tokenizer patterns, through PCRE2 (UTF, Unicode properties,
// JIT). Patterns in tokenizer.json are written for Oniguruma (HF's engine); the few
// places where PCRE2 differs are translated on compile:
//   - `\s` / `\S` mean Unicode White_Space, which includes U+0085 (PCRE2's `\s` does not);
//   - `$` and `^` match at line ends (Oniguruma's Ruby syntax), via PCRE2_MULTILINE.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"

namespace dsm {

class Regex {
 public:
  // INVALID_ARGUMENT naming the pattern and PCRE2's message on a bad pattern.
  static absl::StatusOr<std::unique_ptr<Regex>> Compile(std::string_view pattern);
  // A literal string to find (Split's "String" patterns).
  static absl::StatusOr<std::unique_ptr<Regex>> Literal(std::string_view text);
  ~Regex();

  // Byte ranges [begin, end) of all non-overlapping, non-empty matches in `text`.
  std::vector<std::pair<size_t, size_t>> FindAll(std::string_view text) const;
  // The same matches, one call each, without building a list.
  void ForEachMatch(std::string_view text, absl::FunctionRef<void(size_t, size_t)> fn) const;

  const std::string& pattern() const { return pattern_; }

 private:
  Regex() = default;
  static absl::StatusOr<std::unique_ptr<Regex>> CompileTranslated(std::string_view source,
                                                                  const std::string& translated,
                                                                  uint32_t options);

  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code*
  bool jit_ = false;      // JIT-compiled: matched through the fast pcre2_jit_match
  // Bytes a match can start with (from PCRE2's study), when known: a piece holding none
  // of them cannot match, and most pieces are skipped without calling PCRE2.
  bool has_first_bytes_ = false;
  uint8_t first_bytes_[32] = {};
};

// Translates an Oniguruma pattern to PCRE2 syntax (exposed for tests).
std::string TranslateOnigurumaPattern(std::string_view pattern);

}  // namespace dsm
