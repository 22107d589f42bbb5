#include "coordinator/tokenizer/bpe_model.h"

#include <atomic>
#include <queue>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "coordinator/tokenizer/utf8.h"
#include "nlohmann/json.hpp"

namespace dsm {
namespace {

uint64_t PairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// absl's hash containers take absl::string_view for lookups without a copy.
absl::string_view View(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::Parse(const nlohmann::json& j) {
  if (j.value("type", "BPE") != "BPE") {
    return absl::UnimplementedError(
        absl::StrCat("unsupported model type \"", j.value("type", ""), "\" (only BPE)"));
  }
  for (const char* option : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (j.contains(option) && !j[option].is_null() && !j[option].get<std::string>().empty()) {
      return absl::UnimplementedError(absl::StrCat("BPE option ", option, " is not supported"));
    }
  }
  if (j.contains("dropout") && !j["dropout"].is_null() && j["dropout"].get<double>() > 0) {
    return absl::UnimplementedError("BPE dropout is not supported");
  }
  auto model = std::unique_ptr<BpeModel>(new BpeModel());
  static std::atomic<uint64_t> next_cache_key{1};
  model->cache_key_ = next_cache_key.fetch_add(1);
  const auto& vocab = j.value("vocab", nlohmann::json::object());
  if (!vocab.is_object()) return absl::InvalidArgumentError("model.vocab must be an object");
  model->vocab_.reserve(vocab.size());
  // Ids are dense in practice; a few gaps are fine, an id far past the vocabulary size is
  // a broken file (and would make the id -> token table huge).
  const int64_t max_id = std::max<int64_t>(2 * static_cast<int64_t>(vocab.size()),
                                           static_cast<int64_t>(vocab.size()) + 65536);
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > max_id) {
      return absl::InvalidArgumentError(absl::StrCat("model.vocab: id of token ", token,
                                                     " is not an integer in [0, ", max_id, "]"));
    }
    const int32_t i = id.get<int32_t>();
    model->vocab_[token] = i;
    if (static_cast<size_t>(i) >= model->id_to_token_.size()) model->id_to_token_.resize(i + 1);
    model->id_to_token_[i] = token;
  }
  const auto& merges = j.value("merges", nlohmann::json::array());
  model->merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& m = merges[rank];
    std::string left, right;
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t space = s.find(' ', 1);
      if (space == std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("merge ", rank, " \"", s, "\" has no space"));
      }
      left = s.substr(0, space);
      right = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      return absl::InvalidArgumentError(absl::StrCat("merge ", rank, " is malformed"));
    }
    auto l = model->vocab_.find(left), r = model->vocab_.find(right),
         result = model->vocab_.find(left + right);
    if (l == model->vocab_.end() || r == model->vocab_.end() || result == model->vocab_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("merge ", rank, " (", left, " ", right, ") uses a token not in the vocab"));
    }
    model->merges_.try_emplace(PairKey(l->second, r->second),
                               Merge{static_cast<int32_t>(rank), result->second});
  }
  if (j.contains("unk_token") && j["unk_token"].is_string()) {
    auto it = model->vocab_.find(j["unk_token"].get<std::string>());
    if (it == model->vocab_.end()) {
      return absl::InvalidArgumentError("unk_token is not in the vocab");
    }
    model->unk_id_ = it->second;
  }
  model->fuse_unk_ = j.value("fuse_unk", false);
  model->byte_fallback_ = j.value("byte_fallback", false);
  model->ignore_merges_ = j.value("ignore_merges", false);
  for (int b = 0; b < 256; ++b) {
    auto it = model->vocab_.find(absl::StrFormat("<0x%02X>", b));
    model->byte_tokens_[b] = it == model->vocab_.end() ? -1 : it->second;
  }
  return model;
}

std::optional<int32_t> BpeModel::TokenToId(std::string_view token) const {
  auto it = vocab_.find(View(token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

void BpeModel::Tokenize(std::string_view piece, std::vector<int32_t>& ids) const {
  if (piece.empty()) return;
  if (piece.size() > kMaxCachedPieceBytes) return MergePiece(piece, ids);
  struct ThreadCache {
    uint64_t key = 0;
    absl::flat_hash_map<std::string, std::vector<int32_t>> entries;
  };
  thread_local ThreadCache cache;
  if (cache.key != cache_key_) {
    cache.entries.clear();
    cache.key = cache_key_;
  }
  if (auto it = cache.entries.find(View(piece)); it != cache.entries.end()) {
    ids.insert(ids.end(), it->second.begin(), it->second.end());
    return;
  }
  const size_t start = ids.size();
  MergePiece(piece, ids);
  if (cache.entries.size() >= kMaxCacheEntries) cache.entries.clear();
  cache.entries.try_emplace(std::string(piece), ids.begin() + start, ids.end());
}

void BpeModel::MergePiece(std::string_view piece, std::vector<int32_t>& ids) const {
  if (ignore_merges_) {
    if (auto it = vocab_.find(View(piece)); it != vocab_.end()) {
      ids.push_back(it->second);
      return;
    }
  }
  // Initial symbols: one per character, or its bytes (byte_fallback), or unk.
  std::vector<int32_t> symbols;
  symbols.reserve(piece.size());
  bool last_was_unk = false;
  for (size_t i = 0; i < piece.size();) {
    const size_t start = i;
    i += std::max<size_t>(1, ValidSequenceLength(piece, i));
    const std::string_view ch = piece.substr(start, i - start);
    if (auto it = vocab_.find(View(ch)); it != vocab_.end()) {
      symbols.push_back(it->second);
      last_was_unk = false;
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (unsigned char b : ch) all = all && byte_tokens_[b] >= 0;
      if (all) {
        for (unsigned char b : ch) symbols.push_back(byte_tokens_[b]);
        last_was_unk = false;
        continue;
      }
    }
    if (unk_id_ && !(fuse_unk_ && last_was_unk)) symbols.push_back(*unk_id_);
    last_was_unk = unk_id_.has_value();
  }

  // Merge the lowest-ranked adjacent pair, leftmost first, until none applies. Symbols
  // form a linked list; the heap holds candidate pairs and stale ones are skipped.
  const size_t n = symbols.size();
  if (n < 2) {
    ids.insert(ids.end(), symbols.begin(), symbols.end());
    return;
  }
  std::vector<int32_t> prev(n), next(n);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int32_t>(i) + 1 : -1;
  }
  struct Candidate {
    int32_t rank;
    int32_t left;  // position of the left symbol
    int32_t left_id, right_id;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  auto push = [&](int32_t left) {
    const int32_t right = next[left];
    if (right < 0) return;
    auto it = merges_.find(PairKey(symbols[left], symbols[right]));
    if (it != merges_.end()) heap.push({it->second.rank, left, symbols[left], symbols[right]});
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    const int32_t right = next[c.left];
    if (symbols[c.left] != c.left_id || right < 0 || symbols[right] != c.right_id) continue;
    symbols[c.left] = merges_.find(PairKey(c.left_id, c.right_id))->second.result;
    symbols[right] = -1;
    next[c.left] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.left;
    if (prev[c.left] >= 0) push(prev[c.left]);
    push(c.left);
  }
  for (int32_t i = 0; i >= 0; i = next[i]) ids.push_back(symbols[i]);
}

}  // namespace dsm
