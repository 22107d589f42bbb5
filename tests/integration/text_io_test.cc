// Text through the command line: `dsm tokenize` (offline, both directions) and text
// prompts / chat messages in `dsm run`, with the DeepSeek-Math tokenizer.

#include <filesystem>

#include "common/file_util.h"
#include "coordinator/tokenizer/tokenizer.h"
#include "gtest/gtest.h"
#include "tests/integration/run_helpers.h"
#include "tests/support/text_model.h"

namespace dsm {
namespace {

std::string TokenizerDir() { return testing::SharedDir() + "/models/deepseek-math-tokenizer"; }

TEST(TokenizeCommandTest, EncodesTestVectorsAndDecodesThemBack) {
  DSM_REQUIRE_SHARED("models/deepseek-math-tokenizer/test_vectors.json");
  const nlohmann::json cases =
      nlohmann::json::parse(*ReadFileToString(TokenizerDir() + "/test_vectors.json"));
  std::string input;
  for (const auto& c : cases) input += nlohmann::json{{"text", c["text"]}}.dump() + "\n";
  testing::CommandResult encoded = testing::RunCommand(
      {testing::BinDir() + "/dsm", "tokenize", "--model", TokenizerDir()}, input);
  ASSERT_EQ(encoded.exit_code, 0) << encoded.err;
  std::istringstream lines(encoded.out);
  std::string line, decode_input;
  for (const auto& c : cases) {
    ASSERT_TRUE(std::getline(lines, line));
    const nlohmann::json got = nlohmann::json::parse(line);
    EXPECT_EQ(got["ids"], c["ids"]) << c["text"];
    decode_input += line + "\n";
  }
  testing::CommandResult decoded = testing::RunCommand(
      {testing::BinDir() + "/dsm", "tokenize", "--model", TokenizerDir(), "--decode"},
      decode_input);
  ASSERT_EQ(decoded.exit_code, 0) << decoded.err;
  std::istringstream text_lines(decoded.out);
  for (const auto& c : cases) {
    ASSERT_TRUE(std::getline(text_lines, line));
    EXPECT_EQ(nlohmann::json::parse(line)["text"], c["text"]);
  }
}

TEST(TokenizeCommandTest, SpecialTokenFlagsAndBadLines) {
  DSM_REQUIRE_SHARED("models/deepseek-math-tokenizer/tokenizer.json");
  const std::string dsm = testing::BinDir() + "/dsm";
  testing::CommandResult bos =
      testing::RunCommand({dsm, "tokenize", "--model", TokenizerDir(), "--add-special-tokens"},
                          "{\"text\": \"Hello world\"}\n");
  EXPECT_EQ(bos.out, "{\"ids\":[100000,17464,1843]}\n") << bos.err;
  testing::CommandResult skip = testing::RunCommand(
      {dsm, "tokenize", "--model", TokenizerDir(), "--decode", "--skip-special-tokens"},
      "{\"ids\": [100000, 17464, 1843]}\n");
  EXPECT_EQ(skip.out, "{\"text\":\"Hello world\"}\n") << skip.err;
  // Bad lines answer in place, the others still go through, and the exit code fails.
  testing::CommandResult bad =
      testing::RunCommand({dsm, "tokenize", "--model", TokenizerDir(), "--decode"},
                          "{\"ids\": [17464]}\n{\"ids\": [999999]}\nnot json\n{\"ids\": [1843]}\n");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(bad.out,
            "{\"text\":\"Hello\"}\n"
            "{\"error\":\"line 2: token id 999999 has no token in the tokenizer (vocabulary of "
            "100015)\"}\n"
            "{\"error\":\"line 3: not a JSON object\"}\n"
            "{\"text\":\" world\"}\n");
  testing::CommandResult missing = testing::RunCommand(
      {dsm, "tokenize", "--model", testing::SharedDir() + "/models/stories260K"}, "");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("tokenizer.json not found"), std::string::npos) << missing.err;
}

TEST(RunTextTest, PromptsAndMessagesInTextOut) {
  DSM_REQUIRE_SHARED("models/deepseek-math-tokenizer/tokenizer.json");
  const std::string dir = testing::MakeTempDir("model");
  ASSERT_TRUE(testing::WriteTextModel(dir).ok());
  const std::string input =
      "{\"prompt\": \"What is 2+2?\"}\n"
      "{\"messages\": [{\"role\": \"user\", \"content\": \"What is 2+2?\"}]}\n";
  testing::RunOutput out = testing::DsmRun(dir, {"--max-tokens", "6", "--ignore-eos"}, input);
  ASSERT_EQ(out.command.exit_code, 0) << out.command.err;
  ASSERT_EQ(out.lines.size(), 2u);
  std::unique_ptr<Tokenizer> tokenizer = *Tokenizer::FromDirectory(TokenizerDir());
  for (const auto& line : out.lines) {
    const auto ids = line["token_ids"].get<std::vector<int32_t>>();
    ASSERT_EQ(ids.size(), 6u);
    EXPECT_EQ(line["text"], *tokenizer->Decode(ids, /*skip_special_tokens=*/true));
  }
  // A text prompt is the same request as its token ids (BOS added, as HF does).
  const std::vector<int32_t> prompt_ids = *tokenizer->Encode("What is 2+2?", true);
  testing::RunOutput by_ids = testing::DsmRun(dir, {"--max-tokens", "6", "--ignore-eos"},
                                              testing::PromptsJsonl({prompt_ids}));
  ASSERT_EQ(by_ids.command.exit_code, 0) << by_ids.command.err;
  EXPECT_EQ(by_ids.lines[0]["token_ids"], out.lines[0]["token_ids"]);
}

}  // namespace
}  // namespace dsm
