#include "answers/normalize_answer.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <numeric>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace dsm::answers {
namespace {

bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool IsAlpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// Replaces every `from` by `to`, one pair after another (earlier pairs first).
std::string ReplaceInOrder(
    std::string s, std::initializer_list<std::pair<absl::string_view, absl::string_view>> pairs) {
  for (const auto& [from, to] : pairs) s = absl::StrReplaceAll(s, {{from, to}});
  return s;
}

// One past the brace closing the one at `open` ('{' ... '}'), or npos.
size_t MatchBrace(absl::string_view s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i + 1;
  }
  return absl::string_view::npos;
}

bool IsUnitWord(absl::string_view word) {
  static constexpr absl::string_view kUnits[] = {
      "cm",        "m",          "km",      "mm",      "in",      "inch",       "inches",
      "ft",        "foot",       "feet",    "yd",      "yard",    "yards",      "mile",
      "miles",     "meter",      "meters",  "metre",   "metres",  "centimeter", "centimeters",
      "kilometer", "kilometers", "kg",      "g",       "gram",    "grams",      "kilogram",
      "kilograms", "lb",         "lbs",     "pound",   "pounds",  "oz",         "ounce",
      "ounces",    "l",          "liter",   "liters",  "ml",      "gallon",     "gallons",
      "s",         "sec",        "second",  "seconds", "min",     "minute",     "minutes",
      "h",         "hr",         "hrs",     "hour",    "hours",   "day",        "days",
      "week",      "weeks",      "month",   "months",  "year",    "years",      "cent",
      "cents",     "dollar",     "dollars", "unit",    "units",   "sq",         "square",
      "cubic",     "degree",     "degrees", "mph",     "percent", "points",     "point"};
  std::string lower = absl::AsciiStrToLower(word);
  // "cm^2", "m^{3}"
  if (const size_t caret = lower.find('^'); caret != std::string::npos) lower.resize(caret);
  return std::find(std::begin(kUnits), std::end(kUnits), lower) != std::end(kUnits);
}

// "\text{cm}" after a number is a unit: dropped. Elsewhere the wrapper goes, its
// content stays.
std::string UnwrapTextCommands(std::string s) {
  static constexpr std::string_view kCommands[] = {"\\textbf", "\\textit",      "\\textrm",
                                                   "\\text",   "\\mathrm",      "\\mathbf",
                                                   "\\mbox",   "\\operatorname"};
  for (std::string_view command : kCommands) {
    for (size_t at = s.find(command); at != std::string::npos; at = s.find(command, at)) {
      size_t open = at + command.size();
      if (open < s.size() && IsAlpha(s[open])) {  // a longer command name
        ++at;
        continue;
      }
      while (open < s.size() && s[open] == ' ') ++open;
      if (open >= s.size() || s[open] != '{') {
        s.erase(at, command.size());
        continue;
      }
      const size_t close = MatchBrace(s, open);
      if (close == std::string::npos) {
        s.erase(at, open + 1 - at);
        continue;
      }
      std::string content = s.substr(open + 1, close - open - 2);
      absl::string_view before =
          absl::StripTrailingAsciiWhitespace(absl::string_view(s).substr(0, at));
      const absl::string_view word = absl::StripAsciiWhitespace(content);
      const bool after_number = !before.empty() && (IsDigit(before.back()) || before.back() == '}');
      const bool unit_like = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
        return IsAlpha(c) || c == ' ' || c == '^' || c == '.' || IsDigit(c);
      }) && IsAlpha(word.front());
      size_t end = close;
      if (after_number && unit_like) {
        content.clear();
        // The unit's power goes with it: "9\text{ cm}^2".
        for (absl::string_view power : {"^{2}", "^{3}", "^2", "^3"}) {
          if (s.compare(end, power.size(), power.data(), power.size()) == 0) {
            end += power.size();
            break;
          }
        }
      }
      s.replace(at, end - at, content);
    }
  }
  return s;
}

// Drops unit words after a number: "5 cm" -> "5", "12 square feet" -> "12".
std::string DropTrailingUnits(std::string s) {
  while (true) {
    absl::string_view trimmed = absl::StripTrailingAsciiWhitespace(s);
    const size_t space = trimmed.rfind(' ');
    if (space == absl::string_view::npos) return std::string(trimmed);
    const absl::string_view word = trimmed.substr(space + 1);
    const absl::string_view rest = absl::StripTrailingAsciiWhitespace(trimmed.substr(0, space));
    if (rest.empty() || !IsUnitWord(word)) return std::string(trimmed);
    const char last = rest.back();
    if (!IsDigit(last) &&
        !IsUnitWord(
            rest.substr(rest.rfind(' ') == absl::string_view::npos ? 0 : rest.rfind(' ') + 1))) {
      return std::string(trimmed);
    }
    s = std::string(rest);
  }
}

