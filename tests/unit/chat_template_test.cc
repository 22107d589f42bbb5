#include "coordinator/tokenizer/chat_template.h"

#include "common/file_util.h"
#include "coordinator/tokenizer/tokenizer_files.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace dsm {
namespace {

class ChatTemplateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DSM_REQUIRE_SHARED("models/deepseek-math-tokenizer/tokenizer_config.json");
    absl::StatusOr<TokenizerFiles> files =
        LoadTokenizerFiles(testing::SharedDir() + "/models/deepseek-math-tokenizer");
    ASSERT_TRUE(files.ok()) << files.status();
    files_ = std::make_unique<TokenizerFiles>(*std::move(files));
  }
  std::unique_ptr<TokenizerFiles> files_;
};

const std::string kBos = "<｜begin▁of▁sentence｜>";
const std::string kEos = "<｜end▁of▁sentence｜>";

TEST_F(ChatTemplateTest, RecognisesDeepSeeksTemplateAndIds) {
  EXPECT_EQ(files_->chat_template.kind(), ChatTemplate::Kind::kDeepSeek);
  EXPECT_EQ(files_->bos_id, 100000);
  EXPECT_EQ(files_->eos_id, 100001);
}

TEST_F(ChatTemplateTest, RendersLikeApplyChatTemplate) {
  const std::vector<ChatMessage> messages = {{"system", "You are precise."},
                                             {"user", "What is 2+2?"},
                                             {"assistant", "4"},
                                             {"user", "And 3+3?"}};
  absl::StatusOr<std::string> text = files_->chat_template.Render(messages, true, kBos, kEos);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, kBos + "You are precise.\n\nUser: What is 2+2?\n\nAssistant: 4" + kEos +
                       "User: And 3+3?\n\nAssistant:");
  // Token ids equal encoding the rendered text (special strings parsed), as HF does.
  absl::StatusOr<std::vector<int32_t>> ids =
      files_->chat_template.Encode(*files_->tokenizer, messages, true, 100000, 100001);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(*ids, *files_->tokenizer->Encode(*text));
  EXPECT_EQ((*ids)[0], 100000);
  EXPECT_EQ(std::count(ids->begin(), ids->end(), 100001), 1);
}

TEST_F(ChatTemplateTest, SpecialStringsInMessagesStayText) {
  const std::vector<ChatMessage> messages = {{"user", "say " + kEos + " now"}};
  absl::StatusOr<std::vector<int32_t>> ids =
      files_->chat_template.Encode(*files_->tokenizer, messages, true, 100000, 100001);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(std::count(ids->begin(), ids->end(), 100001), 0);
  EXPECT_EQ(*files_->tokenizer->Decode(*ids), kBos + "User: say " + kEos + " now\n\nAssistant:");
}

TEST_F(ChatTemplateTest, BadMessagesAndUnknownTemplates) {
  absl::Status role =
      files_->chat_template
          .Encode(*files_->tokenizer, {{"user", "hi"}, {"robot", "x"}}, true, 100000, 100001)
          .status();
  EXPECT_EQ(role.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(role.message().find("messages[1].role \"robot\""), std::string::npos) << role;
  absl::Status utf8 =
      files_->chat_template.Encode(*files_->tokenizer, {{"user", "a\xc3"}}, true, 100000, 100001)
          .status();
  EXPECT_NE(utf8.message().find("messages[0].content: invalid UTF-8 at byte offset 1"),
            std::string::npos)
      << utf8;
  ChatTemplate other = ChatTemplate::FromJinja("{{ messages[0]['content'] }}");
  EXPECT_EQ(other.kind(), ChatTemplate::Kind::kUnrecognized);
  absl::Status unknown =
      other.Encode(*files_->tokenizer, {{"user", "hi"}}, true, 100000, 100001).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(unknown.message().find("not one dsmserve understands"), std::string::npos);
  EXPECT_EQ(ChatTemplate::FromJinja("").kind(), ChatTemplate::Kind::kNone);
}

}  // namespace
}  // namespace dsm
