// Math-aware serving through a real `dsm serve`: final answers in responses, votes over
// samples sharing the prompt's blocks, and early stopping. The model is scripted
// (tests/support/scripted_model.h): each sample writes a run of 'a's of random length,
// then \boxed{7} with probability 0.75 or \boxed{8}, so answers and their timing vary by
// sample while a seed fixes them.

#include <grpcpp/grpcpp.h>

#include <numeric>

#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "tests/integration/server_helpers.h"
#include "tests/support/scripted_model.h"

namespace dsm {
namespace {

class VoteTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = testing::MakeTempDir("vote-model");
    testing::TextScript script = {{'?', {{"a", 1.0}}},
                                  {'a', {{"a", 0.85}, {"\\", 0.15}}},
                                  {'\\', {{"b", 1.0}}},
                                  {'b', {{"o", 1.0}}},
                                  {'o', {{"x", 1.0}}},
                                  {'x', {{"e", 1.0}}},
                                  {'e', {{"d", 1.0}}},
                                  {'d', {{"{", 1.0}}},
                                  {'{', {{"7", 0.75}, {"8", 0.25}}},
                                  {'7', {{"}", 1.0}}},
                                  {'8', {{"}", 1.0}}},
                                  {'}', {{"", 1.0}}}};
    ASSERT_TRUE(testing::WriteScriptedModel(dir, script).ok());
    server_ = testing::ServerProcess::Start({"--model", dir, "--http-port", "0"}).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static v1::GenerateRequest Request(int vote, bool early_stop, float confidence = 0) {
    v1::GenerateRequest request;
    request.set_text("Solve it?");
    v1::GenerationParams* p = request.mutable_params();
    p->set_max_tokens(100);
    p->set_temperature(1.0f);
    p->set_seed(11);
    p->set_vote(vote);
    p->set_vote_early_stop(early_stop);
    p->set_vote_confidence(confidence);
    return request;
  }
  static grpc::Status Generate(const v1::GenerateRequest& request, v1::GenerateResponse* out) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    return server_->stub().Generate(&context, request, out);
  }
  static testing::ServerProcess* server_;
};
testing::ServerProcess* VoteTest::server_ = nullptr;

TEST_F(VoteTest, ChoicesCarryTheirFinalAnswers) {
  ASSERT_NE(server_, nullptr);
  v1::GenerateRequest request = Request(1, false);
  request.mutable_params()->clear_vote();
  request.mutable_params()->set_n(4);
  v1::GenerateResponse response;
  ASSERT_TRUE(Generate(request, &response).ok());
  ASSERT_EQ(response.choices_size(), 4);
  for (const v1::Choice& c : response.choices()) {
    ASSERT_EQ(c.finish_reason(), v1::FINISH_REASON_EOS) << c.text();
    EXPECT_TRUE(c.final_answer() == "7" || c.final_answer() == "8") << c.text();
    EXPECT_EQ(c.final_answer_text(), c.final_answer());
    EXPECT_EQ(c.text().substr(c.text().size() - 9), "\\boxed{" + c.final_answer() + "}");
  }
  EXPECT_FALSE(response.has_vote());
}

TEST_F(VoteTest, SixteenSamplesElectTheMajorityAnswer) {
  ASSERT_NE(server_, nullptr);
  v1::GenerateResponse response;
  ASSERT_TRUE(Generate(Request(16, false), &response).ok());
  ASSERT_EQ(response.choices_size(), 16);
  const v1::VoteResult& vote = response.vote();
  EXPECT_EQ(vote.samples(), 16);
  EXPECT_EQ(vote.samples_completed(), 16);
  EXPECT_EQ(vote.samples_stopped(), 0);
  EXPECT_EQ(vote.tokens_saved(), 0);
  int sevens = 0;
  for (const v1::Choice& c : response.choices()) sevens += c.final_answer() == "7" ? 1 : 0;
  ASSERT_EQ(vote.distribution_size(), sevens == 16 ? 1 : 2);
  const std::string majority = sevens * 2 >= 16 ? "7" : "8";
  EXPECT_EQ(vote.answer(), majority);
  EXPECT_EQ(vote.answer_text(), majority);
  EXPECT_EQ(vote.distribution(0).answer(), majority);
  EXPECT_DOUBLE_EQ(vote.share(), vote.distribution(0).votes() / 16.0);
  EXPECT_EQ(vote.supporters_size(), vote.distribution(0).votes());
  for (int i : vote.supporters()) EXPECT_EQ(response.choices(i).final_answer(), majority);
}

TEST_F(VoteTest, EarlyStopEndsSamplesThatCannotChangeTheOutcome) {
  ASSERT_NE(server_, nullptr);
  v1::GenerateResponse full, stopped;
  ASSERT_TRUE(Generate(Request(16, false), &full).ok());
  ASSERT_TRUE(Generate(Request(16, true), &stopped).ok());
  const v1::VoteResult& vote = stopped.vote();
  EXPECT_EQ(vote.answer(), full.vote().answer());  // the same seeds, the same leader
  EXPECT_EQ(vote.stopped_because(), "decided");
  EXPECT_GT(vote.samples_stopped(), 0);
  EXPECT_EQ(vote.samples_completed() + vote.samples_stopped(), 16);
  EXPECT_GT(vote.tokens_saved(), 0);
  EXPECT_LT(stopped.usage().completion_tokens(), full.usage().completion_tokens());
  // It stopped only once the leader led by more than the samples still running.
  const int runner_up = vote.distribution_size() > 1 ? vote.distribution(1).votes() : 0;
  EXPECT_GT(vote.distribution(0).votes(), runner_up + vote.samples_stopped());
  int cancelled = 0;
  for (const v1::Choice& c : stopped.choices()) {
    cancelled += c.finish_reason() == v1::FINISH_REASON_CANCELLED ? 1 : 0;
  }
  EXPECT_EQ(cancelled, vote.samples_stopped());

  // A confidence threshold stops sooner still.
  v1::GenerateResponse confident;
  v1::GenerateRequest request = Request(16, false, 0.6f);
  request.mutable_params()->set_vote_min_answers(4);
  ASSERT_TRUE(Generate(request, &confident).ok());
  EXPECT_EQ(confident.vote().stopped_because(), "confidence");
  EXPECT_GE(confident.vote().samples_completed(), 4);
  EXPECT_GE(confident.vote().share(), 0.6);
}