// "5 apples" -> "5": a number followed only by words (two letters or more).
std::string DropWordsAfterNumber(const std::string& s) {
  const size_t space = s.find(' ');
  if (space == std::string::npos) return s;
  const std::string number = s.substr(0, space);
  if (number.empty() ||
      !std::all_of(
          number.begin(), number.end(),
          [](char c) { return IsDigit(c) || c == '.' || c == ',' || c == '-' || c == '/'; }) ||
      !std::any_of(number.begin(), number.end(), IsDigit)) {
    return s;
  }
  size_t letters = 0;
  for (size_t i = space; i < s.size(); ++i) {
    if (s[i] == ' ') {
      if (letters == 1) return s;
      letters = 0;
    } else if (IsAlpha(s[i])) {
      ++letters;
    } else {
      return s;
    }
  }
  return letters == 1 ? s : number;
}

// Splits at top-level commas (outside (), [], {}).
std::vector<std::string> SplitTopLevel(absl::string_view s, char separator) {
  std::vector<std::string> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (c == separator && depth == 0) {
      parts.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.emplace_back(s.substr(start));
  return parts;
}

// "1,234,567.5" (groups of three) -> "1234567.5"; anything else unchanged.
std::string DropThousandsSeparators(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  size_t digits = 0;
  while (i + digits < s.size() && IsDigit(s[i + digits])) ++digits;
  if (digits < 1 || digits > 3 || i + digits >= s.size() || s[i + digits] != ',') return s;
  size_t j = i + digits;
  while (j < s.size() && s[j] == ',') {
    if (j + 4 > s.size() || !IsDigit(s[j + 1]) || !IsDigit(s[j + 2]) || !IsDigit(s[j + 3])) {
      return s;
    }
    j += 4;
    if (j < s.size() && IsDigit(s[j])) return s;  // a group of more than three
  }
  if (j < s.size()) {
    if (s[j] != '.') return s;
    for (size_t k = j + 1; k < s.size(); ++k) {
      if (!IsDigit(s[k])) return s;
    }
  }
  std::string out;
  for (char c : s) {
    if (c != ',') out += c;
  }
  return out;
}

// \frac12 -> \frac{1}{2}, \frac1{x} -> \frac{1}{x}, \sqrt2 -> \sqrt{2}.
std::string CompleteShorthand(std::string s) {
  auto argument = [&s](size_t& i) -> std::optional<std::string> {
    if (i >= s.size()) return std::nullopt;
    if (s[i] == '{') {
      const size_t close = MatchBrace(s, i);
      if (close == std::string::npos) return std::nullopt;
      std::string arg = s.substr(i + 1, close - i - 2);
      i = close;
      return arg;
    }
    if (IsDigit(s[i]) || IsAlpha(s[i])) return std::string(1, s[i++]);
    return std::nullopt;
  };
  for (std::string_view command : {std::string_view("\\frac"), std::string_view("\\sqrt")}) {
    const int args = command == "\\frac" ? 2 : 1;
    for (size_t at = s.find(command); at != std::string::npos;
         at = s.find(command, at + command.size())) {
      size_t i = at + command.size();
      if (i < s.size() && IsAlpha(s[i])) continue;  // \fracx is not ours
      if (i < s.size() && s[i] == '[') {            // \sqrt[3]{x}
        const size_t close = s.find(']', i);
        if (close == std::string::npos) continue;
        i = close + 1;
      }
      const size_t head = i;
      std::string rebuilt;
      bool ok = true;
      for (int a = 0; a < args && ok; ++a) {
        std::optional<std::string> arg = argument(i);
        if (!arg)
          ok = false;
        else
          absl::StrAppend(&rebuilt, "{", *arg, "}");
      }
      if (ok) s.replace(head, i - head, rebuilt);
    }
  }
  return s;
}

struct Rational {
  int64_t num = 0, den = 1;
};

std::optional<Rational> Reduce(__int128 num, __int128 den) {
  if (den == 0) return std::nullopt;
  if (den < 0) {
    num = -num;
    den = -den;
  }
  __int128 a = num < 0 ? -num : num, b = den;
  while (b != 0) {
    const __int128 t = a % b;
    a = b;
    b = t;
  }
  if (a > 1) {
    num /= a;
    den /= a;
  }
  constexpr __int128 kMax = INT64_MAX;
  if (num > kMax || num < -kMax || den > kMax) return std::nullopt;
  return Rational{static_cast<int64_t>(num), static_cast<int64_t>(den)};
}

// Integers, decimals, a/b and \frac{a}{b} of those, with a sign.
std::optional<Rational> ParseRational(absl::string_view s) {
  if (s.size() > 256) return std::nullopt;  // bounds the \frac recursion too
  bool negative = false;
  while (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    if (s.front() == '-') negative = !negative;
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  std::optional<Rational> value;
  if (absl::StartsWith(s, "\\frac{")) {
    const std::string text(s);
    const size_t first_close = MatchBrace(text, 5);
    if (first_close == std::string::npos || first_close >= text.size() ||
        text[first_close] != '{' || MatchBrace(text, first_close) != text.size()) {
      return std::nullopt;
    }
    std::optional<Rational> top = ParseRational(text.substr(6, first_close - 7));
    std::optional<Rational> bottom =
        ParseRational(text.substr(first_close + 1, text.size() - first_close - 2));
    if (!top || !bottom || bottom->num == 0) return std::nullopt;
    value = Reduce(static_cast<__int128>(top->num) * bottom->den,
                   static_cast<__int128>(top->den) * bottom->num);
  } else {
    size_t digits_before = 0, digits_after = 0;
    bool point = false;
    for (char c : s) {
      if (IsDigit(c)) {
        (point ? digits_after : digits_before)++;
      } else if (c == '.' && !point) {
        point = true;
      } else {
        return std::nullopt;
      }
    }
    if (digits_before + digits_after == 0 || digits_before + digits_after > 18) {
      return std::nullopt;
    }
    int64_t num = 0, den = 1;
    for (char c : s) {
      if (c == '.') continue;
      num = num * 10 + (c - '0');
    }
    for (size_t i = 0; i < digits_after; ++i) den *= 10;
    value = Reduce(num, den);
  }
  if (value && negative) value->num = -value->num;
  return value;
}

std::string NormalizeElement(std::string s);

// A comma-separated list: a set (sorted) unless bracketed as a tuple or interval.
std::optional<std::string> NormalizeList(const std::string& s) {
  const bool bracketed = s.size() >= 2 && (s.front() == '(' || s.front() == '[') &&
                         (s.back() == ')' || s.back() == ']');
  absl::string_view inner = s;
  if (bracketed) {
    int depth = 0;  // the opening bracket must close at the end
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      if (s[i] == '(' || s[i] == '[' || s[i] == '{') ++depth;
      if (s[i] == ')' || s[i] == ']' || s[i] == '}') --depth;
      if (depth == 0) return std::nullopt;
    }
    inner = absl::string_view(s).substr(1, s.size() - 2);
  }
  std::vector<std::string> parts = SplitTopLevel(inner, ',');
  if (parts.size() < 2) return std::nullopt;
  for (std::string& part : parts) part = NormalizeElement(part);
  if (bracketed)
    return absl::StrCat(s.substr(0, 1), absl::StrJoin(parts, ","), s.substr(s.size() - 1));
  std::sort(parts.begin(), parts.end());
  return absl::StrJoin(parts, ",");
}

// "x=5" -> "5" when the left side is a plain name (x, y_1, \theta).
std::string RightOfSimpleEquation(const std::string& s) {
  std::vector<std::string> sides = SplitTopLevel(s, '=');
  if (sides.size() != 2 || sides[0].empty() || sides[1].empty()) return s;
  absl::string_view left = sides[0];
  if (absl::StartsWith(left, "\\")) left.remove_prefix(1);
  if (left.empty() || !IsAlpha(left.front())) return s;
  for (char c : left) {
    if (!IsAlpha(c) && !IsDigit(c) && c != '_' && c != '{' && c != '}') return s;
  }
  return sides[1];
}

// a/b -> \frac{a}{b} when both sides are single terms.
std::string SlashToFrac(const std::string& s) {
  std::vector<std::string> sides = SplitTopLevel(s, '/');
  if (sides.size() != 2 || sides[0].empty() || sides[1].empty()) return s;
  std::string top = sides[0], sign;
  if (top.front() == '-') {
    sign = "-";
    top.erase(0, 1);
  }
  for (const std::string& side : {top, sides[1]}) {
    if (side.empty()) return s;
    int depth = 0;
    for (char c : side) {
      if (c == '{' || c == '(') ++depth;
      if (c == '}' || c == ')') --depth;
      if (depth == 0 && (c == '+' || c == '-' || c == '*')) return s;
    }
  }
  auto unwrap = [](std::string side) {
    if (side.size() >= 2 && side.front() == '(' && side.back() == ')') {
      return side.substr(1, side.size() - 2);
    }
    return side;
  };
  return absl::StrCat(sign, "\\frac{", unwrap(top), "}{", unwrap(sides[1]), "}");
}

std::string StripOuterBraces(std::string s) {
  while (s.size() >= 2 && s.front() == '{' && MatchBrace(s, 0) == s.size()) {
    s = s.substr(1, s.size() - 2);
  }
  return s;
}

// x^{2} -> x^2, a_{1} -> a_1: braces around one character change nothing.
std::string DropSingleCharacterGroups(std::string s) {
  for (size_t i = 0; i + 3 < s.size(); ++i) {
    if ((s[i] == '^' || s[i] == '_') && s[i + 1] == '{' && s[i + 3] == '}' && s[i + 2] != '\\') {
      s.erase(i + 3, 1);
      s.erase(i + 1, 1);
    }
  }
  return s;
}

// "(x)" -> "x" when the parentheses hold one element (not a tuple).
std::string StripGroupingParentheses(std::string s) {
  while (s.size() >= 2 && s.front() == '(' && s.back() == ')') {
    int depth = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '(' || s[i] == '[' || s[i] == '{') ++depth;
      if (s[i] == ')' || s[i] == ']' || s[i] == '}') --depth;
      if (depth == 0 && i + 1 < s.size()) return s;  // closes early: "(a)+(b)"
      if (depth == 1 && s[i] == ',') return s;       // a tuple
    }
    if (s.size() == 3 && IsAlpha(s[1])) return s;  // "(A)": a choice, handled below
    s = s.substr(1, s.size() - 2);
  }
  return s;
}

