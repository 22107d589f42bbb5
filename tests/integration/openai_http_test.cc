// The OpenAI-compatible HTTP API of a real `dsm serve` process: golden tokens through
// /v1/completions, HTTP and gRPC answering alike, server-sent events framed as curl sees
// them, OpenAI's error bodies and codes, a client that disconnects mid-stream, and the
// official OpenAI Node SDK against the server.

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <future>
#include <thread>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/server_helpers.h"

namespace dsm {
namespace {

using nlohmann::json;
using testing::CollectStream;
using testing::Greedy;
using testing::IdsRequest;

struct HttpReply {
  int status = 0;
  json body;
};

HttpReply Post(int port, const std::string& path, const json& request) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(120, 0);
  httplib::Result r = client.Post(path, request.dump(), "application/json");
  HttpReply reply;
  if (!r) return reply;
  reply.status = r->status;
  reply.body = json::parse(r->body, nullptr, false);
  return reply;
}

// Runs a command and returns its stdout.
std::string Capture(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) out.append(buffer, n);
  pclose(pipe);
  return out;
}

std::string Shell(const std::string& s) { return "'" + s + "'"; }

class OpenAiHttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = testing::ServerProcess::Start({"--demo", "--http-port", "0"}).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(server_->http_port(), 0);
  }
  static int port() { return server_->http_port(); }
  static testing::ServerProcess* server_;
};
testing::ServerProcess* OpenAiHttpTest::server_ = nullptr;

TEST_F(OpenAiHttpTest, ModelsAndHealth) {
  httplib::Client client("127.0.0.1", port());
  httplib::Result health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  httplib::Result models = client.Get("/v1/models");
  ASSERT_TRUE(models);
  const json m = json::parse(models->body);
  EXPECT_EQ(m["object"], "list");
  EXPECT_EQ(m["data"][0]["id"], "demo-model");
  EXPECT_EQ(m["data"][0]["object"], "model");
}

// A burst of new connections (clients arriving together) is answered in full: the accept
// queue is wide enough that the kernel drops none (httplib's own backlog of 5 had lost
// ~25% of 128 connections opened at once, seen by clients as read errors).
TEST_F(OpenAiHttpTest, BurstOfNewConnectionsIsAnsweredInFull) {
  constexpr int kClients = 128;
  std::atomic<int> ready{0};
  std::vector<std::future<int>> statuses;
  for (int i = 0; i < kClients; ++i) {
    statuses.push_back(std::async(std::launch::async, [&] {
      httplib::Client client("127.0.0.1", port());
      client.set_read_timeout(120, 0);
      // Connect all together: each waits until every thread is about to send.
      ++ready;
      while (ready.load() < kClients) std::this_thread::yield();
      httplib::Result r = client.Post(
          "/v1/completions", R"({"prompt": [5, 6, 7], "max_tokens": 2})", "application/json");
      return r ? r->status : -static_cast<int>(r.error());
    }));
  }
  int ok = 0;
  for (auto& status : statuses) {
    const int s = status.get();
    EXPECT_EQ(s, 200) << "negative: an httplib::Error (connection lost)";
    ok += s == 200 ? 1 : 0;
  }
  EXPECT_EQ(ok, kClients);
}

// Wrong paths and methods get OpenAI's JSON error shape, and a 405 says which method.
TEST_F(OpenAiHttpTest, UnknownPathsAndWrongMethodsGetJsonErrors) {
  httplib::Client client("127.0.0.1", port());
  httplib::Result missing = client.Get("/v1/embeddings");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  const json missing_body = json::parse(missing->body);
  EXPECT_EQ(missing_body["object"], "error");
  EXPECT_NE(missing_body["error"]["message"].get<std::string>().find("/v1/embeddings"),
            std::string::npos)
      << missing->body;

  httplib::Result get_completions = client.Get("/v1/completions");
  ASSERT_TRUE(get_completions);
  EXPECT_EQ(get_completions->status, 405);
  EXPECT_EQ(get_completions->get_header_value("Allow"), "POST");
  EXPECT_EQ(json::parse(get_completions->body)["error"]["code"], "METHOD_NOT_ALLOWED");

  httplib::Result post_models = client.Post("/v1/models", "{}", "application/json");
  ASSERT_TRUE(post_models);
  EXPECT_EQ(post_models->status, 405);
  EXPECT_EQ(post_models->get_header_value("Allow"), "GET");
  EXPECT_EQ(json::parse(post_models->body)["object"], "error");

  // A body past the server's limit is refused before it is parsed or tokenized.
  const std::string huge = json({{"prompt", std::string(33 << 20, 'a')}}).dump();
  httplib::Result too_large = client.Post("/v1/completions", huge, "application/json");
  ASSERT_TRUE(too_large);
  EXPECT_EQ(too_large->status, 413);
  EXPECT_EQ(json::parse(too_large->body)["object"], "error");
}

