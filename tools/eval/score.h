#pragma once
// Scoring math completions against reference answers (`dsm eval --score-only`).

#include <iosfwd>
#include <optional>
#include <string>

namespace dsm {

struct ScoredAnswer {
  std::optional<std::string> extracted;  // normalized final answer of the completion
  std::string expected;                  // normalized reference answer
  bool correct = false;
};

// Extracts and normalizes the completion's final answer and compares it with the
// reference (a bare answer, or GSM8K's solution text ending "#### n").
ScoredAnswer ScoreCompletion(const std::string& completion, const std::string& reference);

struct ScoreSummary {
  int64_t lines = 0;  // scored lines (blank lines are skipped)
  int64_t correct = 0;
  int64_t invalid = 0;  // lines that were not {"completion": string, "answer": ...}
};

// Reads JSONL lines {"completion": ..., "answer": ...} from `in` and writes, for each,
// one JSON line {"extracted": string|null, "expected": string, "correct": bool} to
// `out`, in order (an unreadable line gets {"extracted": null, "correct": false,
// "error": ...}). Problems are named on `err` with their line numbers.
ScoreSummary ScoreJsonl(std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace dsm
