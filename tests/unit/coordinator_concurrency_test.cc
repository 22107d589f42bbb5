// The coordinator's own concurrency, in-process: many client threads through
// Coordinator::Generate, group engines on their threads, sequence streams between them,
// groups that fail and relaunch, cancellations, drain and abort. The groups are
// InProcessWorkerGroups, so no process, socket or gRPC is involved: this file is also
// built with ThreadSanitizer against an instrumented abseil (tests/tsan), where it must
// report nothing. Outcomes never depend on timing: every request ends with its lone
// run's exact tokens or with the status its fault calls for.

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "coordinator/coordinator.h"
#include "gtest/gtest.h"
#include "tests/support/in_process_worker_group.h"

namespace dsm {
namespace {

using testing::InProcessExpectedTokens;
using testing::InProcessGroupControl;

// A model directory with only config.json: the coordinator reads the shape, the
// in-process groups need no weights.
std::string ConfigOnlyModelDir(int vocab_size) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "dsm_concurrency_XXXXXX").string();
  const char* dir = mkdtemp(pattern.data());
  EXPECT_NE(dir, nullptr);
  std::ofstream(std::string(dir) + "/config.json")
      << "{\"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 1, "
         "\"num_attention_heads\": 4, \"num_key_value_heads\": 4, \"vocab_size\": "
      << vocab_size << ", \"max_position_embeddings\": 256}";
  return dir;
}

struct Fixture {
  std::shared_ptr<InProcessGroupControl> control = std::make_shared<InProcessGroupControl>();
  std::string model_dir;
  std::unique_ptr<Coordinator> coordinator;

  // `blocks` small enough that running sequences preempt each other.
  explicit Fixture(int replicas, int max_running, int blocks) {
    control->num_blocks = blocks;
    control->step_sleep_us = 50;
    CoordinatorOptions options;
    model_dir = ConfigOnlyModelDir(control->vocab_size);
    options.model_dir = model_dir;
    options.replicas = replicas;
    options.max_running = max_running;
    options.max_queued_requests = 1000;
    options.max_batch_tokens = 32;
    options.workers.restart_backoff_max = std::chrono::seconds(1);
    options.launcher = testing::InProcessLauncher(control);
    absl::StatusOr<std::unique_ptr<Coordinator>> c = Coordinator::Start(options);
    EXPECT_TRUE(c.ok()) << c.status();
    if (c.ok()) coordinator = *std::move(c);
  }
  ~Fixture() {
    coordinator.reset();
    std::error_code ignored;
    std::filesystem::remove_all(model_dir, ignored);
  }

