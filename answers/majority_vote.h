#pragma once
// Self-consistency: the answer most samples agree on.

#include <string>
#include <utility>
#include <vector>

namespace dsm::answers {

struct Vote {
  std::string answer;  // the majority answer; empty when no sample stated one
  int count = 0;       // samples that gave it
  int voters = 0;      // samples that stated any answer
  double share = 0.0;  // count / voters
  std::vector<std::pair<std::string, int>> distribution;  // most votes first
  std::vector<int> supporters;  // indices of the samples that gave `answer`
};

// Tallies normalized answers (empty = the sample stated none and does not vote). Ties go
// to the answer that appeared first.
Vote MajorityVote(const std::vector<std::string>& normalized_answers);

}  // namespace dsm::answers
