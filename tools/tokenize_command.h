#pragma once
// `dsm tokenize --model DIR`: JSONL {"text": ...} on input -> {"ids": [...]} per line,
// in order. The text is raw: special-token strings are recognised, as HF does by
// default; BOS is added only with add_special_tokens. With `decode`, {"ids": [...]} ->
// {"text": ...}. A bad line gives {"error": "..."} in its place and a failing exit.

#include <iosfwd>
#include <string>

#include "absl/status/status.h"

namespace dsm {

struct TokenizeOptions {
  std::string model_dir;  // a model directory or just a tokenizer directory
  bool decode = false;
  bool add_special_tokens = false;
  bool skip_special_tokens = false;
};

absl::Status RunTokenize(const TokenizeOptions& options, std::istream& input, std::ostream& output);

}  // namespace dsm