  // Waits (bounded) until every group is healthy and idle with all blocks free.
  bool AwaitQuiet(int replicas) {
    for (int i = 0; i < 2000; ++i) {
      bool quiet = true;
      for (int g = 0; g < replicas; ++g) {
        const GroupStats s = coordinator->group(g).Stats();
        quiet = quiet && s.healthy && s.running == 0 && s.waiting == 0 &&
                s.kv_blocks_free == s.kv_blocks_total && s.kv_blocks_total > 0;
      }
      if (quiet && coordinator->InFlight() == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
};

PreparedRequest Request(int client, int index, int max_tokens) {
  PreparedRequest r;
  r.request_id = "c" + std::to_string(client) + "-" + std::to_string(index);
  // Different prompts, some sharing a prefix (the prefix cache is exercised too).
  r.prompt_ids = {1, 2, 3, 4, 5, 6, 7, 8};
  for (int k = 0; k <= (client + index) % 5; ++k) r.prompt_ids.push_back(10 + client + k);
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  return r;
}

struct Outcome {
  absl::StatusCode code = absl::StatusCode::kOk;
  std::vector<int32_t> tokens;
  std::vector<int32_t> expected;
};

// Runs `per_client` requests on each of `clients` threads, streaming each; `after_each`
// (if set) runs on the client's thread after each request ends, with how many have ended.
std::vector<Outcome> RunClients(Coordinator& coordinator, int clients, int per_client,
                                int max_tokens, int cancel_after = -1,
                                std::function<void(int ended)> after_each = nullptr) {
  std::vector<Outcome> outcomes(static_cast<size_t>(clients * per_client));
  std::atomic<int> ended{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int i = 0; i < per_client; ++i) {
        Outcome& out = outcomes[static_cast<size_t>(c * per_client + i)];
        const PreparedRequest request = Request(c, i, max_tokens);
        out.expected = InProcessExpectedTokens(request.prompt_ids, max_tokens, 97);
        // Odd clients cancel their requests after `cancel_after` streamed tokens.
        const bool cancels = cancel_after >= 0 && c % 2 == 1;
        int streamed = 0;
        ChunkWriter writer = [&](const v1::GenerateStreamResponse& chunk) {
          streamed += chunk.token_ids_size();
          for (int32_t id : chunk.token_ids()) out.tokens.push_back(id);
          return true;
        };
        absl::StatusOr<v1::GenerateResponse> r = coordinator.Generate(
            request, [&] { return cancels && streamed >= cancel_after; }, &writer);
        out.code = r.status().code();
        if (r.ok()) {
          // The unary response and the stream agree.
          EXPECT_EQ(std::vector<int32_t>(r->choices(0).token_ids().begin(),
                                         r->choices(0).token_ids().end()),
                    out.tokens);
        }
        if (after_each) after_each(ended.fetch_add(1) + 1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return outcomes;
}

TEST(CoordinatorConcurrencyTest, ConcurrentClientsGetTheirLoneRunsTokens) {
  Fixture f(/*replicas=*/2, /*max_running=*/4, /*blocks=*/24);
  ASSERT_NE(f.coordinator, nullptr);
  std::atomic<bool> done{false};
  // Readers of the serving state race with the engines, as the health monitor does.
  std::thread observer([&] {
    while (!done) {
      EXPECT_TRUE(f.coordinator->CanServe());
      const v1::ModelInfo info = f.coordinator->Info();
      EXPECT_EQ(info.groups_size(), 2);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  const std::vector<Outcome> outcomes = RunClients(*f.coordinator, 8, 6, 20);
  done = true;
  observer.join();
  for (const Outcome& o : outcomes) {
    EXPECT_EQ(o.code, absl::StatusCode::kOk);
    EXPECT_EQ(o.tokens, o.expected);
  }
  EXPECT_TRUE(f.AwaitQuiet(2));
}

TEST(CoordinatorConcurrencyTest, FailingGroupsEndRequestsExactlyOrUnavailable) {
  Fixture f(/*replicas=*/2, /*max_running=*/4, /*blocks=*/24);
  ASSERT_NE(f.coordinator, nullptr);
  std::atomic<int> kills{0};
  // After every fourth request that ends, its client kills a group's worker while the other
  // clients' requests run; every third relaunch fails once first. Paced by the requests,
  // not the clock, so a slow machine (TSan on a loaded CI runner) sees the same storm: 12
  // kills, and the first three requests end before any, so some always end exactly.
  const auto kill_every_fourth = [&](int ended) {
    if (ended % 4 != 0) return;
    const int kill = kills.fetch_add(1);
    if (kill % 3 == 0) f.control->failing_launches.fetch_add(1);
    f.coordinator->group(kill % 2).KillWorkerForTesting(0);
  };
  const std::vector<Outcome> outcomes =
      RunClients(*f.coordinator, 8, 6, 20, /*cancel_after=*/-1, kill_every_fourth);
  int exact = 0;
  for (const Outcome& o : outcomes) {
    if (o.code == absl::StatusCode::kOk) {
      EXPECT_EQ(o.tokens, o.expected);
      ++exact;
    } else {
      EXPECT_EQ(o.code, absl::StatusCode::kUnavailable);
      // What was streamed before the failure is a prefix of the lone run.
      EXPECT_LE(o.tokens.size(), o.expected.size());
      EXPECT_TRUE(std::equal(o.tokens.begin(), o.tokens.end(), o.expected.begin()));
    }
  }
  EXPECT_EQ(kills.load(), 12);
  EXPECT_TRUE(f.AwaitQuiet(2)) << "the groups did not come back healthy and idle";
  // Served after the storm: the groups are usable again.
  for (const Outcome& o : RunClients(*f.coordinator, 2, 2, 8)) {
    EXPECT_EQ(o.code, absl::StatusCode::kOk);
    EXPECT_EQ(o.tokens, o.expected);
  }
  EXPECT_GE(f.control->launches.load(), 3) << "no group was relaunched";
  EXPECT_GT(exact, 0);
}

TEST(CoordinatorConcurrencyTest, CancellationsDrainAndAbortLeaveNothingBehind) {
  Fixture f(/*replicas=*/2, /*max_running=*/3, /*blocks=*/24);
  ASSERT_NE(f.coordinator, nullptr);
  const std::vector<Outcome> outcomes = RunClients(*f.coordinator, 6, 4, 30, /*cancel_after=*/3);
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const Outcome& o = outcomes[i];
    const bool cancels = (i / 4) % 2 == 1;
    EXPECT_EQ(o.code, cancels ? absl::StatusCode::kCancelled : absl::StatusCode::kOk);
    EXPECT_TRUE(std::equal(o.tokens.begin(), o.tokens.end(), o.expected.begin()));
  }
  EXPECT_TRUE(f.AwaitQuiet(2));

  // Drain while requests run: new ones are refused, the running ones are aborted.
  f.control->step_sleep_us = 2000;  // keeps requests in flight when the drain starts
  std::vector<Outcome> during;
  std::thread clients([&] { during = RunClients(*f.coordinator, 4, 1, 60); });
  for (int i = 0; i < 2000 && f.coordinator->InFlight() < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  f.coordinator->StartDrain();
  EXPECT_FALSE(f.coordinator->CanServe());
  absl::StatusOr<v1::GenerateResponse> refused = f.coordinator->Generate(
      Request(9, 9, 4), [] { return false; }, nullptr);
  EXPECT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();
  f.coordinator->AbortInFlight(absl::UnavailableError("drain timeout (test)"));
  clients.join();
  for (const Outcome& o : during) {
    EXPECT_TRUE(o.code == absl::StatusCode::kOk || o.code == absl::StatusCode::kUnavailable)
        << static_cast<int>(o.code);
    EXPECT_TRUE(std::equal(o.tokens.begin(), o.tokens.end(), o.expected.begin()));
  }
  // Every block comes back once the engines have processed the abort.
  for (int i = 0; i < 2000; ++i) {
    const GroupStats a = f.coordinator->group(0).Stats(), b = f.coordinator->group(1).Stats();
    if (a.running + a.waiting + b.running + b.waiting == 0 &&
        a.kv_blocks_free == a.kv_blocks_total && b.kv_blocks_free == b.kv_blocks_total) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (int g = 0; g < 2; ++g) {
    const GroupStats s = f.coordinator->group(g).Stats();
    EXPECT_EQ(s.kv_blocks_free, s.kv_blocks_total) << "group " << g;
  }
}

}  // namespace
}  // namespace dsm
