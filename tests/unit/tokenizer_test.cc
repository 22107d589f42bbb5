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
    ASSERT_TRUE(t.ok()) << t.status();
    tokenizer_ = t->release();
  }
  void SetUp() override { DSM_REQUIRE_SHARED("models/deepseek-math-tokenizer/tokenizer.json"); }

  static const Tokenizer* tokenizer_;
};
const Tokenizer* DeepSeekTokenizerTest::tokenizer_ = nullptr;

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
