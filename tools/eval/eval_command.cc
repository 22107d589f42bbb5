#include "tools/eval/eval_command.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "tools/eval/eval_runner.h"
#include "tools/eval/prompt_templates.h"
#include "tools/eval/score.h"

ABSL_DECLARE_FLAG(int, concurrency);  // shared with loadtest

ABSL_FLAG(std::string, data, "",
          "eval: JSONL problem set: {\"problem\", \"answer\"} or GSM8K's {\"question\", "
          "\"answer\" ending \"#### n\"}");
ABSL_FLAG(std::string, template, "cot",
          "eval: prompt template: cot (the model card's chain-of-thought instruction, chat), "
          "cot-zh (the same in Chinese), few-shot (4 worked examples, for the base model), raw");
ABSL_FLAG(int, vote, 1,
          "eval: samples per problem (1..16); more than 1 takes the majority "
          "answer (set --temperature > 0)");
ABSL_FLAG(bool, early_stop, false,
          "eval: with --vote, stop a problem's remaining samples once its leading answer "
          "cannot be overtaken");
ABSL_FLAG(float, vote_confidence, 0,
          "eval: with --vote, stop once the leader holds this share of the answers (0 = off)");
ABSL_FLAG(std::string, output, "", "eval: write one JSON line per problem here");
ABSL_FLAG(int64_t, limit, 0, "eval: only the first N problems (0 = all)");
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
  const std::string score_only = absl::GetFlag(FLAGS_score_only);
  if (!score_only.empty()) return ScoreOnlyMain(score_only);
  const std::string data = absl::GetFlag(FLAGS_data);
  if (data.empty()) {
    std::fprintf(stderr, "dsm eval: give --data FILE.jsonl (with --addr), or --score-only FILE\n");
    return 2;
  }
  EvalOptions options;
  if (!shared.address.empty()) options.address = shared.address;
  options.api_key = shared.api_key;
  options.template_name = absl::GetFlag(FLAGS_template);
  options.concurrency = absl::GetFlag(FLAGS_concurrency);
  options.samples = absl::GetFlag(FLAGS_vote);
  options.early_stop = absl::GetFlag(FLAGS_early_stop);
  options.vote_confidence = absl::GetFlag(FLAGS_vote_confidence);
  options.progress_bar = isatty(STDERR_FILENO) != 0;
  options.max_tokens = shared.max_tokens;
  options.temperature = shared.temperature;
  options.seed = shared.seed;
  options.timeout_s = shared.timeout_s;
  if (options.samples < 1 || options.samples > 16) {
    std::fprintf(stderr, "dsm eval: --vote must be in 1..16, got %d\n", options.samples);
    return 2;
  }
  if (options.samples > 1 && options.temperature <= 0) {
    std::fprintf(stderr, "dsm eval: --vote %d needs --temperature > 0 (greedy samples agree)\n",
                 options.samples);
    return 2;
  }
  if (options.concurrency < 1) {
    std::fprintf(stderr, "dsm eval: --concurrency must be >= 1\n");
    return 2;
  }
  if (absl::StatusOr<MathPrompt> check = BuildMathPrompt(options.template_name, ""); !check.ok()) {
    std::fprintf(stderr, "dsm eval: %s\n", std::string(check.status().message()).c_str());
    return 2;
  }
  std::ifstream file(data);
  if (!file) {
    std::fprintf(stderr, "dsm eval: cannot read --data file %s\n", data.c_str());
    return 2;
  }
  absl::StatusOr<std::vector<EvalItem>> items = ReadEvalItems(file);
  if (!items.ok()) {
    std::fprintf(stderr, "dsm eval: %s\n", std::string(items.status().message()).c_str());
    return 2;
  }
  if (const int64_t limit = absl::GetFlag(FLAGS_limit);
      limit > 0 && static_cast<size_t>(limit) < items->size()) {
    items->resize(limit);
  }
  std::ofstream output;
  if (const std::string path = absl::GetFlag(FLAGS_output); !path.empty()) {
    output.open(path);
    if (!output) {
      std::fprintf(stderr, "dsm eval: cannot write --output file %s\n", path.c_str());
      return 2;
    }
  }
  const EvalReport report =
      RunEval(options, *items, output.is_open() ? &output : nullptr, std::cerr);
  const double accuracy = report.items > 0 ? static_cast<double>(report.correct) / report.items : 0;
  std::printf(
      "problems: %lld  correct: %lld  accuracy: %.4f  failed: %lld\n"
      "completion tokens: %lld  time: %.2f s  throughput: %.1f tok/s, %.2f problems/s\n",
      static_cast<long long>(report.items), static_cast<long long>(report.correct), accuracy,
      static_cast<long long>(report.failed), static_cast<long long>(report.completion_tokens),
      report.seconds, report.seconds > 0 ? report.completion_tokens / report.seconds : 0.0,
      report.seconds > 0 ? report.items / report.seconds : 0.0);
  return report.failed > 0 ? 1 : 0;
}

}  // namespace dsm
