#include "coordinator/tokenizer/pattern.h"

#include "nlohmann/json.hpp"

namespace dsm {

absl::StatusOr<std::unique_ptr<Regex>> ParsePattern(const nlohmann::json& j) {
  if (j.is_object() && j.contains("Regex") && j["Regex"].is_string()) {
    return Regex::Compile(j["Regex"].get<std::string>());
  }
  if (j.is_object() && j.contains("String") && j["String"].is_string()) {
    return Regex::Literal(j["String"].get<std::string>());
  }
  return absl::InvalidArgumentError("pattern must be {\"String\": ...} or {\"Regex\": ...}");
}

}  // namespace dsm
