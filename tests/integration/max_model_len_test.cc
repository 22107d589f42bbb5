// `dsm serve --max-model-len`: a served context below the model's, as vLLM's flag: the
// model card and GetModelInfo report it, and requests past it are refused up front.

#include <httplib.h>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/integration/server_helpers.h"

namespace dsm {
namespace {

TEST(MaxModelLenTest, RequestsPastTheServedContextAreRefused) {
  const std::string cache = testing::MakeTempDir("max-model-len-cache");
  setenv("XDG_CACHE_HOME", cache.c_str(), 1);
  auto server =
      testing::ServerProcess::Start({"--demo", "--http-port", "0", "--max-model-len", "64"});
  ASSERT_NE(server, nullptr);

  httplib::Client client("127.0.0.1", server->http_port());
  httplib::Result models = client.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(nlohmann::json::parse(models->body)["data"][0]["max_model_len"], 64);
  {
    grpc::ClientContext context;
    v1::ModelInfo info;
    ASSERT_TRUE(server->stub().GetModelInfo(&context, v1::GetModelInfoRequest(), &info).ok());
    EXPECT_EQ(info.context_length(), 64);
  }
  auto generate = [&](int max_tokens) {
    grpc::ClientContext context;
    v1::GenerateRequest request;
    request.mutable_token_ids()->add_ids(5);
    request.mutable_token_ids()->add_ids(6);
    request.mutable_params()->set_max_tokens(max_tokens);
    request.mutable_params()->set_ignore_eos(true);
    v1::GenerateResponse response;
    const grpc::Status status = server->stub().Generate(&context, request, &response);
    return std::make_pair(status, response.usage().completion_tokens());
  };
  const auto [fits, tokens] = generate(60);  // 2 + 60 <= 64
  EXPECT_TRUE(fits.ok()) << fits.error_message();
  EXPECT_EQ(tokens, 60);
  const auto [too_long, unused] = generate(63);  // 2 + 63 > 64
  EXPECT_EQ(too_long.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(too_long.error_message().find("64"), std::string::npos) << too_long.error_message();
}

TEST(MaxModelLenTest, MoreThanTheModelsContextIsAStartError) {
  testing::CommandResult r = testing::RunCommand(
      {testing::BinDir() + "/dsm", "serve", "--demo", "--port", "0", "--max-model-len", "99999"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--max-model-len 99999"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dsm
