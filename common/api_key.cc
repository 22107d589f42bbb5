#include "common/api_key.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace dsm {

std::string ApiKeyFromFlagOrEnv(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv(kApiKeyEnv);
  return env != nullptr ? std::string(env) : std::string();
}

bool BearerTokenMatches(absl::string_view authorization, absl::string_view key) {
  if (key.empty()) return true;
  constexpr absl::string_view kScheme = "bearer ";
  if (authorization.size() < kScheme.size() ||
      !absl::EqualsIgnoreCase(authorization.substr(0, kScheme.size()), kScheme)) {
    return false;
  }
  const absl::string_view token =
      absl::StripLeadingAsciiWhitespace(authorization.substr(kScheme.size()));
  // Every byte of the longer string is looked at whatever matches, so the time taken
  // tells nothing about how much of a guess was right.
  unsigned char difference = token.size() == key.size() ? 0 : 1;
  const size_t length = std::max(token.size(), key.size());
  for (size_t i = 0; i < length; ++i) {
    const unsigned char a = i < token.size() ? static_cast<unsigned char>(token[i]) : 0;
    const unsigned char b = i < key.size() ? static_cast<unsigned char>(key[i]) : 0;
    difference |= a ^ b;
  }
  return difference == 0;
}

std::string BearerAuthorization(absl::string_view key) { return absl::StrCat("Bearer ", key); }

}  // namespace dsm
