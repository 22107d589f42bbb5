#include "tests/support/golden.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "nlohmann/json.hpp"

namespace dsm::testing {
namespace {

v1::SequenceStep* AddStep(v1::StepRequest& request, uint64_t seq_id,
                          const std::vector<int32_t>& feed, int64_t position,
                          const std::vector<int32_t>& table, bool first, size_t prompt_length) {
  v1::SequenceStep* s = request.add_sequences();
  s->set_seq_id(seq_id);
  s->mutable_token_ids()->Assign(feed.begin(), feed.end());
  s->set_start_position(position);
  s->mutable_block_table()->Assign(table.begin(), table.end());
  s->set_sample(true);
  s->set_return_logits(first);
  if (first) {
    s->mutable_sampling()->set_top_p(1.0f);
    s->mutable_sampling()->set_repetition_penalty(1.0f);
    s->set_prompt_length(static_cast<int32_t>(prompt_length));
  }
  return s;
}

std::vector<int32_t> Table(int first_block, size_t positions, int block_size) {
  std::vector<int32_t> table;
  for (size_t b = 0; b * block_size < positions; ++b) table.push_back(first_block + b);
  return table;
}

}  // namespace

std::vector<GoldenCase> LoadGoldenCases(const std::string& path) {
  nlohmann::json j = nlohmann::json::parse(*ReadFileToString(path));
  const nlohmann::json& list = j.is_object() ? j["cases"] : j;
  std::vector<GoldenCase> cases;
  for (const auto& c : list) {
    cases.push_back({c["prompt_token_ids"].get<std::vector<int32_t>>(),
                     c["last_logits"].get<std::vector<float>>(),
                     c["greedy_token_ids"].get<std::vector<int32_t>>()});
  }
  return cases;
}

absl::StatusOr<std::vector<GreedyRun>> RunGreedyBatch(StepRunner& runner,
                                                      const std::vector<GoldenCase>& cases,
                                                      int blocks_per_case) {
  const int block_size = runner.Info().kv_block_size();
  std::vector<std::vector<int32_t>> tables, feeds;
  for (size_t c = 0; c < cases.size(); ++c) {
    tables.push_back(Table(static_cast<int>(c) * blocks_per_case,
                           cases[c].prompt.size() + cases[c].greedy.size(), block_size));
    feeds.push_back(cases[c].prompt);
  }
  std::vector<GreedyRun> runs(cases.size());
  std::vector<int64_t> positions(cases.size(), 0);
  size_t steps = 0;
  for (const GoldenCase& g : cases) steps = std::max(steps, g.greedy.size());
  static uint64_t next_seq_id = 1;
  const uint64_t base_id = next_seq_id;
  next_seq_id += cases.size();
  for (size_t step = 0; step < steps; ++step) {
    v1::StepRequest request;
    std::vector<size_t> order;
    for (size_t c = 0; c < cases.size(); ++c) {
      if (step >= cases[c].greedy.size()) continue;
      AddStep(request, base_id + c, feeds[c], positions[c], tables[c], step == 0,
              cases[c].prompt.size());
      order.push_back(c);
    }
    absl::StatusOr<v1::StepResponse> response = runner.Step(request);
    if (!response.ok()) return response.status();
    if (response->tokens_size() != static_cast<int>(order.size())) {
      return absl::InternalError(
          absl::StrCat("step ", step, " returned ", response->tokens_size(), " tokens"));
    }
    for (size_t i = 0; i < order.size(); ++i) {
      const size_t c = order[i];
      const v1::SampledToken& token = response->tokens(static_cast<int>(i));
      if (step == 0) runs[c].prompt_logits.assign(token.logits().begin(), token.logits().end());
      positions[c] += static_cast<int64_t>(feeds[c].size());
      runs[c].tokens.push_back(token.token_id());
      feeds[c] = {token.token_id()};
    }
  }
  v1::StepRequest free;
  for (size_t c = 0; c < cases.size(); ++c) free.add_free_seq_ids(base_id + c);
  (void)runner.Step(free);
  return runs;
}

double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double max_diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(static_cast<double>(a[i]) - b[i]));
  }
  return max_diff;
}

}  // namespace dsm::testing
