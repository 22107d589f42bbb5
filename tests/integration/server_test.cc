// `dsm serve` end to end on 127.0.0.1 with real worker processes (stories260K, tp 2):
// golden greedy continuations over GenerateStream, concurrency, seeds, bad input,
// cancellation and deadlines, health checking.

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <future>
#include <random>
#include <thread>

#include "common/file_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/server_helpers.h"

namespace dsm {
namespace {

using testing::CollectStream;
using testing::Greedy;
using testing::IdsRequest;

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!dsm::testing::PathExists(dsm::testing::SharedDir() + "/models/stories260K/golden.json")) {
      return;
    }
    server_ =
        testing::ServerProcess::Start({"--model", dsm::testing::SharedDir() + "/models/stories260K",
                                       "--tp", "2", "--kv-cache-mib", "64"})
            .release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    DSM_REQUIRE_SHARED("models/stories260K/golden.json");
    ASSERT_NE(server_, nullptr);
    golden_ = nlohmann::json::parse(
        *ReadFileToString(dsm::testing::SharedDir() + "/models/stories260K/golden.json"));
  }
  v1::Inference::Stub& stub() { return server_->stub(); }

  v1::ModelInfo Info() {
    grpc::ClientContext context;
    v1::ModelInfo info;
    EXPECT_TRUE(stub().GetModelInfo(&context, v1::GetModelInfoRequest(), &info).ok());
    return info;
  }

  // Waits until every KV block of group 0 is free again.
  bool BlocksReturn() {
    for (int i = 0; i < 100; ++i) {
      const v1::ModelInfo info = Info();
      if (info.groups(0).kv_blocks_free() == info.groups(0).kv_blocks_total() &&
          info.groups(0).running() == 0) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  static testing::ServerProcess* server_;
  nlohmann::json golden_;
};
testing::ServerProcess* ServerTest::server_ = nullptr;

TEST_F(ServerTest, GenerateStreamGivesTheGoldenGreedyContinuation) {
  for (const auto& c : golden_) {
    testing::StreamResult r = CollectStream(
        stub(), IdsRequest(c["prompt_token_ids"].get<std::vector<int32_t>>(), Greedy(64)));
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_EQ(r.tokens[0], c["greedy_token_ids"].get<std::vector<int32_t>>());
    EXPECT_EQ(r.finish[0], v1::FINISH_REASON_LENGTH);
    EXPECT_EQ(r.usage.completion_tokens(), 64);
  }
}

TEST_F(ServerTest, PrefixCacheHitsGiveTheSameGoldenTokens) {
  // The longest golden prompt, twice: the second run reuses its cached full blocks.
  const auto& c = golden_[golden_.size() - 1];
  const auto prompt = c["prompt_token_ids"].get<std::vector<int32_t>>();
  ASSERT_GT(prompt.size(), 32u);
  v1::GenerateResponse runs[2];
  for (auto& run : runs) {
    grpc::ClientContext context;
    ASSERT_TRUE(stub().Generate(&context, IdsRequest(prompt, Greedy(64)), &run).ok());
    EXPECT_EQ(
        std::vector<int32_t>(run.choices(0).token_ids().begin(), run.choices(0).token_ids().end()),
        c["greedy_token_ids"].get<std::vector<int32_t>>());
  }
  EXPECT_EQ(runs[1].usage().cached_prompt_tokens(), (prompt.size() - 1) / 16 * 16);
  EXPECT_GT(Info().groups(0).kv_blocks_cached(), 0);
}

TEST_F(ServerTest, ThirtyTwoConcurrentStreamsMatchTheirLoneRuns) {
  std::mt19937 rng(3);
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 32; ++i) {
    std::vector<int32_t> p = {1};
    const int length = 1 + static_cast<int>(rng() % 20);
    for (int j = 0; j < length; ++j) p.push_back(static_cast<int32_t>(rng() % 512));
    prompts.push_back(p);
  }
  std::vector<std::future<testing::StreamResult>> futures;
  for (const auto& p : prompts) {
    futures.push_back(std::async(
        std::launch::async, [&, p] { return CollectStream(stub(), IdsRequest(p, Greedy(24))); }));
  }
  std::vector<testing::StreamResult> together;
  for (auto& f : futures) together.push_back(f.get());
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_TRUE(together[i].status.ok()) << together[i].status.error_message();
    testing::StreamResult alone = CollectStream(stub(), IdsRequest(prompts[i], Greedy(24)));
    ASSERT_TRUE(alone.status.ok());
    EXPECT_EQ(together[i].tokens[0], alone.tokens[0]) << "prompt " << i;
  }
  EXPECT_TRUE(BlocksReturn());
}