std::string NormalizeElement(std::string s) {
  s = StripOuterBraces(std::move(s));
  s = StripGroupingParentheses(std::move(s));
  s = DropSingleCharacterGroups(std::move(s));
  while (!s.empty() && s.back() == '.') s.pop_back();
  s = DropThousandsSeparators(s);
  s = RightOfSimpleEquation(s);
  s = StripOuterBraces(std::move(s));
  s = CompleteShorthand(std::move(s));
  s = SlashToFrac(s);
  if (std::optional<Rational> r = ParseRational(s)) {
    return r->den == 1 ? absl::StrCat(r->num) : absl::StrCat(r->num, "/", r->den);
  }
  // Multiple-choice letters and plain words compare without case: "(A)" = "a".
  if (s.size() == 3 && s.front() == '(' && s.back() == ')' && IsAlpha(s[1])) s = s.substr(1, 1);
  if (!s.empty() && std::all_of(s.begin(), s.end(), IsAlpha)) s = absl::AsciiStrToLower(s);
  return s;
}

}  // namespace

std::string NormalizeAnswer(absl::string_view answer) {
  // Final answers are short; a "box" holding pages of text is compared as it stands
  // (whitespace aside) instead of being parsed, so its cost stays linear.
  constexpr size_t kLongest = 2048;
  if (answer.size() > kLongest) {
    std::string s(answer);
    s.erase(std::remove_if(s.begin(), s.end(),
                           [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }),
            s.end());
    return s;
  }
  std::string s = ReplaceInOrder(std::string(absl::StripAsciiWhitespace(answer)),
                                 {{"\xe2\x88\x92", "-"},  // − (U+2212)
                                  {"\xe2\x88\x9e", "\\infty"},
                                  {"\xcf\x80", "\\pi"},
                                  {"\xc2\xb0", ""},       // °
                                  {"\xef\xbc\x8c", ","},  // ，
                                  {"{,}", ","},
                                  {"\\displaystyle", ""},
                                  {"\\dfrac", "\\frac"},
                                  {"\\tfrac", "\\frac"},
                                  {"\\cfrac", "\\frac"},
                                  {"\\left.", ""},
                                  {"\\right.", ""},
                                  {"\\left", ""},
                                  {"\\right", ""},
                                  {"\\!", ""},
                                  {"\\,", ""},
                                  {"\\;", ""},
                                  {"\\:", ""},
                                  {"\\ ", " "},
                                  {"~", " "},
                                  {"\\$", ""},
                                  {"$", ""},
                                  {"\\%", ""},
                                  {"%", ""},
                                  {"^{\\circ}", ""},
                                  {"^\\circ", ""},
                                  {"\\circ", ""},
                                  {"\\degree", ""},
                                  {"\\(", ""},
                                  {"\\)", ""},
                                  {"\\[", ""},
                                  {"\\]", ""},
                                  {"\\{", "{"},
                                  {"\\}", "}"}});
  s = UnwrapTextCommands(std::move(s));
  s = DropTrailingUnits(std::move(s));
  s = DropWordsAfterNumber(std::string(absl::StripAsciiWhitespace(s)));
  s.erase(std::remove_if(s.begin(), s.end(),
                         [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }),
          s.end());
  while (!s.empty() && s.back() == '.') s.pop_back();
  s = StripOuterBraces(std::move(s));
  const std::string without_separators = DropThousandsSeparators(s);
  if (without_separators == s) {
    if (std::optional<std::string> list = NormalizeList(s)) return *list;
  }
  return NormalizeElement(without_separators);
}

bool SameAnswer(absl::string_view a, absl::string_view b) {
  const std::string na = NormalizeAnswer(a), nb = NormalizeAnswer(b);
  return !na.empty() && na == nb;
}

}  // namespace dsm::answers
