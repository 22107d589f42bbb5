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

// Splits one piece at the matches of `regex` the way HF's NormalizedString::split does.
void SplitPiece(std::string_view piece, const Regex& regex, Behavior behavior, bool invert,
                std::vector<std::string>& out) {
  struct Segment {
    size_t begin, end;
    bool is_match;
  };
  std::vector<Segment> segments;
  size_t last = 0;
  for (const auto& [begin, end] : regex.FindAll(piece)) {
    if (begin > last) segments.push_back({last, begin, invert});
    segments.push_back({begin, end, !invert});
    last = end;
  }
  if (last < piece.size()) segments.push_back({last, piece.size(), invert});

  const size_t first = out.size();  // pieces before this one are not merged into
  auto out_begin_empty = [](const std::vector<std::string>& v, size_t from) {
    return v.size() <= from;
  };
  auto text = [&](const Segment& s) { return std::string(piece.substr(s.begin, s.end - s.begin)); };
  switch (behavior) {
    case Behavior::kRemoved:
      for (const Segment& s : segments) {
        if (!s.is_match) out.push_back(text(s));
      }
      return;
    case Behavior::kIsolated:
      for (const Segment& s : segments) out.push_back(text(s));
      return;
    case Behavior::kContiguous: {
      bool previous_match = false;
      for (const Segment& s : segments) {
        if (s.is_match && previous_match) {
          out.back() += text(s);
        } else {
          out.push_back(text(s));
        }
        previous_match = s.is_match;
      }
      return;
    }
    case Behavior::kMergedWithPrevious: {
      // A match joins the segment before it unless that one is a match too (HF).
      bool previous_match = false;
      for (const Segment& s : segments) {
        if (s.is_match && !previous_match && !out_begin_empty(out, first)) {
          out.back() += text(s);
        } else {
          out.push_back(text(s));
        }
        previous_match = s.is_match;
      }
      return;
    }
    case Behavior::kMergedWithNext: {
      // A match joins the segment after it unless that one is a match too (HF).
      std::vector<std::string> reversed;
      bool next_match = false;
      for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
        if (it->is_match && !next_match && !reversed.empty()) {
          reversed.back() = text(*it) + reversed.back();
        } else {
          reversed.push_back(text(*it));
        }
        next_match = it->is_match;
      }
      out.insert(out.end(), reversed.rbegin(), reversed.rend());
      return;
    }
  }
}

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  void Split(std::vector<std::string>& pieces, bool first_section) const override {
    for (const auto& step : steps_) step->Split(pieces, first_section);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

class RegexSplitPreTokenizer : public PreTokenizer {
 public:
  RegexSplitPreTokenizer(std::unique_ptr<Regex> regex, Behavior behavior, bool invert)
      : regex_(std::move(regex)), behavior_(behavior), invert_(invert) {}
  void Split(std::vector<std::string>& pieces, bool) const override {
    std::vector<std::string> out;
    out.reserve(pieces.size());
    for (const std::string& piece : pieces) SplitPiece(piece, *regex_, behavior_, invert_, out);
    pieces = std::move(out);
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
  void Split(std::vector<std::string>& pieces, bool) const override {
    std::vector<std::string> split;
    for (std::string& piece : pieces) {
      if (add_prefix_space_ && !piece.empty() && piece[0] != ' ') piece.insert(0, " ");
      if (regex_) {
        SplitPiece(piece, *regex_, Behavior::kIsolated, false, split);
      } else {
        split.push_back(std::move(piece));
      }
    }
    const ByteAlphabet& alphabet = ByteAlphabet::Get();
    for (std::string& piece : split) piece = alphabet.EncodeBytes(piece);
    pieces = std::move(split);
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
  void Split(std::vector<std::string>& pieces, bool first_section) const override {
    std::vector<std::string> out;
    for (size_t p = 0; p < pieces.size(); ++p) {
      std::string s = absl::StrReplaceAll(pieces[p], {{" ", replacement_}});
      const bool prepend =
          prepend_ == Prepend::kAlways || (prepend_ == Prepend::kFirst && first_section && p == 0);
      if (prepend && s.rfind(replacement_, 0) != 0) s.insert(0, replacement_);
      if (!split_) {
        out.push_back(std::move(s));
        continue;
      }
      // Split before each replacement character (MergedWithNext).
      size_t start = 0;
      for (size_t at = s.find(replacement_, 1); at != std::string::npos;
           at = s.find(replacement_, at + 1)) {
        if (at > start) out.push_back(s.substr(start, at - start));
        start = at;
      }
      if (start < s.size()) out.push_back(s.substr(start));
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
