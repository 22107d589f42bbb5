#include "tools/eval/eval_command.h"

#include <cstdio>
#include <fstream>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "tools/eval/score.h"

ABSL_FLAG(std::string, score_only, "",
          "eval: score this JSONL file of {\"completion\", \"answer\"} lines ('-' = stdin) "
          "without a model; one JSON line per input line on stdout, accuracy on stderr");

namespace dsm {
namespace {

int ScoreOnlyMain(const std::string& path) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path);
    if (!file) {
      std::fprintf(stderr, "dsm eval: cannot read --score-only file %s\n", path.c_str());
      return 2;
    }
    in = &file;
  }
  const ScoreSummary summary = ScoreJsonl(*in, std::cout, std::cerr);
  std::cout.flush();
  const double accuracy =
      summary.lines > 0 ? static_cast<double>(summary.correct) / summary.lines : 0.0;
  std::cerr << absl::StrFormat("accuracy: %.4f (%d/%d correct)", accuracy, summary.correct,
                               summary.lines);
  if (summary.invalid > 0) std::cerr << absl::StrFormat(", %d invalid lines", summary.invalid);
  std::cerr << "\n";
  return summary.invalid > 0 ? 1 : 0;
}

}  // namespace

int EvalMain(const EvalClientFlags& shared) {
  (void)shared;
  const std::string score_only = absl::GetFlag(FLAGS_score_only);
  if (!score_only.empty()) return ScoreOnlyMain(score_only);
  std::fprintf(stderr, "dsm eval: give --score-only FILE, or --addr and --data\n");
  return 2;
}

}  // namespace dsm