TEST_F(ServerTest, NSamplesWithASeedAreReproducible) {
  v1::GenerationParams p;
  p.set_temperature(1.0f);
  p.set_max_tokens(20);
  p.set_ignore_eos(true);
  p.set_n(4);
  p.set_seed(42);
  const v1::GenerateRequest request = IdsRequest({1, 400}, p);
  grpc::ClientContext c1, c2;
  v1::GenerateResponse a, b;
  ASSERT_TRUE(stub().Generate(&c1, request, &a).ok());
  ASSERT_TRUE(stub().Generate(&c2, request, &b).ok());
  ASSERT_EQ(a.choices_size(), 4);
  std::set<std::vector<int32_t>> distinct;
  for (int i = 0; i < 4; ++i) {
    const std::vector<int32_t> ta(a.choices(i).token_ids().begin(), a.choices(i).token_ids().end());
    const std::vector<int32_t> tb(b.choices(i).token_ids().begin(), b.choices(i).token_ids().end());
    EXPECT_EQ(ta, tb) << "choice " << i;
    EXPECT_EQ(ta.size(), 20u);
    distinct.insert(ta);
  }
  EXPECT_GT(distinct.size(), 1u);  // the choices are independent samples
  EXPECT_EQ(a.usage().completion_tokens(), 80);
}

TEST_F(ServerTest, NSamplesShareThePromptBlocks) {
  std::vector<int32_t> prompt = {1};
  for (int i = 0; i < 40; ++i) prompt.push_back(300 + i);
  v1::GenerationParams p;
  p.set_temperature(0.9f);
  p.set_max_tokens(8);
  p.set_n(4);
  p.set_seed(9);
  grpc::ClientContext context;
  v1::GenerateResponse r;
  ASSERT_TRUE(stub().Generate(&context, IdsRequest(prompt, p), &r).ok());
  ASSERT_EQ(r.choices_size(), 4);
  // Choices 1-3 reuse the 2 full blocks (32 tokens) choice 0 computed.
  EXPECT_EQ(r.usage().cached_prompt_tokens(), 32);
  // Choice 0 of n equals a lone request with the same seed: sharing changes nothing.
  v1::GenerationParams one = p;
  one.set_n(1);
  grpc::ClientContext context1;
  v1::GenerateResponse single;
  ASSERT_TRUE(stub().Generate(&context1, IdsRequest(prompt, one), &single).ok());
  EXPECT_EQ(std::vector<int32_t>(single.choices(0).token_ids().begin(),
                                 single.choices(0).token_ids().end()),
            std::vector<int32_t>(r.choices(0).token_ids().begin(), r.choices(0).token_ids().end()));
}

