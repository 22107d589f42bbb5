#include "coordinator/tokenizer/pre_tokenizer.h"

#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "coordinator/tokenizer/byte_alphabet.h"
#include "coordinator/tokenizer/pattern.h"
#include "coordinator/tokenizer/regex.h"
#include "coordinator/tokenizer/utf8.h"
#include "nlohmann/json.hpp"

namespace dsm {
namespace {

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

absl::StatusOr<Behavior> ParseBehavior(const std::string& name) {
  if (name == "Removed") return Behavior::kRemoved;
  if (name == "Isolated") return Behavior::kIsolated;
  if (name == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return Behavior::kMergedWithNext;
  if (name == "Contiguous") return Behavior::kContiguous;
  return absl::UnimplementedError(absl::StrCat("unsupported split behavior \"", name, "\""));
}

using Range = std::pair<uint32_t, uint32_t>;

// Splits the piece at `range` of `buffer` at the matches of `regex` the way HF's
// NormalizedString::split does, appending the resulting ranges to `out`.
void SplitPiece(std::string_view buffer, Range range, const Regex& regex, Behavior behavior,
                bool invert, std::vector<Range>& out) {
  const std::string_view piece = buffer.substr(range.first, range.second - range.first);
  const uint32_t base = range.first;
  const size_t first = out.size();  // earlier pieces' splits are never merged into
  bool previous_match = false;      // kind of the last segment of this piece
  bool have_previous = false;
  // Segments arrive in order; a joined segment extends the last range, which is
  // contiguous with it. HF's rules: Contiguous joins a match to a preceding match;
  // MergedWithPrevious joins a match to a preceding non-match; MergedWithNext joins a
  // non-match to a preceding match (a match followed by a match stays alone).
  auto segment = [&](size_t begin, size_t end, bool is_match) {
    const Range r{base + static_cast<uint32_t>(begin), base + static_cast<uint32_t>(end)};
    bool join = false;
    switch (behavior) {
      case Behavior::kRemoved:
        if (is_match) {
          previous_match = true;
          return;
        }
        break;
      case Behavior::kIsolated:
        break;
      case Behavior::kContiguous:
        join = is_match && previous_match;
        break;
      case Behavior::kMergedWithPrevious:
        join = is_match && !previous_match;
        break;
      case Behavior::kMergedWithNext:
        join = !is_match && previous_match;
        break;
    }
    if (join && have_previous && out.size() > first) {
      out.back().second = r.second;
    } else {
      out.push_back(r);
    }
    previous_match = is_match;
    have_previous = true;
  };
  size_t last = 0;
  regex.ForEachMatch(piece, [&](size_t begin, size_t end) {
    if (begin > last) segment(last, begin, invert);
    segment(begin, end, !invert);
    last = end;
  });
  if (last < piece.size()) segment(last, piece.size(), invert);
}

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  void Split(PieceList& pieces, bool first_section) const override {
    for (const auto& step : steps_) step->Split(pieces, first_section);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

class RegexSplitPreTokenizer : public PreTokenizer {
 public:
  RegexSplitPreTokenizer(std::unique_ptr<Regex> regex, Behavior behavior, bool invert)
      : regex_(std::move(regex)), behavior_(behavior), invert_(invert) {}
  void Split(PieceList& pieces, bool) const override {
    std::vector<Range>& out = pieces.scratch;
    out.clear();
    for (const Range& range : pieces.ranges) {
      SplitPiece(pieces.buffer, range, *regex_, behavior_, invert_, out);
    }
    pieces.ranges.swap(out);
  }

 private:
  std::unique_ptr<Regex> regex_;
  Behavior behavior_;
  bool invert_;
};

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, std::unique_ptr<Regex> gpt2_regex)
      : add_prefix_space_(add_prefix_space), regex_(std::move(gpt2_regex)) {}
  void Split(PieceList& pieces, bool) const override {
    // Optionally prefix a space, split with the GPT-2 pattern, then map every byte to
    // its alphabet character into a new buffer.
    PieceList spaced;
    const PieceList* source = &pieces;
    if (add_prefix_space_) {
      for (size_t i = 0; i < pieces.size(); ++i) {
        const std::string_view p = pieces[i];
        const uint32_t begin = static_cast<uint32_t>(spaced.buffer.size());
        if (!p.empty() && p[0] != ' ') spaced.buffer += ' ';
        spaced.buffer.append(p);
        spaced.ranges.emplace_back(begin, static_cast<uint32_t>(spaced.buffer.size()));
      }
      source = &spaced;
    }
    std::vector<Range> split;
    if (regex_) {
      for (const Range& range : source->ranges) {
        SplitPiece(source->buffer, range, *regex_, Behavior::kIsolated, false, split);
      }
    } else {
      split = source->ranges;
    }
    const ByteAlphabet& alphabet = ByteAlphabet::Get();
    PieceList mapped;
    mapped.buffer.reserve(source->buffer.size() * 2);
    mapped.ranges.reserve(split.size());
    for (const Range& range : split) {
      const uint32_t begin = static_cast<uint32_t>(mapped.buffer.size());
      for (size_t i = range.first; i < range.second; ++i) {
        mapped.buffer += alphabet.Encode(static_cast<uint8_t>(source->buffer[i]));
      }
      mapped.ranges.emplace_back(begin, static_cast<uint32_t>(mapped.buffer.size()));
    }
    pieces = std::move(mapped);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> regex_;
};

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  enum class Prepend { kAlways, kFirst, kNever };
  MetaspacePreTokenizer(std::string replacement, Prepend prepend, bool split)
      : replacement_(std::move(replacement)), prepend_(prepend), split_(split) {}
  void Split(PieceList& pieces, bool first_section) const override {
    PieceList out;
    for (size_t p = 0; p < pieces.size(); ++p) {
      std::string s = absl::StrReplaceAll(absl::string_view(pieces[p].data(), pieces[p].size()),
                                          {{" ", replacement_}});
      const bool prepend =
          prepend_ == Prepend::kAlways || (prepend_ == Prepend::kFirst && first_section && p == 0);
      if (prepend && s.rfind(replacement_, 0) != 0) s.insert(0, replacement_);
      const uint32_t base = static_cast<uint32_t>(out.buffer.size());
      out.buffer += s;
      if (!split_) {
        out.ranges.emplace_back(base, static_cast<uint32_t>(out.buffer.size()));
        continue;
      }
      // Split before each replacement character (MergedWithNext).
      size_t start = 0;
      for (size_t at = s.find(replacement_, 1); at != std::string::npos;
           at = s.find(replacement_, at + 1)) {
        if (at > start) out.ranges.emplace_back(base + start, base + at);
        start = at;
      }
      if (start < s.size()) out.ranges.emplace_back(base + start, base + s.size());
    }
    pieces = std::move(out);
  }

 private:
  std::string replacement_;
  Prepend prepend_;
  bool split_;
};

// The GPT-2 pattern HF's ByteLevel(use_regex=true) applies.
constexpr char kGpt2Pattern[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

absl::StatusOr<std::unique_ptr<PreTokenizer>> MakeRegexSplit(const std::string& pattern,
                                                             Behavior behavior, bool invert) {
  absl::StatusOr<std::unique_ptr<Regex>> regex = Regex::Compile(pattern);
  if (!regex.ok()) return regex.status();
  return std::make_unique<RegexSplitPreTokenizer>(*std::move(regex), behavior, invert);
}

}  // namespace

PieceList PieceList::Of(std::string_view text) {
  PieceList list;
  list.buffer = std::string(text);
  if (!text.empty()) list.ranges.emplace_back(0, static_cast<uint32_t>(text.size()));
  return list;
}

std::vector<std::string> PieceList::ToStrings() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < size(); ++i) out.emplace_back((*this)[i]);
  return out;
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> ParsePreTokenizer(const nlohmann::json& j) {
  if (j.is_null()) return nullptr;
  const std::string type = j.value("type", "");
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (const auto& item : j.value("pretokenizers", nlohmann::json::array())) {
      absl::StatusOr<std::unique_ptr<PreTokenizer>> step = ParsePreTokenizer(item);
      if (!step.ok()) return step.status();
      if (*step) steps.push_back(*std::move(step));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  if (type == "Split") {
    absl::StatusOr<std::unique_ptr<Regex>> pattern =
        ParsePattern(j.value("pattern", nlohmann::json()));
    if (!pattern.ok()) return pattern.status();
    absl::StatusOr<Behavior> behavior = ParseBehavior(j.value("behavior", ""));
    if (!behavior.ok()) return behavior.status();
    return std::make_unique<RegexSplitPreTokenizer>(*std::move(pattern), *behavior,
                                                    j.value("invert", false));
  }
  if (type == "Digits") {
    // Rust's char::is_numeric: categories Nd, Nl and No, i.e. \p{N}.
    return MakeRegexSplit(
        "\\p{N}", j.value("individual_digits", false) ? Behavior::kIsolated : Behavior::kContiguous,
        false);
  }
  if (type == "ByteLevel") {
    std::unique_ptr<Regex> regex;
    if (j.value("use_regex", true)) {
      absl::StatusOr<std::unique_ptr<Regex>> compiled = Regex::Compile(kGpt2Pattern);
      if (!compiled.ok()) return compiled.status();
      regex = *std::move(compiled);
    }
    return std::make_unique<ByteLevelPreTokenizer>(j.value("add_prefix_space", true),
                                                   std::move(regex));
  }
  if (type == "Metaspace") {
    std::string scheme = j.value("prepend_scheme", "");
    if (scheme.empty()) scheme = j.value("add_prefix_space", true) ? "always" : "never";
    MetaspacePreTokenizer::Prepend prepend;
    if (scheme == "always") {
      prepend = MetaspacePreTokenizer::Prepend::kAlways;
    } else if (scheme == "first") {
      prepend = MetaspacePreTokenizer::Prepend::kFirst;
    } else if (scheme == "never") {
      prepend = MetaspacePreTokenizer::Prepend::kNever;
    } else {
      return absl::UnimplementedError(absl::StrCat("unsupported prepend_scheme \"", scheme, "\""));
    }
    return std::make_unique<MetaspacePreTokenizer>(j.value("replacement", "\xE2\x96\x81"), prepend,
                                                   j.value("split", true));
  }
  if (type == "Whitespace") return MakeRegexSplit("\\w+|[^\\w\\s]+", Behavior::kRemoved, true);
  if (type == "WhitespaceSplit") return MakeRegexSplit("\\s+", Behavior::kRemoved, false);
  return absl::UnimplementedError(absl::StrCat("unsupported pre_tokenizer type \"", type, "\""));
}

}  // namespace dsm
