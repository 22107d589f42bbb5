#pragma once
// The {"String": ...} | {"Regex": ...} pattern objects of tokenizer.json.

#include <memory>

#include "absl/status/statusor.h"
#include "coordinator/tokenizer/regex.h"
#include "nlohmann/json_fwd.hpp"

namespace dsm {

absl::StatusOr<std::unique_ptr<Regex>> ParsePattern(const nlohmann::json& j);

}  // namespace dsm
