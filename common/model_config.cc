#include "common/model_config.h"

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "nlohmann/json.hpp"

namespace dsm {
namespace {

using nlohmann::json;

absl::Status Invalid(const std::string& source, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", what));
}

// Reads a required positive integer field.
absl::Status GetPositive(const json& j, const char* key, const std::string& source, int64_t* out) {
  auto it = j.find(key);
  if (it == j.end()) return Invalid(source, absl::StrCat("missing field \"", key, "\""));
  if (!it->is_number_integer() || it->get<int64_t>() <= 0) {
    return Invalid(source, absl::StrCat("field \"", key, "\" must be a positive integer"));
  }
  *out = it->get<int64_t>();
  return absl::OkStatus();
}

// Token ids may be an integer or a list (several EOS ids); the first is taken.
std::optional<int64_t> GetTokenId(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_array() && !it->empty() && (*it)[0].is_number_integer()) {
    return (*it)[0].get<int64_t>();
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& json_text,
                                             const std::string& source) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Invalid(source, "not a JSON object");

  ModelConfig c;
  c.model_type = j.value("model_type", std::string("llama"));
  for (const char* flag : {"attention_bias", "mlp_bias"}) {
    if (j.value(flag, false)) {
      return absl::UnimplementedError(absl::StrCat(source, ": ", flag, "=true is not supported"));
    }
  }
  if (auto act = j.value("hidden_act", std::string("silu")); act != "silu") {
    return absl::UnimplementedError(
        absl::StrCat(source, ": hidden_act \"", act, "\" is not supported (only silu)"));
  }
  if (absl::Status s = GetPositive(j, "hidden_size", source, &c.hidden_size); !s.ok()) return s;
  if (absl::Status s = GetPositive(j, "intermediate_size", source, &c.intermediate_size); !s.ok())
    return s;
  if (absl::Status s = GetPositive(j, "num_hidden_layers", source, &c.num_hidden_layers); !s.ok())
    return s;
  if (absl::Status s = GetPositive(j, "num_attention_heads", source, &c.num_attention_heads);
      !s.ok())
    return s;
  if (absl::Status s = GetPositive(j, "vocab_size", source, &c.vocab_size); !s.ok()) return s;
  if (absl::Status s =
          GetPositive(j, "max_position_embeddings", source, &c.max_position_embeddings);
      !s.ok())
    return s;

  c.num_key_value_heads = c.num_attention_heads;
  if (j.contains("num_key_value_heads") && !j["num_key_value_heads"].is_null()) {
    if (absl::Status s = GetPositive(j, "num_key_value_heads", source, &c.num_key_value_heads);
        !s.ok())
      return s;
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return Invalid(source, absl::StrCat("num_attention_heads (", c.num_attention_heads,
                                        ") is not a multiple of num_key_value_heads (",
                                        c.num_key_value_heads, ")"));
  }
  if (j.contains("head_dim") && !j["head_dim"].is_null()) {
    if (absl::Status s = GetPositive(j, "head_dim", source, &c.head_dim); !s.ok()) return s;
  } else {
    if (c.hidden_size % c.num_attention_heads != 0) {
      return Invalid(source, "hidden_size is not a multiple of num_attention_heads");
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  if (c.head_dim % 2 != 0) return Invalid(source, "head_dim must be even for RoPE");

  if (auto it = j.find("rms_norm_eps"); it != j.end()) {
    if (!it->is_number() || it->get<double>() <= 0) {
      return Invalid(source, "field \"rms_norm_eps\" must be a positive number");
    }
    c.rms_norm_eps = it->get<double>();
  }
  if (auto it = j.find("rope_theta"); it != j.end()) {
    if (!it->is_number() || it->get<double>() <= 0) {
      return Invalid(source, "field \"rope_theta\" must be a positive number");
    }
    c.rope_theta = it->get<double>();
  }
  if (auto it = j.find("rope_scaling"); it != j.end() && !it->is_null()) {
    std::string type = it->value("type", it->value("rope_type", std::string()));
    if (type != "linear") {
      return absl::UnimplementedError(absl::StrCat(source, ": rope_scaling type \"", type,
                                                   "\" is not supported (only linear)"));
    }
    auto factor = it->find("factor");
    if (factor == it->end() || !factor->is_number() || factor->get<double>() <= 0) {
      return Invalid(source, "rope_scaling.factor must be a positive number");
    }
    c.rope_linear_factor = factor->get<double>();
  }
  c.tie_word_embeddings = j.value("tie_word_embeddings", false);
  if (auto it = j.find("torch_dtype"); it != j.end() && it->is_string()) {
    const std::string dtype = it->get<std::string>();
    if (dtype == "float32") {
      c.torch_dtype = DType::kF32;
    } else if (dtype == "float16") {
      c.torch_dtype = DType::kF16;
    } else if (dtype == "bfloat16") {
      c.torch_dtype = DType::kBF16;
    } else {
      return absl::UnimplementedError(
          absl::StrCat(source, ": torch_dtype \"", dtype, "\" is not supported"));
    }
  }
  c.bos_token_id = GetTokenId(j, "bos_token_id");
  c.eos_token_id = GetTokenId(j, "eos_token_id");
  return c;
}

absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& model_dir) {
  const std::string path = model_dir + "/config.json";
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return ParseModelConfig(*text, path);
}

}  // namespace dsm
