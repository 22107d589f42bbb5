#pragma once
// Clients of a running `dsm serve`: generate, chat (interactive), info and tokenize.

#include <iosfwd>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "dsm/v1/inference.pb.h"

namespace dsm {

struct ClientOptions {
  std::string address = "127.0.0.1:50051";
  bool json = false;     // machine-readable output
  double timeout_s = 0;  // 0 = no deadline
  std::string api_key;   // sent as "authorization: Bearer <key>" when set
  v1::GenerationParams params;
};

// Text from `prompt`, or token ids when `prompt_token_ids` is not empty. People get the
// text streamed as it arrives; --json gets the final response as one JSON line.
absl::Status RunGenerate(const ClientOptions& options, const std::string& prompt,
                         const std::vector<int32_t>& prompt_token_ids, std::ostream& out);

// Reads user turns line by line from `in`, streams each answer, keeps the history.
absl::Status RunChat(const ClientOptions& options, const std::string& system, std::istream& in,
                     std::ostream& out);

// `dsm info`: the served model and each worker group's health and load (GetModelInfo).
absl::Status RunInfo(const ClientOptions& options, std::ostream& out);

// `dsm tokenize --addr`: the offline command's JSONL protocol against the server.
absl::Status RunRemoteTokenize(const ClientOptions& options, bool decode, bool add_special_tokens,
                               bool skip_special_tokens, std::istream& in, std::ostream& out);

}  // namespace dsm
