#pragma once
// Everything text-related a model directory (or a tokenizer-only directory) provides:
// tokenizer.json, tokenizer_config.json (chat template, BOS/EOS strings) and
// generation_config.json (BOS/EOS ids).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "coordinator/tokenizer/chat_template.h"
#include "coordinator/tokenizer/tokenizer.h"

namespace dsm {

struct TokenizerFiles {
  std::unique_ptr<Tokenizer> tokenizer;
  ChatTemplate chat_template = ChatTemplate::FromJinja("");
  std::optional<int32_t> bos_id;
  std::optional<int32_t> eos_id;
};

// NOT_FOUND naming the file when <dir>/tokenizer.json is absent (token-ids-only model).
absl::StatusOr<TokenizerFiles> LoadTokenizerFiles(const std::string& dir);

}  // namespace dsm
