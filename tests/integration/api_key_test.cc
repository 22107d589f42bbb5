// `dsm serve --api-key`: the public API (gRPC dsm.v1.Inference, HTTP /v1/) needs the key as
// a bearer token; health checks and metrics stay open; the clients send it.

#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/server_helpers.h"

namespace dsm {
namespace {

constexpr char kKey[] = "s3cret-key";

class ApiKeyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string cache = testing::MakeTempDir("api-key-cache");
    setenv("XDG_CACHE_HOME", cache.c_str(), 1);
    server_ = testing::ServerProcess::Start(
                  {"--demo", "--http-port", "0", "--metrics-port", "0", "--api-key", kKey})
                  .release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static int HttpStatus(const std::string& path, const std::string& authorization) {
    httplib::Client client("127.0.0.1", server_->http_port());
    httplib::Headers headers;
    if (!authorization.empty()) headers.emplace("Authorization", authorization);
    httplib::Result r = client.Get(path, headers);
    return r ? r->status : -1;
  }
  static grpc::StatusCode GrpcGenerate(const std::string& authorization) {
    grpc::ClientContext context;
    if (!authorization.empty()) context.AddMetadata("authorization", authorization);
    v1::GenerateRequest request;
    request.set_text("Once upon");
    request.mutable_params()->set_max_tokens(2);
    v1::GenerateResponse response;
    return server_->stub().Generate(&context, request, &response).error_code();
  }
  static testing::ServerProcess* server_;
};
testing::ServerProcess* ApiKeyTest::server_ = nullptr;

TEST_F(ApiKeyTest, HttpApiNeedsTheKeyAndProbesDoNot) {
  ASSERT_NE(server_, nullptr);
  EXPECT_EQ(HttpStatus("/v1/models", ""), 401);
  EXPECT_EQ(HttpStatus("/v1/models", "Bearer wrong"), 401);
  EXPECT_EQ(HttpStatus("/v1/models", absl::StrCat("Bearer ", kKey)), 200);
  EXPECT_EQ(HttpStatus("/health", ""), 200);
  EXPECT_EQ(HttpStatus("/metrics", ""), 200);
  // The refusal is OpenAI's error body.
  httplib::Client client("127.0.0.1", server_->http_port());
  httplib::Result r =
      client.Post("/v1/completions", R"({"prompt": "x", "max_tokens": 2})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(nlohmann::json::parse(r->body)["error"]["code"], "invalid_api_key") << r->body;
}

TEST_F(ApiKeyTest, GrpcApiNeedsTheKeyAndHealthDoesNot) {
  ASSERT_NE(server_, nullptr);
  EXPECT_EQ(GrpcGenerate(""), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(GrpcGenerate("Bearer wrong"), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(GrpcGenerate(absl::StrCat("Bearer ", kKey)), grpc::StatusCode::OK);
  // Kubernetes' gRPC probes carry no key.
  EXPECT_EQ(server_->Health(""), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(ApiKeyTest, ClientsSendTheKeyFromTheFlagOrTheEnvironment) {
  ASSERT_NE(server_, nullptr);
  const std::string dsm = testing::BinDir() + "/dsm";
  testing::CommandResult refused = testing::RunCommand(
      {dsm, "generate", "--addr", server_->address(), "--prompt", "hi", "--max_tokens", "2"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("UNAUTHENTICATED"), std::string::npos) << refused.err;
  testing::CommandResult generated =
      testing::RunCommand({dsm, "generate", "--addr", server_->address(), "--prompt", "hi",
                           "--max_tokens", "2", "--api_key", kKey});
  EXPECT_EQ(generated.exit_code, 0) << generated.err;
  // The load tester, over HTTP with the flag and over gRPC with DSM_API_KEY.
  testing::CommandResult http = testing::RunCommand(
      {dsm, "loadtest", "--protocol", "http", "--addr",
       absl::StrCat("127.0.0.1:", server_->http_port()), "--requests", "3", "--output_len",
       "fixed:2", "--ignore_eos", "--progress=false", "--api_key", kKey});
  EXPECT_EQ(http.exit_code, 0) << http.out << http.err;
  EXPECT_NE(http.out.find("requests: 3 (3 ok, 0 failed)"), std::string::npos) << http.out;
  setenv("DSM_API_KEY", kKey, 1);
  testing::CommandResult grpc_run =
      testing::RunCommand({dsm, "loadtest", "--addr", server_->address(), "--requests", "3",
                           "--output_len", "fixed:2", "--ignore_eos", "--progress=false"});
  unsetenv("DSM_API_KEY");
  EXPECT_EQ(grpc_run.exit_code, 0) << grpc_run.out << grpc_run.err;
  EXPECT_NE(grpc_run.out.find("requests: 3 (3 ok, 0 failed)"), std::string::npos) << grpc_run.out;
}

}  // namespace
}  // namespace dsm
