#include "coordinator/tokenizer/post_processor.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace dsm {
namespace {

// A list of pieces: fixed special-token ids, or the sequence itself (-1 marks it).
class TemplatePostProcessor : public PostProcessor {
 public:
  explicit TemplatePostProcessor(std::vector<std::vector<int32_t>> pieces)
      : pieces_(std::move(pieces)) {}
  std::vector<int32_t> Process(const std::vector<int32_t>& ids) const override {
    std::vector<int32_t> out;
    for (const auto& piece : pieces_) {
      if (piece.empty()) {
        out.insert(out.end(), ids.begin(), ids.end());
      } else {
        out.insert(out.end(), piece.begin(), piece.end());
      }
    }
    return out;
  }

 private:
  std::vector<std::vector<int32_t>> pieces_;  // empty = the sequence
};

class SequencePostProcessor : public PostProcessor {
 public:
  explicit SequencePostProcessor(std::vector<std::unique_ptr<PostProcessor>> steps)
      : steps_(std::move(steps)) {}
  std::vector<int32_t> Process(const std::vector<int32_t>& ids) const override {
    std::vector<int32_t> out = ids;
    for (const auto& step : steps_) out = step->Process(out);
    return out;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

class IdentityPostProcessor : public PostProcessor {
 public:
  std::vector<int32_t> Process(const std::vector<int32_t>& ids) const override { return ids; }
};

// Token ids as added_tokens bounds them; anything else (a float, 1e22, -1) is an error
// before it is converted, since converting an out-of-range number is undefined.
bool IsTokenId(const nlohmann::json& id) {
  return id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() < (1 << 24);
}

// ["[CLS]", 101] style entries of Bert/RobertaProcessing.
absl::StatusOr<int32_t> TokenPairId(const nlohmann::json& pair, const char* name) {
  if (!pair.is_array() || pair.size() != 2 || !IsTokenId(pair[1])) {
    return absl::InvalidArgumentError(
        absl::StrCat("post_processor.", name, " is malformed (want [\"token\", id])"));
  }
  return pair[1].get<int32_t>();
}

absl::StatusOr<std::vector<int32_t>> SpecialTokenIds(const nlohmann::json& ids,
                                                     const std::string& name) {
  std::vector<int32_t> out;
  if (ids.is_array()) {
    for (const auto& id : ids) {
      if (!IsTokenId(id)) break;
      out.push_back(id.get<int32_t>());
    }
  }
  if (!ids.is_array() || out.size() != ids.size()) {
    return absl::InvalidArgumentError(absl::StrCat("TemplateProcessing special token ", name,
                                                   ": ids must be a list of ids in [0, 2^24)"));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostProcessor>> ParsePostProcessor(const nlohmann::json& j) {
  if (j.is_null()) return nullptr;
  const std::string type = j.value("type", "");
  if (type == "TemplateProcessing") {
    const auto& special = j.value("special_tokens", nlohmann::json::object());
    std::vector<std::vector<int32_t>> pieces;
    for (const auto& item : j.value("single", nlohmann::json::array())) {
      if (item.contains("Sequence")) {
        pieces.push_back({});
        continue;
      }
      if (!item.contains("SpecialToken")) {
        return absl::InvalidArgumentError(
            "TemplateProcessing item is neither Sequence nor SpecialToken");
      }
      const std::string name = item["SpecialToken"].value("id", "");
      if (!special.contains(name) || !special[name].contains("ids")) {
        return absl::InvalidArgumentError(
            absl::StrCat("TemplateProcessing uses special token ", name, " without ids"));
      }
      absl::StatusOr<std::vector<int32_t>> ids = SpecialTokenIds(special[name]["ids"], name);
      if (!ids.ok()) return ids.status();
      if (!ids->empty()) pieces.push_back(*std::move(ids));
    }
    return std::make_unique<TemplatePostProcessor>(std::move(pieces));
  }
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    absl::StatusOr<int32_t> cls = TokenPairId(j.value("cls", nlohmann::json()), "cls");
    if (!cls.ok()) return cls.status();
    absl::StatusOr<int32_t> sep = TokenPairId(j.value("sep", nlohmann::json()), "sep");
    if (!sep.ok()) return sep.status();
    return std::make_unique<TemplatePostProcessor>(
        std::vector<std::vector<int32_t>>{{*cls}, {}, {*sep}});
  }
  if (type == "ByteLevel") return std::make_unique<IdentityPostProcessor>();
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PostProcessor>> steps;
    for (const auto& item : j.value("processors", nlohmann::json::array())) {
      absl::StatusOr<std::unique_ptr<PostProcessor>> step = ParsePostProcessor(item);
      if (!step.ok()) return step.status();
      if (*step) steps.push_back(*std::move(step));
    }
    return std::make_unique<SequencePostProcessor>(std::move(steps));
  }
  return absl::UnimplementedError(absl::StrCat("unsupported post_processor type \"", type, "\""));
}

}  // namespace dsm
