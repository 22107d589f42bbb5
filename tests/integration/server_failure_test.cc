// Failure handling of `dsm serve` with real processes: a full queue answers at once, a
// worker that dies fails only its group's requests, and the group comes back.

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/server_helpers.h"
#include "tools/model_generator.h"

namespace dsm {
namespace {

using testing::CollectStream;
using testing::Greedy;
using testing::IdsRequest;

using testing::SlowModel;

v1::ModelInfo Info(v1::Inference::Stub& stub) {
  grpc::ClientContext context;
  v1::ModelInfo info;
  EXPECT_TRUE(stub.GetModelInfo(&context, v1::GetModelInfoRequest(), &info).ok());
  return info;
}

// A 4000-token request on group 0, returned once it is running (invalid future if it
// never starts).
std::future<testing::StreamResult> StartLongRequest(testing::ServerProcess& server) {
  auto request = std::async(std::launch::async, [&server] {
    return CollectStream(server.stub(), IdsRequest({1, 2}, Greedy(4000)), 1, 120);
  });
  for (int i = 0; i < 100; ++i) {
    if (Info(server.stub()).groups(0).running() == 1) return request;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  request.wait();
  return {};
}

// StartLongRequest on a server with one worker, then that worker frozen (SIGSTOP): the
// request cannot finish however fast the machine is. Invalid future if it never started.
std::future<testing::StreamResult> StartFrozenLongRequest(testing::ServerProcess& server) {
  const std::vector<pid_t> workers = server.WorkerPids();
  EXPECT_EQ(workers.size(), 1u);
  if (workers.size() != 1) return {};
  std::future<testing::StreamResult> request = StartLongRequest(server);
  if (request.valid()) {
    EXPECT_EQ(kill(workers[0], SIGSTOP), 0);
  }
  return request;
}

// `count` concurrent requests of `prompt`, each of which must succeed.
void ExpectAllServed(testing::ServerProcess& server, int count, std::vector<int32_t> prompt,
                     int max_tokens) {
  std::vector<std::future<testing::StreamResult>> requests;
  for (int i = 0; i < count; ++i) {
    requests.push_back(std::async(std::launch::async, [&] {
      return CollectStream(server.stub(), IdsRequest(prompt, Greedy(max_tokens)));
    }));
  }
  for (auto& f : requests) {
    testing::StreamResult r = f.get();
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  }
}

// One sequence runs at a time and the queue takes 2 more; a fourth is refused at once.
// The worker is frozen while the queue is full, so nothing can leave it whatever the
// machine's speed, and a refusal that arrives then cannot have waited for a slot.
TEST(ServerFailureTest, FullQueueIsResourceExhaustedAtOnce) {
  auto server = testing::ServerProcess::Start(
      {"--model", SlowModel(), "--max-running", "1", "--max-queue", "2"});
  ASSERT_NE(server, nullptr);
  const std::vector<pid_t> workers = server->WorkerPids();
  ASSERT_EQ(workers.size(), 1u);
  std::future<testing::StreamResult> running = std::async(std::launch::async, [&] {
    return CollectStream(server->stub(), IdsRequest({1, 2}, Greedy(300)), 1, 120);
  });
  bool started = false;
  for (int i = 0; i < 200 && !started; ++i) {
    started = Info(server->stub()).groups(0).running() == 1;
    if (!started) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(started) << "the request never started running";
  ASSERT_EQ(kill(workers[0], SIGSTOP), 0);
  std::vector<std::future<testing::StreamResult>> queued;
  for (int i = 0; i < 2; ++i) {
    queued.push_back(std::async(std::launch::async, [&] {
      return CollectStream(server->stub(), IdsRequest({1, 2}, Greedy(8)), 1, 60);
    }));
  }
  bool full = false;
  for (int i = 0; i < 200 && !full; ++i) {  // 10 s at most
    const v1::ModelInfo info = Info(server->stub());
    full = info.groups(0).running() == 1 && info.groups(0).waiting() == 2;
    if (!full) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(full) << "the two requests never queued";
  testing::StreamResult rejected =
      CollectStream(server->stub(), IdsRequest({1}, Greedy(10)), 1, 30);
  EXPECT_EQ(rejected.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << rejected.status.error_message();
  EXPECT_NE(rejected.status.error_message().find("queue is full"), std::string::npos);
  ASSERT_EQ(kill(workers[0], SIGCONT), 0);
  // The others are served, never failed.
  for (auto& f : queued) {
    testing::StreamResult r = f.get();
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  }
  testing::StreamResult long_one = running.get();
  EXPECT_TRUE(long_one.status.ok()) << long_one.status.error_message();
  testing::StreamResult after = CollectStream(server->stub(), IdsRequest({1}, Greedy(10)));
  EXPECT_TRUE(after.status.ok()) << after.status.error_message();
}

// The queue limit counts what truly waits: 8 requests at once on an idle server with 8
// running slots all run, even with --max-queue 4 ...
TEST(ServerFailureTest, QueueLimitCountsOnlySequencesWithoutASlot) {
  auto server = testing::ServerProcess::Start(
      {"--model", SlowModel(), "--max-running", "8", "--max-queue", "4"});
  ASSERT_NE(server, nullptr);
  ExpectAllServed(*server, 8, {1, 4}, 8);
}

// ... and every choice of a request counts: n = 4 with one slot and room for 2 waiting
// is refused at once.
TEST(ServerFailureTest, QueueLimitCountsEveryChoice) {
  auto server = testing::ServerProcess::Start(
      {"--model", SlowModel(), "--max-running", "1", "--max-queue", "2"});
  ASSERT_NE(server, nullptr);
  v1::GenerateRequest request = IdsRequest({1, 4}, Greedy(4));
  request.mutable_params()->set_n(4);
  request.mutable_params()->set_temperature(0.7f);
  testing::StreamResult r = CollectStream(server->stub(), request, 4);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << r.status.error_message();
  request.mutable_params()->set_n(3);  // 1 runs, 2 wait: allowed
  testing::StreamResult ok = CollectStream(server->stub(), request, 3);
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
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
  ExpectAllServed(*server, 2, {1, 7}, 50);
}

// A request queued on a group that fails before the request produced anything is moved
// to a healthy group and served there; the one running on the failed group gets
// UNAVAILABLE. Info shows where each request is before the kill, so the routing is
// checked, not assumed.
TEST(ServerFailureTest, RequestQueuedOnAFailedGroupMovesToAHealthyGroup) {
  auto server = testing::ServerProcess::Start(
      {"--model", SlowModel(), "--replicas", "2", "--max-running", "1"});
  ASSERT_NE(server, nullptr);
  const std::vector<int32_t> prompt = {1, 9, 4};
  testing::StreamResult lone = CollectStream(server->stub(), IdsRequest(prompt, Greedy(40)));
  ASSERT_TRUE(lone.status.ok()) << lone.status.error_message();
  const std::vector<pid_t> workers = server->WorkerPids();
  ASSERT_EQ(workers.size(), 2u);

  auto await_info = [&](auto predicate) {
    for (int i = 0; i < 200; ++i) {
      if (predicate(Info(server->stub()))) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  };
  auto long_request = [&](int tokens) {
    return std::async(std::launch::async, [&server, tokens] {
      return CollectStream(server->stub(), IdsRequest({1, 2}, Greedy(tokens)), 1, 120);
    });
  };
  // Group 0 runs a long request, group 1 a shorter one; with both busy the next request
  // goes to group 0 (ties go to the first group) and waits there for the running slot.
  auto doomed = long_request(4000);
  ASSERT_TRUE(await_info([](const v1::ModelInfo& i) { return i.groups(0).running() == 1; }));
  auto busy = long_request(400);
  ASSERT_TRUE(await_info([](const v1::ModelInfo& i) { return i.groups(1).running() == 1; }));
  auto queued = std::async(std::launch::async, [&] {
    return CollectStream(server->stub(), IdsRequest(prompt, Greedy(40)), 1, 120);
  });
  ASSERT_TRUE(await_info([](const v1::ModelInfo& i) {
    return i.groups(0).waiting() == 1 && i.groups(1).running() == 1;
  })) << "the third request did not queue on group 0";

  ASSERT_EQ(kill(workers[0], SIGKILL), 0);
  testing::StreamResult cut = doomed.get();
  EXPECT_EQ(cut.status.error_code(), grpc::StatusCode::UNAVAILABLE) << cut.status.error_message();
  testing::StreamResult moved = queued.get();
  ASSERT_TRUE(moved.status.ok()) << moved.status.error_message();
  EXPECT_EQ(moved.tokens[0], lone.tokens[0]);
  EXPECT_TRUE(busy.get().status.ok());
}

using Serving = grpc::health::v1::HealthCheckResponse;

// Workers live as long as the coordinator process: kill it with SIGKILL (no chance to
// clean up) and its workers exit by themselves.
TEST(ServerStartupTest, WorkersExitWhenTheCoordinatorIsKilled) {
  auto server = testing::ServerProcess::Start({"--model", SlowModel(), "--tp", "2"});
  ASSERT_NE(server, nullptr);
  const std::vector<pid_t> workers = server->WorkerPids();
  ASSERT_EQ(workers.size(), 2u);
  server->SignalAndWait(SIGKILL, std::chrono::seconds(10));
  auto alive = [](pid_t pid) {
    // A zombie (reparented to init, not yet reaped) counts as gone.
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return false;
    const size_t paren = line.rfind(')');
    return paren != std::string::npos && line[paren + 2] != 'Z';
  };
  for (pid_t pid : workers) {
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {  // bounded: 10 s
      gone = !alive(pid);
      if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(gone) << "worker " << pid << " outlived the coordinator";
  }
}

// Bad flags are refused before any worker starts, naming the flag.
TEST(ServerStartupTest, BadFlagsFailAtOnceNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--max-running", "0"}, "--max-running must be >= 1"},
      {{"--kv-cache-mib", "-1"}, "--kv-cache-mib must be > 0"},
      {{"--replicas", "0"}, "--replicas must be >= 1"},
      {{"--port", "70000"}, "--port must be in [0, 65535]"},
      {{"--max-queue", "-1"}, "--max-queue must be >= 0"},
      {{"--threads", "-2"}, "--threads must be >= 0"},
      {{"--precision", "fp8"}, "--precision must be bf16 or fp32"},
      {{"--activation-dtype", "int8"}, "--activation-dtype must be f32 or bf16"},
      {{"--gpu-memory-fraction", "1.5"}, "--gpu-memory-fraction must be in (0, 1]"},
  };
  for (const auto& [flags, message] : cases) {
    std::vector<std::string> argv = {testing::BinDir() + "/dsm", "serve", "--model", SlowModel()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    testing::CommandResult r = testing::RunCommand(argv);
    EXPECT_EQ(r.exit_code, 1) << flags[0];
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("starting"), std::string::npos) << "workers started: " << r.err;
  }
}

// A second server on a taken port fails at once saying so, and the first keeps serving
// (gRPC's default SO_REUSEPORT would have let them share it silently).
TEST(ServerStartupTest, TakenPortIsAnErrorNotASharedPort) {
  auto first = testing::ServerProcess::Start({"--model", SlowModel()});
  ASSERT_NE(first, nullptr);
  const std::string port = first->address().substr(first->address().rfind(':') + 1);
  testing::CommandResult second = testing::RunCommand(
      {testing::BinDir() + "/dsm", "serve", "--model", SlowModel(), "--port", port});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("Address already in use"), std::string::npos) << second.err;
  EXPECT_EQ(second.err.find("starting"), std::string::npos) << second.err;
  testing::StreamResult r = CollectStream(first->stub(), IdsRequest({1, 3}, Greedy(4)));
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
}

// Polls until both health names report `want`, for at most `seconds` (a bounded wait
// for a state change, not a timing assertion).
bool AwaitHealth(testing::ServerProcess& server, Serving::ServingStatus want, int seconds) {
  for (int i = 0; i < seconds * 10; ++i) {
    if (server.Health("") == want && server.Health("dsm.v1.Inference") == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// A restart that fails (the weights are gone for a while) must not take the server down:
// the group is retried with backoff, health says NOT_SERVING meanwhile, requests get
// UNAVAILABLE naming the restart, and once the weights are back the group serves the
// golden tokens again.
TEST(ServerFailureTest, FailedRestartIsRetriedAndHealthTellsTheTruth) {
  DSM_REQUIRE_SHARED("models/stories260K/golden.json");
  const std::string source = testing::SharedDir() + "/models/stories260K";
  const std::string model = testing::MakeTempDir("flaky_model");
  for (const char* file : {"config.json", "model.safetensors", "golden.json"}) {
    std::filesystem::copy_file(source + "/" + file, model + "/" + file,
                               std::filesystem::copy_options::overwrite_existing);
  }
  const nlohmann::json golden = nlohmann::json::parse(std::ifstream(model + "/golden.json"))[0];
  const auto prompt = golden["prompt_token_ids"].get<std::vector<int32_t>>();
  const auto expected = golden["greedy_token_ids"].get<std::vector<int32_t>>();

  auto server = testing::ServerProcess::Start({"--model", model, "--restart-backoff-max-s", "1"});
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(AwaitHealth(*server, Serving::SERVING, 10));
  const std::vector<pid_t> workers = server->WorkerPids();
  ASSERT_EQ(workers.size(), 1u);

  std::filesystem::rename(model + "/model.safetensors", model + "/model.safetensors.away");
  ASSERT_EQ(kill(workers[0], SIGKILL), 0);
  EXPECT_TRUE(AwaitHealth(*server, Serving::NOT_SERVING, 30));
  // Liveness is not readiness: the process is alive while no group can serve.
  EXPECT_EQ(server->Health("dsm.liveness"), Serving::SERVING);
  testing::StreamResult refused = CollectStream(server->stub(), IdsRequest(prompt, Greedy(8)));
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  // Let a few restarts fail: the coordinator stays up through them.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ASSERT_EQ(kill(server->pid(), 0), 0) << "the coordinator died";
  EXPECT_EQ(server->Health(""), Serving::NOT_SERVING);

  std::filesystem::rename(model + "/model.safetensors.away", model + "/model.safetensors");
  ASSERT_TRUE(AwaitHealth(*server, Serving::SERVING, 60));
  testing::StreamResult r = CollectStream(server->stub(), IdsRequest(prompt, Greedy(64)));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.tokens[0], expected);
}

// A stopped worker (SIGSTOP) cannot stall its group: the step misses its deadline, the
// request in flight gets UNAVAILABLE naming the stopped rank, and the group is
// relaunched and serves again.
TEST(ServerFailureTest, StoppedWorkerMissesTheStepDeadlineAndTheGroupComesBack) {
  auto server = testing::ServerProcess::Start(
      {"--model", SlowModel(), "--step-timeout-s", "2", "--step-timeout-per-token-s", "0"});
  ASSERT_NE(server, nullptr);
  const std::vector<pid_t> workers = server->WorkerPids();
  ASSERT_EQ(workers.size(), 1u);
  std::future<testing::StreamResult> long_request = StartLongRequest(*server);
  ASSERT_TRUE(long_request.valid()) << "the request never started running";
  ASSERT_EQ(kill(workers[0], SIGSTOP), 0);
  testing::StreamResult cut = long_request.get();
  EXPECT_EQ(cut.status.error_code(), grpc::StatusCode::UNAVAILABLE) << cut.status.error_message();
  EXPECT_NE(cut.status.error_message().find("rank 0 is stopped"), std::string::npos)
      << cut.status.error_message();
  // The group was marked down before its request was failed; wait for it to be back
  // (health follows within its 100 ms polling).
  bool back = false;
  for (int i = 0; i < 600 && !back; ++i) {
    back = Info(server->stub()).groups(0).healthy();
    if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(back);
  EXPECT_TRUE(AwaitHealth(*server, Serving::SERVING, 10));
  testing::StreamResult after = CollectStream(server->stub(), IdsRequest({1, 7}, Greedy(20)));
  EXPECT_TRUE(after.status.ok()) << after.status.error_message();
  kill(workers[0], SIGKILL);  // the stopped process, if it somehow survived
}

// SIGTERM: NOT_SERVING at once, new requests refused as draining, a request still
// running when the drain timeout passes ends with UNAVAILABLE and the server's own
// message, and the process exits 0. The worker is frozen, so the request cannot finish
// within the drain however fast the machine is (and the engine is stuck in a step when
// the drain ends: the request must end anyway). Nor does the exit wait for that step's
// 120 s deadline: the stuck worker is killed once nothing waits for it.
TEST(ServerFailureTest, SigtermDrainsThenEndsWhatIsLeftAndExitsZero) {
  auto server = testing::ServerProcess::Start(
      {"--model", SlowModel(), "--drain-timeout-s", "1", "--step-timeout-s", "120"});
  ASSERT_NE(server, nullptr);
  std::future<testing::StreamResult> long_request = StartFrozenLongRequest(*server);
  ASSERT_TRUE(long_request.valid()) << "the request never started running";
  server->Signal(SIGTERM);
  // Health turns at once; from then on new requests are refused as draining.
  EXPECT_TRUE(AwaitHealth(*server, Serving::NOT_SERVING, 10));
  EXPECT_EQ(server->Health("dsm.v1.Inference"), Serving::NOT_SERVING);
  testing::StreamResult refused = CollectStream(server->stub(), IdsRequest({1}, Greedy(2)), 1, 5);
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(refused.status.error_message().find("draining"), std::string::npos)
      << refused.status.error_message();
  testing::StreamResult cut = long_request.get();
  EXPECT_EQ(cut.status.error_code(), grpc::StatusCode::UNAVAILABLE) << cut.status.error_message();
  EXPECT_NE(cut.status.error_message().find("drain timeout"), std::string::npos)
      << cut.status.error_message();
  const int status = server->WaitForExit(std::chrono::seconds(30));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << ChildProcess::DescribeWaitStatus(status);
}

// A second SIGTERM during the drain ends it at once: the request still running gets
// UNAVAILABLE saying so, and the server exits 0 long before its 120 s drain timeout
// (the worker is frozen, so the request could never finish on its own).
TEST(ServerFailureTest, SecondSigtermEndsTheDrainAtOnce) {
  auto server = testing::ServerProcess::Start(
      {"--model", SlowModel(), "--drain-timeout-s", "120", "--step-timeout-s", "120"});
  ASSERT_NE(server, nullptr);
  std::future<testing::StreamResult> long_request = StartFrozenLongRequest(*server);
  ASSERT_TRUE(long_request.valid()) << "the request never started running";
  server->Signal(SIGTERM);
  ASSERT_TRUE(AwaitHealth(*server, Serving::NOT_SERVING, 10));  // the first one is taken
  server->Signal(SIGTERM);
  testing::StreamResult cut = long_request.get();
  EXPECT_EQ(cut.status.error_code(), grpc::StatusCode::UNAVAILABLE) << cut.status.error_message();
  EXPECT_NE(cut.status.error_message().find("second signal"), std::string::npos)
      << cut.status.error_message();
  const int status = server->WaitForExit(std::chrono::seconds(30));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << (status == -1 ? "still running 30 s after the second SIGTERM"
                       : ChildProcess::DescribeWaitStatus(status));
}

// SIGTERM on an idle server: the workers leaving is the shutdown itself, not a group
// failure, so no worker is launched again (a relaunch would load the model once more and
// hold the exit until its registration timed out). Every worker seen until the server
// has exited is one of those it started with, and it exits 0.
TEST(ServerFailureTest, SigtermStopsTheWorkersWithoutRelaunchingThem) {
  auto server =
      testing::ServerProcess::Start({"--model", SlowModel(), "--tp", "2", "--replicas", "2"});
  ASSERT_NE(server, nullptr);
  std::vector<pid_t> started = server->WorkerPids();
  ASSERT_EQ(started.size(), 4u);
  std::sort(started.begin(), started.end());
  server->Signal(SIGTERM);
  std::set<pid_t> seen;
  int status = -1;
  for (int i = 0; i < 3000 && status == -1; ++i) {  // 30 s at most
    for (pid_t pid : server->WorkerPids()) seen.insert(pid);
    status = server->WaitForExit(std::chrono::seconds(0));
    if (status == -1) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (pid_t pid : seen) {
    EXPECT_TRUE(std::binary_search(started.begin(), started.end(), pid))
        << "worker " << pid << " was launched during the shutdown";
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << ChildProcess::DescribeWaitStatus(status);
}

// SIGTERM while a group is being relaunched and its new worker is still loading: the
// server does not wait out the load (up to --start-timeout, 10 min for a 7B) but stops
// the loading worker and exits. The weights file is swapped for a FIFO nobody writes
// after the first launch, so the relaunched worker's load blocks for good.
TEST(ServerFailureTest, SigtermDuringARelaunchDoesNotWaitForTheLoad) {
  const std::string dir = testing::MakeTempDir("model");
  ASSERT_TRUE(testing::WriteTinyModel(dir));
  auto server = testing::ServerProcess::Start({"--model", dir});
  ASSERT_NE(server, nullptr);
  const std::vector<pid_t> first = server->WorkerPids();
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(testing::BlockWeightsLoad(dir));
  ASSERT_EQ(kill(first[0], SIGKILL), 0);
  bool relaunched = false;
  for (int i = 0; i < 1000 && !relaunched; ++i) {  // 10 s at most
    for (pid_t pid : server->WorkerPids()) relaunched |= pid != first[0];
    if (!relaunched) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(relaunched) << "the group was not relaunched";
  server->Signal(SIGTERM);
  const int status = server->WaitForExit(std::chrono::seconds(20));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << (status == -1 ? "still running 20 s after SIGTERM"
                       : ChildProcess::DescribeWaitStatus(status));
}

// SIGTERM while `dsm serve` is still starting (its worker loading): it stops at once and
// exits 0, as a pod deleted mid-start must, instead of holding the signal until the
// workers are up (--start-timeout, 10 min for a 7B). The weights are a FIFO nobody
// writes, so the start never completes on its own.
TEST(ServerFailureTest, SigtermWhileStartingExitsAtOnce) {
  const std::string dir = testing::MakeTempDir("model");
  ASSERT_TRUE(testing::WriteTinyModel(dir));
  ASSERT_TRUE(testing::BlockWeightsLoad(dir));
  absl::StatusOr<std::unique_ptr<ChildProcess>> serve =
      ChildProcess::Spawn({testing::BinDir() + "/dsm", "serve", "--port", "0", "--model", dir});
  ASSERT_TRUE(serve.ok()) << serve.status();
  // Started: it has launched its worker (after blocking its own signals).
  bool started = false;
  for (int i = 0; i < 1000 && !started; ++i) {  // 10 s at most
    started = !testing::WorkerPidsOf((*serve)->pid()).empty();
    if (!started) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(started) << "dsm serve never launched its worker";
  (*serve)->Kill(SIGTERM);
  const int status = (*serve)->WaitOrKill(std::chrono::seconds(20));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << ChildProcess::DescribeWaitStatus(status);
}

}  // namespace
}  // namespace dsm
