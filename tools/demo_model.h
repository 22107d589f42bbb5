#pragma once
// The model behind `dsm serve --demo`: random weights in DeepSeek-Math's architecture
// (MHA, bf16, untied lm_head, scaled down) with a byte-level tokenizer.json and the
// DeepSeek chat template, all generated here, so a fresh machine can serve without a
// download. Its answers are random bytes: it exercises the service, not mathematics.

#include <string>

#include "absl/status/status.h"

namespace dsm {

// Writes the demo model into `dir` unless a complete one is already there.
absl::Status EnsureDemoModel(const std::string& dir);

// ~/.cache/dsmserve/demo-model (or under $XDG_CACHE_HOME).
std::string DefaultDemoModelDir();

}  // namespace dsm
