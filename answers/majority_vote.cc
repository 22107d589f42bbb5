#include "answers/majority_vote.h"

#include <algorithm>

namespace dsm::answers {

Vote MajorityVote(const std::vector<std::string>& normalized_answers) {
  Vote vote;
  std::vector<std::pair<std::string, int>> tally;  // in order of first appearance
  for (const std::string& answer : normalized_answers) {
    if (answer.empty()) continue;
    ++vote.voters;
    auto it = std::find_if(tally.begin(), tally.end(),
                           [&](const auto& entry) { return entry.first == answer; });
    if (it == tally.end()) {
      tally.emplace_back(answer, 1);
    } else {
      ++it->second;
    }
  }
  std::stable_sort(tally.begin(), tally.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  vote.distribution = tally;
  if (tally.empty()) return vote;
  vote.answer = tally.front().first;
  vote.count = tally.front().second;
  vote.share = static_cast<double>(vote.count) / vote.voters;
  for (size_t i = 0; i < normalized_answers.size(); ++i) {
    if (normalized_answers[i] == vote.answer) vote.supporters.push_back(static_cast<int>(i));
  }
  return vote;
}

}  // namespace dsm::answers
