#include "tools/eval/prompt_templates.h"

#include "absl/strings/str_cat.h"

namespace dsm {
namespace {

// Worked examples in the style of the base model's few-shot evaluation: each solution
// reasons briefly and ends with "The answer is X." so the extractor finds it.
constexpr const char* kFewShot =
    "Question: Natalia sold clips to 48 of her friends in April, and then she sold half as "
    "many clips in May. How many clips did Natalia sell altogether in April and May?\n"
    "Answer: In May she sold 48 / 2 = 24 clips. Altogether she sold 48 + 24 = 72 clips. "
    "The answer is 72.\n\n"
    "Question: What is the value of $\\frac{1}{2} + \\frac{1}{3}$?\n"
    "Answer: With the common denominator 6, $\\frac{3}{6} + \\frac{2}{6} = \\frac{5}{6}$. "
    "The answer is $\\frac{5}{6}$.\n\n"
    "Question: Solve for $x$: $2x + 3 = 11$.\n"
    "Answer: Subtracting 3 gives $2x = 8$, so $x = 4$. The answer is 4.\n\n"
    "Question: A rectangle has length 7 cm and width 5 cm. What is its area in square "
    "centimeters?\n"
    "Answer: The area is length times width, $7 \\times 5 = 35$. The answer is 35.\n\n";

}  // namespace

absl::StatusOr<MathPrompt> BuildMathPrompt(const std::string& template_name,
                                           const std::string& problem) {
  MathPrompt prompt;
  if (template_name == "cot") {
    prompt.chat = true;
    prompt.text = absl::StrCat(
        problem, "\nPlease reason step by step, and put your final answer within \\boxed{}.");
  } else if (template_name == "cot-zh") {
    prompt.chat = true;
    prompt.text =
        absl::StrCat(problem, "\n请通过逐步推理来解答问题，并把最终答案放置于\\boxed{}中。");
  } else if (template_name == "few-shot") {
    prompt.text = absl::StrCat(kFewShot, "Question: ", problem, "\nAnswer:");
    prompt.stop = {"\n\nQuestion:"};
  } else if (template_name == "raw") {
    prompt.text = problem;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--template must be cot, cot-zh, few-shot or raw, got '", template_name, "'"));
  }
  return prompt;
}

}  // namespace dsm
