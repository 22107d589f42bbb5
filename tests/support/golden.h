#pragma once
// Golden test cases of the shared models (stories260K: a list; tiny-deepseek: {"cases":
// [...]}) and a greedy run of one case through a StepRunner, for every backend's tests.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/step_runner.h"

namespace dsm::testing {

struct GoldenCase {
  std::vector<int32_t> prompt;
  std::vector<float> last_logits;  // at the last prompt position
  std::vector<int32_t> greedy;     // greedy continuation, EOS ignored
};

std::vector<GoldenCase> LoadGoldenCases(const std::string& path);

struct GreedyRun {
  std::vector<float> prompt_logits;  // after the whole prompt
  std::vector<int32_t> tokens;       // greedy.size() tokens
};

// Runs the cases together: one prefill step with every prompt, then decode steps with
// every sequence (the batched path, CUDA graphs included). Case c uses blocks
// [c * blocks_per_case, ...).
absl::StatusOr<std::vector<GreedyRun>> RunGreedyBatch(StepRunner& runner,
                                                      const std::vector<GoldenCase>& cases,
                                                      int blocks_per_case);

double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace dsm::testing
