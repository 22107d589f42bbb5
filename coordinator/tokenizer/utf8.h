#pragma once
// UTF-8 helpers for the tokenizer: validation with the offending byte offset, code point
// iteration, and lossy decoding that matches Rust's String::from_utf8_lossy (each maximal
// invalid subsequence becomes one U+FFFD), which HF's decoders use.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace dsm {

// INVALID_ARGUMENT naming the byte offset of the first invalid sequence.
absl::Status ValidateUtf8(std::string_view text);

// Length of the valid UTF-8 sequence starting at text[i], or 0 if it is not valid.
size_t ValidSequenceLength(std::string_view text, size_t i);

// Decodes the code point at text[i] (text must be valid there) and advances i.
char32_t NextCodePoint(std::string_view text, size_t& i);

void AppendUtf8(char32_t code_point, std::string& out);

// Bytes -> text, replacing invalid sequences with U+FFFD.
std::string DecodeUtf8Lossy(std::string_view bytes);

// The replacement character's encoding, "\xEF\xBF\xBD".
inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

}  // namespace dsm
