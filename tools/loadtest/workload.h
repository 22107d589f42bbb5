#pragma once
// What a load test sends: prompts from a JSONL file or synthetic token-id prompts whose
// prompt and output lengths follow a distribution. Deterministic for a given seed.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dsm::loadtest {

// A length drawn per request: fixed (mean), uniform in [min, max], or normal(mean,
// stddev) clamped to [min, max].
struct LengthDistribution {
  enum class Kind { kFixed, kUniform, kNormal };
  Kind kind = Kind::kFixed;
  double mean = 32, stddev = 0;
  int min = 1, max = 1 << 20;

  // Parses "fixed:N", "uniform:MIN:MAX" or "normal:MEAN:STDDEV[:MIN:MAX]".
  static absl::StatusOr<LengthDistribution> Parse(const std::string& text);
  int Draw(std::mt19937_64& rng) const;
};

struct ChatTurn {
  std::string role;  // system, user or assistant
  std::string content;
};

struct RequestSpec {
  std::string text;                // a text prompt, or
  std::vector<int32_t> token_ids;  // a token-id prompt, or
  std::vector<ChatTurn> messages;  // a conversation (the chat endpoint only)
  int max_tokens = 0;
};

class Workload {
 public:
  // A prompt file, either JSONL, one request per line: {"prompt": "..."},
  // {"prompt_token_ids": [..]} or {"messages": [{"role": .., "content": ..}, ..]}, with
  // an optional "max_tokens" (else drawn from `output`); or a ShareGPT JSON array
  // ([{"conversations": [{"from": "human", "value": ..}, ..]}, ..], the format of
  // vLLM's serving benchmark), each conversation's first human turn a prompt, entries
  // without one skipped. Errors name the line or entry.
  static absl::StatusOr<Workload> FromFile(const std::string& path, LengthDistribution output,
                                           uint64_t seed);
  // Random token ids below `vocab` (ids 0-2 avoided: often special tokens).
  static Workload Synthetic(LengthDistribution prompt, LengthDistribution output, int vocab,
                            uint64_t seed);

  // The i-th request (file prompts repeat in order; synthetic ones are drawn from i).
  RequestSpec Request(uint64_t index) const;

  bool synthetic() const { return synthetic_; }
  // Whether some file request is a conversation, a text prompt or token ids.
  bool has_messages() const { return has_messages_; }
  bool has_token_ids() const { return has_token_ids_; }

 private:
  std::vector<RequestSpec> file_requests_;
  bool synthetic_ = false, has_messages_ = false, has_token_ids_ = false;
  LengthDistribution prompt_, output_;
  int vocab_ = 0;
  uint64_t seed_ = 0;
};

}  // namespace dsm::loadtest