// HTTP is an adapter over the gRPC path: the same greedy request gives the same text.
TEST_F(OpenAiHttpTest, CompletionsAndChatMatchGrpc) {
  const HttpReply http = Post(port(), "/v1/completions",
                              {{"model", "demo-model"},
                               {"prompt", "Once upon a time"},
                               {"max_tokens", 12},
                               {"temperature", 0}});
  ASSERT_EQ(http.status, 200) << http.body.dump();
  v1::GenerateRequest request;
  request.set_text("Once upon a time");
  request.mutable_params()->set_max_tokens(12);
  request.mutable_params()->set_temperature(0);
  testing::StreamResult grpc_result = CollectStream(server_->stub(), request);
  ASSERT_TRUE(grpc_result.status.ok()) << grpc_result.status.error_message();
  EXPECT_EQ(http.body["choices"][0]["text"], grpc_result.text[0]);
  EXPECT_EQ(http.body["object"], "text_completion");
  EXPECT_EQ(http.body["usage"]["completion_tokens"], grpc_result.usage.completion_tokens());
  EXPECT_EQ(http.body["usage"]["prompt_tokens"], grpc_result.usage.prompt_tokens());
  EXPECT_EQ(http.body["usage"]["total_tokens"],
            grpc_result.usage.prompt_tokens() + grpc_result.usage.completion_tokens());

  const HttpReply chat = Post(port(), "/v1/chat/completions",
                              {{"messages", {{{"role", "user"}, {"content", "Hello"}}}},
                               {"max_completion_tokens", 6},
                               {"temperature", 0},
                               {"n", 2},
                               {"logprobs", true},
                               {"top_logprobs", 2}});
  ASSERT_EQ(chat.status, 200) << chat.body.dump();
  ASSERT_EQ(chat.body["choices"].size(), 2u);
  EXPECT_EQ(chat.body["object"], "chat.completion");
  EXPECT_EQ(chat.body["choices"][0]["message"]["role"], "assistant");
  // Greedy: both choices agree; each token has its logprob and 2 alternatives.
  EXPECT_EQ(chat.body["choices"][0]["message"]["content"],
            chat.body["choices"][1]["message"]["content"]);
  const json& content = chat.body["choices"][0]["logprobs"]["content"];
  EXPECT_EQ(content.size(), 6u);
  EXPECT_EQ(content[0]["top_logprobs"].size(), 2u);
  EXPECT_LE(content[0]["logprob"].get<double>(), 0.0);
  EXPECT_EQ(chat.body["choices"][0]["finish_reason"], "length");
}

// Server-sent events as curl receives them: "data: {json}\n\n" events whose deltas add up
// to the unstreamed answer, a usage event when asked for, and "data: [DONE]" last.
TEST_F(OpenAiHttpTest, StreamingFramesServerSentEventsForCurl) {
  if (Capture("command -v curl").empty()) GTEST_SKIP() << "curl is not installed";
  const json request = {{"prompt", "The little dog"},
                        {"max_tokens", 10},
                        {"temperature", 0},
                        {"stream", true},
                        {"stream_options", {{"include_usage", true}}}};
  const std::string raw =
      Capture("curl -sN -H 'Content-Type: application/json' -d " + Shell(request.dump()) +
              " http://127.0.0.1:" + std::to_string(port()) + "/v1/completions");
  ASSERT_FALSE(raw.empty());
  ASSERT_GE(raw.size(), 2u);
  EXPECT_EQ(raw.substr(raw.size() - 2), "\n\n");
  std::vector<std::string> events = absl::StrSplit(raw.substr(0, raw.size() - 2), "\n\n");
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "data: [DONE]");
  std::string text;
  json usage;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    ASSERT_EQ(events[i].rfind("data: ", 0), 0u) << events[i];
    const json chunk = json::parse(events[i].substr(6));
    EXPECT_EQ(chunk["object"], "text_completion");
    if (chunk["choices"].empty()) {
      usage = chunk["usage"];
      EXPECT_EQ(i, events.size() - 2) << "usage comes last";
      continue;
    }
    text += chunk["choices"][0]["text"].get<std::string>();
  }
  json unstreamed = request;
  unstreamed.erase("stream");
  unstreamed.erase("stream_options");
  const HttpReply whole = Post(port(), "/v1/completions", unstreamed);
  ASSERT_EQ(whole.status, 200);
  EXPECT_EQ(text, whole.body["choices"][0]["text"]);
  EXPECT_EQ(usage["completion_tokens"], 10);
}

