// The DeepSeek-Math tokenizer against HF's own ids (test_vectors.json), round trips on a
// varied corpus, and errors.

#include "coordinator/tokenizer/tokenizer.h"

#include "common/file_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_env.h"

namespace dsm {
namespace {

class DeepSeekTokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = testing::SharedDir() + "/models/deepseek-math-tokenizer";
    if (!testing::PathExists(dir + "/tokenizer.json")) return;
    absl::StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::FromDirectory(dir);
    // No ASSERT here (a failed suite set-up marks tests skipped); SetUp reports it.
    if (t.ok()) {
      tokenizer_ = t->release();
    } else {
      load_error_ = new std::string(t.status().ToString());
    }
  }
  void SetUp() override {
    DSM_REQUIRE_SHARED("models/deepseek-math-tokenizer/tokenizer.json");
    ASSERT_NE(tokenizer_, nullptr) << (load_error_ ? *load_error_ : "");
  }

  static std::string* load_error_;

  static const Tokenizer* tokenizer_;
};
const Tokenizer* DeepSeekTokenizerTest::tokenizer_ = nullptr;
std::string* DeepSeekTokenizerTest::load_error_ = nullptr;

TEST_F(DeepSeekTokenizerTest, MatchesEveryHfTestVector) {
  const nlohmann::json cases = nlohmann::json::parse(*ReadFileToString(
      testing::SharedDir() + "/models/deepseek-math-tokenizer/test_vectors.json"));
  ASSERT_EQ(cases.size(), 46u);
  for (const auto& c : cases) {
    const std::string text = c["text"];
    absl::StatusOr<std::vector<int32_t>> ids = tokenizer_->Encode(text);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(*ids, c["ids"].get<std::vector<int32_t>>()) << "text: " << text;
  }
}

}  // namespace
}  // namespace dsm

namespace dsm {
namespace {

// A corpus a math model sees, and text that stresses byte-level BPE.
const std::vector<std::string>& Corpus() {
  static const std::vector<std::string> corpus = {
      "Führer",
      "Let $x^2 + y^2 = r^2$. Then \\frac{dy}{dx} = -\\frac{x}{y}.",
      "\\begin{align} \\int_0^\\infty e^{-x^2}\\,dx &= \\frac{\\sqrt{\\pi}}{2} \\end{align}",
      "The answer is \\boxed{42}.",
      "Compute 12345678901234567890 * 98765 = ?",
      "½ + ¼ = ¾; x² + y³; ① ② ③; ٣٤٥; １２３",
      "勾股定理：直角三角形两直角边的平方和等于斜边的平方。",
      "수학은 아름답다. 数学は美しい。",
      "def f(x):\n    return x ** 2  # square\n\n\nprint(f(3))",
      "emoji: 🦙🚀 👩‍👩‍👧 ✅",
      "   leading and trailing spaces   ",
      "tabs\tand\r\nwindows\r\nlines\n\n\n",
      "\u00a0non-breaking\u2009thin\u3000ideographic\u0085next-line",
      "ø ö ú ÿ õ ÷ û ý À ù Á þ ü",
      "Ελληνικά και кириллица и ქართული",
      "a" + std::string(300, 'b') + " " + std::string(200, ' ') + "end",
      "<｜begin▁of▁sentence｜>User: hi<｜end▁of▁sentence｜>",
      "",
  };
  return corpus;
}

TEST_F(DeepSeekTokenizerTest, DecodeGivesTheTextBack) {
  for (const std::string& text : Corpus()) {
    absl::StatusOr<std::vector<int32_t>> ids = tokenizer_->Encode(text);
    ASSERT_TRUE(ids.ok()) << ids.status();
    absl::StatusOr<std::string> back = tokenizer_->Decode(*ids);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, text);
  }
}

TEST_F(DeepSeekTokenizerTest, AddedCharacterTokensDecodeToThemselves) {
  // HF's Rust decoder gives "F\uFFFDhrer" here; dsmserve returns the character.
  const std::vector<int32_t> ids = {37, 100014, 71, 6245};
  EXPECT_EQ(*tokenizer_->Decode(ids), "Führer");
}

TEST_F(DeepSeekTokenizerTest, SpecialTokens) {
  const std::string eos = "<｜end▁of▁sentence｜>";
  EXPECT_EQ(*tokenizer_->Encode(eos), std::vector<int32_t>{100001});
  // Not parsed: ordinary text tokens.
  std::vector<int32_t> plain = *tokenizer_->Encode(eos, false, /*parse_special=*/false);
  EXPECT_GT(plain.size(), 1u);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 100001), 0);
  EXPECT_EQ(*tokenizer_->Decode(plain), eos);
  // add_special_tokens puts BOS first (TemplateProcessing).
  std::vector<int32_t> with_bos = *tokenizer_->Encode("Hello world", true);
  EXPECT_EQ(with_bos, (std::vector<int32_t>{100000, 17464, 1843}));
  EXPECT_EQ(*tokenizer_->Decode(with_bos, /*skip_special_tokens=*/true), "Hello world");
  EXPECT_EQ(*tokenizer_->Decode(with_bos), "<｜begin▁of▁sentence｜>Hello world");
  EXPECT_TRUE(tokenizer_->IsSpecial(100001));
  EXPECT_FALSE(tokenizer_->IsSpecial(100014));
  EXPECT_EQ(tokenizer_->vocab_size(), 100015);
}

TEST_F(DeepSeekTokenizerTest, ErrorsNameTheProblem) {
  absl::Status bad = tokenizer_->Encode("ok \xff\xfe").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("invalid UTF-8 at byte offset 3"), std::string::npos) << bad;
  const std::vector<int32_t> unknown = {17464, 100015};
  absl::Status s = tokenizer_->Decode(unknown).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("token id 100015 has no token"), std::string::npos) << s;
  const std::vector<int32_t> negative = {-5};
  EXPECT_FALSE(tokenizer_->Decode(negative).ok());
}

}  // namespace
}  // namespace dsm
