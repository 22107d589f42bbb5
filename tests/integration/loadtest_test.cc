// `dsm loadtest` against `dsm serve --demo`: closed loop over gRPC after a warm-up with
// every request written out, a bursty open-loop rate sweep over HTTP with its plot,
// failed requests counted by status. Every check is on
// counts that must add up, never on how fast this machine is.

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/server_helpers.h"

namespace dsm {
namespace {

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in, nullptr, false);
}

class LoadTestTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string cache = testing::MakeTempDir("loadtest-cache");
    setenv("XDG_CACHE_HOME", cache.c_str(), 1);
    server_ = testing::ServerProcess::Start({"--demo", "--http-port", "0"}).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  testing::CommandResult LoadTest(std::vector<std::string> args) {
    args.insert(args.begin(), {testing::BinDir() + "/dsm", "loadtest", "--progress=false"});
    return testing::RunCommand(args);
  }
  static testing::ServerProcess* server_;
};
testing::ServerProcess* LoadTestTest::server_ = nullptr;

TEST_F(LoadTestTest, ClosedLoopOverGrpcCountsEveryRequestAndToken) {
  ASSERT_NE(server_, nullptr);
  const std::string dir = testing::MakeTempDir("loadtest");
  const std::string report = dir + "/report.json";
  testing::CommandResult r = LoadTest(
      {"--addr", server_->address(), "--requests", "24", "--concurrency", "4", "--prompt_len",
       "uniform:4:16", "--output_len", "fixed:8", "--ignore_eos", "--slo_e2e_ms", "600000",
       "--warmup", "3", "--report_json", report, "--requests_jsonl", dir + "/requests.jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("time to first token"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("warm-up: 3 requests"), std::string::npos) << r.out;
  // One line per counted request (the warm-up's are not), adding up to the report.
  std::ifstream lines(dir + "/requests.jsonl");
  int requests = 0, output_tokens = 0;
  for (std::string line; std::getline(lines, line); ++requests) {
    const nlohmann::json request = nlohmann::json::parse(line);
    EXPECT_EQ(request["status"], "OK") << line;
    EXPECT_EQ(request["run"], 0) << line;
    EXPECT_LE(request["ttft_s"].get<double>(), request["e2e_s"].get<double>()) << line;
    output_tokens += request["output_tokens"].get<int>();
  }
  EXPECT_EQ(requests, 24);
  EXPECT_EQ(output_tokens, 24 * 8);
  const nlohmann::json j = ReadJson(report);
  ASSERT_EQ(j["runs"].size(), 1u) << j.dump();
  const nlohmann::json& run = j["runs"][0];
  EXPECT_EQ(run["requests"], 24);
  EXPECT_EQ(run["succeeded"], 24);
  EXPECT_EQ(run["met_objectives"], 24);
  EXPECT_EQ(run["output_tokens"], 24 * 8);
  EXPECT_GE(run["prompt_tokens"].get<int>(), 24 * 4);
  EXPECT_LE(run["prompt_tokens"].get<int>(), 24 * 17);  // + BOS at most
  EXPECT_EQ(run["ttft_s"]["count"], 24);
  EXPECT_EQ(run["e2e_s"]["count"], 24);
  // Gaps between chunks: at most one fewer than the tokens of each request.
  EXPECT_GT(run["itl_s"]["count"].get<int>(), 0);
  EXPECT_LE(run["itl_s"]["count"].get<int>(), 24 * 7);
  EXPECT_LE(run["ttft_s"]["p50"].get<double>(), run["e2e_s"]["p50"].get<double>());
  EXPECT_TRUE(run["errors"].empty());
}

TEST_F(LoadTestTest, OpenLoopRateSweepOverHttpWithPlot) {
  ASSERT_NE(server_, nullptr);
  ASSERT_GT(server_->http_port(), 0);
  const std::string dir = testing::MakeTempDir("loadtest-sweep");
  testing::CommandResult r = LoadTest({"--protocol",
                                       "http",
                                       "--addr",
                                       absl::StrCat("127.0.0.1:", server_->http_port()),
                                       "--rate",
                                       "20,40",
                                       "--burstiness",
                                       "0.5",
                                       "--requests",
                                       "16",
                                       "--duration_s",
                                       "2",
                                       "--output_len",
                                       "fixed:4",
                                       "--prompt_len",
                                       "fixed:6",
                                       "--ignore_eos",
                                       "--report_json",
                                       dir + "/sweep.json",
                                       "--plot",
                                       dir + "/sweep.png"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const nlohmann::json j = ReadJson(dir + "/sweep.json");
  ASSERT_EQ(j["runs"].size(), 2u) << j.dump();
  for (const nlohmann::json& run : j["runs"]) {
    const int requests = run["requests"];
    EXPECT_GE(requests, 1);
    EXPECT_LE(requests, 16);
    EXPECT_EQ(run["succeeded"], requests);
    EXPECT_EQ(run["output_tokens"], 4 * requests);
    EXPECT_EQ(run["prompt_tokens"], 6 * requests);
    EXPECT_EQ(run["ttft_s"]["count"], requests);
  }
  EXPECT_EQ(j["burstiness"], 0.5);
  EXPECT_EQ(j["runs"][0]["rate"], 20.0);
  EXPECT_EQ(j["runs"][1]["rate"], 40.0);
  ASSERT_TRUE(std::filesystem::exists(dir + "/sweep.png")) << r.err;
  EXPECT_GT(std::filesystem::file_size(dir + "/sweep.png"), 1000u);
}

// The chat endpoint over HTTP with a ShareGPT file: each conversation's first human
// turn goes through the server's chat template, and the counts add up.
TEST_F(LoadTestTest, ChatEndpointOverHttpWithShareGptPrompts) {
  ASSERT_NE(server_, nullptr);
  ASSERT_GT(server_->http_port(), 0);
  const std::string dir = testing::MakeTempDir("loadtest-chat");
  std::ofstream(dir + "/sharegpt.json") << R"([
    {"conversations": [{"from": "human", "value": "Once upon a time"},
                       {"from": "gpt", "value": "there was a cat"}]},
    {"conversations": [{"from": "gpt", "value": "no human turn"}]},
    {"conversations": [{"from": "human", "value": "Tell me a story"}]}])";
  testing::CommandResult r =
      LoadTest({"--protocol", "http", "--addr", absl::StrCat("127.0.0.1:", server_->http_port()),
                "--endpoint", "chat", "--prompts", dir + "/sharegpt.json", "--requests", "6",
                "--concurrency", "3", "--output_len", "fixed:5", "--ignore_eos", "--report_json",
                dir + "/chat.json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const nlohmann::json j = ReadJson(dir + "/chat.json");
  ASSERT_FALSE(j.is_discarded()) << r.out << r.err;
  EXPECT_EQ(j["endpoint"], "chat");
  const nlohmann::json& run = j["runs"][0];
  EXPECT_EQ(run["requests"], 6);
  EXPECT_EQ(run["succeeded"], 6);
  EXPECT_EQ(run["output_tokens"], 6 * 5);
  EXPECT_EQ(run["ttft_s"]["count"], 6);
  // The template wraps each prompt: more prompt tokens than the bare texts' bytes.
  EXPECT_GT(run["prompt_tokens"].get<int>(), 6 * 15);

  // Token-id prompts cannot go to the chat endpoint: refused before sending.
  testing::CommandResult synthetic =
      LoadTest({"--addr", server_->address(), "--endpoint", "chat", "--requests", "2"});
  EXPECT_EQ(synthetic.exit_code, 2);
  EXPECT_NE(synthetic.err.find("--endpoint chat sends text"), std::string::npos) << synthetic.err;
}

TEST_F(LoadTestTest, FailedRequestsAreCountedByStatusAndExitNonZero) {
  ASSERT_NE(server_, nullptr);
  const std::string report = testing::MakeTempDir("loadtest-errors") + "/report.json";
  // Prompts longer than the demo model's context: every request is refused.
  testing::CommandResult r = LoadTest({"--addr", server_->address(), "--requests", "5",
                                       "--concurrency", "2", "--prompt_len", "fixed:100000",
                                       "--output_len", "fixed:4", "--report_json", report});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  const nlohmann::json j = ReadJson(report);
  const nlohmann::json& run = j["runs"][0];
  EXPECT_EQ(run["requests"], 5);
  EXPECT_EQ(run["succeeded"], 0);
  ASSERT_TRUE(run["errors"].contains("INVALID_ARGUMENT")) << run.dump();
  EXPECT_EQ(run["errors"]["INVALID_ARGUMENT"]["count"], 5);
  EXPECT_FALSE(run["errors"]["INVALID_ARGUMENT"]["example"].get<std::string>().empty());
}

TEST_F(LoadTestTest, BadFlagsAndUnreachableServersGetClearErrors) {
  testing::CommandResult bad_length = LoadTest({"--requests", "1", "--prompt_len", "gaussian:3"});
  EXPECT_EQ(bad_length.exit_code, 2);
  EXPECT_NE(bad_length.err.find("--prompt_len"), std::string::npos) << bad_length.err;
  testing::CommandResult endless = LoadTest({"--addr", "127.0.0.1:1"});
  EXPECT_EQ(endless.exit_code, 2);
  EXPECT_NE(endless.err.find("--requests N or --duration_s S"), std::string::npos) << endless.err;
  testing::CommandResult unreachable =
      LoadTest({"--addr", "127.0.0.1:1", "--requests", "1", "--timeout_s", "2"});
  EXPECT_EQ(unreachable.exit_code, 2);
  EXPECT_NE(unreachable.err.find("cannot reach the gRPC server at 127.0.0.1:1"), std::string::npos)
      << unreachable.err;
}

}  // namespace
}  // namespace dsm
