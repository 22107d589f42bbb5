#pragma once
// Running `dsm run` as a user would, and reading what it prints.

#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/support/test_env.h"

namespace dsm::testing {

struct RunOutput {
  CommandResult command;
  std::vector<nlohmann::json> lines;  // parsed stdout lines
};

inline std::string PromptsJsonl(const std::vector<std::vector<int32_t>>& prompts) {
  std::string text;
  for (const auto& p : prompts) text += nlohmann::json{{"prompt_token_ids", p}}.dump() + "\n";
  return text;
}

// dsm run --model DIR <args> with the JSONL on stdin.
inline RunOutput DsmRun(const std::string& model_dir, const std::vector<std::string>& args,
                        const std::string& jsonl) {
  std::vector<std::string> argv = {BinDir() + "/dsm", "run", "--model", model_dir};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOutput out;
  out.command = RunCommand(argv, jsonl);
  size_t start = 0;
  while (start < out.command.out.size()) {
    size_t end = out.command.out.find('\n', start);
    if (end == std::string::npos) end = out.command.out.size();
    if (end > start)
      out.lines.push_back(nlohmann::json::parse(out.command.out.substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

}  // namespace dsm::testing
