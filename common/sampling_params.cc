#include "common/sampling_params.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace dsm {

absl::Status SamplingParams::Validate() const {
  auto bad = [](const char* field, double value, const char* range) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " = ", value, " is outside its valid range ", range));
  };
  if (!std::isfinite(temperature) || temperature < 0)
    return bad("temperature", temperature, ">= 0");
  if (top_k < 0) return bad("top_k", top_k, ">= 0");
  if (!(top_p > 0 && top_p <= 1)) return bad("top_p", top_p, "(0, 1]");
  if (!(min_p >= 0 && min_p <= 1)) return bad("min_p", min_p, "[0, 1]");
  if (!(repetition_penalty > 0) || !std::isfinite(repetition_penalty)) {
    return bad("repetition_penalty", repetition_penalty, "> 0");
  }
  if (!(presence_penalty >= -2 && presence_penalty <= 2)) {
    return bad("presence_penalty", presence_penalty, "[-2, 2]");
  }
  if (!(frequency_penalty >= -2 && frequency_penalty <= 2)) {
    return bad("frequency_penalty", frequency_penalty, "[-2, 2]");
  }
  if (logprobs < 0 || logprobs > kMaxLogprobs) return bad("logprobs", logprobs, "[0, 20]");
  return absl::OkStatus();
}

}  // namespace dsm
