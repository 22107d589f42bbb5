// Streaming detokenization: pieces never break a UTF-8 sequence and concatenate to the
// one-shot decode, for thousands of random id sequences (ids that split multi-byte
// characters included).

#include <random>

#include "coordinator/tokenizer/incremental_detokenizer.h"
#include "coordinator/tokenizer/utf8.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace dsm {
namespace {

class DetokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = testing::SharedDir() + "/models/deepseek-math-tokenizer";
    if (!testing::PathExists(dir + "/tokenizer.json")) return;
    if (auto t = Tokenizer::FromDirectory(dir); t.ok()) tokenizer_ = t->release();
  }
  void SetUp() override {
    DSM_REQUIRE_SHARED("models/deepseek-math-tokenizer/tokenizer.json");
    ASSERT_NE(tokenizer_, nullptr) << "the tokenizer did not load";
  }

  static const Tokenizer* tokenizer_;
};
const Tokenizer* DetokenizerTest::tokenizer_ = nullptr;

std::string Stream(const Tokenizer& tokenizer, const std::vector<int32_t>& ids, bool skip) {
  IncrementalDetokenizer detok(tokenizer, skip);
  std::string text;
  for (int32_t id : ids) {
    absl::StatusOr<std::string> piece = detok.Add(id);
    EXPECT_TRUE(piece.ok()) << piece.status();
    // Every piece is valid UTF-8 on its own.
    EXPECT_TRUE(ValidateUtf8(*piece).ok());
    text += *piece;
  }
  text += *detok.Finish();
  return text;
}

TEST_F(DetokenizerTest, RandomIdSequencesStreamToTheOneShotDecode) {
  std::mt19937 rng(5);
  // Byte tokens (ids of single bytes 0x80-0xFF, which split characters) are frequent in
  // the low ids of a byte-level vocabulary; mix them with arbitrary and added tokens.
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<int32_t> ids;
    const int n = 1 + rng() % 24;
    for (int i = 0; i < n; ++i) {
      const int kind = rng() % 4;
      if (kind == 0) {
        ids.push_back(static_cast<int32_t>(rng() % 256));
      } else if (kind == 1) {
        ids.push_back(static_cast<int32_t>(100000 + rng() % 15));
      } else {
        ids.push_back(static_cast<int32_t>(rng() % 100000));
      }
    }
    for (bool skip : {false, true}) {
      const std::string expected = *tokenizer_->Decode(ids, skip);
      ASSERT_EQ(Stream(*tokenizer_, ids, skip), expected) << "trial " << trial;
    }
  }
}

TEST_F(DetokenizerTest, HoldsBackSplitCharacters) {
  // "€" is three bytes; feed a text whose tokens split it.
  const std::vector<int32_t> ids = *tokenizer_->Encode("price: 5€ 🦙");
  IncrementalDetokenizer detok(*tokenizer_, false);
  std::string text;
  for (int32_t id : ids) {
    std::string piece = *detok.Add(id);
    EXPECT_EQ(piece.find(kReplacementCharacter), std::string::npos) << piece;
    text += piece;
  }
  text += *detok.Finish();
  EXPECT_EQ(text, "price: 5€ 🦙");
}

TEST_F(DetokenizerTest, UnknownIdIsAnErrorAndLeavesStateIntact) {
  IncrementalDetokenizer detok(*tokenizer_, false);
  EXPECT_EQ(*detok.Add(17464), "Hello");
  EXPECT_FALSE(detok.Add(100500).ok());
  EXPECT_EQ(*detok.Add(1843), " world");
  EXPECT_EQ(detok.ids().size(), 2u);
}

}  // namespace
}  // namespace dsm
