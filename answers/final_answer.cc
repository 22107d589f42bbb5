#include "answers/final_answer.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace dsm::answers {
namespace {

// The index one past the brace that closes the one at `open`, or npos.
size_t MatchBrace(absl::string_view text, size_t open) {
  int depth = 0;
  for (size_t i = open; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == '{' || text[i + 1] == '}')) {
      ++i;  // an escaped brace is content
      continue;
    }
    if (text[i] == '{') ++depth;
    if (text[i] == '}' && --depth == 0) return i + 1;
  }
  return absl::string_view::npos;
}

// The argument of the box command ending at `after`: a braced group, or the next token.
std::optional<std::string> BoxArgument(absl::string_view text, size_t after) {
  size_t i = after;
  while (i < text.size() && text[i] == ' ') ++i;
  if (i < text.size() && text[i] == '{') {
    const size_t close = MatchBrace(text, i);
    if (close == absl::string_view::npos) {
      return std::string(absl::StripAsciiWhitespace(text.substr(i + 1)));
    }
    return std::string(absl::StripAsciiWhitespace(text.substr(i + 1, close - i - 2)));
  }
  if (i == after) return std::nullopt;  // "\boxed" glued to a letter: another command
  size_t end = i;
  while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end])) &&
         text[end] != '$') {
    ++end;
  }
  return std::string(text.substr(i, end - i));
}

// The last non-empty box, whichever command makes it.
std::optional<std::string> LastBox(absl::string_view text) {
  std::optional<std::string> last;
  size_t last_at = 0;
  for (absl::string_view command : {"\\boxed", "\\fbox"}) {
    for (size_t at = text.find(command); at != absl::string_view::npos;
         at = text.find(command, at + 1)) {
      std::optional<std::string> arg = BoxArgument(text, at + command.size());
      if (!arg || arg->empty()) continue;
      if (!last || at > last_at) {
        last = std::move(arg);
        last_at = at;
      }
    }
  }
  return last;
}

// The rest of the line after the last `marker`, or nullopt.
std::optional<std::string> AfterLast(absl::string_view text, absl::string_view marker,
                                     bool ignore_case) {
  size_t at = absl::string_view::npos;
  if (ignore_case) {
    const std::string lower = absl::AsciiStrToLower(text);
    at = absl::string_view(lower).rfind(marker);
  } else {
    at = text.rfind(marker);
  }
  if (at == absl::string_view::npos) return std::nullopt;
  absl::string_view rest = text.substr(at + marker.size());
  const size_t line_end = rest.find('\n');
  if (line_end != absl::string_view::npos) rest = rest.substr(0, line_end);
  return std::string(rest);
}

// "The answer is: $5$." -> "$5$": drops a leading colon and the sentence's end.
std::string SentenceValue(std::string value) {
  absl::string_view v = absl::StripAsciiWhitespace(value);
  while (!v.empty() && (v.front() == ':' || v.front() == ' ')) v.remove_prefix(1);
  if (absl::StartsWith(v, "：")) v.remove_prefix(absl::string_view("：").size());
  // The first ". " ends the sentence (a decimal point is followed by a digit).
  const size_t stop = v.find(". ");
  if (stop != absl::string_view::npos) v = v.substr(0, stop);
  for (absl::string_view end : {"。", "."}) {
    if (absl::EndsWith(v, end)) v.remove_suffix(end.size());
  }
  return std::string(absl::StripAsciiWhitespace(v));
}

}  // namespace

std::optional<std::string> ExtractFinalAnswer(absl::string_view completion) {
  if (std::optional<std::string> box = LastBox(completion)) return box;
  if (std::optional<std::string> gsm = AfterLast(completion, "####", false)) {
    std::string value(absl::StripAsciiWhitespace(*gsm));
    if (!value.empty()) return value;
  }
  for (absl::string_view marker : {"the answer is", "答案是"}) {
    if (std::optional<std::string> sentence = AfterLast(completion, marker, true)) {
      std::string value = SentenceValue(*std::move(sentence));
      if (!value.empty()) return value;
    }
  }
  return std::nullopt;
}

std::string ReferenceAnswer(absl::string_view answer) {
  if (std::optional<std::string> gsm = AfterLast(answer, "####", false)) {
    return std::string(absl::StripAsciiWhitespace(*gsm));
  }
  return std::string(absl::StripAsciiWhitespace(answer));
}

}  // namespace dsm::answers
