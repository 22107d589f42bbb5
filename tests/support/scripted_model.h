#pragma once
// A checkpoint whose next token depends only on the current one, by a script: the
// layers add nothing (zero output projections), the embeddings are one-hot and lm_head
// holds the script's logits. With the demo's byte-level tokenizer (a token per byte) a
// test can make a real server produce chosen texts, with chosen probabilities where the
// script branches: what math answers and votes need, without a trained model.

#include <map>
#include <string>

#include "absl/status/status.h"

namespace dsm::testing {

// For a byte: the bytes that may follow it with their probabilities; "" stands for EOS.
// Bytes missing from the script end the text (EOS).
using TextScript = std::map<char, std::map<std::string, double>>;

absl::Status WriteScriptedModel(const std::string& dir, const TextScript& script);

}  // namespace dsm::testing
