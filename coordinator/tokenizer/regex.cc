#include "coordinator/tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace dsm {
namespace {

// Unicode White_Space, as ranges usable inside a character class.
constexpr char kWhiteSpaceRanges[] =
    "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}"
    "\\x{3000}";

}  // namespace

std::string TranslateOnigurumaPattern(std::string_view p) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char n = p[i + 1];
      if (n == 's') {
        out +=
            in_class ? std::string(kWhiteSpaceRanges) : absl::StrCat("[", kWhiteSpaceRanges, "]");
        ++i;
        continue;
      }
      if (n == 'S' && !in_class) {
        out += absl::StrCat("[^", kWhiteSpaceRanges, "]");
        ++i;
        continue;
      }
      out += c;
      out += n;
      ++i;
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out += c;
      // A ']' or '^]' right after '[' is literal.
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Regex>> Regex::Compile(std::string_view pattern) {
  return CompileTranslated(pattern, TranslateOnigurumaPattern(pattern),
                           PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE);
}

absl::StatusOr<std::unique_ptr<Regex>> Regex::Literal(std::string_view text) {
  return CompileTranslated(text, std::string(text), PCRE2_UTF | PCRE2_LITERAL);
}

absl::StatusOr<std::unique_ptr<Regex>> Regex::CompileTranslated(std::string_view source,
                                                                const std::string& translated,
                                                                uint32_t options) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()),
                                   translated.size(), options, &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return absl::InvalidArgumentError(absl::StrCat("bad regex \"", std::string(source),
                                                   "\": ", reinterpret_cast<char*>(message),
                                                   " at offset ", offset));
  }
  auto regex = std::unique_ptr<Regex>(new Regex());
  // Without JIT (unsupported CPU, or memory limits) the interpreter is used.
  regex->jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  const uint8_t* bitmap = nullptr;
  uint32_t min_length = 0;
  if (pcre2_pattern_info(code, PCRE2_INFO_FIRSTBITMAP, &bitmap) == 0 && bitmap != nullptr &&
      pcre2_pattern_info(code, PCRE2_INFO_MINLENGTH, &min_length) == 0 && min_length > 0) {
    regex->has_first_bytes_ = true;
    std::memcpy(regex->first_bytes_, bitmap, 32);
  }
  regex->pattern_ = std::string(source);
  regex->code_ = code;
  return regex;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

std::vector<std::pair<size_t, size_t>> Regex::FindAll(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> matches;
  ForEachMatch(text, [&](size_t begin, size_t end) { matches.emplace_back(begin, end); });
  return matches;
}

void Regex::ForEachMatch(std::string_view text, absl::FunctionRef<void(size_t, size_t)> fn) const {
  // One match block per thread serves every pattern: only the whole-match offsets are
  // read, which PCRE2 fills even when a pattern has more groups than the block holds.
  thread_local std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> block(
      pcre2_match_data_create(16, nullptr), &pcre2_match_data_free);
  pcre2_match_data* data = block.get();
  size_t start = 0;
  if (has_first_bytes_) {
    // Skip to the first byte a match could start with; none means no match.
    while (start < text.size()) {
      const uint8_t b = static_cast<uint8_t>(text[start]);
      if (first_bytes_[b >> 3] & (1u << (b & 7))) break;
      ++start;
    }
    if (start == text.size()) return;
  }
  while (start <= text.size()) {
    const int rc =
        pcre2_match(static_cast<pcre2_code*>(code_), reinterpret_cast<PCRE2_SPTR>(text.data()),
                    text.size(), start, PCRE2_NO_UTF_CHECK, data, nullptr);
    if (rc < 0) break;  // PCRE2_ERROR_NOMATCH, or a resource limit: stop splitting
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data);
    const size_t begin = ovector[0], end = ovector[1];
    if (end > begin) {
      fn(begin, end);
      start = end;
    } else {
      // Empty match: step over one code point.
      if (begin >= text.size()) break;
      start = begin + 1;
      while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) {
        ++start;
      }
    }
  }
}

}  // namespace dsm
