#pragma once
// One line per finished request on stderr: what an operator greps or ships to a log
// pipeline. Text (key=value) by default, or one JSON object per line.

#include <string>

#include "absl/status/status.h"

namespace dsm {

enum class LogFormat { kText, kJson };

// "text" or "json"; INVALID_ARGUMENT naming the flag otherwise.
absl::Status ParseLogFormat(const std::string& name, LogFormat* format);

struct RequestRecord {
  std::string request_id;  // the client's, or "-"
  int group = -1;          // the worker group that ran it; -1 if none was picked
  int choices = 1;
  int prompt_tokens = 0;
  int completion_tokens = 0;  // over all choices
  int cached_tokens = 0;
  double queue_seconds = -1;  // -1: never admitted
  double first_token_seconds = -1;
  double total_seconds = 0;
  std::string finish_reasons;  // per choice, comma-separated ("length,stop")
  absl::Status status;
};

std::string FormatRequestRecord(const RequestRecord& record, LogFormat format);

// Writes one line to stderr (one write call, so lines of concurrent requests never mix).
void LogRequest(const RequestRecord& record, LogFormat format);

}  // namespace dsm