TEST_F(ServerTest, BadInputIsInvalidArgumentNamingTheField) {
  auto error = [&](const v1::GenerateRequest& r) {
    grpc::ClientContext context;
    v1::GenerateResponse response;
    return stub().Generate(&context, r, &response);
  };
  auto with = [](auto mutate) {
    v1::GenerateRequest r = IdsRequest({1, 2, 3}, Greedy(4));
    mutate(r);
    return r;
  };
  struct Case {
    v1::GenerateRequest request;
    grpc::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {with([](auto& r) { r.mutable_params()->set_temperature(-1); }),
       grpc::StatusCode::INVALID_ARGUMENT, "params.temperature"},
      {with([](auto& r) { r.mutable_params()->set_top_p(1.5); }),
       grpc::StatusCode::INVALID_ARGUMENT, "params.top_p"},
      {with([](auto& r) { r.mutable_params()->set_top_p(0); }), grpc::StatusCode::INVALID_ARGUMENT,
       "params.top_p"},
      {with([](auto& r) { r.mutable_params()->set_n(17); }), grpc::StatusCode::INVALID_ARGUMENT,
       "params.n = 17"},
      {with([](auto& r) { r.mutable_params()->set_max_tokens(510); }),
       grpc::StatusCode::INVALID_ARGUMENT, "exceeds the model context of 512"},
      {with([](auto& r) { r.mutable_params()->set_max_tokens(0); }),
       grpc::StatusCode::INVALID_ARGUMENT, "params.max_tokens"},
      {with([](auto& r) { r.mutable_token_ids()->clear_ids(); }),
       grpc::StatusCode::INVALID_ARGUMENT, "prompt.token_ids is empty"},
      {with([](auto& r) { r.clear_prompt(); }), grpc::StatusCode::INVALID_ARGUMENT,
       "prompt is empty"},
      {with([](auto& r) { r.mutable_token_ids()->set_ids(1, 512); }),
       grpc::StatusCode::INVALID_ARGUMENT, "prompt.token_ids[1] = 512 is outside"},
      {with([](auto& r) { r.set_text("hello"); }), grpc::StatusCode::FAILED_PRECONDITION,
       "needs a tokenizer"},
      {with([](auto& r) { r.mutable_params()->add_stop("x"); }),
       grpc::StatusCode::FAILED_PRECONDITION, "needs a tokenizer"},
      {with([](auto& r) { r.mutable_params()->add_stop_token_ids(9999); }),
       grpc::StatusCode::INVALID_ARGUMENT, "params.stop_token_ids[0]"},
      {with([](auto& r) { r.mutable_params()->set_logprobs(21); }),
       grpc::StatusCode::INVALID_ARGUMENT, "params.logprobs"},
  };
  for (const Case& c : cases) {
    grpc::Status s = error(c.request);
    EXPECT_EQ(s.error_code(), c.code) << c.message << ": " << s.error_message();
    EXPECT_NE(s.error_message().find(c.message), std::string::npos) << s.error_message();
  }
  // The service keeps serving.
  testing::StreamResult ok = CollectStream(stub(), IdsRequest({1}, Greedy(5)));
  EXPECT_TRUE(ok.status.ok());
  EXPECT_EQ(ok.tokens[0].size(), 5u);
}

TEST_F(ServerTest, CancellationStopsTheSequenceAndFreesItsBlocks) {
  grpc::ClientContext context;
  auto reader = stub().GenerateStream(&context, IdsRequest({1, 2}, Greedy(500)));
  v1::GenerateStreamResponse chunk;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(reader->Read(&chunk));
  EXPECT_EQ(Info().groups(0).running(), 1);
  context.TryCancel();
  while (reader->Read(&chunk)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(BlocksReturn());
}

// The workers are frozen for the request's whole life, so it cannot finish before its
// deadline however fast the machine is; the step it is stuck in returns once they thaw,
// and then its blocks must come back and the service must serve again.
TEST_F(ServerTest, DeadlineEndsTheRequestAndFreesItsBlocks) {
  const std::vector<pid_t> workers = server_->WorkerPids();
  ASSERT_EQ(workers.size(), 2u);
  for (pid_t pid : workers) ASSERT_EQ(kill(pid, SIGSTOP), 0);
  testing::StreamResult r = CollectStream(stub(), IdsRequest({1, 2}, Greedy(500)), 1, 0.5);
  for (pid_t pid : workers) kill(pid, SIGCONT);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << r.status.error_message();
  EXPECT_TRUE(BlocksReturn());
  testing::StreamResult after = CollectStream(stub(), IdsRequest({1}, Greedy(5)));
  EXPECT_TRUE(after.status.ok()) << after.status.error_message();
}

TEST_F(ServerTest, HealthAndModelInfo) {
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(&context, request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  const v1::ModelInfo info = Info();
  EXPECT_EQ(info.model_id(), "stories260K");
  EXPECT_EQ(info.context_length(), 512);
  EXPECT_EQ(info.vocab_size(), 512);
  EXPECT_EQ(info.tensor_parallel_size(), 2);
  EXPECT_EQ(info.replicas(), 1);
  EXPECT_EQ(info.backend(), "cpu");
  EXPECT_FALSE(info.has_tokenizer());
  ASSERT_EQ(info.groups_size(), 1);
  EXPECT_TRUE(info.groups(0).healthy());
}

}  // namespace
}  // namespace dsm
