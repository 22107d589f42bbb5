// Workers as independent processes, the way pods run them: `dsm coordinator` and each
// `dsm-worker --coordinator` are started separately by the test (none is a child of the
// coordinator). Two groups at tp 2 give stories260K's golden tokens; a killed worker
// replaced by a fresh process with the same group and rank brings its group back; a
// restarted coordinator gets the same workers back without them reloading weights. Then
// the same across simulated hosts: each of coordinator, group 0, group 1 and the client
// in its own network namespace, joined by a bridge, nothing on a shared 127.0.0.1.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/server_helpers.h"

namespace dsm {
namespace {

using nlohmann::json;

struct Golden {
  std::vector<int32_t> prompt;
  std::vector<int32_t> expected;
};

Golden LoadGolden(const std::string& model) {
  const json g = json::parse(std::ifstream(model + "/golden.json"))[0];
  return {g["prompt_token_ids"].get<std::vector<int32_t>>(),
          g["greedy_token_ids"].get<std::vector<int32_t>>()};
}

// Reads `child`'s stdout until a line starts with `prefix`; the line, or "" on timeout.
std::string AwaitLine(ChildProcess& child, const std::string& prefix,
                      std::chrono::seconds timeout = std::chrono::seconds(60)) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    absl::StatusOr<std::string> line = child.ReadLine(std::chrono::milliseconds(200));
    if (line.ok() && absl::StartsWith(*line, prefix)) return *line;
    if (!line.ok() && !absl::IsDeadlineExceeded(line.status())) return "";
  }
  return "";
}

// A process started under `wrapper` (e.g. {"ip", "netns", "exec", NS}; empty = none).
std::unique_ptr<ChildProcess> Spawn(const std::vector<std::string>& wrapper,
                                    const std::vector<std::string>& argv) {
  std::vector<std::string> full = wrapper;
  full.insert(full.end(), argv.begin(), argv.end());
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn(full);
  EXPECT_TRUE(child.ok()) << child.status();
  return child.ok() ? *std::move(child) : nullptr;
}

class Cluster {
 public:
  // host_of(i): the address of "host" i (0 = coordinator, 1 + g = group g), and its
  // namespace wrapper.
  struct Host {
    std::string address;
    std::vector<std::string> wrapper;
  };
  Cluster(std::string model, std::vector<Host> hosts) : model_(std::move(model)), hosts_(hosts) {}
  ~Cluster() {
    for (auto& [key, w] : workers_) {
      if (w) w->Kill(SIGKILL);
    }
    if (coordinator_) coordinator_->Kill(SIGKILL);
  }

  // Starts the coordinator (port 0 the first time, then the same port again).
  bool StartCoordinator() {
    coordinator_ =
        Spawn(hosts_[0].wrapper, {testing::BinDir() + "/dsm", "coordinator", "--model", model_,
                                  "--groups", "2", "--tp", "2", "--host", hosts_[0].address,
                                  "--port", absl::StrCat(port_), "--restart-backoff-max-s", "1"});
    if (!coordinator_) return false;
    const std::string line = AwaitLine(*coordinator_, "dsm serve: listening on ");
    if (line.empty()) return false;
    port_ = std::atoi(line.substr(line.rfind(':') + 1).c_str());
    return port_ > 0;
  }
  bool AwaitCoordinatorReady() { return !AwaitLine(*coordinator_, "dsm serve: ready").empty(); }
  void StopCoordinator() {
    coordinator_->Kill(SIGTERM);
    coordinator_->WaitOrKill(std::chrono::seconds(30));
    coordinator_.reset();
  }

  void SignalCoordinator(int signal) { coordinator_->Kill(signal); }

  void StartWorker(int group, int rank) {
    const Host& h = hosts_[1 + group];
    workers_[{group, rank}] =
        Spawn(h.wrapper, {testing::BinDir() + "/dsm-worker", "--coordinator",
                          absl::StrCat(hosts_[0].address, ":", port_), "--group",
                          absl::StrCat(group), "--rank", absl::StrCat(rank), "--tp", "2", "--model",
                          model_, "--host", h.address, "--kv_cache_mib", "16", "--threads", "1"});
  }
  ChildProcess& worker(int group, int rank) { return *workers_[{group, rank}]; }
  std::string address() const { return absl::StrCat(hosts_[0].address, ":", port_); }

