#pragma once
// The shared secret that `--api-key` puts in front of the public API: clients send it as
// a bearer token (HTTP "Authorization: Bearer <key>", gRPC "authorization" metadata).

#include <string>

#include "absl/strings/string_view.h"

namespace dsm {

// The environment variable that supplies a key when the flag is empty (a Kubernetes
// Secret mounted as an env var keeps the key out of the pod spec and `ps`).
inline constexpr char kApiKeyEnv[] = "DSM_API_KEY";

// `flag` when set, else $DSM_API_KEY, else empty (no key required).
std::string ApiKeyFromFlagOrEnv(const std::string& flag);

// Whether `authorization` is "Bearer <key>" (the scheme case-insensitive), comparing the
// key in time that does not depend on where a wrong one differs. An empty `key`
// (no key configured) accepts everything.
bool BearerTokenMatches(absl::string_view authorization, absl::string_view key);

// "Bearer <key>": what clients send.
std::string BearerAuthorization(absl::string_view key);

}  // namespace dsm
