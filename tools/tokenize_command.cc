#include "tools/tokenize_command.h"

#include <istream>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "coordinator/tokenizer/tokenizer_files.h"
#include "nlohmann/json.hpp"

namespace dsm {
namespace {

absl::StatusOr<nlohmann::ordered_json> ProcessLine(const TokenizeOptions& options,
                                                   const Tokenizer& tokenizer,
                                                   const std::string& line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return absl::InvalidArgumentError("not a JSON object");
  if (options.decode) {
    auto ids = j.find("ids");
    if (ids == j.end() || !ids->is_array())
      return absl::InvalidArgumentError("needs \"ids\": [...]");
    std::vector<int32_t> values;
    for (const auto& id : *ids) {
      if (!id.is_number_integer()) return absl::InvalidArgumentError("ids must be integers");
      values.push_back(id.get<int32_t>());
    }
    absl::StatusOr<std::string> text = tokenizer.Decode(values, options.skip_special_tokens);
    if (!text.ok()) return text.status();
    return nlohmann::ordered_json{{"text", *text}};
  }
  auto text = j.find("text");
  if (text == j.end() || !text->is_string())
    return absl::InvalidArgumentError("needs \"text\": \"...\"");
  absl::StatusOr<std::vector<int32_t>> ids =
      tokenizer.Encode(text->get<std::string>(), options.add_special_tokens);
  if (!ids.ok()) return ids.status();
  return nlohmann::ordered_json{{"ids", *ids}};
}

}  // namespace

absl::Status RunTokenize(const TokenizeOptions& options, std::istream& input,
                         std::ostream& output) {
  absl::StatusOr<TokenizerFiles> files = LoadTokenizerFiles(options.model_dir);
  if (!files.ok()) return files.status();
  int failures = 0;
  std::string line;
  for (int n = 1; std::getline(input, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    // nlohmann rejects invalid UTF-8 in strings; say where instead of failing the parse.
    absl::StatusOr<nlohmann::ordered_json> result = ProcessLine(options, *files->tokenizer, line);
    if (result.ok()) {
      output << result->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
      ++failures;
      output << nlohmann::ordered_json{{"error",
                                        absl::StrCat("line ", n, ": ", result.status().message())}}
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
             << "\n";
    }
  }
  output.flush();
  if (failures > 0) {
    return absl::InvalidArgumentError(absl::StrCat(failures, " input line(s) failed"));
  }
  return absl::OkStatus();
}

}  // namespace dsm
