#include "coordinator/tokenizer/decoder.h"

#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "coordinator/tokenizer/byte_alphabet.h"
#include "coordinator/tokenizer/pattern.h"
#include "coordinator/tokenizer/utf8.h"
#include "nlohmann/json.hpp"

namespace dsm {
namespace {

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps)
      : steps_(std::move(steps)) {}
  void Decode(std::vector<DecodingToken>& tokens) const override {
    for (const auto& step : steps_) step->Decode(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

// Maps alphabet characters back to bytes across all tokens, then decodes UTF-8 lossily.
class ByteLevelDecoder : public Decoder {
 public:
  void Decode(std::vector<DecodingToken>& tokens) const override {
    const ByteAlphabet& alphabet = ByteAlphabet::Get();
    std::string bytes;
    for (const DecodingToken& t : tokens) {
      if (t.literal) {
        bytes += t.text;
        continue;
      }
      // A token with a character outside the alphabet keeps its raw bytes (as HF does).
      std::string decoded;
      bool all_in_alphabet = true;
      for (size_t i = 0; i < t.text.size() && all_in_alphabet;) {
        if (ValidSequenceLength(t.text, i) == 0) {
          all_in_alphabet = false;
          break;
        }
        std::optional<uint8_t> b = alphabet.Decode(NextCodePoint(t.text, i));
        if (b) {
          decoded += static_cast<char>(*b);
        } else {
          all_in_alphabet = false;
        }
      }
      bytes += all_in_alphabet ? decoded : t.text;
    }
    tokens = {DecodingToken{DecodeUtf8Lossy(bytes), true}};
  }
};

// <0xXX> tokens become bytes; runs of them that are not valid UTF-8 become one U+FFFD
// per byte (HF).
class ByteFallbackDecoder : public Decoder {
 public:
  void Decode(std::vector<DecodingToken>& tokens) const override {
    std::vector<DecodingToken> out;
    std::string pending;
    size_t pending_count = 0;
    auto flush = [&] {
      if (pending_count == 0) return;
      if (ValidateUtf8(pending).ok()) {
        out.push_back({pending, false});
      } else {
        std::string replacement;
        for (size_t i = 0; i < pending_count; ++i) replacement += kReplacementCharacter;
        out.push_back({replacement, false});
      }
      pending.clear();
      pending_count = 0;
    };
    for (DecodingToken& t : tokens) {
      const std::string& s = t.text;
      if (!t.literal && s.size() == 6 && s.rfind("<0x", 0) == 0 && s[5] == '>' &&
          std::isxdigit(static_cast<unsigned char>(s[3])) &&
          std::isxdigit(static_cast<unsigned char>(s[4]))) {
        pending += static_cast<char>(std::stoi(s.substr(3, 2), nullptr, 16));
        ++pending_count;
        continue;
      }
      flush();
      out.push_back(std::move(t));
    }
    flush();
    tokens = std::move(out);
  }
};

class FuseDecoder : public Decoder {
 public:
  void Decode(std::vector<DecodingToken>& tokens) const override {
    std::string joined;
    for (const DecodingToken& t : tokens) joined += t.text;
    tokens = {DecodingToken{joined, false}};
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, int start, int stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  void Decode(std::vector<DecodingToken>& tokens) const override {
    for (DecodingToken& t : tokens) {
      if (t.literal) continue;
      for (int i = 0; i < start_ && t.text.rfind(content_, 0) == 0; ++i) {
        t.text.erase(0, content_.size());
      }
      for (int i = 0;
           i < stop_ && t.text.size() >= content_.size() &&
           t.text.compare(t.text.size() - content_.size(), content_.size(), content_) == 0;
           ++i) {
        t.text.resize(t.text.size() - content_.size());
      }
    }
  }

 private:
  std::string content_;
  int start_, stop_;
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(std::unique_ptr<Regex> pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void Decode(std::vector<DecodingToken>& tokens) const override {
    for (DecodingToken& t : tokens) {
      if (t.literal) continue;
      std::string out;
      size_t last = 0;
      for (const auto& [begin, end] : pattern_->FindAll(t.text)) {
        out.append(t.text, last, begin - last);
        out += content_;
        last = end;
      }
      out.append(t.text, last);
      t.text = std::move(out);
    }
  }

 private:
  std::unique_ptr<Regex> pattern_;
  std::string content_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first)
      : replacement_(std::move(replacement)), strip_first_(strip_first) {}
  void Decode(std::vector<DecodingToken>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      DecodingToken& t = tokens[i];
      if (t.literal) continue;
      t.text = absl::StrReplaceAll(t.text, {{replacement_, " "}});
      if (i == 0 && strip_first_ && !t.text.empty() && t.text[0] == ' ') t.text.erase(0, 1);
    }
  }

 private:
  std::string replacement_;
  bool strip_first_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Decoder>> ParseDecoder(const nlohmann::json& j) {
  if (j.is_null()) return nullptr;
  const std::string type = j.value("type", "");
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> steps;
    for (const auto& item : j.value("decoders", nlohmann::json::array())) {
      absl::StatusOr<std::unique_ptr<Decoder>> step = ParseDecoder(item);
      if (!step.ok()) return step.status();
      if (*step) steps.push_back(*std::move(step));
    }
    return std::make_unique<SequenceDecoder>(std::move(steps));
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") {
    // Counts are checked before conversion: a float like 1e30 would be undefined as an int,
    // and a huge count with an empty content would loop that many times per token.
    constexpr int64_t kMaxStrip = 1 << 16;
    int start = 0, stop = 0;
    for (auto [key, out] : {std::pair{"start", &start}, std::pair{"stop", &stop}}) {
      const nlohmann::json count = j.value(key, nlohmann::json(0));
      if (!count.is_number_integer() || count.get<int64_t>() < 0 ||
          count.get<int64_t>() > kMaxStrip) {
        return absl::InvalidArgumentError(
            absl::StrCat("Strip decoder: ", key, " must be an integer in [0, ", kMaxStrip, "]"));
      }
      *out = count.get<int>();
    }
    return std::make_unique<StripDecoder>(j.value("content", " "), start, stop);
  }
  if (type == "Replace") {
    absl::StatusOr<std::unique_ptr<Regex>> pattern =
        ParsePattern(j.value("pattern", nlohmann::json()));
    if (!pattern.ok()) return pattern.status();
    return std::make_unique<ReplaceDecoder>(*std::move(pattern), j.value("content", ""));
  }
  if (type == "Metaspace") {
    std::string scheme = j.value("prepend_scheme", "");
    if (scheme.empty()) scheme = j.value("add_prefix_space", true) ? "always" : "never";
    return std::make_unique<MetaspaceDecoder>(j.value("replacement", "\xE2\x96\x81"),
                                              scheme != "never");
  }
  return absl::UnimplementedError(absl::StrCat("unsupported decoder type \"", type, "\""));
}

}  // namespace dsm
