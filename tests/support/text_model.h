#pragma once
// A small random model sized to the DeepSeek-Math tokenizer (vocab 100015), with the
// shared tokenizer files linked beside it: tests of text in and out.

#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "tests/support/test_env.h"
#include "tools/model_generator.h"

namespace dsm::testing {

inline std::string DeepSeekTokenizerDir() {
  return SharedDir() + "/models/deepseek-math-tokenizer";
}

inline absl::Status WriteTextModel(const std::string& dir) {
  std::filesystem::remove_all(dir);
  GeneratedModelSpec spec;
  spec.hidden_size = 64;
  spec.intermediate_size = 128;
  spec.num_attention_heads = 4;
  spec.num_key_value_heads = 4;
  spec.vocab_size = 100015;
  spec.max_position_embeddings = 256;
  spec.bos_token_id = 100000;
  spec.eos_token_id = 100001;
  if (absl::Status s = WriteRandomModel(dir, spec); !s.ok()) return s;
  for (const char* file : {"tokenizer.json", "tokenizer_config.json", "generation_config.json"}) {
    std::filesystem::remove(dir + "/" + file);
    std::filesystem::create_symlink(DeepSeekTokenizerDir() + "/" + file, dir + "/" + file);
  }
  return absl::OkStatus();
}

}  // namespace dsm::testing
