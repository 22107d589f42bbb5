#include "coordinator/request_log.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace dsm {

absl::Status ParseLogFormat(const std::string& name, LogFormat* format) {
  if (name == "text") {
    *format = LogFormat::kText;
  } else if (name == "json") {
    *format = LogFormat::kJson;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--log-format must be text or json, got \"", name, "\""));
  }
  return absl::OkStatus();
}

std::string FormatRequestRecord(const RequestRecord& r, LogFormat format) {
  const std::string status(absl::StatusCodeToString(r.status.code()));
  if (format == LogFormat::kJson) {
    nlohmann::json j = {{"event", "request"},
                        {"request_id", r.request_id},
                        {"group", r.group},
                        {"choices", r.choices},
                        {"prompt_tokens", r.prompt_tokens},
                        {"completion_tokens", r.completion_tokens},
                        {"cached_tokens", r.cached_tokens},
                        {"queue_seconds", r.queue_seconds},
                        {"first_token_seconds", r.first_token_seconds},
                        {"total_seconds", r.total_seconds},
                        {"finish_reasons", r.finish_reasons},
                        {"status", status}};
    if (!r.status.ok()) j["error"] = std::string(r.status.message());
    return j.dump();
  }
  std::string line = absl::StrFormat(
      "dsm request id=%s group=%d choices=%d prompt_tokens=%d completion_tokens=%d "
      "cached_tokens=%d queue_s=%.4f first_token_s=%.4f total_s=%.4f finish=%s status=%s",
      r.request_id.empty() ? "-" : r.request_id, r.group, r.choices, r.prompt_tokens,
      r.completion_tokens, r.cached_tokens, r.queue_seconds, r.first_token_seconds, r.total_seconds,
      r.finish_reasons.empty() ? "-" : r.finish_reasons, status);
  if (!r.status.ok()) absl::StrAppend(&line, " error=\"", r.status.message(), "\"");
  return line;
}

void LogRequest(const RequestRecord& record, LogFormat format) {
  const std::string line = FormatRequestRecord(record, format) + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace dsm
