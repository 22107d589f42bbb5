#include "coordinator/tokenizer/tokenizer.h"

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "coordinator/tokenizer/utf8.h"
#include "nlohmann/json.hpp"

namespace dsm {
namespace {

absl::Status InFile(const std::string& source, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(source, ": ", s.message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromDirectory(const std::string& dir) {
  const std::string path = dir + "/tokenizer.json";
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return FromJson(*text, path);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(std::string_view text,
                                                               const std::string& source) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a JSON object"));
  }
  if (!j.contains("model") || !j["model"].is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": no \"model\" object"));
  }
  auto tok = std::unique_ptr<Tokenizer>(new Tokenizer());
  // Every component parser reports unknown types by name; exceptions from malformed
  // JSON values (wrong types) become errors too.
  try {
    absl::StatusOr<std::unique_ptr<Normalizer>> normalizer =
        ParseNormalizer(j.value("normalizer", nlohmann::json()));
    if (!normalizer.ok()) return InFile(source, normalizer.status());
    tok->normalizer_ = *std::move(normalizer);
    absl::StatusOr<std::unique_ptr<PreTokenizer>> pre =
        ParsePreTokenizer(j.value("pre_tokenizer", nlohmann::json()));
    if (!pre.ok()) return InFile(source, pre.status());
    tok->pre_tokenizer_ = *std::move(pre);
    absl::StatusOr<std::unique_ptr<BpeModel>> model = BpeModel::Parse(j["model"]);
    if (!model.ok()) return InFile(source, model.status());
    tok->model_ = *std::move(model);
    absl::StatusOr<std::unique_ptr<PostProcessor>> post =
        ParsePostProcessor(j.value("post_processor", nlohmann::json()));
    if (!post.ok()) return InFile(source, post.status());
    tok->post_processor_ = *std::move(post);
    absl::StatusOr<std::unique_ptr<Decoder>> decoder =
        ParseDecoder(j.value("decoder", nlohmann::json()));
    if (!decoder.ok()) return InFile(source, decoder.status());
    tok->decoder_ = *std::move(decoder);
    absl::StatusOr<AddedVocabulary> added =
        AddedVocabulary::Parse(j.value("added_tokens", nlohmann::json()));
    if (!added.ok()) return InFile(source, added.status());
    tok->added_ = *std::move(added);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": malformed tokenizer: ", e.what()));
  }
  tok->vocab_size_ = static_cast<int32_t>(tok->model_->id_to_token().size());
  for (const AddedToken& t : tok->added_.tokens()) {
    tok->vocab_size_ = std::max(tok->vocab_size_, t.id + 1);
  }
  return tok;
}

std::optional<int32_t> Tokenizer::TokenToId(std::string_view token) const {
  for (const AddedToken& t : added_.tokens()) {
    if (t.content == token) return t.id;
  }
  return model_->TokenToId(token);
}

bool Tokenizer::IsSpecial(int32_t id) const {
  const AddedToken* t = added_.FindById(id);
  return t != nullptr && t->special;
}

void Tokenizer::EncodeText(std::string_view text, bool starts_input, bool allow_special,
                           std::vector<int32_t>& ids) const {
  // HF order: added tokens with normalized=false are cut from the raw text; each
  // remaining stretch is normalized and the normalized=true ones are cut from it; the
  // rest is pre-tokenized and run through BPE.
  for (const TextSegment& raw : added_.Split(text, /*normalized_pass=*/false, allow_special)) {
    if (raw.id >= 0) {
      ids.push_back(raw.id);
      continue;
    }
    const std::string normalized =
        normalizer_ ? normalizer_->Normalize(raw.text) : std::string(raw.text);
    for (const TextSegment& seg :
         added_.Split(normalized, /*normalized_pass=*/true, allow_special)) {
      if (seg.id >= 0) {
        ids.push_back(seg.id);
        continue;
      }
      PieceList pieces = PieceList::Of(seg.text);
      if (pre_tokenizer_) {
        pre_tokenizer_->Split(pieces, starts_input && raw.starts_input && seg.starts_input);
      }
      for (size_t i = 0; i < pieces.size(); ++i) model_->Tokenize(pieces[i], ids);
    }
  }
}

absl::StatusOr<std::vector<int32_t>> Tokenizer::Encode(std::string_view text,
                                                       bool add_special_tokens,
                                                       bool parse_special) const {
  const EncodeItem item{text};
  return EncodeItems(std::span<const EncodeItem>(&item, 1), add_special_tokens, parse_special);
}

absl::StatusOr<std::vector<int32_t>> Tokenizer::EncodeItems(std::span<const EncodeItem> items,
                                                            bool add_special_tokens,
                                                            bool parse_special) const {
  std::vector<int32_t> ids;
  std::string run;  // neighbouring text items, encoded together
  size_t offset = 0;
  bool run_starts_input = true;
  bool at_start = true;
  auto flush = [&] {
    if (!run.empty()) EncodeText(run, run_starts_input, parse_special, ids);
    run.clear();
  };
  for (const EncodeItem& item : items) {
    if (item.token_id >= 0) {
      flush();
      ids.push_back(item.token_id);
      at_start = false;
      continue;
    }
    if (absl::Status s = ValidateUtf8(item.text); !s.ok()) {
      size_t at = 0;  // report the offset in the whole input
      while (ValidSequenceLength(item.text, at) > 0) at += ValidSequenceLength(item.text, at);
      return absl::InvalidArgumentError(absl::StrCat("invalid UTF-8 at byte offset ", offset + at));
    }
    offset += item.text.size();
    if (run.empty()) run_starts_input = at_start;
    run += item.text;
    if (!item.text.empty()) at_start = false;
  }
  flush();
  if (add_special_tokens && post_processor_) return post_processor_->Process(ids);
  return ids;
}

absl::StatusOr<std::string> Tokenizer::Decode(std::span<const int32_t> ids,
                                              bool skip_special_tokens) const {
  std::vector<DecodingToken> tokens;
  tokens.reserve(ids.size());
  const auto& vocab = model_->id_to_token();
  for (int32_t id : ids) {
    if (const AddedToken* added = added_.FindById(id)) {
      if (!(skip_special_tokens && added->special)) tokens.push_back({added->content, true});
      continue;
    }
    if (id < 0 || static_cast<size_t>(id) >= vocab.size() || vocab[id].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token id ", id, " has no token in the tokenizer (vocabulary of ", vocab_size_, ")"));
    }
    tokens.push_back({vocab[id], false});
  }
  if (decoder_) decoder_->Decode(tokens);
  std::string text;
  for (const DecodingToken& t : tokens) text += t.text;
  return text;
}

}  // namespace dsm
