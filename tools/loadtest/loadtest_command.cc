#include "tools/loadtest/loadtest_command.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "tools/loadtest/client.h"
#include "tools/loadtest/runner.h"
#include "tools/loadtest/stats.h"
#include "tools/loadtest/workload.h"

ABSL_FLAG(std::string, protocol, "grpc",
          "loadtest: grpc (dsm.v1.Inference) or http (OpenAI /v1/completions)");
ABSL_FLAG(std::string, endpoint, "completions",
          "loadtest: completions (gRPC Generate, HTTP /v1/completions) or chat (gRPC Chat, HTTP "
          "/v1/chat/completions; text or messages prompts from --prompts)");
ABSL_FLAG(std::string, request_model, "",
          "loadtest (http): the model name requests carry (default: the first of /v1/models)");
ABSL_FLAG(int, concurrency, 8,
          "loadtest: closed loop: concurrent clients; open loop: most requests in flight");
ABSL_FLAG(std::string, rate, "",
          "loadtest: open loop at this many requests/s (Poisson arrivals); a comma-separated "
          "list sweeps the rates (empty = closed loop)");
ABSL_FLAG(int64_t, requests, 0, "loadtest: requests per run (0 = until --duration_s)");
ABSL_FLAG(double, duration_s, 0, "loadtest: seconds per run (0 = until --requests)");
ABSL_FLAG(std::string, prompts, "",
          "loadtest: JSONL prompt file ({\"prompt\": text}, {\"prompt_token_ids\": [..]} or "
          "{\"messages\": [..]}, optional max_tokens) or a ShareGPT JSON array (first human "
          "turns); default synthetic token-id prompts");
ABSL_FLAG(std::string, prompt_len, "fixed:128",
          "loadtest: synthetic prompt length: fixed:N, uniform:MIN:MAX, normal:MEAN:SD[:MIN:MAX]");
ABSL_FLAG(std::string, output_len, "fixed:128",
          "loadtest: tokens to generate (same forms as --prompt_len)");
ABSL_FLAG(bool, stream, true, "loadtest: stream tokens (false: no time to first token)");
ABSL_FLAG(double, slo_ttft_ms, 0, "loadtest: goodput objective on time to first token");
ABSL_FLAG(double, slo_itl_ms, 0, "loadtest: goodput objective on mean inter-token latency");
ABSL_FLAG(double, slo_e2e_ms, 0, "loadtest: goodput objective on end-to-end latency");
ABSL_FLAG(std::string, report_json, "", "loadtest: write the figures of every run here");
ABSL_FLAG(std::string, plot, "",
          "loadtest: with a rate sweep, a PNG of latency against throughput (gnuplot)");
ABSL_FLAG(bool, progress, true, "loadtest: a live progress line on stderr");
ABSL_FLAG(double, burstiness, 1.0,
          "loadtest: open loop arrival shape: 1 = Poisson, < 1 burstier, > 1 more even (gamma "
          "gaps with the same mean)");
ABSL_FLAG(int64_t, warmup, 0,
          "loadtest: requests sent (closed loop) before the first run and left out of every "
          "figure: fills the server's caches and pages");
ABSL_FLAG(std::string, requests_jsonl, "",
          "loadtest: write every request (run, rate, status, start, ttft, e2e, mean itl, "
          "tokens) here, one JSON line each");

