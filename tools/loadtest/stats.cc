#include "tools/loadtest/stats.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dsm::loadtest {

Distribution Summarize(std::vector<double> values) {
  Distribution d;
  d.count = values.size();
  if (values.empty()) return d;
  std::sort(values.begin(), values.end());
  // Nearest rank: the smallest value with at least p of the values at or below it.
  auto rank = [&](double p) {
    const size_t index = static_cast<size_t>(std::ceil(p * values.size()));
    return values[std::clamp<size_t>(index, 1, values.size()) - 1];
  };
  d.mean = std::accumulate(values.begin(), values.end(), 0.0) / values.size();
  d.p50 = rank(0.5);
  d.p90 = rank(0.9);
  d.p99 = rank(0.99);
  d.max = values.back();
  return d;
}

Summary Summarize(const std::vector<RequestRecord>& records, double duration_s,
                  const Objectives& objectives) {
  Summary s;
  s.duration_s = duration_s;
  std::vector<double> ttft, itl, e2e;
  for (const RequestRecord& r : records) {
    ++s.requests;
    if (!r.ok()) {
      ++s.errors[r.status];
      s.error_examples.emplace(r.status, r.error);
      continue;
    }
    ++s.succeeded;
    s.prompt_tokens += r.prompt_tokens;
    s.output_tokens += r.output_tokens;
    if (r.ttft_s >= 0) ttft.push_back(r.ttft_s);
    e2e.push_back(r.e2e_s);
    double mean_gap = 0;
    if (!r.token_gaps_s.empty()) {
      itl.insert(itl.end(), r.token_gaps_s.begin(), r.token_gaps_s.end());
      mean_gap = std::accumulate(r.token_gaps_s.begin(), r.token_gaps_s.end(), 0.0) /
                 r.token_gaps_s.size();
    }
    const bool met = (objectives.ttft_s <= 0 || (r.ttft_s >= 0 && r.ttft_s <= objectives.ttft_s)) &&
                     (objectives.itl_s <= 0 || mean_gap <= objectives.itl_s) &&
                     (objectives.e2e_s <= 0 || r.e2e_s <= objectives.e2e_s);
    if (met) ++s.met_objectives;
  }
  s.ttft_s = Summarize(std::move(ttft));
  s.itl_s = Summarize(std::move(itl));
  s.e2e_s = Summarize(std::move(e2e));
  if (duration_s > 0) {
    s.requests_per_s = s.succeeded / duration_s;
    s.output_tokens_per_s = s.output_tokens / duration_s;
    s.goodput_requests_per_s = s.met_objectives / duration_s;
  }
  return s;
}

namespace {
nlohmann::json ToJson(const Distribution& d) {
  return {{"count", d.count}, {"mean", d.mean}, {"p50", d.p50},
          {"p90", d.p90},     {"p99", d.p99},   {"max", d.max}};
}
std::string Line(const char* name, const Distribution& d) {
  return absl::StrFormat("  %-22s mean %8.1f  p50 %8.1f  p90 %8.1f  p99 %8.1f  max %8.1f ms\n",
                         name, 1e3 * d.mean, 1e3 * d.p50, 1e3 * d.p90, 1e3 * d.p99, 1e3 * d.max);
}
}  // namespace

nlohmann::json ToJson(const RequestRecord& r) {
  double gaps = 0;
  for (double g : r.token_gaps_s) gaps += g;
  return {{"status", r.status},
          {"error", r.error},
          {"start_s", r.start_s},
          {"ttft_s", r.ttft_s >= 0 ? nlohmann::json(r.ttft_s) : nlohmann::json(nullptr)},
          {"e2e_s", r.e2e_s},
          {"itl_s", r.token_gaps_s.empty() ? nlohmann::json(nullptr)
                                           : nlohmann::json(gaps / r.token_gaps_s.size())},
          {"prompt_tokens", r.prompt_tokens},
          {"output_tokens", r.output_tokens}};
}

nlohmann::json ToJson(const Summary& s) {
  nlohmann::json errors = nlohmann::json::object();
  for (const auto& [status, count] : s.errors) {
    errors[status] = {{"count", count}, {"example", s.error_examples.at(status)}};
  }
  return {{"duration_s", s.duration_s},
          {"requests", s.requests},
          {"succeeded", s.succeeded},
          {"met_objectives", s.met_objectives},
          {"prompt_tokens", s.prompt_tokens},
          {"output_tokens", s.output_tokens},
          {"requests_per_s", s.requests_per_s},
          {"output_tokens_per_s", s.output_tokens_per_s},
          {"goodput_requests_per_s", s.goodput_requests_per_s},
          {"ttft_s", ToJson(s.ttft_s)},
          {"itl_s", ToJson(s.itl_s)},
          {"e2e_s", ToJson(s.e2e_s)},
          {"errors", errors}};
}

std::string ToText(const Summary& s) {
  std::string out = absl::StrFormat(
      "  requests: %d (%d ok, %d failed) in %.2f s\n"
      "  throughput: %.2f requests/s, %.1f output tokens/s (%d prompt, %d output tokens)\n"
      "  goodput: %.2f requests/s (%d met the objectives)\n",
      s.requests, s.succeeded, s.requests - s.succeeded, s.duration_s, s.requests_per_s,
      s.output_tokens_per_s, s.prompt_tokens, s.output_tokens, s.goodput_requests_per_s,
      s.met_objectives);
  out += Line("time to first token", s.ttft_s);
  out += Line("inter-token latency", s.itl_s);
  out += Line("end-to-end latency", s.e2e_s);
  for (const auto& [status, count] : s.errors) {
    absl::StrAppend(&out, "  error ", status, ": ", count, " (", s.error_examples.at(status),
                    ")\n");
  }
  return out;
}

}  // namespace dsm::loadtest
