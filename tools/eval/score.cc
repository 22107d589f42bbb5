#include "tools/eval/score.h"

#include <istream>
#include <ostream>

#include "absl/strings/ascii.h"
#include "answers/final_answer.h"
#include "answers/normalize_answer.h"
#include "nlohmann/json.hpp"

namespace dsm {
namespace {

// A reference given as a JSON number or string, as text.
std::optional<std::string> ReferenceText(const nlohmann::json& answer) {
  if (answer.is_string()) return answer.get<std::string>();
  if (answer.is_number_integer()) return std::to_string(answer.get<int64_t>());
  if (answer.is_number()) return answer.dump();
  return std::nullopt;
}

}  // namespace

ScoredAnswer ScoreCompletion(const std::string& completion, const std::string& reference) {
  ScoredAnswer scored;
  scored.expected = answers::NormalizeAnswer(answers::ReferenceAnswer(reference));
  if (std::optional<std::string> raw = answers::ExtractFinalAnswer(completion)) {
    std::string normalized = answers::NormalizeAnswer(*raw);
    if (!normalized.empty()) scored.extracted = std::move(normalized);
  }
  scored.correct =
      scored.extracted && !scored.expected.empty() && *scored.extracted == scored.expected;
  return scored;
}

ScoreSummary ScoreJsonl(std::istream& in, std::ostream& out, std::ostream& err) {
  ScoreSummary summary;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    ++summary.lines;
    nlohmann::json result;
    const nlohmann::json item = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    std::string problem;
    if (item.is_discarded() || !item.is_object()) {
      problem = "not a JSON object";
    } else if (!item.contains("completion") || !item["completion"].is_string()) {
      problem = "needs \"completion\" (a string)";
    } else if (!item.contains("answer") || !ReferenceText(item["answer"])) {
      problem = "needs \"answer\" (a string or number)";
    }
    if (!problem.empty()) {
      ++summary.invalid;
      err << "line " << number << ": " << problem << "\n";
      result = {{"extracted", nullptr}, {"correct", false}, {"error", problem}};
    } else {
      const ScoredAnswer scored =
          ScoreCompletion(item["completion"].get<std::string>(), *ReferenceText(item["answer"]));
      result["extracted"] = scored.extracted ? nlohmann::json(*scored.extracted) : nullptr;
      result["expected"] = scored.expected;
      result["correct"] = scored.correct;
      if (scored.correct) ++summary.correct;
    }
    out << result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  return summary;
}

}  // namespace dsm
