#include "tools/loadtest/workload.h"

#include <algorithm>
#include <cmath>
#include <fstream>

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

absl::StatusOr<Workload> Workload::FromJsonl(const std::string& path, LengthDistribution output,
                                             uint64_t seed) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open the prompt file ", path));
  Workload w;
  w.output_ = output;
  w.seed_ = seed;
  std::mt19937_64 rng(seed);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    auto bad = [&](const std::string& why) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", number, ": ", why));
    };
    if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
    RequestSpec r;
    if (j.contains("prompt") && j["prompt"].is_string()) {
      r.text = j["prompt"].get<std::string>();
    } else if (j.contains("prompt_token_ids") && j["prompt_token_ids"].is_array()) {
      for (const auto& id : j["prompt_token_ids"]) {
        if (!id.is_number_integer()) return bad("prompt_token_ids must be integers");
        r.token_ids.push_back(id.get<int32_t>());
      }
    } else {
      return bad("needs \"prompt\" (a string) or \"prompt_token_ids\" (integers)");
    }
    if (j.contains("max_tokens")) {
      if (!j["max_tokens"].is_number_integer() || j["max_tokens"].get<int>() < 1) {
        return bad("max_tokens must be an integer >= 1");
      }
      r.max_tokens = j["max_tokens"].get<int>();
    } else {
      r.max_tokens = output.Draw(rng);
    }
    w.file_requests_.push_back(std::move(r));
  }
  if (w.file_requests_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("the prompt file ", path, " holds no prompt"));
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
