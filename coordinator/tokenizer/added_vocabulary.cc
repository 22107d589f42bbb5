#include "coordinator/tokenizer/added_vocabulary.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "coordinator/tokenizer/utf8.h"
#include "nlohmann/json.hpp"

namespace dsm {
namespace {

bool IsWhiteSpace(char32_t c) {
  return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// A word character for single_word: ASCII alphanumerics, '_' and any non-ASCII letter
// (approximated as any non-ASCII, non-space code point).
bool IsWordChar(char32_t c) {
  if (c < 0x80) return std::isalnum(static_cast<int>(c)) || c == '_';
  return !IsWhiteSpace(c);
}

// The code point ending just before byte `end`.
char32_t CodePointBefore(std::string_view text, size_t end) {
  size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return NextCodePoint(text, start);
}

}  // namespace

absl::StatusOr<AddedVocabulary> AddedVocabulary::Parse(const nlohmann::json& added_tokens) {
  AddedVocabulary v;
  if (added_tokens.is_null()) return v;
  if (!added_tokens.is_array()) return absl::InvalidArgumentError("added_tokens must be a list");
  for (const auto& t : added_tokens) {
    if (!t.contains("id") || !t.contains("content") || !t["content"].is_string() ||
        !t["id"].is_number_integer()) {
      return absl::InvalidArgumentError("added_tokens entry needs an integer id and a content");
    }
    if (t["id"].get<int64_t>() < 0 || t["id"].get<int64_t>() >= (int64_t{1} << 24)) {
      return absl::InvalidArgumentError("added_tokens: an id is outside [0, 2^24)");
    }
    AddedToken token;
    token.id = t["id"].get<int32_t>();
    token.content = t["content"].get<std::string>();
    token.special = t.value("special", false);
    token.lstrip = t.value("lstrip", false);
    token.rstrip = t.value("rstrip", false);
    token.single_word = t.value("single_word", false);
    token.normalized = t.value("normalized", !token.special);
    if (token.content.empty()) return absl::InvalidArgumentError("an added token is empty");
    v.by_id_[token.id] = v.tokens_.size();
    v.tokens_.push_back(std::move(token));
  }
  for (size_t i = 0; i < v.tokens_.size(); ++i) {
    v.by_first_byte_[static_cast<unsigned char>(v.tokens_[i].content[0])].push_back(i);
  }
  for (auto& list : v.by_first_byte_) {
    std::sort(list.begin(), list.end(), [&](size_t a, size_t b) {
      return v.tokens_[a].content.size() > v.tokens_[b].content.size();
    });
  }
  return v;
}

const AddedToken* AddedVocabulary::FindById(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

std::vector<TextSegment> AddedVocabulary::Split(std::string_view text, bool normalized_pass,
                                                bool allow_special) const {
  std::vector<TextSegment> segments;
  size_t plain_start = 0;  // start of the pending plain-text stretch
  size_t i = 0;
  auto emit_plain = [&](size_t end) {
    if (end > plain_start) {
      segments.push_back(
          {std::string(text.substr(plain_start, end - plain_start)), -1, plain_start == 0});
    }
  };
  while (i < text.size()) {
    const AddedToken* found = nullptr;
    for (size_t index : by_first_byte_[static_cast<unsigned char>(text[i])]) {
      const AddedToken& t = tokens_[index];
      if (t.normalized != normalized_pass || (t.special && !allow_special)) continue;
      if (text.compare(i, t.content.size(), t.content) != 0) continue;
      if (t.single_word) {
        const size_t end = i + t.content.size();
        if ((i > 0 && IsWordChar(CodePointBefore(text, i))) ||
            (end < text.size() && IsWordChar([&] {
               size_t at = end;
               return NextCodePoint(text, at);
             }()))) {
          continue;
        }
      }
      found = &t;
      break;  // candidates are longest first
    }
    if (found == nullptr) {
      i += std::max<size_t>(1, ValidSequenceLength(text, i));
      continue;
    }
    size_t begin = i, end = i + found->content.size();
    if (found->lstrip) {
      while (begin > plain_start && IsWhiteSpace(CodePointBefore(text, begin))) {
        do {
          --begin;
        } while ((static_cast<unsigned char>(text[begin]) & 0xC0) == 0x80);
      }
    }
    if (found->rstrip) {
      while (end < text.size()) {
        size_t at = end;
        if (!IsWhiteSpace(NextCodePoint(text, at))) break;
        end = at;
      }
    }
    emit_plain(begin);
    segments.push_back({found->content, found->id, begin == 0});
    plain_start = i = end;
  }
  emit_plain(text.size());
  return segments;
}

}  // namespace dsm
