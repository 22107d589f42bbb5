// Tokenizer components on small tokenizer.json files written here: a SentencePiece-style
// BPE as LLaMA-2 checkpoints ship it (byte_fallback, Prepend/Replace normalizers,
// Replace/ByteFallback/Fuse/Strip decoders), a Metaspace variant, split behaviors, the
// Oniguruma \s translation, and errors for unknown component types.

#include "coordinator/tokenizer/pre_tokenizer.h"
#include "coordinator/tokenizer/regex.h"
#include "coordinator/tokenizer/tokenizer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace dsm {
namespace {

using nlohmann::json;

// <unk>=0 <s>=1 </s>=2, <0x00>..<0xFF> = 3..258, then pieces.
json SentencePieceVocab() {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    vocab[name] = 3 + b;
  }
  int id = 259;
  for (const char* piece : {"▁", "h", "e", "l", "o", "w", "r", "d", "▁h", "ll", "▁he", "llo",
                            "▁hello", "▁w", "or", "▁wor", "▁worl", "▁world", "l"}) {
    if (!vocab.contains(piece)) vocab[piece] = id++;
  }
  return vocab;
}

json SentencePieceTokenizer() {
  return {
      {"added_tokens",
       {{{"id", 0}, {"content", "<unk>"}, {"special", true}, {"normalized", false}},
        {{"id", 1}, {"content", "<s>"}, {"special", true}, {"normalized", false}},
        {{"id", 2}, {"content", "</s>"}, {"special", true}, {"normalized", false}}}},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", "▁"}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model",
       {{"type", "BPE"},
        {"unk_token", "<unk>"},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"vocab", SentencePieceVocab()},
        {"merges",
         {"▁ h", "l l", "▁h e", "ll o", "▁he llo", "▁ w", "o r", "▁w or", "▁wor l", "▁worl d"}}}},
  };
}

std::unique_ptr<Tokenizer> Load(const json& j) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::FromJson(j.dump(), "test.json");
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

int32_t Id(const json& vocab, const char* piece) { return vocab[piece].get<int32_t>(); }

