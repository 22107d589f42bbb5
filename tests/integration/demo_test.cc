// `dsm serve --demo` on a fresh machine: it writes its model into the cache directory
// on first use and answers chat requests; `dsm generate` and `dsm chat` talk to it.

#include <filesystem>

#include "gtest/gtest.h"
#include "tests/integration/server_helpers.h"

namespace dsm {
namespace {

TEST(DemoTest, ServesAGeneratedModelAndAnswersTheClients) {
  const std::string cache = testing::MakeTempDir("cache");
  setenv("XDG_CACHE_HOME", cache.c_str(), 1);  // inherited by the server
  auto server = testing::ServerProcess::Start({"--demo", "--tp", "2"});
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(std::filesystem::exists(cache + "/dsmserve/demo-model/tokenizer.json"));

  v1::ChatRequest chat;
  v1::ChatMessage* m = chat.add_messages();
  m->set_role("user");
  m->set_content("What is 7 * 6?");
  chat.mutable_params()->set_max_tokens(12);
  chat.mutable_params()->set_seed(1);
  grpc::ClientContext context;
  v1::GenerateResponse response;
  grpc::Status status = server->stub().Chat(&context, chat, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(response.choices(0).token_ids_size(), 0);

  grpc::ClientContext info_context;
  v1::ModelInfo info;
  ASSERT_TRUE(server->stub().GetModelInfo(&info_context, v1::GetModelInfoRequest(), &info).ok());
  EXPECT_TRUE(info.has_tokenizer());
  EXPECT_TRUE(info.has_chat_template());
  EXPECT_EQ(info.tensor_parallel_size(), 2);

  const std::string dsm = testing::BinDir() + "/dsm";
  testing::CommandResult generate =
      testing::RunCommand({dsm, "generate", "--addr", server->address(), "--prompt",
                           "1 + 1 =", "--max-tokens", "5", "--json"});
  EXPECT_EQ(generate.exit_code, 0) << generate.err;
  EXPECT_NE(generate.out.find("\"completion_tokens\":5"), std::string::npos) << generate.out;
  testing::CommandResult chat_cli =
      testing::RunCommand({dsm, "chat", "--addr", server->address(), "--max-tokens", "4", "--json"},
                          "hello\nand again\n");
  EXPECT_EQ(chat_cli.exit_code, 0) << chat_cli.err;
  EXPECT_EQ(std::count(chat_cli.out.begin(), chat_cli.out.end(), '\n'), 2) << chat_cli.out;
  testing::CommandResult tokenize =
      testing::RunCommand({dsm, "tokenize", "--addr", server->address()}, "{\"text\": \"ab\"}\n");
  EXPECT_EQ(tokenize.exit_code, 0) << tokenize.err;
  EXPECT_EQ(tokenize.out, "{\"ids\":[97,98]}\n");  // one token per byte
  testing::CommandResult unreachable = testing::RunCommand(
      {dsm, "generate", "--addr", "127.0.0.1:1", "--prompt", "x", "--timeout-s", "2"});
  EXPECT_NE(unreachable.exit_code, 0);
  EXPECT_NE(unreachable.err.find("cannot reach dsm serve at 127.0.0.1:1"), std::string::npos)
      << unreachable.err;
}

}  // namespace
}  // namespace dsm
