// Fuzzes encode, decode and streaming decode with the DeepSeek-Math tokenizer:
// no crash, no sanitizer report, and every valid UTF-8 input must round-trip.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "coordinator/tokenizer/incremental_detokenizer.h"
#include "coordinator/tokenizer/tokenizer.h"

namespace {

const dsm::Tokenizer& GetTokenizer() {
  static const dsm::Tokenizer* tokenizer = [] {
    const char* shared = std::getenv("DSM_SHARED_DIR");
    const std::string dir = std::string(shared ? shared : DSM_SOURCE_DIR "/../shared") +
                            "/models/deepseek-math-tokenizer";
    absl::StatusOr<std::unique_ptr<dsm::Tokenizer>> t = dsm::Tokenizer::FromDirectory(dir);
    if (!t.ok()) {
      std::fprintf(stderr, "cannot load %s: %s\n", dir.c_str(), t.status().ToString().c_str());
      std::abort();
    }
    return t->release();
  }();
  return *tokenizer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const dsm::Tokenizer& tokenizer = GetTokenizer();
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (bool parse_special : {true, false}) {
    absl::StatusOr<std::vector<int32_t>> ids = tokenizer.Encode(text, false, parse_special);
    if (!ids.ok()) continue;  // invalid UTF-8 is rejected, not crashed on
    absl::StatusOr<std::string> back = tokenizer.Decode(*ids);
    if (!back.ok() || *back != text) {
      std::fprintf(stderr, "round trip failed\n");
      std::abort();
    }
  }
  // The same bytes as token ids: decode and stream-decode must agree.
  std::vector<int32_t> ids;
  for (size_t i = 0; i + 2 <= size; i += 2) {
    uint16_t v;
    std::memcpy(&v, data + i, 2);
    ids.push_back(v % 100015);
  }
  absl::StatusOr<std::string> whole = tokenizer.Decode(ids);
  dsm::IncrementalDetokenizer stream(tokenizer, false);
  std::string streamed;
  for (int32_t id : ids) streamed += *stream.Add(id);
  streamed += *stream.Finish();
  if (!whole.ok() || streamed != *whole) {
    std::fprintf(stderr, "streamed decode differs\n");
    std::abort();
  }
  return 0;
}
