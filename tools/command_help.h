#pragma once
// `dsm --help`, `dsm <command> --help` (that command's own flags with their defaults) and
// `dsm --version`.

#include <string>

namespace dsm {

// The usage of every command, one line each.
std::string GeneralHelp();

// Usage and flags of `command`, or an empty string if there is no such command.
std::string CommandHelp(const std::string& command);

// "dsm <version>".
std::string VersionText();

}  // namespace dsm
