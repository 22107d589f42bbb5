// Failure handling of `dsm serve` with real processes: a full queue answers at once, a
// worker that dies fails only its group's requests, and the group comes back.

#include <signal.h>

#include <filesystem>
#include <future>
#include <thread>

#include "gtest/gtest.h"
#include "tests/integration/server_helpers.h"
#include "tools/model_generator.h"

namespace dsm {
namespace {

using testing::CollectStream;
using testing::Greedy;
using testing::IdsRequest;

// A model slow enough (a few ms per token on this machine) that requests are still
// running when the test acts on them: random weights, 6 layers of hidden 768.
const std::string& SlowModel() {
  static const std::string* dir = [] {
    auto* d = new std::string(testing::ProcessTempPath("slow_model"));
    if (!std::filesystem::exists(*d + "/config.json")) {
      GeneratedModelSpec spec;
      spec.hidden_size = 768;
      spec.intermediate_size = 2064;
      spec.num_hidden_layers = 6;
      spec.num_attention_heads = 12;
      spec.num_key_value_heads = 12;
      spec.vocab_size = 512;
      spec.max_position_embeddings = 4096;
      EXPECT_TRUE(WriteRandomModel(*d, spec).ok());
    }
    return d;
  }();
  return *dir;
}

v1::ModelInfo Info(v1::Inference::Stub& stub) {
  grpc::ClientContext context;
  v1::ModelInfo info;
  EXPECT_TRUE(stub.GetModelInfo(&context, v1::GetModelInfoRequest(), &info).ok());
  return info;
}

TEST(ServerFailureTest, FullQueueIsResourceExhaustedAtOnce) {
  // One sequence runs at a time; the queue takes 2 more.
  auto server = testing::ServerProcess::Start(
      {"--model", SlowModel(), "--max-running", "1", "--max-queue", "2"});
  ASSERT_NE(server, nullptr);
  std::vector<std::future<testing::StreamResult>> queued;
  for (int i = 0; i < 3; ++i) {
    queued.push_back(std::async(std::launch::async, [&] {
      return CollectStream(server->stub(), IdsRequest({1, 2}, Greedy(1500)), 1, 3);
    }));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const v1::ModelInfo info = Info(server->stub());
  EXPECT_EQ(info.groups(0).running(), 1);
  EXPECT_EQ(info.groups(0).waiting(), 2);
  const auto start = std::chrono::steady_clock::now();
  testing::StreamResult rejected = CollectStream(server->stub(), IdsRequest({1}, Greedy(10)));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(rejected.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << rejected.status.error_message();
  EXPECT_NE(rejected.status.error_message().find("queue is full"), std::string::npos);
  EXPECT_LT(seconds, 1.0);
  // The others are served (or run into their own 3 s deadline), never failed.
  for (auto& f : queued) {
    testing::StreamResult r = f.get();
    EXPECT_TRUE(r.status.ok() || r.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
        << r.status.error_message();
  }
  testing::StreamResult after = CollectStream(server->stub(), IdsRequest({1}, Greedy(10)));
  EXPECT_TRUE(after.status.ok()) << after.status.error_message();
}

TEST(ServerFailureTest, DeadWorkerFailsItsGroupOnlyAndTheGroupComesBack) {
  auto server = testing::ServerProcess::Start({"--model", SlowModel(), "--replicas", "2"});
  ASSERT_NE(server, nullptr);
  const std::vector<pid_t> workers = server->WorkerPids();
  ASSERT_EQ(workers.size(), 2u);
  // One long request per group (routing sends the second to the idle group).
  std::vector<std::future<testing::StreamResult>> requests;
  for (int i = 0; i < 2; ++i) {
    requests.push_back(std::async(std::launch::async, [&] {
      return CollectStream(server->stub(), IdsRequest({1, 5}, Greedy(600)), 1, 60);
    }));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  ASSERT_EQ(kill(workers[0], SIGKILL), 0);
  int unavailable = 0, completed = 0;
  for (auto& f : requests) {
    testing::StreamResult r = f.get();
    if (r.status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      ++unavailable;
      EXPECT_NE(r.status.error_message().find("failed"), std::string::npos);
    } else if (r.status.ok()) {
      ++completed;
      EXPECT_EQ(r.tokens[0].size(), 600u);
    }
  }
  EXPECT_EQ(unavailable, 1);
  EXPECT_EQ(completed, 1);
  // The group is relaunched and used again.
  bool healthy = false;
  for (int i = 0; i < 100 && !healthy; ++i) {
    const v1::ModelInfo info = Info(server->stub());
    healthy = info.groups(0).healthy() && info.groups(1).healthy();
    if (!healthy) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(healthy);
  EXPECT_EQ(server->WorkerPids().size(), 2u);
  std::vector<std::future<testing::StreamResult>> after;
  for (int i = 0; i < 2; ++i) {
    after.push_back(std::async(std::launch::async, [&] {
      return CollectStream(server->stub(), IdsRequest({1, 7}, Greedy(50)));
    }));
  }
  for (auto& f : after) {
    testing::StreamResult r = f.get();
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  }
}

}  // namespace
}  // namespace dsm
