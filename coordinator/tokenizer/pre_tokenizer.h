#pragma once
// Pre-tokenizers of HF tokenizer.json: split a section of text into the pieces BPE runs on.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace dsm {

// Pieces as byte ranges of one buffer. Splitting only rewrites the ranges (every split
// behavior joins neighbouring segments, so a piece is always contiguous); steps that
// change text (ByteLevel, Metaspace) write a new buffer.
struct PieceList {
  std::string buffer;
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  std::vector<std::pair<uint32_t, uint32_t>> scratch;  // reused by splits, saves allocations

  size_t size() const { return ranges.size(); }
  std::string_view operator[](size_t i) const {
    return std::string_view(buffer).substr(ranges[i].first, ranges[i].second - ranges[i].first);
  }
  // One piece holding all of `text`.
  static PieceList Of(std::string_view text);
  std::vector<std::string> ToStrings() const;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces the pieces by their splits. `first_section` is true when the pieces come
  // from the start of the input (Metaspace's prepend_scheme "first" needs it).
  virtual void Split(PieceList& pieces, bool first_section) const = 0;
};

// Sequence, Split (String/Regex pattern, every behavior, invert), Digits, ByteLevel,
// Metaspace, Whitespace, WhitespaceSplit. Null gives nullptr; unknown types fail naming it.
absl::StatusOr<std::unique_ptr<PreTokenizer>> ParsePreTokenizer(const nlohmann::json& j);

}  // namespace dsm
