#include "coordinator/tokenizer/tokenizer_files.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "nlohmann/json.hpp"

namespace dsm {
namespace {

// tokenizer_config.json writes special tokens as strings or {"content": ...} objects.
std::optional<std::string> TokenString(const nlohmann::json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    return (*it)["content"].get<std::string>();
  }
  return std::nullopt;
}

std::optional<int32_t> TokenId(const nlohmann::json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<int32_t>();
  if (it->is_array() && !it->empty() && (*it)[0].is_number_integer())
    return (*it)[0].get<int32_t>();
  return std::nullopt;
}

absl::StatusOr<nlohmann::json> ReadJsonIfPresent(const std::string& path) {
  if (!std::filesystem::exists(path)) return nlohmann::json::object();
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
  }
  return j;
}

}  // namespace

absl::StatusOr<TokenizerFiles> LoadTokenizerFiles(const std::string& dir) {
  const std::string path = dir + "/tokenizer.json";
  if (!std::filesystem::exists(path)) {
    return absl::NotFoundError(absl::StrCat(path, " not found: this model serves token ids only"));
  }
  TokenizerFiles files;
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::FromDirectory(dir);
  if (!tokenizer.ok()) return tokenizer.status();
  files.tokenizer = *std::move(tokenizer);

  absl::StatusOr<nlohmann::json> config = ReadJsonIfPresent(dir + "/tokenizer_config.json");
  if (!config.ok()) return config.status();
  absl::StatusOr<nlohmann::json> generation = ReadJsonIfPresent(dir + "/generation_config.json");
  if (!generation.ok()) return generation.status();

  if (auto it = config->find("chat_template"); it != config->end() && it->is_string()) {
    files.chat_template = ChatTemplate::FromJinja(it->get<std::string>());
  }
  files.bos_id = TokenId(*generation, "bos_token_id");
  files.eos_id = TokenId(*generation, "eos_token_id");
  if (!files.bos_id) {
    if (auto s = TokenString(*config, "bos_token")) files.bos_id = files.tokenizer->TokenToId(*s);
  }
  if (!files.eos_id) {
    if (auto s = TokenString(*config, "eos_token")) files.eos_id = files.tokenizer->TokenToId(*s);
  }
  return files;
}

}  // namespace dsm
