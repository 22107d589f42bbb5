#pragma once
// Decoders of HF tokenizer.json: token strings -> text.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace dsm {

// A token on its way through the decoder chain. Added tokens are `literal`: their text
// is emitted as written, never reinterpreted through the byte alphabet — HF's Rust
// decoder does reinterpret them, which turns DeepSeek's added "ü" (id 100014) into
// U+FFFD; dsmserve gives the character back.
struct DecodingToken {
  std::string text;
  bool literal = false;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void Decode(std::vector<DecodingToken>& tokens) const = 0;
};

// ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace, Sequence. Null gives nullptr
// (tokens are concatenated); unknown types fail naming it.
absl::StatusOr<std::unique_ptr<Decoder>> ParseDecoder(const nlohmann::json& j);

}  // namespace dsm
