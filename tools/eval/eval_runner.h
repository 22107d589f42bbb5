#pragma once
// `dsm eval --data`: a math problem set against a running server, scored by final answer
// (with majority voting over several samples per problem).

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dsm {

struct EvalItem {
  std::string problem;
  std::string reference;  // "answer": a bare answer, or GSM8K's solution ending "#### n"
};

// JSONL lines with "problem" and "answer", or GSM8K's "question" and "answer"; errors
// name the line.
absl::StatusOr<std::vector<EvalItem>> ReadEvalItems(std::istream& in);

struct EvalOptions {
  std::string address = "127.0.0.1:50051";
  std::string template_name = "cot";
  int concurrency = 4;
  int samples = 1;            // per problem; > 1 asks the server to vote (params.vote)
  bool early_stop = false;    // params.vote_early_stop
  float vote_confidence = 0;  // params.vote_confidence
  int max_tokens = 0;         // 0 = the server's default
  float temperature = 0.0f;
  uint64_t seed = 0;
  double timeout_s = 0;
  std::string api_key;  // sent as "authorization: Bearer <key>" when set
  // Progress as one bar redrawn in place (a terminal) instead of a line per problem.
  bool progress_bar = false;
};

struct EvalReport {
  int64_t items = 0;
  int64_t correct = 0;
  int64_t failed = 0;  // requests that returned an error
  int64_t completion_tokens = 0;
  double seconds = 0;
};

// Runs every item (`concurrency` requests in flight), writes one JSON line per item in
// input order to `items_out` (may be null) and a progress line per finished item to
// `progress`.
EvalReport RunEval(const EvalOptions& options, const std::vector<EvalItem>& items,
                   std::ostream* items_out, std::ostream& progress);

}  // namespace dsm
