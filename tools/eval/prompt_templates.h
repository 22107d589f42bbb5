#pragma once
// Prompts for DeepSeek-Math as its model card recommends: chain-of-thought instructions
// for the instruct and RL models (chat), few-shot worked examples for the base model.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dsm {

struct MathPrompt {
  bool chat = false;  // a user message through Chat (its template), else raw text
  std::string text;
  std::vector<std::string> stop;  // stop strings (few-shot: the next "Question:")
};

// Template names: "cot" (English chain of thought), "cot-zh" (Chinese), "few-shot" (4
// worked examples, for the base model), "raw" (the problem as is).
absl::StatusOr<MathPrompt> BuildMathPrompt(const std::string& template_name,
                                           const std::string& problem);

}  // namespace dsm
