#pragma once
// Small filesystem helpers returning absl::Status.

#include <string>

#include "absl/status/statusor.h"

namespace dsm {

// Reads a whole file; NOT_FOUND names the path when it does not exist.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Writes a whole file, replacing it.
absl::Status WriteStringToFile(const std::string& path, const std::string& contents);

}  // namespace dsm