namespace dsm {
namespace {

using loadtest::ClientOptions;
using loadtest::LengthDistribution;
using loadtest::RunOptions;
using loadtest::Summary;
using loadtest::Workload;

int Fail(const std::string& message) {
  std::fprintf(stderr, "dsm loadtest: error: %s\n", message.c_str());
  return 2;
}

// Draws latency (p50 and p99 end-to-end, p50 time to first token) against output
// tokens/s for each rate of a sweep.
std::string Plot(const std::vector<std::pair<double, Summary>>& runs, const std::string& png) {
  const std::string data = png + ".dat";
  {
    std::ofstream out(data);
    out << "# rate output_tokens_per_s e2e_p50_ms e2e_p99_ms ttft_p50_ms\n";
    for (const auto& [rate, s] : runs) {
      out << rate << " " << s.output_tokens_per_s << " " << 1e3 * s.e2e_s.p50 << " "
          << 1e3 * s.e2e_s.p99 << " " << 1e3 * s.ttft_s.p50 << "\n";
    }
  }
  const std::string script = absl::StrCat(
      "set terminal pngcairo size 900,600\nset output '", png,
      "'\nset title 'dsm loadtest: latency against throughput'\n"
      "set xlabel 'output tokens/s'\nset ylabel 'latency (ms)'\nset grid\nset key left top\n"
      "plot '",
      data, "' using 2:3 with linespoints title 'end-to-end p50', '", data,
      "' using 2:4 with linespoints title 'end-to-end p99', '", data,
      "' using 2:5 with linespoints title 'time to first token p50'\n");
  FILE* gnuplot = popen("gnuplot 2>&1", "w");
  if (gnuplot == nullptr) return "cannot start gnuplot";
  std::fputs(script.c_str(), gnuplot);
  const int status = pclose(gnuplot);
  if (status != 0) {
    return absl::StrCat("gnuplot failed (exit status ", status,
                        "; is it installed? apt-get install gnuplot-nox)");
  }
  return "";
}

}  // namespace

int LoadTestMain(const LoadTestClientFlags& shared) {
  ClientOptions client;
  client.protocol = absl::GetFlag(FLAGS_protocol);
  client.address = !shared.address.empty()     ? shared.address
                   : client.protocol == "http" ? "127.0.0.1:8000"
                                               : "127.0.0.1:50051";
  client.stream = absl::GetFlag(FLAGS_stream);
  client.endpoint = absl::GetFlag(FLAGS_endpoint);
  client.api_key = shared.api_key;
  if (const char* env = std::getenv("OPENAI_API_KEY"); client.api_key.empty() && env != nullptr) {
    client.api_key = env;
  }
  client.model = absl::GetFlag(FLAGS_request_model);
  if (client.endpoint != "completions" && client.endpoint != "chat") {
    return Fail(
        absl::StrCat("--endpoint must be completions or chat, got '", client.endpoint, "'"));
  }
  client.temperature = shared.temperature;
  client.ignore_eos = shared.ignore_eos;
  if (shared.timeout_s > 0) client.timeout_s = shared.timeout_s;

  RunOptions run;
  run.concurrency = absl::GetFlag(FLAGS_concurrency);
  run.requests = absl::GetFlag(FLAGS_requests);
  run.duration_s = absl::GetFlag(FLAGS_duration_s);
  run.seed = shared.seed + 1;
  run.progress = absl::GetFlag(FLAGS_progress);
  run.burstiness = absl::GetFlag(FLAGS_burstiness);
  const int64_t warmup = absl::GetFlag(FLAGS_warmup);
  if (run.concurrency < 1) return Fail("--concurrency must be >= 1");
  if (!(run.burstiness > 0) || !std::isfinite(run.burstiness)) {
    return Fail("--burstiness must be > 0 (1 = Poisson arrivals)");
  }
  if (warmup < 0) return Fail("--warmup must be >= 0");
  if (run.requests < 0 || run.duration_s < 0)
    return Fail("--requests and --duration_s must be >= 0");
  if (run.requests == 0 && run.duration_s == 0) {
    return Fail("give --requests N or --duration_s S (or both): a run must end");
  }
  std::vector<double> rates;
  if (const std::string text = absl::GetFlag(FLAGS_rate); !text.empty()) {
    for (absl::string_view part : absl::StrSplit(text, ',')) {
      double r;
      if (!absl::SimpleAtod(part, &r) || r <= 0) {
        return Fail(absl::StrCat("--rate: '", part, "' is not a rate > 0 (requests/s)"));
      }
      rates.push_back(r);
    }
  }
  absl::StatusOr<LengthDistribution> prompt_len =
      LengthDistribution::Parse(absl::GetFlag(FLAGS_prompt_len));
  if (!prompt_len.ok()) return Fail(absl::StrCat("--prompt_len: ", prompt_len.status().message()));
  absl::StatusOr<LengthDistribution> output_len =
      LengthDistribution::Parse(absl::GetFlag(FLAGS_output_len));
  if (!output_len.ok()) return Fail(absl::StrCat("--output_len: ", output_len.status().message()));

  absl::StatusOr<loadtest::ServerInfo> server = loadtest::QueryServer(client);
  if (!server.ok()) return Fail(std::string(server.status().message()));
  Workload workload;
  if (const std::string path = absl::GetFlag(FLAGS_prompts); !path.empty()) {
    absl::StatusOr<Workload> w = Workload::FromFile(path, *output_len, shared.seed);
    if (!w.ok()) return Fail(std::string(w.status().message()));
    workload = *std::move(w);
    if (client.endpoint == "chat" && workload.has_token_ids()) {
      return Fail(absl::StrCat(path, ": --endpoint chat sends text; it has token-id prompts"));
    }
    if (client.endpoint == "completions" && workload.has_messages()) {
      return Fail(absl::StrCat(path, ": \"messages\" prompts need --endpoint chat"));
    }
  } else {
    if (client.endpoint == "chat") {
      return Fail("--endpoint chat sends text: give --prompts FILE (text, messages or ShareGPT)");
    }
    if (server->vocab_size <= 0) {
      return Fail("the server did not report its vocabulary size; use --prompts FILE");
    }
    workload = Workload::Synthetic(*prompt_len, *output_len, server->vocab_size, shared.seed);
  }
  const loadtest::Objectives objectives{absl::GetFlag(FLAGS_slo_ttft_ms) / 1e3,
                                        absl::GetFlag(FLAGS_slo_itl_ms) / 1e3,
                                        absl::GetFlag(FLAGS_slo_e2e_ms) / 1e3};
  auto make_client = [&] { return loadtest::MakeClient(client, *server); };

  nlohmann::json report = {{"address", client.address},      {"protocol", client.protocol},
                           {"endpoint", client.endpoint},    {"stream", client.stream},
                           {"concurrency", run.concurrency}, {"burstiness", run.burstiness},
                           {"warmup_requests", warmup},      {"runs", nlohmann::json::array()}};
  std::ofstream requests_out;
  if (const std::string path = absl::GetFlag(FLAGS_requests_jsonl); !path.empty()) {
    requests_out.open(path);
    if (!requests_out) return Fail(absl::StrCat("--requests_jsonl: cannot write ", path));
  }
  if (warmup > 0) {
    // Requests of their own (indices past any run's), so a run's prompts are not the
    // warm-up's and find no prefix already cached.
    RunOptions warm;
    warm.concurrency = static_cast<int>(std::min<int64_t>(run.concurrency, warmup));
    warm.requests = warmup;
    warm.first_index = uint64_t{1} << 40;
    warm.progress = false;
    const loadtest::RunResult result = loadtest::RunLoad(warm, workload, make_client);
    int64_t warm_failed = 0;
    for (const loadtest::RequestRecord& r : result.records) warm_failed += r.ok() ? 0 : 1;
    std::printf("warm-up: %lld requests in %.1f s, %lld failed (not counted)\n",
                static_cast<long long>(warmup), result.duration_s,
                static_cast<long long>(warm_failed));
  }
  std::vector<std::pair<double, Summary>> sweep;
  const std::vector<double> plan = rates.empty() ? std::vector<double>{0} : rates;
  int64_t failed = 0;
  for (double rate : plan) {
    run.rate = rate;
    std::printf("%s %s %s at %s, %s\n", client.protocol.c_str(), client.address.c_str(),
                client.endpoint.c_str(),
                rate > 0 ? absl::StrCat("open loop ", rate, " requests/s",
                                        run.burstiness != 1
                                            ? absl::StrCat(" (burstiness ", run.burstiness, ")")
                                            : "")
                               .c_str()
                         : absl::StrCat("closed loop, ", run.concurrency, " clients").c_str(),
                client.stream ? "streaming" : "not streaming");
    std::fflush(stdout);
    const loadtest::RunResult result = loadtest::RunLoad(run, workload, make_client);
    const Summary summary = loadtest::Summarize(result.records, result.duration_s, objectives);
    if (requests_out.is_open()) {
      for (const loadtest::RequestRecord& r : result.records) {
        nlohmann::json line = loadtest::ToJson(r);
        line["run"] = sweep.size();
        line["rate"] = rate > 0 ? nlohmann::json(rate) : nlohmann::json(nullptr);
        requests_out << line.dump() << "\n";
      }
    }
    std::printf("%s", loadtest::ToText(summary).c_str());
    nlohmann::json entry = loadtest::ToJson(summary);
    entry["rate"] = rate > 0 ? nlohmann::json(rate) : nlohmann::json(nullptr);
    report["runs"].push_back(entry);
    failed += summary.requests - summary.succeeded;
    sweep.emplace_back(rate, summary);
  }
  if (const std::string path = absl::GetFlag(FLAGS_report_json); !path.empty()) {
    std::ofstream(path) << report.dump(2) << "\n";
  }
  if (const std::string png = absl::GetFlag(FLAGS_plot); !png.empty()) {
    if (const std::string error = Plot(sweep, png); !error.empty()) return Fail(error);
    std::printf("plot: %s\n", png.c_str());
  }
  // Exit 1 when any request failed, so scripts notice; the report still has the figures.
  return failed > 0 ? 1 : 0;
}

}  // namespace dsm
