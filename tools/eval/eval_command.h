#pragma once
// `dsm eval`: runs a math problem set against a server and scores the final answers, or
// (--score-only) scores a file of prepared completions without a model.

#include <cstdint>
#include <string>

namespace dsm {

// Options shared with the other client commands (dsm_main owns those flags).
struct EvalClientFlags {
  std::string address;
  float temperature = 0;
  uint64_t seed = 0;
  double timeout_s = 0;
  int max_tokens = 0;
  std::string api_key;
};

int EvalMain(const EvalClientFlags& shared);

}  // namespace dsm