TEST_F(OpenAiHttpTest, ErrorsUseOpenAisBodyAndCodes) {
  struct Case {
    std::string path;
    json request;
    int status;
    std::string param;  // empty: not checked
  };
  const std::vector<Case> cases = {
      {"/v1/completions", {{"prompt", "x"}, {"max_tokens", "ten"}}, 400, "max_tokens"},
      {"/v1/completions", {{"prompt", "x"}, {"temperature", -1}}, 400, "temperature"},
      {"/v1/completions", {{"prompt", "x"}, {"top_p", 3}}, 400, "top_p"},
      {"/v1/completions", {{"max_tokens", 3}}, 400, "prompt"},
      {"/v1/completions", {{"prompt", "x"}, {"model", "gpt-4o"}}, 404, ""},
      {"/v1/completions", {{"prompt", "x"}, {"logit_bias", {{"1", 5}}}}, 400, ""},
      {"/v1/chat/completions", {{"messages", "hi"}}, 400, "messages"},
      {"/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", 5}}}}}, 400, ""},
  };
  for (const Case& c : cases) {
    const HttpReply r = Post(port(), c.path, c.request);
    EXPECT_EQ(r.status, c.status) << c.request.dump() << " -> " << r.body.dump();
    ASSERT_TRUE(r.body.contains("error")) << r.body.dump();
    EXPECT_FALSE(r.body["error"]["message"].get<std::string>().empty());
    if (!c.param.empty()) {
      EXPECT_EQ(r.body["error"]["param"], c.param) << r.body.dump();
    }
  }
  httplib::Client client("127.0.0.1", port());
  httplib::Result bad_json = client.Post("/v1/completions", "{not json", "application/json");
  ASSERT_TRUE(bad_json);
  EXPECT_EQ(bad_json->status, 400);
  // A body that is not JSON names no field of it.
  EXPECT_TRUE(json::parse(bad_json->body)["error"]["param"].is_null()) << bad_json->body;
}

// Token-id prompts on a model without a tokenizer: tokens come back as "token_id:N"
// logprob entries, equal to the llama2.c golden continuation.
TEST(OpenAiHttpGoldenTest, TokenPromptGivesTheGoldenTokens) {
  DSM_REQUIRE_SHARED("models/stories260K/golden.json");
  const std::string model = testing::SharedDir() + "/models/stories260K";
  auto server = testing::ServerProcess::Start({"--model", model, "--http-port", "0"});
  ASSERT_NE(server, nullptr);
  const json golden = json::parse(std::ifstream(model + "/golden.json"))[0];
  const auto prompt = golden["prompt_token_ids"].get<std::vector<int32_t>>();
  const auto expected = golden["greedy_token_ids"].get<std::vector<int32_t>>();
  const HttpReply r = Post(server->http_port(), "/v1/completions",
                           {{"prompt", prompt},
                            {"max_tokens", expected.size()},
                            {"temperature", 0},
                            {"ignore_eos", true},
                            {"logprobs", 1}});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  std::vector<int32_t> got;
  for (const json& token : r.body["choices"][0]["logprobs"]["tokens"]) {
    got.push_back(std::stoi(token.get<std::string>().substr(std::string("token_id:").size())));
  }
  EXPECT_EQ(got, expected);
}

