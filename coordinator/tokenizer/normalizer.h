#pragma once
// Normalizers of HF tokenizer.json: text -> text before pre-tokenization.

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace dsm {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string Normalize(std::string_view text) const = 0;
};

// Sequence, Prepend, Replace, NFC, NFKC, NFD, NFKD, Lowercase, Strip. A null JSON value
// gives nullptr (no normalizer); an unknown type is an error naming it.
absl::StatusOr<std::unique_ptr<Normalizer>> ParseNormalizer(const nlohmann::json& j);

}  // namespace dsm
