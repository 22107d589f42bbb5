// Chaos: 16 clients stream greedy requests against 2 replicas at tp 2 while, every few
// seconds, a random worker is killed (SIGKILL) or frozen (SIGSTOP). Every request must
// end with the exact tokens of its lone run or with UNAVAILABLE / DEADLINE_EXCEEDED,
// none may outlive its deadline, the coordinator must survive, and at the end both groups
// serve again with every KV block free. The fault schedule comes from a fixed seed;
// DSM_CHAOS_SECONDS sets the length (default 60).

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "gtest/gtest.h"
#include "tests/integration/server_helpers.h"

namespace dsm {
namespace {

using testing::CollectStream;
using testing::Greedy;
using testing::IdsRequest;

TEST(ChaosTest, KilledAndFrozenWorkersNeverCorruptOrHangRequests) {
  DSM_REQUIRE_SHARED("models/stories260K/config.json");
  const std::string model = testing::SharedDir() + "/models/stories260K";
  const char* env = std::getenv("DSM_CHAOS_SECONDS");
  const int seconds = env != nullptr ? std::max(5, std::atoi(env)) : 60;
  auto server = testing::ServerProcess::Start(
      {"--model", model, "--replicas", "2", "--tp", "2", "--threads", "1", "--step-timeout-s", "3",
       "--step-timeout-per-token-s", "0.01", "--restart-backoff-max-s", "1", "--comm-timeout-s",
       "20"});
  ASSERT_NE(server, nullptr);

  // Reference tokens: each prompt's lone greedy run, before any fault.
  std::mt19937 rng(11);
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::vector<int32_t>> expected;
  for (int i = 0; i < 8; ++i) {
    std::vector<int32_t> prompt = {1};
    for (int j = 0; j < 3 + i * 5; ++j) prompt.push_back(static_cast<int32_t>(rng() % 512));
    testing::StreamResult lone = CollectStream(server->stub(), IdsRequest(prompt, Greedy(48)));
    ASSERT_TRUE(lone.status.ok()) << lone.status.error_message();
    prompts.push_back(prompt);
    expected.push_back(lone.tokens[0]);
  }

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed_over{0}, wrong{0};
  std::mutex failures_mu;
  std::vector<std::string> failures;
  const double deadline_s = 30;
  std::vector<std::thread> clients;
  for (int c = 0; c < 16; ++c) {
    clients.emplace_back([&, c] {
      for (int i = c; !stop.load(); ++i) {
        const size_t p = static_cast<size_t>(i) % prompts.size();
        const auto start = std::chrono::steady_clock::now();
        testing::StreamResult r =
            CollectStream(server->stub(), IdsRequest(prompts[p], Greedy(48)), 1, deadline_s);
        const double took =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::string problem;
        if (r.status.ok()) {
          if (r.tokens[0] == expected[p]) {
            ++ok;
          } else {
            problem = "wrong tokens for prompt " + std::to_string(p);
          }
        } else if (r.status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                   r.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
          ++failed_over;
        } else {
          problem =
              "status " + std::to_string(r.status.error_code()) + ": " + r.status.error_message();
        }
        if (took > deadline_s + 5) problem = "a request took " + std::to_string(took) + " s";
        if (!problem.empty()) {
          ++wrong;
          std::lock_guard<std::mutex> lock(failures_mu);
          failures.push_back(problem);
        }
        if (!r.status.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
  }

  // Faults: every 2-4 s a random worker of a random group, killed or frozen.
  std::mt19937 faults(7);
  int kills = 0, freezes = 0;
  std::vector<pid_t> frozen;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2000 + faults() % 2000));
    ASSERT_EQ(kill(server->pid(), 0), 0) << "the coordinator died";
    const std::vector<pid_t> workers = server->WorkerPids();
    if (workers.empty()) continue;
    const pid_t victim = workers[faults() % workers.size()];
    if (faults() % 2 == 0) {
      kill(victim, SIGKILL);
      ++kills;
    } else {
      kill(victim, SIGSTOP);
      frozen.push_back(victim);
      ++freezes;
    }
  }
  stop = true;
  for (std::thread& t : clients) t.join();
  for (pid_t pid : frozen) kill(pid, SIGKILL);  // any the coordinator did not reap

  ASSERT_EQ(kill(server->pid(), 0), 0) << "the coordinator died";
  // Both groups come back and hold no KV block.
  bool settled = false;
  for (int i = 0; i < 600 && !settled; ++i) {
    grpc::ClientContext context;
    v1::ModelInfo info;
    if (server->stub().GetModelInfo(&context, v1::GetModelInfoRequest(), &info).ok()) {
      settled = info.groups_size() == 2;
      for (const auto& g : info.groups()) {
        settled = settled && g.healthy() && g.running() == 0 && g.waiting() == 0 &&
                  g.kv_blocks_free() == g.kv_blocks_total();
      }
    }
    if (!settled) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(settled) << "the groups did not come back idle with every block free";
  testing::StreamResult after = CollectStream(server->stub(), IdsRequest(prompts[0], Greedy(48)));
  ASSERT_TRUE(after.status.ok()) << after.status.error_message();
  EXPECT_EQ(after.tokens[0], expected[0]);

  std::printf(
      "chaos: %d s, %d kills, %d freezes; %d requests exact, %d UNAVAILABLE or "
      "DEADLINE_EXCEEDED, %d wrong\n",
      seconds, kills, freezes, ok.load(), failed_over.load(), wrong.load());
  EXPECT_EQ(wrong.load(), 0);
  for (size_t i = 0; i < failures.size() && i < 10; ++i) ADD_FAILURE() << failures[i];
  EXPECT_GT(ok.load(), 0);
  EXPECT_GT(kills + freezes, 0);
}

}  // namespace
}  // namespace dsm