// A client that closes its connection mid-stream cancels its sequence: the group is idle
// again while the 4000 tokens it asked for would still take tens of seconds.
TEST(OpenAiHttpDisconnectTest, ClosingTheConnectionCancelsTheRequest) {
  auto server =
      testing::ServerProcess::Start({"--model", testing::SlowModel(), "--http-port", "0"});
  ASSERT_NE(server, nullptr);
  auto info = [&] {
    grpc::ClientContext context;
    v1::ModelInfo i;
    EXPECT_TRUE(server->stub().GetModelInfo(&context, v1::GetModelInfoRequest(), &i).ok());
    return i;
  };
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server->http_port()));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string body = json{{"prompt", {1, 2, 3}}, {"max_tokens", 4000}, {"temperature", 0},
                                {"ignore_eos", true},  {"logprobs", 1},      {"stream", true}}
                               .dump();
  const std::string request =
      "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Content-Type: application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string received;
  char buffer[4096];
  while (received.find("data: ") == std::string::npos) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    ASSERT_GT(n, 0) << received;
    received.append(buffer, static_cast<size_t>(n));
  }
  EXPECT_EQ(received.rfind("HTTP/1.1 200", 0), 0u) << received;
  // The group's stats follow within a step of the first token.
  bool running = false;
  for (int i = 0; i < 200 && !running; ++i) {
    running = info().groups(0).running() == 1;
    if (!running) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(running);
  close(fd);
  bool idle = false;
  for (int i = 0; i < 200 && !idle; ++i) {
    const v1::ModelInfo now = info();
    idle = now.groups(0).running() == 0 &&
           now.groups(0).kv_blocks_free() == now.groups(0).kv_blocks_total();
    if (!idle) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_TRUE(idle) << "the disconnected request kept running";
}

// Over HTTP, a full queue is 429 and a draining server 503 (with /health 503), in
// OpenAI's error body. A long request holds the only running slot meanwhile.
TEST(OpenAiHttpStatusTest, FullQueueIs429AndDrainingIs503) {
  auto server = testing::ServerProcess::Start({"--model", testing::SlowModel(), "--http-port", "0",
                                               "--max-running", "1", "--max-queue", "0",
                                               "--drain-timeout-s", "2"});
  ASSERT_NE(server, nullptr);
  auto running = std::async(std::launch::async, [&] {
    return CollectStream(server->stub(), IdsRequest({1, 2}, Greedy(4000)), 1, 60);
  });
  bool busy = false;
  for (int i = 0; i < 200 && !busy; ++i) {
    grpc::ClientContext context;
    v1::ModelInfo info;
    busy = server->stub().GetModelInfo(&context, v1::GetModelInfoRequest(), &info).ok() &&
           info.groups(0).running() == 1;
    if (!busy) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(busy);
  const json request = {{"prompt", {1, 2}}, {"max_tokens", 2}};
  HttpReply full = Post(server->http_port(), "/v1/completions", request);
  EXPECT_EQ(full.status, 429) << full.body.dump();
  EXPECT_EQ(full.body["error"]["type"], "rate_limit_error");
  json streamed = request;
  streamed["stream"] = true;  // refused before any event: a real status, not an SSE error
  EXPECT_EQ(Post(server->http_port(), "/v1/completions", streamed).status, 429);

  server->Signal(SIGTERM);
  int health = 0;
  for (int i = 0; i < 200 && health != 503; ++i) {
    httplib::Client client("127.0.0.1", server->http_port());
    httplib::Result r = client.Get("/health");
    health = r ? r->status : 0;
    if (health != 503) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(health, 503);
  HttpReply draining = Post(server->http_port(), "/v1/completions", request);
  EXPECT_EQ(draining.status, 503) << draining.body.dump();
  EXPECT_NE(draining.body["error"]["message"].get<std::string>().find("draining"),
            std::string::npos);
  running.get();
}

// The official OpenAI Node SDK (npm package openai) against the server: completions and
// chat, streamed and not, n > 1, a bad parameter, an abort mid-stream.
TEST_F(OpenAiHttpTest, OfficialNodeSdk) {
  const std::string dir = std::string(DSM_SOURCE_DIR) + "/tests/openai_sdk";
  if (!std::filesystem::exists(dir + "/node_modules/openai")) {
    if (testing::InCi()) FAIL() << "the openai npm package is missing (tools/setup.sh installs it)";
    GTEST_SKIP() << "the openai npm package is not installed (run tools/setup.sh)";
  }
  const std::string out =
      Capture("node " + dir + "/sdk_check.mjs http://127.0.0.1:" + std::to_string(port()) +
              "/v1 demo-model 2>&1; echo exit=$?");
  EXPECT_NE(out.find("exit=0"), std::string::npos) << out;
  EXPECT_NE(out.find("sdk checks passed"), std::string::npos) << out;
}

}  // namespace
}  // namespace dsm
