#include "tools/demo_model.h"

#include <cstdlib>
#include <filesystem>

#include "common/file_util.h"
#include "coordinator/tokenizer/byte_alphabet.h"
#include "coordinator/tokenizer/chat_template.h"
#include "nlohmann/json.hpp"
#include "tools/model_generator.h"

namespace dsm {
namespace {

constexpr char kBos[] = "<｜begin▁of▁sentence｜>";
constexpr char kEos[] = "<｜end▁of▁sentence｜>";
constexpr int kByteTokens = 256;
constexpr int kSpecialTokens = 8;  // BOS, EOS and reserved ones: 264 rows divide by 8

// Byte-level BPE over the GPT-2 alphabet without merges: one token per byte.
nlohmann::ordered_json ByteLevelTokenizer() {
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  const ByteAlphabet& alphabet = ByteAlphabet::Get();
  for (int b = 0; b < kByteTokens; ++b) vocab[alphabet.Encode(static_cast<uint8_t>(b))] = b;
  nlohmann::ordered_json added = nlohmann::ordered_json::array();
  for (int i = 0; i < kSpecialTokens; ++i) {
    const std::string content = i == 0   ? kBos
                                : i == 1 ? kEos
                                         : "<｜reserved_" + std::to_string(i) + "｜>";
    added.push_back({{"id", kByteTokens + i},
                     {"content", content},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", true},
                     {"special", true}});
  }
  return {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", kBos}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"pair", nlohmann::ordered_json::array()},
        {"special_tokens", {{kBos, {{"id", kBos}, {"ids", {kByteTokens}}, {"tokens", {kBos}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", nlohmann::ordered_json::array()}}},
  };
}

}  // namespace

std::string DefaultDemoModelDir() {
  std::string cache;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    cache = xdg;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    cache = std::string(home) + "/.cache";
  } else {
    cache = "/tmp";
  }
  return cache + "/dsmserve/demo-model";
}

absl::Status EnsureDemoModel(const std::string& dir) {
  if (std::filesystem::exists(dir + "/tokenizer_config.json")) return absl::OkStatus();
  GeneratedModelSpec spec;
  spec.hidden_size = 256;
  spec.intermediate_size = 688;  // DeepSeek-Math's 11008 / 4096 ratio
  spec.num_hidden_layers = 4;
  spec.num_attention_heads = 8;
  spec.num_key_value_heads = 8;
  spec.vocab_size = kByteTokens + kSpecialTokens;
  spec.max_position_embeddings = 2048;
  spec.bos_token_id = kByteTokens;
  spec.eos_token_id = kByteTokens + 1;
  spec.seed = 2026;
  // Random weights write random bytes; favour printable ASCII (and let EOS end answers
  // now and then) so the demo's output reads as text rather than replacement characters.
  spec.lm_head_row_scale.assign(spec.vocab_size, 0.0f);
  for (int b = ' '; b <= '~'; ++b) spec.lm_head_row_scale[b] = 3.0f;
  spec.lm_head_row_scale['\n'] = 1.5f;
  spec.lm_head_row_scale[kByteTokens + 1] = 2.0f;  // EOS
  if (absl::Status s = WriteRandomModel(dir, spec); !s.ok()) return s;
  if (absl::Status s = WriteStringToFile(dir + "/tokenizer.json", ByteLevelTokenizer().dump(1));
      !s.ok())
    return s;
  nlohmann::ordered_json config = {{"add_bos_token", true},
                                   {"add_eos_token", false},
                                   {"bos_token", kBos},
                                   {"eos_token", kEos},
                                   {"model_max_length", spec.max_position_embeddings},
                                   {"tokenizer_class", "LlamaTokenizerFast"},
                                   {"chat_template", DeepSeekChatTemplateJinja()}};
  // Written last: its presence marks a complete demo model.
  return WriteStringToFile(dir + "/tokenizer_config.json", config.dump(2) + "\n");
}

}  // namespace dsm
