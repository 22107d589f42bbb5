#include "tools/eval/eval_runner.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <istream>
#include <ostream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "answers/final_answer.h"
#include "answers/majority_vote.h"
#include "answers/normalize_answer.h"
#include "common/api_key.h"
#include "dsm/v1/inference.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tools/eval/prompt_templates.h"

namespace dsm {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct ItemResult {
  nlohmann::json line;
  bool correct = false;
  bool failed = false;
  int64_t completion_tokens = 0;
};

ItemResult RunItem(v1::Inference::Stub& stub, const EvalOptions& options, const EvalItem& item,
                   size_t index) {
  ItemResult result;
  const std::string expected = answers::NormalizeAnswer(answers::ReferenceAnswer(item.reference));
  result.line = {{"index", index}, {"problem", item.problem}, {"expected", expected}};
  absl::StatusOr<MathPrompt> prompt = BuildMathPrompt(options.template_name, item.problem);
  if (!prompt.ok()) {
    result.failed = true;
    result.line["error"] = prompt.status().ToString();
    return result;
  }
  v1::GenerationParams params;
  if (options.max_tokens > 0) params.set_max_tokens(options.max_tokens);
  params.set_temperature(options.temperature);
  if (options.samples > 1) {
    params.set_vote(options.samples);
    params.set_vote_early_stop(options.early_stop);
    params.set_vote_confidence(options.vote_confidence);
  }
  params.set_seed(options.seed + index);
  for (const std::string& stop : prompt->stop) params.add_stop(stop);

  grpc::ClientContext context;
  if (!options.api_key.empty()) {
    context.AddMetadata("authorization", BearerAuthorization(options.api_key));
  }
  if (options.timeout_s > 0) {
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(static_cast<int64_t>(options.timeout_s * 1e3)));
  }
  v1::GenerateResponse response;
  grpc::Status status;
  const auto start = std::chrono::steady_clock::now();
  if (prompt->chat) {
    v1::ChatRequest request;
    v1::ChatMessage* user = request.add_messages();
    user->set_role("user");
    user->set_content(prompt->text);
    *request.mutable_params() = params;
    status = stub.Chat(&context, request, &response);
  } else {
    v1::GenerateRequest request;
    request.set_text(prompt->text);
    *request.mutable_params() = params;
    status = stub.Generate(&context, request, &response);
  }
  result.line["seconds"] = SecondsSince(start);
  if (!status.ok()) {
    result.failed = true;
    result.line["error"] =
        absl::StrCat(absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())),
                     ": ", status.error_message());
    return result;
  }
  std::vector<std::string> answers;
  nlohmann::json completions = nlohmann::json::array();
  for (const v1::Choice& choice : response.choices()) {
    answers.push_back(choice.final_answer());
    completions.push_back(choice.text());
  }
  // The server's vote when it voted (it leaves out samples it stopped), else the
  // majority of the choices.
  answers::Vote vote = answers::MajorityVote(answers);
  if (response.has_vote()) {
    vote.answer = response.vote().answer();
    vote.share = response.vote().share();
    vote.distribution.clear();
    for (const v1::VoteResult::Count& c : response.vote().distribution()) {
      vote.distribution.emplace_back(c.answer(), c.votes());
    }
    result.line["samples_completed"] = response.vote().samples_completed();
    result.line["samples_stopped"] = response.vote().samples_stopped();
    result.line["tokens_saved"] = response.vote().tokens_saved();
  }
  nlohmann::json extracted = nlohmann::json::array();
  for (const std::string& a : answers)
    extracted.push_back(a.empty() ? nlohmann::json() : nlohmann::json(a));
  nlohmann::json distribution = nlohmann::json::object();
  for (const auto& [answer, count] : vote.distribution) distribution[answer] = count;
  result.correct = !vote.answer.empty() && vote.answer == expected;
  result.completion_tokens = response.usage().completion_tokens();
  result.line["extracted"] = extracted;
  result.line["answer"] = vote.answer.empty() ? nlohmann::json() : nlohmann::json(vote.answer);
  result.line["votes"] = distribution;
  result.line["vote_share"] = vote.share;
  result.line["correct"] = result.correct;
  result.line["completion_tokens"] = result.completion_tokens;
  result.line["completions"] = completions;
  return result;
}

}  // namespace

absl::StatusOr<std::vector<EvalItem>> ReadEvalItems(std::istream& in) {
  std::vector<EvalItem> items;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    const auto text = [&](const char* key) -> const nlohmann::json* {
      return j.is_object() && j.contains(key) && j[key].is_string() ? &j[key] : nullptr;
    };
    const nlohmann::json* problem = text("problem") ? text("problem") : text("question");
    EvalItem item;
    if (j.is_object() && j.contains("answer") && j["answer"].is_number()) {
      item.reference = j["answer"].dump();
    } else if (text("answer")) {
      item.reference = text("answer")->get<std::string>();
    }
    if (problem == nullptr || item.reference.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--data line ", number,
                       ": needs \"problem\" (or \"question\") and \"answer\" (string or number)"));
    }
    item.problem = problem->get<std::string>();
    items.push_back(std::move(item));
  }
  return items;
}

EvalReport RunEval(const EvalOptions& options, const std::vector<EvalItem>& items,
                   std::ostream* items_out, std::ostream& progress) {
  auto stub = v1::Inference::NewStub(
      grpc::CreateChannel(options.address, grpc::InsecureChannelCredentials()));
  std::vector<ItemResult> results(items.size());
  std::atomic<size_t> next{0};
  absl::Mutex mu;
  EvalReport report;
  const auto start = std::chrono::steady_clock::now();
  const auto work = [&] {
    for (size_t i = next++; i < items.size(); i = next++) {
      results[i] = RunItem(*stub, options, items[i], i);
      absl::MutexLock lock(&mu);
      ++report.items;
      report.correct += results[i].correct ? 1 : 0;
      report.failed += results[i].failed ? 1 : 0;
      report.completion_tokens += results[i].completion_tokens;
      const double elapsed = SecondsSince(start);
      const std::string status = absl::StrFormat(
          "%d/%d done, accuracy %.4f (%d correct), %d failed, %.1f tok/s", report.items,
          items.size(), static_cast<double>(report.correct) / report.items, report.correct,
          report.failed, elapsed > 0 ? report.completion_tokens / elapsed : 0.0);
      if (options.progress_bar) {
        constexpr int kWidth = 30;
        const int filled = static_cast<int>(kWidth * report.items / items.size());
        progress << "\r[" << std::string(filled, '#') << std::string(kWidth - filled, '.') << "] "
                 << status << (static_cast<size_t>(report.items) == items.size() ? "\n" : "")
                 << std::flush;
      } else {
        progress << "eval: " << status << "\n" << std::flush;
      }
    }
  };
  std::vector<std::thread> threads;
  const int workers = std::max(1, std::min<int>(options.concurrency, items.size()));
  for (int t = 0; t < workers; ++t) threads.emplace_back(work);
  for (std::thread& t : threads) t.join();
  report.seconds = SecondsSince(start);
  if (items_out != nullptr) {
    for (const ItemResult& r : results) {
      *items_out << r.line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
  }
  return report;
}

}  // namespace dsm