TEST_F(VoteTest, StreamingReportsEachSamplesAnswerThenTheVote) {
  ASSERT_NE(server_, nullptr);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  auto reader = server_->stub().GenerateStream(&context, Request(16, true));
  v1::GenerateStreamResponse chunk;
  int answered = 0, cancelled = 0;
  v1::VoteResult vote;
  while (reader->Read(&chunk)) {
    if (chunk.finish_reason() == v1::FINISH_REASON_EOS) {
      ++answered;
      EXPECT_TRUE(chunk.final_answer() == "7" || chunk.final_answer() == "8");
    }
    if (chunk.finish_reason() == v1::FINISH_REASON_CANCELLED) ++cancelled;
    if (chunk.has_vote()) vote = chunk.vote();
  }
  ASSERT_TRUE(reader->Finish().ok());
  v1::GenerateResponse unary;
  ASSERT_TRUE(Generate(Request(16, true), &unary).ok());
  EXPECT_EQ(vote.answer(), unary.vote().answer());
  EXPECT_EQ(answered, vote.samples_completed());
  EXPECT_EQ(cancelled, vote.samples_stopped());
}

TEST_F(VoteTest, FourShotPromptIsComputedOnceForSixteenVotes) {
  ASSERT_NE(server_, nullptr);
  std::string shots;
  for (int i = 0; i < 4; ++i) {
    shots += "Question: what is " + std::to_string(i) + " plus " + std::to_string(i) +
             "? Answer: it is " + std::to_string(2 * i) + ". The answer is " +
             std::to_string(2 * i) + ".\n\n";
  }
  v1::GenerateRequest request = Request(16, false);
  request.set_text(shots + "Question: the new one?");
  v1::GenerateResponse response;
  ASSERT_TRUE(Generate(request, &response).ok());
  const int prompt = response.usage().prompt_tokens();
  ASSERT_GT(prompt, 200);
  // Every sample after the first finds the prompt's full blocks in the prefix cache
  // (only the partial last block is its own).
  EXPECT_GE(response.usage().cached_prompt_tokens(), prompt - 16);
}

// The OpenAI front end: vote settings as extension fields of the body, the vote and each
// choice's final answer in the response, and the vote as the stream's last event.
TEST_F(VoteTest, OpenAiHttpCarriesVotesAndFinalAnswers) {
  ASSERT_NE(server_, nullptr);
  httplib::Client client("127.0.0.1", server_->http_port());
  client.set_read_timeout(120, 0);
  httplib::Result models = client.Get("/v1/models");
  ASSERT_TRUE(models);
  const std::string model = nlohmann::json::parse(models->body)["data"][0]["id"];
  const nlohmann::json body = {{"model", model},
                               {"prompt", "Solve it?"},
                               {"max_tokens", 100},
                               {"temperature", 1.0},
                               {"seed", 11},
                               {"vote", 16},
                               {"vote_early_stop", true}};
  httplib::Result r = client.Post("/v1/completions", body.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const nlohmann::json reply = nlohmann::json::parse(r->body);
  v1::GenerateResponse grpc_reply;
  ASSERT_TRUE(Generate(Request(16, true), &grpc_reply).ok());
  EXPECT_EQ(reply["vote"]["answer"], grpc_reply.vote().answer());
  EXPECT_EQ(reply["vote"]["samples_stopped"], grpc_reply.vote().samples_stopped());
  EXPECT_EQ(reply["vote"]["stopped_because"], "decided");
  ASSERT_EQ(reply["choices"].size(), 16u);
  int with_answer = 0;
  for (const nlohmann::json& c : reply["choices"]) with_answer += c.contains("final_answer");
  EXPECT_EQ(with_answer, grpc_reply.vote().samples_completed());

  nlohmann::json stream_body = body;
  stream_body["stream"] = true;
  r = client.Post("/v1/completions", stream_body.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  const size_t at = r->body.find("\"vote\":");
  ASSERT_NE(at, std::string::npos) << r->body;
  EXPECT_LT(at, r->body.find("data: [DONE]"));
  EXPECT_NE(r->body.find("\"final_answer\":"), std::string::npos);

  nlohmann::json bad = body;
  bad["temperature"] = 0;
  r = client.Post("/v1/completions", bad.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
}

TEST_F(VoteTest, BadVoteSettingsAreInvalidArguments) {
  ASSERT_NE(server_, nullptr);
  v1::GenerateResponse response;
  v1::GenerateRequest greedy = Request(4, false);
  greedy.mutable_params()->set_temperature(0.0f);
  grpc::Status s = Generate(greedy, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("temperature"), std::string::npos) << s.error_message();
  v1::GenerateRequest both = Request(4, false);
  both.mutable_params()->set_n(2);
  s = Generate(both, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("not both"), std::string::npos) << s.error_message();
  s = Generate(Request(17, false), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  s = Generate(Request(4, false, 1.5f), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace dsm
