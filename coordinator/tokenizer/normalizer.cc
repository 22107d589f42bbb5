#include "coordinator/tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/tokenizer/pattern.h"
#include "coordinator/tokenizer/utf8.h"
#include "nlohmann/json.hpp"

namespace dsm {
namespace {

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps)
      : steps_(std::move(steps)) {}
  std::string Normalize(std::string_view text) const override {
    std::string s(text);
    for (const auto& step : steps_) s = step->Normalize(s);
    return s;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string Normalize(std::string_view text) const override {
    return text.empty() ? std::string() : prefix_ + std::string(text);  // HF: only non-empty
  }

 private:
  std::string prefix_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(std::unique_ptr<Regex> pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  std::string Normalize(std::string_view text) const override {
    std::string out;
    size_t last = 0;
    for (const auto& [begin, end] : pattern_->FindAll(text)) {
      out.append(text.substr(last, begin - last));
      out += content_;
      last = end;
    }
    out.append(text.substr(last));
    return out;
  }

 private:
  std::unique_ptr<Regex> pattern_;
  std::string content_;
};

class Utf8procNormalizer : public Normalizer {
 public:
  explicit Utf8procNormalizer(int options) : options_(options) {}
  std::string Normalize(std::string_view text) const override {
    utf8proc_uint8_t* out = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                            static_cast<utf8proc_ssize_t>(text.size()), &out,
                                            static_cast<utf8proc_option_t>(options_));
    if (n < 0) return std::string(text);  // input is validated UTF-8 before this point
    std::string result(reinterpret_cast<char*>(out), n);
    std::free(out);
    return result;
  }

 private:
  int options_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  std::string Normalize(std::string_view text) const override {
    std::string out;
    for (size_t i = 0; i < text.size();) {
      AppendUtf8(static_cast<char32_t>(utf8proc_tolower(NextCodePoint(text, i))), out);
    }
    return out;
  }
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  std::string Normalize(std::string_view text) const override {
    auto is_space = [](char32_t c) {
      return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
             (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
             c == 0x205F || c == 0x3000;
    };
    size_t begin = 0, end = text.size();
    if (left_) {
      for (size_t i = 0; i < text.size();) {
        const size_t at = i;
        if (!is_space(NextCodePoint(text, i))) {
          begin = at;
          break;
        }
        begin = i;
      }
    }
    if (right_) {
      size_t last_non_space = begin;
      for (size_t i = begin; i < text.size();) {
        if (!is_space(NextCodePoint(text, i))) last_non_space = i;
      }
      end = last_non_space;
    }
    return std::string(text.substr(begin, end - begin));
  }

 private:
  bool left_, right_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Normalizer>> ParseNormalizer(const nlohmann::json& j) {
  if (j.is_null()) return nullptr;
  const std::string type = j.value("type", "");
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (const auto& item : j.value("normalizers", nlohmann::json::array())) {
      absl::StatusOr<std::unique_ptr<Normalizer>> step = ParseNormalizer(item);
      if (!step.ok()) return step.status();
      if (*step) steps.push_back(*std::move(step));
    }
    return std::make_unique<SequenceNormalizer>(std::move(steps));
  }
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(j.value("prepend", ""));
  if (type == "Replace") {
    absl::StatusOr<std::unique_ptr<Regex>> pattern =
        ParsePattern(j.value("pattern", nlohmann::json()));
    if (!pattern.ok()) return pattern.status();
    return std::make_unique<ReplaceNormalizer>(*std::move(pattern), j.value("content", ""));
  }
  if (type == "NFC")
    return std::make_unique<Utf8procNormalizer>(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
  if (type == "NFD") {
    return std::make_unique<Utf8procNormalizer>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
  }
  if (type == "NFKC") {
    return std::make_unique<Utf8procNormalizer>(UTF8PROC_STABLE | UTF8PROC_COMPOSE |
                                                UTF8PROC_COMPAT);
  }
  if (type == "NFKD") {
    return std::make_unique<Utf8procNormalizer>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE |
                                                UTF8PROC_COMPAT);
  }
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  if (type == "Strip") {
    return std::make_unique<StripNormalizer>(j.value("strip_left", true),
                                             j.value("strip_right", true));
  }
  return absl::UnimplementedError(absl::StrCat("unsupported normalizer type \"", type, "\""));
}

}  // namespace dsm
