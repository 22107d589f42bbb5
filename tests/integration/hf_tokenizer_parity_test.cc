// Differential test against HuggingFace's own tokenizer: thousands of random strings
// mixing every kind of whitespace, many scripts, numerals, CJK, emoji, LaTeX, the added
// tokens and special-token strings are encoded by dsmserve and by HF's Rust
// `tokenizers` (its official Node binding, installed by tools/setup.sh from
// tests/hf_reference). Ids must be identical; decoding must give the text back, and
// equal HF's decode wherever HF's has no U+FFFD (see decoder.h for that difference).

#include <filesystem>
#include <fstream>
#include <random>

#include "common/file_util.h"
#include "coordinator/tokenizer/tokenizer.h"
#include "coordinator/tokenizer/utf8.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_env.h"

namespace dsm {
namespace {

std::string RandomText(std::mt19937& rng) {
  static const std::vector<std::vector<std::string>> kinds = {
      {" ", " ", " ", "  ", "\t", "\n", "\r\n", "\n\n", "\u00a0", "\u0085", "\u2028", "\u3000",
       "\u2009", "\u200b", "\ufeff", "\u180e", "\u000b", "\u000c"},
      {"a", "Z", "the", " The", "hello", "World", "x", "y", "ing", "'s", "'ll", "don't"},
      {"0", "1", "7", "42", "2024", "3.14159", "1e-9", "½", "²", "①", "٣", "１", "Ⅻ"},
      {".", ",", "!", "?", ";", ":", "(", ")", "[",  "]",  "{",  "}",  "\\", "/", "$",
       "^", "_", "=", "+", "-", "*", "<", ">", "|",  "~",  "`",  "\"", "'",  "#", "%",
       "&", "@", "…", "—", "“", "”", "‘", "’", "！", "，", "。", "：", "（", "）"},
      {"\\frac{a}{b}", "\\sqrt{2}", "x^{2}", "\\sum_{i=1}^{n}", "\\boxed{7}", "$", "$$", "\\alpha",
       "\\leq", "\\cdot", "\\left(", "\\right)"},
      {"é", "ñ", "ß", "Ω", "π", "λ", "Ж", "ы", "ქ", "ա", "א", "ش", "ह",
       "ก", "ÿ", "ü", "ø", "À", "Á", "þ", "÷", "ǅ", "ᾨ", "Ω", "K", "Å"},
      {"中", "文", "数学", "定理", "証明", "한국어", "ひらがな", "カタカナ", "龥", "ࠀ", "丂"},
      {"🦙", "🚀", "👩‍👩‍👧", "✅", "🇺🇸", "😀", "𝔸", "𐐀", "\U0001F600"},
      {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<s>", "</s>", "▁", "Ġ", "Ċ"},
      {"\u0301", "\u0308", "e\u0301", "\u200d", "\u00ad"},
  };
  std::string text;
  const int pieces = 1 + rng() % 12;
  for (int i = 0; i < pieces; ++i) {
    const auto& kind = kinds[rng() % kinds.size()];
    text += kind[rng() % kind.size()];
  }
  return text;
}

TEST(HfTokenizerParityTest, RandomStringsEncodeExactlyAsHf) {
  DSM_REQUIRE_SHARED("models/deepseek-math-tokenizer/tokenizer.json");
  const std::string reference_dir = std::string(DSM_SOURCE_DIR) + "/tests/hf_reference";
  if (!testing::PathExists(reference_dir + "/node_modules/tokenizers")) {
    if (testing::InCi()) FAIL() << "HF reference tokenizer not installed (run tools/setup.sh)";
    GTEST_SKIP() << "HF reference tokenizer not installed: run tools/setup.sh";
  }
  const std::string tokenizer_json =
      testing::SharedDir() + "/models/deepseek-math-tokenizer/tokenizer.json";
  absl::StatusOr<std::unique_ptr<Tokenizer>> ours =
      Tokenizer::FromJson(*ReadFileToString(tokenizer_json), tokenizer_json);
  ASSERT_TRUE(ours.ok()) << ours.status();

  std::mt19937 rng(20261125);
  std::vector<std::string> texts;
  std::string input;
  for (int i = 0; i < 4000; ++i) {
    texts.push_back(RandomText(rng));
    input += nlohmann::json{{"text", texts.back()}}.dump() + "\n";
  }
  testing::CommandResult hf =
      testing::RunCommand({"node", reference_dir + "/encode.js", tokenizer_json}, input);
  ASSERT_EQ(hf.exit_code, 0) << hf.err;
  std::istringstream lines(hf.out);
  std::string line;
  int mismatches = 0;
  for (const std::string& text : texts) {
    ASSERT_TRUE(std::getline(lines, line));
    const nlohmann::json expected = nlohmann::json::parse(line);
    absl::StatusOr<std::vector<int32_t>> ids = (*ours)->Encode(text);
    ASSERT_TRUE(ids.ok()) << ids.status();
    if (*ids != expected["ids"].get<std::vector<int32_t>>() && ++mismatches <= 10) {
      ADD_FAILURE() << "text " << nlohmann::json(text).dump() << "\n ours "
                    << nlohmann::json(*ids).dump() << "\n   hf " << expected["ids"].dump();
    }
    const std::string decoded = *(*ours)->Decode(*ids);
    EXPECT_EQ(decoded, text);
    const std::string hf_decoded = expected["decoded"];
    if (hf_decoded.find(kReplacementCharacter) == std::string::npos) {
      EXPECT_EQ(decoded, hf_decoded);
    }
  }
  EXPECT_EQ(mismatches, 0);
}

}  // namespace
}  // namespace dsm
