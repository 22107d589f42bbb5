#include "tools/loadtest/workload.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <functional>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace dsm::loadtest {

absl::StatusOr<LengthDistribution> LengthDistribution::Parse(const std::string& text) {
  const std::vector<std::string> parts = absl::StrSplit(text, ':');
  std::vector<double> values;
  for (size_t i = 1; i < parts.size(); ++i) {
    double v;
    if (!absl::SimpleAtod(parts[i], &v) || v < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("length distribution '", text, "': '", parts[i], "' is not a number >= 0"));
    }
    values.push_back(v);
  }
  LengthDistribution d;
  const std::string& kind = parts[0];
  if (kind == "fixed" && values.size() == 1 && values[0] >= 1) {
    d.kind = Kind::kFixed;
    d.mean = values[0];
  } else if (kind == "uniform" && values.size() == 2 && values[0] >= 1 && values[1] >= values[0]) {
    d.kind = Kind::kUniform;
    d.min = static_cast<int>(values[0]);
    d.max = static_cast<int>(values[1]);
    d.mean = (values[0] + values[1]) / 2;
  } else if (kind == "normal" && (values.size() == 2 || values.size() == 4) && values[0] >= 1) {
    d.kind = Kind::kNormal;
    d.mean = values[0];
    d.stddev = values[1];
    d.min = values.size() == 4 ? static_cast<int>(values[2]) : 1;
    d.max = values.size() == 4 ? static_cast<int>(values[3]) : 1 << 20;
    if (d.min < 1 || d.max < d.min) {
      return absl::InvalidArgumentError(
          absl::StrCat("length distribution '", text, "': need 1 <= MIN <= MAX"));
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "length distribution '", text,
        "' is not fixed:N, uniform:MIN:MAX or normal:MEAN:STDDEV[:MIN:MAX] (lengths >= 1)"));
  }
  return d;
}

int LengthDistribution::Draw(std::mt19937_64& rng) const {
  switch (kind) {
    case Kind::kFixed:
      return static_cast<int>(mean);
    case Kind::kUniform:
      return std::uniform_int_distribution<int>(min, max)(rng);
    case Kind::kNormal: {
      const double v = std::normal_distribution<double>(mean, stddev)(rng);
      return std::clamp(static_cast<int>(std::lround(v)), min, max);
    }
  }
  return 1;
}

namespace {

using nlohmann::json;

// One JSONL request; `bad` names the line in errors.
absl::StatusOr<RequestSpec> ParseRequestLine(const json& j, const LengthDistribution& output,
                                             std::mt19937_64& rng,
                                             const std::function<absl::Status(std::string)>& bad) {
  if (!j.is_object()) return bad("not a JSON object");
  RequestSpec r;
  if (j.contains("prompt") && j["prompt"].is_string()) {
    r.text = j["prompt"].get<std::string>();
  } else if (j.contains("prompt_token_ids") && j["prompt_token_ids"].is_array()) {
    for (const auto& id : j["prompt_token_ids"]) {
      if (!id.is_number_integer()) return bad("prompt_token_ids must be integers");
      r.token_ids.push_back(id.get<int32_t>());
    }
  } else if (j.contains("messages") && j["messages"].is_array() && !j["messages"].empty()) {
    for (const auto& m : j["messages"]) {
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string() ||
          !m.contains("content") || !m["content"].is_string()) {
        return bad("each message needs a string \"role\" and a string \"content\"");
      }
      r.messages.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
    }
  } else {
    return bad(
        "needs \"prompt\" (a string), \"prompt_token_ids\" (integers) or \"messages\" "
        "(a non-empty list)");
  }
  if (j.contains("max_tokens")) {
    if (!j["max_tokens"].is_number_integer() || j["max_tokens"].get<int>() < 1) {
      return bad("max_tokens must be an integer >= 1");
    }
    r.max_tokens = j["max_tokens"].get<int>();
  } else {
    r.max_tokens = output.Draw(rng);
  }
  return r;
}

// The first human turn of a ShareGPT entry, if it has one.
std::optional<std::string> FirstHumanTurn(const json& entry) {
  if (!entry.is_object() || !entry.contains("conversations") ||
      !entry["conversations"].is_array()) {
    return std::nullopt;
  }
  for (const json& turn : entry["conversations"]) {
    if (!turn.is_object() || !turn.contains("value") || !turn["value"].is_string()) continue;
    const std::string from = turn.value("from", "");
    if (from == "human" || from == "user") {
      std::string value = turn["value"].get<std::string>();
      if (!value.empty()) return value;
    }
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<Workload> Workload::FromFile(const std::string& path, LengthDistribution output,
                                            uint64_t seed) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open the prompt file ", path));
  Workload w;
  w.output_ = output;
  w.seed_ = seed;
  std::mt19937_64 rng(seed);
  // A file whose first non-blank character opens an array is ShareGPT JSON.
  char first = 0;
  while (in.get(first) && std::isspace(static_cast<unsigned char>(first))) {
  }
  in.seekg(0);
  if (first == '[') {
    const json all = json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (all.is_discarded() || !all.is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": not valid JSON (a ShareGPT array)"));
    }
    for (const json& entry : all) {
      std::optional<std::string> prompt = FirstHumanTurn(entry);
      if (!prompt) continue;
      w.file_requests_.push_back(RequestSpec{*std::move(prompt), {}, {}, output.Draw(rng)});
    }
  } else {
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto bad = [&](const std::string& why) {
        return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": ", why));
      };
      absl::StatusOr<RequestSpec> r = ParseRequestLine(
          json::parse(line, nullptr, /*allow_exceptions=*/false), output, rng, bad);
      if (!r.ok()) return r.status();
      w.file_requests_.push_back(*std::move(r));
    }
  }
  if (w.file_requests_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("the prompt file ", path, " holds no prompt"));
  }
  for (const RequestSpec& r : w.file_requests_) {
    w.has_messages_ = w.has_messages_ || !r.messages.empty();
    w.has_token_ids_ = w.has_token_ids_ || !r.token_ids.empty();
  }
  return w;
}

Workload Workload::Synthetic(LengthDistribution prompt, LengthDistribution output, int vocab,
                             uint64_t seed) {
  Workload w;
  w.synthetic_ = true;
  w.prompt_ = prompt;
  w.output_ = output;
  w.vocab_ = vocab;
  w.seed_ = seed;
  return w;
}

RequestSpec Workload::Request(uint64_t index) const {
  if (!synthetic_) return file_requests_[index % file_requests_.size()];
  std::mt19937_64 rng(seed_ * 0x9e3779b97f4a7c15ull + index);
  RequestSpec r;
  const int length = prompt_.Draw(rng);
  const int low = vocab_ > 3 ? 3 : 0;
  std::uniform_int_distribution<int32_t> id(low, std::max(low, vocab_ - 1));
  for (int i = 0; i < length; ++i) r.token_ids.push_back(id(rng));
  r.max_tokens = output_.Draw(rng);
  return r;
}

}  // namespace dsm::loadtest
