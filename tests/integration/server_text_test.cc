// `dsm serve` with a tokenizer: text prompts, stop strings on the detokenized text,
// streaming text, chat, Tokenize/Detokenize and invalid UTF-8 — on a random model that
// carries the DeepSeek-Math tokenizer files.

#include <filesystem>

#include "coordinator/tokenizer/tokenizer.h"
#include "gtest/gtest.h"
#include "tests/integration/server_helpers.h"
#include "tests/support/text_model.h"

namespace dsm {
namespace {

using testing::CollectStream;
using testing::Greedy;

std::string TokenizerDir() { return testing::SharedDir() + "/models/deepseek-math-tokenizer"; }

class ServerTextTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::PathExists(TokenizerDir() + "/tokenizer.json")) return;
    const std::string dir = testing::ProcessTempPath("text_model");
    // No ASSERT here: a failed suite set-up would mark the tests skipped. SetUp fails
    // them when the server is missing.
    if (!testing::WriteTextModel(dir).ok()) return;
    server_ = testing::ServerProcess::Start({"--model", dir}).release();
    tokenizer_ = Tokenizer::FromDirectory(TokenizerDir())->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete tokenizer_;
  }
  void SetUp() override {
    DSM_REQUIRE_SHARED("models/deepseek-math-tokenizer/tokenizer.json");
    ASSERT_NE(server_, nullptr);
  }

  static v1::GenerateRequest TextRequest(const std::string& text, v1::GenerationParams params) {
    v1::GenerateRequest r;
    r.set_text(text);
    *r.mutable_params() = std::move(params);
    return r;
  }

  static testing::ServerProcess* server_;
  static Tokenizer* tokenizer_;
};
testing::ServerProcess* ServerTextTest::server_ = nullptr;
Tokenizer* ServerTextTest::tokenizer_ = nullptr;

TEST_F(ServerTextTest, TextPromptStreamsTheDecodedText) {
  v1::GenerationParams p = Greedy(24);
  p.set_echo(true);
  grpc::ClientContext context;
  v1::GenerateResponse unary;
  ASSERT_TRUE(server_->stub().Generate(&context, TextRequest("Compute 2+2.", p), &unary).ok());
  // The prompt is the text encoded with BOS, as HF does.
  const std::vector<int32_t> prompt(unary.prompt_token_ids().begin(),
                                    unary.prompt_token_ids().end());
  EXPECT_EQ(prompt, *tokenizer_->Encode("Compute 2+2.", true));
  const std::vector<int32_t> ids(unary.choices(0).token_ids().begin(),
                                 unary.choices(0).token_ids().end());
  EXPECT_EQ(unary.choices(0).text(), *tokenizer_->Decode(ids, true));
  // Streaming gives the same tokens and text, piece by piece.
  testing::StreamResult streamed = CollectStream(server_->stub(), TextRequest("Compute 2+2.", p));
  ASSERT_TRUE(streamed.status.ok()) << streamed.status.error_message();
  EXPECT_EQ(streamed.tokens[0], ids);
  EXPECT_EQ(streamed.text[0], unary.choices(0).text());
}

TEST_F(ServerTextTest, StopStringTruncatesTheText) {
  grpc::ClientContext context;
  v1::GenerateResponse full;
  ASSERT_TRUE(server_->stub().Generate(&context, TextRequest("Once upon", Greedy(40)), &full).ok());
  const std::string text = full.choices(0).text();
  ASSERT_GT(text.size(), 12u);
  // Stop at a piece of the middle of the greedy answer.
  size_t at = text.size() / 2;
  while (at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) ++at;
  size_t end = at + 1;
  while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
  const std::string stop = text.substr(at, end - at);
  const size_t first = text.find(stop);
  v1::GenerationParams p = Greedy(40);
  p.add_stop(stop);
  testing::StreamResult r = CollectStream(server_->stub(), TextRequest("Once upon", p));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.text[0], text.substr(0, first));
  EXPECT_EQ(r.finish[0], v1::FINISH_REASON_STOP);
  EXPECT_LT(r.tokens[0].size(), 40u);
}

TEST_F(ServerTextTest, ChatUsesTheTemplateAndKeepsUserTextPlain) {
  v1::ChatRequest chat;
  v1::ChatMessage* m = chat.add_messages();
  m->set_role("user");
  m->set_content("say <｜end▁of▁sentence｜> please");
  *chat.mutable_params() = Greedy(8);
  chat.mutable_params()->set_echo(true);
  grpc::ClientContext context;
  v1::GenerateResponse response;
  ASSERT_TRUE(server_->stub().Chat(&context, chat, &response).ok());
  const std::vector<int32_t> prompt(response.prompt_token_ids().begin(),
                                    response.prompt_token_ids().end());
  EXPECT_EQ(prompt.front(), 100000);
  EXPECT_EQ(std::count(prompt.begin(), prompt.end(), 100001), 0);
  EXPECT_EQ(*tokenizer_->Decode(prompt),
            "<｜begin▁of▁sentence｜>User: say <｜end▁of▁sentence｜> please\n\nAssistant:");
  EXPECT_EQ(response.choices(0).token_ids_size(), 8);
  chat.mutable_messages(0)->set_role("robot");
  grpc::ClientContext bad_context;
  grpc::Status bad = server_->stub().Chat(&bad_context, chat, &response);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("messages[0].role"), std::string::npos);
}

TEST_F(ServerTextTest, TokenizeDetokenizeAndInvalidUtf8) {
  grpc::ClientContext c1;
  v1::TokenizeRequest tokenize;
  tokenize.set_text("Hello world");
  tokenize.set_add_special_tokens(true);
  v1::TokenizeResponse ids;
  ASSERT_TRUE(server_->stub().Tokenize(&c1, tokenize, &ids).ok());
  EXPECT_EQ(std::vector<int32_t>(ids.ids().begin(), ids.ids().end()),
            (std::vector<int32_t>{100000, 17464, 1843}));
  grpc::ClientContext c2;
  v1::DetokenizeRequest detokenize;
  detokenize.add_ids(37);
  detokenize.add_ids(100014);
  detokenize.add_ids(71);
  detokenize.add_ids(6245);
  v1::DetokenizeResponse text;
  ASSERT_TRUE(server_->stub().Detokenize(&c2, detokenize, &text).ok());
  EXPECT_EQ(text.text(), "Führer");
  grpc::ClientContext c3;
  v1::GenerateResponse response;
  grpc::Status bad = server_->stub().Generate(&c3, TextRequest("ab\xC3(", Greedy(4)), &response);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("prompt.text: invalid UTF-8 at byte offset 2"),
            std::string::npos)
      << bad.error_message();
  grpc::ClientContext c4;
  detokenize.add_ids(102000);
  grpc::Status unknown = server_->stub().Detokenize(&c4, detokenize, &text);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace dsm