TEST(SentencePieceBpeTest, MergesByRankAndFallsBackToBytes) {
  std::unique_ptr<Tokenizer> t = Load(SentencePieceTokenizer());
  ASSERT_NE(t, nullptr);
  const json v = SentencePieceVocab();
  EXPECT_EQ(*t->Encode("hello world"), (std::vector<int32_t>{Id(v, "▁hello"), Id(v, "▁world")}));
  // "é" is not in the vocab: its two UTF-8 bytes become <0xC3> <0xA9>.
  EXPECT_EQ(*t->Encode("hello é"),
            (std::vector<int32_t>{Id(v, "▁hello"), Id(v, "▁"), 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(*t->Encode("hello", /*add_special_tokens=*/true),
            (std::vector<int32_t>{1, Id(v, "▁hello")}));
  for (const std::string text : {"hello world", "hello é", "world hello  hello", "日本"}) {
    EXPECT_EQ(*t->Decode(*t->Encode(text)), text);
  }
  EXPECT_EQ(*t->Decode(*t->Encode("hello", true), /*skip_special_tokens=*/true), "hello");
  // A lone continuation byte decodes to U+FFFD, as HF's ByteFallback does.
  EXPECT_EQ(*t->Decode(std::vector<int32_t>{Id(v, "▁hello"), 3 + 0xA9}), "hello\xEF\xBF\xBD");
}

TEST(SentencePieceBpeTest, SpecialTokensMatchedInRawText) {
  std::unique_ptr<Tokenizer> t = Load(SentencePieceTokenizer());
  const json v = SentencePieceVocab();
  EXPECT_EQ(*t->Encode("<s>hello"), (std::vector<int32_t>{1, Id(v, "▁hello")}));
  std::vector<int32_t> plain = *t->Encode("<s>hello", false, /*parse_special=*/false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 1), 0);
}

TEST(MetaspaceTest, PrependsFirstAndDecodes) {
  json j = SentencePieceTokenizer();
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {
      {"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "first"}, {"split", false}};
  j["decoder"] = {
      {"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "first"}, {"split", false}};
  std::unique_ptr<Tokenizer> t = Load(j);
  ASSERT_NE(t, nullptr);
  const json v = SentencePieceVocab();
  EXPECT_EQ(*t->Encode("hello world"), (std::vector<int32_t>{Id(v, "▁hello"), Id(v, "▁world")}));
  EXPECT_EQ(*t->Decode(*t->Encode("hello world")), "hello world");
  // Only the start of the input gets the prefix: after "<s>" there is none.
  EXPECT_EQ(*t->Encode("<s>hello"),
            (std::vector<int32_t>{1, Id(v, "h"), Id(v, "e"), Id(v, "llo")}));
}

// The pieces a Split pre-tokenizer on "-" makes of `text`.
std::vector<std::string> SplitPieces(const std::string& behavior, bool invert,
                                     const std::string& text) {
  absl::StatusOr<std::unique_ptr<PreTokenizer>> split =
      ParsePreTokenizer({{"type", "Split"},
                         {"pattern", {{"String", "-"}}},
                         {"behavior", behavior},
                         {"invert", invert}});
  EXPECT_TRUE(split.ok()) << split.status();
  PieceList pieces = PieceList::Of(text);
  (*split)->Split(pieces, true);
  return pieces.ToStrings();
}

using Pieces = std::vector<std::string>;

TEST(SplitTest, EveryBehaviorAsHf) {
  const std::string text = "a-b--c-";
  EXPECT_EQ(SplitPieces("Removed", false, text), (Pieces{"a", "b", "c"}));
  EXPECT_EQ(SplitPieces("Isolated", false, text), (Pieces{"a", "-", "b", "-", "-", "c", "-"}));
  EXPECT_EQ(SplitPieces("MergedWithPrevious", false, text), (Pieces{"a-", "b-", "-", "c-"}));
  EXPECT_EQ(SplitPieces("MergedWithNext", false, text), (Pieces{"a", "-b", "-", "-c", "-"}));
  EXPECT_EQ(SplitPieces("Contiguous", false, text), (Pieces{"a", "-", "b", "--", "c", "-"}));
  // invert: every "-" occurrence becomes a kept non-match; the rest is removed.
  EXPECT_EQ(SplitPieces("Removed", true, text), (Pieces{"-", "-", "-", "-"}));
  absl::Status bad =
      ParsePreTokenizer(
          {{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", "Sideways"}})
          .status();
  EXPECT_NE(bad.message().find("unsupported split behavior \"Sideways\""), std::string::npos);
}

TEST(DigitsTest, SplitsEveryUnicodeNumeral) {
  absl::StatusOr<std::unique_ptr<PreTokenizer>> digits =
      ParsePreTokenizer({{"type", "Digits"}, {"individual_digits", true}});
  ASSERT_TRUE(digits.ok());
  PieceList pieces = PieceList::Of("x12½²");
  (*digits)->Split(pieces, true);
  EXPECT_EQ(pieces.ToStrings(), (Pieces{"x", "1", "2", "½", "²"}));
  digits = ParsePreTokenizer({{"type", "Digits"}, {"individual_digits", false}});
  pieces = PieceList::Of("ab123c4");
  (*digits)->Split(pieces, true);
  EXPECT_EQ(pieces.ToStrings(), (Pieces{"ab", "123", "c", "4"}));
}

TEST(RegexTest, WhiteSpaceFollowsOniguruma) {
  // \s is Unicode White_Space: U+0085 and U+00A0 yes; U+200B and U+FEFF no.
  std::unique_ptr<Regex> re = *Regex::Compile("\\s+");
  EXPECT_EQ(re->FindAll("a\u0085b").size(), 1u);
  EXPECT_EQ(re->FindAll("a\u00a0b").size(), 1u);
  EXPECT_EQ(re->FindAll("a\u200bb\ufeffc").size(), 0u);
  std::unique_ptr<Regex> neg = *Regex::Compile("[^\\s]+");
  EXPECT_EQ(neg->FindAll("ab\u0085cd").size(), 2u);
  EXPECT_EQ(TranslateOnigurumaPattern("\\S"),
            "[^\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-"
            "\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}"
            "\\x{3000}]");
  // $ matches at the end of the text.
  std::unique_ptr<Regex> end = *Regex::Compile("\\s+$");
  ASSERT_EQ(end->FindAll("ab  ").size(), 1u);
  EXPECT_EQ(end->FindAll("ab  ")[0], (std::pair<size_t, size_t>{2, 4}));
  EXPECT_FALSE(Regex::Compile("[unclosed").ok());
}

TEST(TokenizerLoadTest, UnknownComponentsAreNamed) {
  json j = SentencePieceTokenizer();
  j["normalizer"] = {{"type", "BertNormalizer"}};
  absl::Status s = Tokenizer::FromJson(j.dump(), "tok.json").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("tok.json: unsupported normalizer type \"BertNormalizer\""),
            std::string::npos)
      << s;
  j = SentencePieceTokenizer();
  j["pre_tokenizer"] = {{"type", "UnicodeScripts"}};
  EXPECT_NE(Tokenizer::FromJson(j.dump(), "t").status().message().find("\"UnicodeScripts\""),
            std::string::npos);
  j = SentencePieceTokenizer();
  j["decoder"] = {{"type", "WordPiece"}};
  EXPECT_NE(Tokenizer::FromJson(j.dump(), "t").status().message().find("\"WordPiece\""),
            std::string::npos);
  j = SentencePieceTokenizer();
  j["model"]["type"] = "Unigram";
  EXPECT_NE(Tokenizer::FromJson(j.dump(), "t").status().message().find("\"Unigram\""),
            std::string::npos);
  j = SentencePieceTokenizer();
  j["model"]["merges"] = {"▁ zz"};
  EXPECT_NE(Tokenizer::FromJson(j.dump(), "t").status().message().find("not in the vocab"),
            std::string::npos);
  EXPECT_FALSE(Tokenizer::FromJson("{", "t").ok());
  EXPECT_FALSE(Tokenizer::FromJson("{\"model\": 3}", "t").ok());
  j = SentencePieceTokenizer();
  j["model"]["vocab"] = "oops";
  EXPECT_FALSE(Tokenizer::FromJson(j.dump(), "t").ok());
}

// Numbers are range-checked before they are converted (the fuzzer found a float id of
// 2.2e22 converted to int, which is undefined), and named in the error.
TEST(TokenizerLoadTest, OutOfRangeNumbersAreErrors) {
  for (const json& ids : {json::parse("[2.2222e22]"), json::parse("[-1]"), json::parse("[1.5]"),
                          json::parse("[18446744073709551615]"), json::parse("3")}) {
    json j = SentencePieceTokenizer();
    j["post_processor"]["special_tokens"]["<s>"]["ids"] = ids;
    absl::Status s = Tokenizer::FromJson(j.dump(), "t").status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << ids.dump();
    EXPECT_NE(s.message().find("special token <s>: ids"), std::string::npos) << s;
  }
  for (const json& count : {json(1e30), json(-1), json(4294967296LL), json("2")}) {
    json j = SentencePieceTokenizer();
    j["decoder"]["decoders"][3]["start"] = count;
    absl::Status s = Tokenizer::FromJson(j.dump(), "t").status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << count.dump();
    EXPECT_NE(s.message().find("Strip decoder: start"), std::string::npos) << s;
  }
  json j = SentencePieceTokenizer();
  j["post_processor"] = {{"type", "BertProcessing"}, {"cls", {"[CLS]", 1e22}}, {"sep", {"x", 2}}};
  EXPECT_NE(Tokenizer::FromJson(j.dump(), "t").status().message().find("post_processor.cls"),
            std::string::npos);
}

}  // namespace
}  // namespace dsm
