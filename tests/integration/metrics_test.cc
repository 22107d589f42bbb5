// Prometheus metrics of a real `dsm serve`: after a load over gRPC and HTTP, /metrics
// passes `promtool check metrics` and its counters equal what the clients received.

#include <httplib.h>

#include <cstdio>
#include <fstream>
#include <future>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/server_helpers.h"

namespace dsm {
namespace {

using nlohmann::json;

// Sums the samples of `name` whose label set contains every `labels` substring.
double Sum(const std::string& exposition, const std::string& name,
           const std::vector<std::string>& labels = {}) {
  double total = 0;
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t name_end = line.find_first_of("{ ");
    if (line.substr(0, name_end) != name) continue;
    bool match = true;
    for (const std::string& l : labels) match = match && absl::StrContains(line, l);
    if (match) total += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return total;
}

std::string Scrape(int port) {
  httplib::Client client("127.0.0.1", port);
  httplib::Result r = client.Get("/metrics");
  EXPECT_TRUE(r);
  if (!r) return "";
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(absl::StartsWith(r->get_header_value("Content-Type"), "text/plain"));
  return r->body;
}

TEST(MetricsTest, CountersEqualWhatClientsReceivedAndPromtoolAccepts) {
  auto server = testing::ServerProcess::Start(
      {"--demo", "--tp", "2", "--http-port", "0", "--metrics-port", "0"});
  ASSERT_NE(server, nullptr);
  ASSERT_GT(server->metrics_port(), 0);
  // Before any request: the families exist, at zero.
  const std::string before = Scrape(server->metrics_port());
  EXPECT_TRUE(absl::StrContains(before, "dsm:generation_tokens_total"));
  EXPECT_EQ(Sum(before, "dsm:num_requests_running"), 0);

  // A load: gRPC streams and HTTP completions, n = 2 included, in parallel.
  int64_t prompt_tokens = 0, completion_tokens = 0, choices = 0, requests = 0;
  std::vector<std::future<testing::StreamResult>> grpc_calls;
  for (int i = 0; i < 4; ++i) {
    grpc_calls.push_back(std::async(std::launch::async, [&server, i] {
      v1::GenerateRequest r;
      r.set_text("Counting " + std::to_string(i));
      r.mutable_params()->set_max_tokens(5 + i);
      r.mutable_params()->set_temperature(0);
      return testing::CollectStream(server->stub(), r);
    }));
  }
  std::vector<std::future<json>> http_calls;
  for (int i = 0; i < 3; ++i) {
    http_calls.push_back(std::async(std::launch::async, [&server, i] {
      httplib::Client client("127.0.0.1", server->http_port());
      client.set_read_timeout(60, 0);
      const json request = {{"prompt", "Hello " + std::to_string(i)},
                            {"max_tokens", 4},
                            {"n", i == 0 ? 2 : 1},
                            {"temperature", 0.7},
                            {"seed", i}};
      httplib::Result r = client.Post("/v1/completions", request.dump(), "application/json");
      return r ? json::parse(r->body, nullptr, false) : json();
    }));
  }
  for (auto& f : grpc_calls) {
    testing::StreamResult r = f.get();
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    prompt_tokens += r.usage.prompt_tokens();
    completion_tokens += r.usage.completion_tokens();
    choices += 1;
    requests += 1;
  }
  for (auto& f : http_calls) {
    const json r = f.get();
    ASSERT_TRUE(r.contains("usage")) << r.dump();
    prompt_tokens += r["usage"]["prompt_tokens"].get<int64_t>();
    completion_tokens += r["usage"]["completion_tokens"].get<int64_t>();
    choices += static_cast<int64_t>(r["choices"].size());
    requests += 1;
  }

  const std::string text = Scrape(server->metrics_port());
  EXPECT_EQ(Sum(text, "dsm:prompt_tokens_total"), prompt_tokens);
  EXPECT_EQ(Sum(text, "dsm:generation_tokens_total"), completion_tokens);
  EXPECT_EQ(Sum(text, "dsm:request_success_total"), choices);
  EXPECT_EQ(Sum(text, "dsm:request_success_total", {"finished_reason=\"length\""}), choices);
  EXPECT_EQ(Sum(text, "dsm:e2e_request_latency_seconds_count"), requests);
  EXPECT_EQ(Sum(text, "dsm:time_to_first_token_seconds_count"), requests);
  EXPECT_EQ(Sum(text, "dsm:request_queue_time_seconds_count"), requests);
  // Every token after a choice's first is one inter-token gap.
  EXPECT_EQ(Sum(text, "dsm:inter_token_latency_seconds_count"), completion_tokens - choices);
  EXPECT_EQ(Sum(text, "dsm:prefix_cache_queries_total"), prompt_tokens);
  EXPECT_EQ(Sum(text, "dsm:request_failure_total"), 0);
  // Steps: the tokens fed equal prompts + all but each choice's last token, less what
  // the prefix cache saved.
  EXPECT_GT(Sum(text, "dsm:step_duration_seconds_count", {"group=\"0\""}), 0);
  // Every token but each choice's last was fed back in a step, besides the prompts.
  EXPECT_GE(Sum(text, "dsm:step_batch_tokens_sum"), completion_tokens - choices);
  EXPECT_LE(Sum(text, "dsm:prefix_cache_hits_total"), prompt_tokens);
  // Each rank of the tp-2 group reports its forward and all-reduce time every step.
  const double steps = Sum(text, "dsm:step_duration_seconds_count");
  EXPECT_EQ(Sum(text, "dsm:worker_forward_seconds_count", {"rank=\"0\""}), steps);
  EXPECT_EQ(Sum(text, "dsm:worker_allreduce_seconds_count", {"rank=\"1\""}), steps);
  EXPECT_GT(Sum(text, "dsm:worker_allreduce_seconds_sum", {"rank=\"1\""}), 0);
  // A rank's whole step holds its forward pass, and the group's step holds the rank's.
  EXPECT_EQ(Sum(text, "dsm:worker_step_seconds_count", {"rank=\"1\""}), steps);
  EXPECT_GE(Sum(text, "dsm:worker_step_seconds_sum", {"rank=\"0\""}),
            Sum(text, "dsm:worker_forward_seconds_sum", {"rank=\"0\""}));
  EXPECT_LE(Sum(text, "dsm:worker_step_seconds_sum", {"rank=\"0\""}),
            Sum(text, "dsm:step_duration_seconds_sum"));
  EXPECT_EQ(Sum(text, "dsm:num_requests_running"), 0);
  EXPECT_EQ(Sum(text, "dsm:group_healthy"), 1);
  EXPECT_EQ(Sum(text, "dsm:kv_cache_usage_perc"), 0);

  // The same exposition on the HTTP API's port.
  EXPECT_TRUE(absl::StrContains(Scrape(server->http_port()), "dsm:generation_tokens_total"));

  // promtool (Debian's prometheus package) parses and lints the exposition. Its one
  // complaint allowed is the colon in the names: they follow vLLM's ("vllm:" ->
  // "dsm:") so that dashboards carry over, and vLLM's own exposition draws it too.
  if (FILE* which = popen("command -v promtool", "r")) {
    char path[256] = {};
    const bool found = fgets(path, sizeof(path), which) != nullptr;
    pclose(which);
    if (!found) {
      if (testing::InCi()) FAIL() << "promtool is missing (tools/setup.sh installs prometheus)";
      GTEST_SKIP() << "promtool not installed (apt-get install prometheus)";
    }
  }
  const std::string file = testing::ProcessTempPath("metrics.txt");
  { std::ofstream(file) << text; }
  FILE* check = popen(("promtool check metrics < " + file + " 2>&1; echo exit=$?").c_str(), "r");
  ASSERT_NE(check, nullptr);
  std::string out;
  char buffer[1024];
  while (size_t n = fread(buffer, 1, sizeof(buffer), check)) out.append(buffer, n);
  pclose(check);
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || absl::StartsWith(line, "exit=")) continue;
    EXPECT_TRUE(absl::EndsWith(line, "metric names should not contain ':'")) << line;
  }
  EXPECT_TRUE(out.find("exit=0") != std::string::npos || out.find("exit=3") != std::string::npos)
      << "promtool could not parse the exposition: " << out;
}

}  // namespace
}  // namespace dsm
