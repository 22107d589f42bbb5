// Fuzzes loading tokenizer.json: any bytes give a tokenizer or an error, never a crash;
// a tokenizer that loads must encode and decode without crashing.

#include <cstdint>
#include <string>

#include "coordinator/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::unique_ptr<dsm::Tokenizer>> tokenizer =
      dsm::Tokenizer::FromJson(json, "fuzz.json");
  if (!tokenizer.ok()) return 0;
  for (const char* text : {"hello world", " 12 é 中文 <s>", ""}) {
    absl::StatusOr<std::vector<int32_t>> ids = (*tokenizer)->Encode(text, true);
    if (ids.ok()) (void)(*tokenizer)->Decode(*ids);
  }
  return 0;
}
