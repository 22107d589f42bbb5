#pragma once
// The BPE model of HF tokenizer.json: vocabulary, ranked merges, byte_fallback,
// ignore_merges, unk_token.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace dsm {

class BpeModel {
 public:
  // Parses {"type": "BPE", "vocab": {...}, "merges": [...], ...}; merges may be
  // "a b" strings or ["a", "b"] pairs. Errors name the offending merge or option.
  static absl::StatusOr<std::unique_ptr<BpeModel>> Parse(const nlohmann::json& j);

  // Appends the ids of one pre-tokenized piece. Results of short pieces are cached:
  // natural text repeats its words, and a cache hit skips the merge loop.
  void Tokenize(std::string_view piece, std::vector<int32_t>& ids) const;

  std::optional<int32_t> TokenToId(std::string_view token) const;
  // Vocabulary tokens by id; empty strings for ids the vocab does not define.
  const std::vector<std::string>& id_to_token() const { return id_to_token_; }

 private:
  struct Merge {
    int32_t rank;
    int32_t result;
  };

  absl::flat_hash_map<std::string, int32_t> vocab_;
  std::vector<std::string> id_to_token_;
  absl::flat_hash_map<uint64_t, Merge> merges_;  // (left id << 32 | right id) -> merge
  std::optional<int32_t> unk_id_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  int32_t byte_tokens_[256];  // ids of <0x00>..<0xFF>, -1 where absent

  void MergePiece(std::string_view piece, std::vector<int32_t>& ids) const;

  // Each thread keeps its own cache of piece -> ids (no locking on the hot path); it is
  // tied to one model by `cache_key_`, unique per BpeModel ever created.
  static constexpr size_t kMaxCachedPieceBytes = 64;
  static constexpr size_t kMaxCacheEntries = 1 << 18;  // then the cache starts over
  uint64_t cache_key_ = 0;
};

}  // namespace dsm