 private:
  std::string model_;
  std::vector<Host> hosts_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> coordinator_;
  std::map<std::pair<int, int>, std::unique_ptr<ChildProcess>> workers_;
};

// Runs `count` greedy requests at once through `generate` and checks each against the
// golden continuation (two at once land on the two groups: routing takes the least
// loaded).
void ExpectGolden(const Golden& golden, int count,
                  const std::function<std::vector<int32_t>()>& generate) {
  std::vector<std::future<std::vector<int32_t>>> calls;
  for (int i = 0; i < count; ++i) calls.push_back(std::async(std::launch::async, generate));
  for (auto& c : calls) EXPECT_EQ(c.get(), golden.expected);
}

// Polls `info` until both groups are in the wanted health.
bool AwaitGroups(const std::function<std::optional<v1::ModelInfo>()>& info, bool g0, bool g1) {
  for (int i = 0; i < 300; ++i) {
    if (std::optional<v1::ModelInfo> m = info(); m && m->groups_size() == 2 &&
                                                 m->groups(0).healthy() == g0 &&
                                                 m->groups(1).healthy() == g1) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// The scenario, for any placement of the processes. `generate` and `info` reach the
// coordinator from wherever the client is.
void RunScenario(Cluster& cluster, const Golden& golden,
                 const std::function<std::vector<int32_t>()>& generate,
                 const std::function<std::optional<v1::ModelInfo>()>& info) {
  ASSERT_TRUE(cluster.StartCoordinator());
  for (int g = 0; g < 2; ++g) {
    for (int r = 0; r < 2; ++r) cluster.StartWorker(g, r);
  }
  ASSERT_TRUE(cluster.AwaitCoordinatorReady());
  ExpectGolden(golden, 2, generate);

  // A worker dies; a fresh process takes its group and rank; the group serves again.
  cluster.worker(0, 1).Kill(SIGKILL);
  ASSERT_TRUE(AwaitGroups(info, false, true)) << "group 0 did not notice its lost rank";
  ExpectGolden(golden, 1, generate);  // group 1 alone serves meanwhile
  cluster.StartWorker(0, 1);
  ASSERT_TRUE(AwaitGroups(info, true, true)) << "group 0 did not re-form";
  ExpectGolden(golden, 2, generate);

  // The coordinator restarts: the same worker processes re-register and re-form without
  // loading their weights again (one READY line per process: loading precedes it).
  cluster.StopCoordinator();
  ASSERT_TRUE(cluster.StartCoordinator());
  ASSERT_TRUE(cluster.AwaitCoordinatorReady());
  for (int g = 0; g < 2; ++g) {
    for (int r = 0; r < 2; ++r) {
      ChildProcess& w = cluster.worker(g, r);
      ASSERT_FALSE(w.TryWait().has_value()) << "worker " << g << "/" << r << " exited";
      int ready = 0, formed = 0;
      for (;;) {
        absl::StatusOr<std::string> line = w.ReadLine(std::chrono::milliseconds(100));
        if (!line.ok()) break;
        ready += absl::StartsWith(*line, "DSM_WORKER_READY");
        formed += absl::StartsWith(*line, "DSM_WORKER_FORMED");
      }
      EXPECT_EQ(ready, 1) << "worker " << g << "/" << r << " loaded its weights again";
      EXPECT_GE(formed, 2) << "worker " << g << "/" << r << " did not re-form";
    }
  }
  ExpectGolden(golden, 2, generate);
}

// A worker answers grpc.health.v1 once its shard is loaded: what a pod's probes ask.
TEST(DistributedTest, WorkerServesGrpcHealth) {
  DSM_REQUIRE_SHARED("models/stories260K/config.json");
  std::unique_ptr<ChildProcess> worker =
      Spawn({}, {testing::BinDir() + "/dsm-worker", "--model",
                 testing::SharedDir() + "/models/stories260K", "--port", "0", "--kv_cache_mib",
                 "16", "--threads", "1"});
  ASSERT_NE(worker, nullptr);
  const std::string ready = AwaitLine(*worker, "DSM_WORKER_READY ");
  ASSERT_FALSE(ready.empty());
  auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      ready.substr(std::string("DSM_WORKER_READY ").size()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(&context, grpc::health::v1::HealthCheckRequest(), &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  worker->Kill(SIGTERM);
  worker->WaitOrKill(std::chrono::seconds(10));
}

// SIGTERM reaches a registered worker that is still loading its weights: it exits at
// once (a pod deleted mid-start) instead of holding the signal until the load is done.
// The weights file is a FIFO nobody writes, so the load blocks for as long as the test
// likes; the signal goes once the worker has blocked SIGTERM for its signal thread.
TEST(DistributedTest, SigtermWhileLoadingExitsAtOnce) {
  const std::string dir = testing::MakeTempDir("fifo-model");
  ASSERT_TRUE(testing::WriteTinyModel(dir));
  ASSERT_TRUE(testing::BlockWeightsLoad(dir));
  std::unique_ptr<ChildProcess> worker =
      Spawn({}, {testing::BinDir() + "/dsm-worker", "--model", dir, "--port", "0", "--coordinator",
                 "127.0.0.1:1", "--kv_cache_mib", "16", "--threads", "1"});
  ASSERT_NE(worker, nullptr);
  bool blocked = false;
  for (int i = 0; i < 1000 && !blocked; ++i) {  // 10 s at most
    std::ifstream status("/proc/" + std::to_string(worker->pid()) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (absl::StartsWith(line, "SigBlk:")) {
        blocked = (std::stoull(line.substr(7), nullptr, 16) >> (SIGTERM - 1)) & 1;
      }
    }
    if (!blocked) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(blocked) << "the worker never blocked SIGTERM";
  worker->Kill(SIGTERM);
  const int status = worker->WaitOrKill(std::chrono::seconds(20));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << ChildProcess::DescribeWaitStatus(status);
}

// `dsm coordinator` waiting for workers that never register (the first formation may
// wait 10 min for a 7B to load): SIGTERM stops the wait at once and it exits 0.
TEST(DistributedTest, CoordinatorWaitingForWorkersStopsOnSigterm) {
  DSM_REQUIRE_SHARED("models/stories260K/config.json");
  std::unique_ptr<ChildProcess> coordinator =
      Spawn({}, {testing::BinDir() + "/dsm", "coordinator", "--model",
                 testing::SharedDir() + "/models/stories260K", "--port", "0"});
  ASSERT_NE(coordinator, nullptr);
  ASSERT_FALSE(AwaitLine(*coordinator, "dsm serve: listening on ").empty());
  coordinator->Kill(SIGTERM);
  const int status = coordinator->WaitOrKill(std::chrono::seconds(20));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << ChildProcess::DescribeWaitStatus(status);
}

TEST(DistributedTest, IndependentWorkersOnLoopback) {
  DSM_REQUIRE_SHARED("models/stories260K/golden.json");
  const std::string model = testing::SharedDir() + "/models/stories260K";
  const Golden golden = LoadGolden(model);
  Cluster cluster(model, {{"127.0.0.1", {}}, {"127.0.0.1", {}}, {"127.0.0.1", {}}});
  auto stub = [&] {
    return v1::Inference::NewStub(
        grpc::CreateChannel(cluster.address(), grpc::InsecureChannelCredentials()));
  };
  RunScenario(
      cluster, golden,
      [&] {
        testing::StreamResult r = testing::CollectStream(
            *stub(), testing::IdsRequest(
                         golden.prompt, testing::Greedy(static_cast<int>(golden.expected.size()))));
        EXPECT_TRUE(r.status.ok()) << r.status.error_message();
        return r.tokens[0];
      },
      [&]() -> std::optional<v1::ModelInfo> {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        v1::ModelInfo info;
        if (!stub()->GetModelInfo(&context, v1::GetModelInfoRequest(), &info).ok()) {
          return std::nullopt;
        }
        return info;
      });
}

// iproute2's `ip` (ChildProcess runs programs by path, not through PATH).
std::string Ip() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "ip";
}

// A coordinator that stops answering without its connections breaking (frozen with
// SIGSTOP) answers no keepalive ping (noticed within 10 s) and sends no heartbeat
// (noticed within 15 s): its workers leave and join again, so when it resumes, its
// groups re-form (a new epoch) and serve.
TEST(DistributedTest, WorkersRejoinACoordinatorThatWasFrozen) {
  DSM_REQUIRE_SHARED("models/stories260K/golden.json");
  const std::string model = testing::SharedDir() + "/models/stories260K";
  const Golden golden = LoadGolden(model);
  Cluster cluster(model, {{"127.0.0.1", {}}, {"127.0.0.1", {}}, {"127.0.0.1", {}}});
  ASSERT_TRUE(cluster.StartCoordinator());
  for (int g = 0; g < 2; ++g) {
    for (int r = 0; r < 2; ++r) cluster.StartWorker(g, r);
  }
  ASSERT_TRUE(cluster.AwaitCoordinatorReady());
  for (int g = 0; g < 2; ++g) {
    for (int r = 0; r < 2; ++r) {
      ASSERT_FALSE(AwaitLine(cluster.worker(g, r), "DSM_WORKER_FORMED epoch 1").empty());
    }
  }
  cluster.SignalCoordinator(SIGSTOP);
  // Each worker notices the silence and re-registers once the coordinator runs again.
  std::this_thread::sleep_for(std::chrono::seconds(17));
  cluster.SignalCoordinator(SIGCONT);
  for (int g = 0; g < 2; ++g) {
    for (int r = 0; r < 2; ++r) {
      // Epoch 2, or a later one when a rank's old stream was noticed gone only while
      // epoch 2 formed (its peers then give up on it within 20 s).
      EXPECT_FALSE(
          AwaitLine(cluster.worker(g, r), "DSM_WORKER_FORMED epoch", std::chrono::seconds(90))
              .empty())
          << "worker " << g << "/" << r << " did not re-form";
    }
  }
  auto stub = v1::Inference::NewStub(
      grpc::CreateChannel(cluster.address(), grpc::InsecureChannelCredentials()));
  ExpectGolden(golden, 2, [&] {
    testing::StreamResult r = testing::CollectStream(
        *stub, testing::IdsRequest(golden.prompt,
                                   testing::Greedy(static_cast<int>(golden.expected.size()))));
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
    return r.tokens[0];
  });
}

// Network namespaces: a bridge namespace and one namespace per host, each with a veth
// into the bridge and its own 10.x address. Removed when the test ends.
class Namespaces {
 public:
  Namespaces() : prefix_(absl::StrCat("dsm", getpid() % 100000, "-")) {}
  ~Namespaces() {
    for (const std::string& ns : created_) Run({Ip(), "netns", "del", ns});
  }
  // Creates host `name` with `address`/24 on the bridge; false if the kernel refuses.
  bool AddHost(const std::string& name, const std::string& address) {
    if (created_.empty()) {
      if (!Run({Ip(), "netns", "add", prefix_ + "br"})) return false;
      created_.push_back(prefix_ + "br");
      if (!Run({Ip(), "-n", prefix_ + "br", "link", "add", "br0", "type", "bridge"}) ||
          !Run({Ip(), "-n", prefix_ + "br", "link", "set", "br0", "up"})) {
        return false;
      }
    }
    const std::string ns = prefix_ + name;
    if (!Run({Ip(), "netns", "add", ns})) return false;
    created_.push_back(ns);
    const std::string veth = "v" + name;
    return Run({Ip(), "-n", prefix_ + "br", "link", "add", veth, "type", "veth", "peer", "name",
                "eth0", "netns", ns}) &&
           Run({Ip(), "-n", prefix_ + "br", "link", "set", veth, "master", "br0", "up"}) &&
           Run({Ip(), "-n", ns, "addr", "add", address + "/24", "dev", "eth0"}) &&
           Run({Ip(), "-n", ns, "link", "set", "eth0", "up"}) &&
           Run({Ip(), "-n", ns, "link", "set", "lo", "up"});
  }
  std::vector<std::string> Exec(const std::string& name) const {
    return {Ip(), "netns", "exec", prefix_ + name};
  }

 private:
  static bool Run(const std::vector<std::string>& argv) {
    absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn(argv);
    if (!child.ok()) return false;
    const int status = (*child)->WaitOrKill(std::chrono::seconds(10));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

  std::string prefix_;
  std::vector<std::string> created_;
};

// Runs `dsm` inside the client's namespace and returns its stdout (one JSON line).
std::string RunClient(const Namespaces& ns, const std::vector<std::string>& args) {
  std::vector<std::string> argv = ns.Exec("client");
  argv.push_back(testing::BinDir() + "/dsm");
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn(argv);
  if (!child.ok()) return "";
  std::string out;
  for (;;) {
    absl::StatusOr<std::string> line = (*child)->ReadLine(std::chrono::seconds(60));
    if (!line.ok()) break;
    out += *line;
  }
  (*child)->WaitOrKill(std::chrono::seconds(5));
  return out;
}

TEST(DistributedTest, IndependentWorkersAcrossNetworkNamespaces) {
  DSM_REQUIRE_SHARED("models/stories260K/golden.json");
  if (geteuid() != 0) {
    if (testing::InCi()) FAIL() << "network namespaces need root (CI runs as root)";
    GTEST_SKIP() << "network namespaces need root";
  }
  Namespaces ns;
  const bool made = ns.AddHost("coord", "10.213.0.1") && ns.AddHost("g0", "10.213.0.2") &&
                    ns.AddHost("g1", "10.213.0.3") && ns.AddHost("client", "10.213.0.4");
  if (!made) {
    if (testing::InCi()) FAIL() << "could not create network namespaces (ip netns)";
    GTEST_SKIP() << "could not create network namespaces (ip netns) on this machine";
  }
  const std::string model = testing::SharedDir() + "/models/stories260K";
  const Golden golden = LoadGolden(model);
  Cluster cluster(model, {{"10.213.0.1", ns.Exec("coord")},
                          {"10.213.0.2", ns.Exec("g0")},
                          {"10.213.0.3", ns.Exec("g1")}});
  std::string ids;
  for (int32_t id : golden.prompt) absl::StrAppend(&ids, ids.empty() ? "" : ",", id);
  RunScenario(
      cluster, golden,
      [&] {
        const std::string out =
            RunClient(ns, {"generate", "--addr", cluster.address(), "--prompt-token-ids", ids,
                           "--max-tokens", absl::StrCat(golden.expected.size()), "--temperature",
                           "0", "--ignore-eos", "--json", "--timeout-s", "60"});
        const json r = json::parse(out, nullptr, false);
        EXPECT_FALSE(r.is_discarded()) << out;
        if (r.is_discarded() || !r.contains("choices")) return std::vector<int32_t>{};
        return r["choices"][0]["token_ids"].get<std::vector<int32_t>>();
      },
      [&]() -> std::optional<v1::ModelInfo> {
        // Health of each group through the public API, from the client's namespace.
        const std::string out = RunClient(ns, {"info", "--addr", cluster.address(), "--json"});
        const json r = json::parse(out, nullptr, false);
        if (r.is_discarded() || !r.contains("groups")) return std::nullopt;
        v1::ModelInfo info;
        for (const json& g : r["groups"]) info.add_groups()->set_healthy(g.value("healthy", false));
        return info;
      });
}

}  // namespace
}  // namespace dsm
