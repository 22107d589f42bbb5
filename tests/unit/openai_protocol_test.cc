// OpenAI request JSON to dsm.v1 messages and back: the adapter's own rules (defaults,
// field names in errors, unsupported parameters, SSE framing), without a server.

#include "coordinator/openai/openai_protocol.h"

#include "gtest/gtest.h"

namespace dsm::openai {
namespace {

using nlohmann::json;

absl::StatusOr<ParsedRequest> Completions(const json& body) {
  return ParseRequest(Endpoint::kCompletions, body.dump(), "m");
}
absl::StatusOr<ParsedRequest> Chat(const json& body) {
  return ParseRequest(Endpoint::kChat, body.dump(), "m");
}

TEST(OpenAiProtocolTest, CompletionsDefaultsAndVllmExtensions) {
  absl::StatusOr<ParsedRequest> r =
      Completions({{"prompt", {"one prompt"}}, {"top_k", -1}, {"stop", "\n"}, {"seed", 3}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->generate.text(), "one prompt");
  EXPECT_EQ(r->generate.params().max_tokens(), 16);  // OpenAI's completions default
  EXPECT_EQ(r->generate.params().top_k(), 0);        // -1 = off, as in vLLM
  ASSERT_EQ(r->generate.params().stop_size(), 1);
  EXPECT_EQ(r->generate.params().seed(), 3u);
  EXPECT_EQ(r->model, "m");

  r = Completions({{"prompt", {1, 2, 3}}, {"logprobs", 0}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->generate.token_ids().ids_size(), 3);
  EXPECT_TRUE(r->want_logprobs);
  EXPECT_EQ(r->generate.params().logprobs(), 1);
}

TEST(OpenAiProtocolTest, ChatMessagesAndLogprobs) {
  absl::StatusOr<ParsedRequest> r =
      Chat({{"messages",
             {{{"role", "developer"}, {"content", "Be brief."}},
              {{"role", "user"},
               {"content",
                {{{"type", "text"}, {"text", "Hi "}}, {{"type", "text"}, {"text", "there"}}}}}}},
            {"max_completion_tokens", 5},
            {"logprobs", true},
            {"top_logprobs", 3}});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->chat.messages_size(), 2);
  EXPECT_EQ(r->chat.messages(0).role(), "system");
  EXPECT_EQ(r->chat.messages(1).content(), "Hi there");
  EXPECT_EQ(r->chat.params().max_tokens(), 5);
  EXPECT_EQ(r->chat.params().logprobs(), 3);
  EXPECT_EQ(r->chat_top_logprobs, 3);
  // Chat leaves max_tokens to the server's default.
  r = Chat({{"messages", {{{"role", "user"}, {"content", "x"}}}}});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->chat.params().has_max_tokens());
}

TEST(OpenAiProtocolTest, BadInputNamesTheField) {
  struct Case {
    json body;
    absl::StatusCode code;
    std::string in_message;
  };
  const std::vector<Case> cases = {
      {{{"prompt", "x"}, {"max_tokens", 0}}, absl::StatusCode::kInvalidArgument, "max_tokens"},
      {{{"prompt", "x"}, {"n", 1.5}}, absl::StatusCode::kInvalidArgument, "n"},
      {{{"prompt", {"a", "b"}}}, absl::StatusCode::kInvalidArgument, "one prompt per request"},
      {{{"prompt", {1, "x"}}}, absl::StatusCode::kInvalidArgument, "prompt"},
      {{{"prompt", "x"}, {"stop", {1}}}, absl::StatusCode::kInvalidArgument, "stop[0]"},
      {{{"prompt", "x"}, {"stream_options", {{"include_usage", true}}}},
       absl::StatusCode::kInvalidArgument,
       "stream_options"},
      {{{"prompt", "x"}, {"logit_bias", {{"5", 1}}}},
       absl::StatusCode::kUnimplemented,
       "logit_bias"},
      {{{"prompt", "x"}, {"best_of", 3}}, absl::StatusCode::kUnimplemented, "best_of"},
      {{{"prompt", "x"}, {"model", "other"}}, absl::StatusCode::kNotFound, "other"},
      // Numbers past the target type are errors, never wrapped or converted out of range.
      {{{"prompt", "x"}, {"max_tokens", 1e30}}, absl::StatusCode::kInvalidArgument, "max_tokens"},
      {{{"prompt", {1, 4294967297LL}}}, absl::StatusCode::kInvalidArgument, "prompt[1]"},
      {{{"prompt", {18446744073709551615ULL}}}, absl::StatusCode::kInvalidArgument, "prompt[0]"},
      {{{"prompt", "x"}, {"stop_token_ids", {-4294967295LL}}},
       absl::StatusCode::kInvalidArgument,
       "stop_token_ids[0]"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ParsedRequest> r = Completions(c.body);
    ASSERT_FALSE(r.ok()) << c.body.dump();
    EXPECT_EQ(r.status().code(), c.code) << c.body.dump() << ": " << r.status();
    EXPECT_NE(r.status().message().find(c.in_message), std::string::npos) << r.status();
  }
  EXPECT_FALSE(ParseRequest(Endpoint::kCompletions, "[1,2]", "m").ok());
  EXPECT_FALSE(ParseRequest(Endpoint::kCompletions, "{", "m").ok());
  // A body that is not JSON says where and why.
  absl::StatusOr<ParsedRequest> trailing_comma =
      ParseRequest(Endpoint::kCompletions, R"({"prompt": "x",})", "m");
  ASSERT_FALSE(trailing_comma.ok());
  EXPECT_NE(trailing_comma.status().message().find("column 16"), std::string::npos)
      << trailing_comma.status();
  absl::StatusOr<ParsedRequest> bad_utf8 =
      ParseRequest(Endpoint::kCompletions, "{\"prompt\": \"\xff\"}", "m");
  ASSERT_FALSE(bad_utf8.ok());
  EXPECT_NE(bad_utf8.status().message().find("UTF-8"), std::string::npos) << bad_utf8.status();
}

TEST(OpenAiProtocolTest, ErrorsMapToHttpCodesAndParams) {
  HttpError e = ErrorFor(absl::InvalidArgumentError("params.top_p = 2 is outside (0, 1]"));
  EXPECT_EQ(e.http_status, 400);
  EXPECT_EQ(e.body["error"]["param"], "top_p");
  EXPECT_EQ(ErrorFor(absl::ResourceExhaustedError("queue is full")).http_status, 429);
  EXPECT_EQ(ErrorFor(absl::UnavailableError("server is draining")).http_status, 503);
  EXPECT_EQ(ErrorFor(absl::NotFoundError("no model")).http_status, 404);
  EXPECT_EQ(ErrorFor(absl::InternalError("boom")).http_status, 500);
  EXPECT_TRUE(ErrorFor(absl::InternalError("boom")).body["error"]["param"].is_null());
  // Fields named first, however the message goes on.
  EXPECT_EQ(
      ErrorFor(absl::InvalidArgumentError("max_tokens: must be at least 1")).body["error"]["param"],
      "max_tokens");
  EXPECT_EQ(ErrorFor(absl::InvalidArgumentError("prompt is empty: set prompt.text"))
                .body["error"]["param"],
            "prompt");
  EXPECT_EQ(ErrorFor(absl::InvalidArgumentError("params.stop[0] must be 1 to 256 bytes"))
                .body["error"]["param"],
            "stop[0]");
  // Sentences about the request as a whole name no field.
  for (const char* message :
       {"the request body is not valid JSON", "set params.n or params.vote, not both",
        "the prompt of 5000 tokens leaves no room"}) {
    EXPECT_TRUE(ErrorFor(absl::InvalidArgumentError(message)).body["error"]["param"].is_null())
        << message;
  }
}

TEST(OpenAiProtocolTest, ChatStreamSendsTheRoleFirstAndDoneLast) {
  absl::StatusOr<ParsedRequest> r = Chat({{"messages", {{{"role", "user"}, {"content", "x"}}}},
                                          {"stream", true},
                                          {"stream_options", {{"include_usage", true}}}});
  ASSERT_TRUE(r.ok()) << r.status();
  StreamEncoder encoder(*r, ResponseContext{"chatcmpl-1", 7, "m", nullptr});
  v1::GenerateStreamResponse chunk;
  chunk.set_text("He");
  const std::string first = encoder.Encode(chunk);
  ASSERT_EQ(first.rfind("data: ", 0), 0u);
  ASSERT_EQ(first.substr(first.size() - 2), "\n\n");
  const json event = json::parse(first.substr(6));
  EXPECT_EQ(event["object"], "chat.completion.chunk");
  EXPECT_EQ(event["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(event["choices"][0]["delta"]["content"], "He");
  chunk.set_text("llo");
  chunk.set_finish_reason(v1::FINISH_REASON_EOS);
  const json second = json::parse(encoder.Encode(chunk).substr(6));
  EXPECT_FALSE(second["choices"][0]["delta"].contains("role"));
  EXPECT_EQ(second["choices"][0]["finish_reason"], "stop");
  v1::Usage usage;
  usage.set_prompt_tokens(3);
  usage.set_completion_tokens(2);
  const std::string end = encoder.Finish(usage);
  EXPECT_NE(end.find("\"total_tokens\":5"), std::string::npos) << end;
  EXPECT_EQ(end.substr(end.size() - 14), "data: [DONE]\n\n");
}

}  // namespace
}  // namespace dsm::openai
