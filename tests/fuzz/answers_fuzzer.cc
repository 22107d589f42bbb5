// Fuzzes final-answer extraction, normalization and votes on arbitrary model text: no
// crash, no sanitizer report, no whitespace left in a normalized answer, and the same
// input always normalizes the same way.

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "answers/final_answer.h"
#include "answers/majority_vote.h"
#include "answers/normalize_answer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> normalized;
  for (const std::string& candidate : {text, dsm::answers::ExtractFinalAnswer(text).value_or(""),
                                       dsm::answers::ReferenceAnswer(text)}) {
    const std::string once = dsm::answers::NormalizeAnswer(candidate);
    for (char c : once) {
      if (std::isspace(static_cast<unsigned char>(c))) std::abort();
    }
    if (dsm::answers::NormalizeAnswer(candidate) != once) std::abort();
    normalized.push_back(once);
  }
  const dsm::answers::Vote vote = dsm::answers::MajorityVote(normalized);
  if (vote.count > vote.voters) std::abort();
  return 0;
}
