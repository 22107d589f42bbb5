// Load generator for a running `dsm serve`: C concurrent clients each send R streaming
// requests of random token-id prompts; reports request and token throughput and
// time-to-first-token / latency percentiles. Bounded by count; talks to one address.
//
//   ./build/benchmarks/load_generator --addr 127.0.0.1:50051 --clients 16 --requests 8
//       --prompt_tokens 64 --max_tokens 64

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "dsm/v1/inference.grpc.pb.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50051", "server address");
ABSL_FLAG(int, clients, 8, "concurrent clients");
ABSL_FLAG(int, requests, 4, "requests per client");
ABSL_FLAG(int, prompt_tokens, 32, "prompt length (random ids)");
ABSL_FLAG(int, max_tokens, 32, "tokens to generate per request (EOS ignored)");
ABSL_FLAG(int, vocab, 0, "draw prompt ids below this (0 = ask the server)");

namespace dsm {
namespace {

using Clock = std::chrono::steady_clock;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

int Main() {
  auto channel = grpc::CreateChannel(absl::GetFlag(FLAGS_addr), grpc::InsecureChannelCredentials());
  auto stub = v1::Inference::NewStub(channel);
  int vocab = absl::GetFlag(FLAGS_vocab);
  if (vocab == 0) {
    grpc::ClientContext context;
    v1::ModelInfo info;
    grpc::Status s = stub->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
    if (!s.ok()) {
      std::fprintf(stderr, "cannot reach %s: %s\n", absl::GetFlag(FLAGS_addr).c_str(),
                   s.error_message().c_str());
      return 1;
    }
    vocab = static_cast<int>(info.vocab_size());
  }
  absl::Mutex mu;
  std::vector<double> ttft, latency;
  int64_t tokens = 0, failures = 0;
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < absl::GetFlag(FLAGS_clients); ++c) {
    threads.emplace_back([&, c] {
      std::mt19937 rng(c);
      for (int r = 0; r < absl::GetFlag(FLAGS_requests); ++r) {
        v1::GenerateRequest request;
        for (int i = 0; i < absl::GetFlag(FLAGS_prompt_tokens); ++i) {
          request.mutable_token_ids()->add_ids(static_cast<int32_t>(rng() % vocab));
        }
        request.mutable_params()->set_max_tokens(absl::GetFlag(FLAGS_max_tokens));
        request.mutable_params()->set_ignore_eos(true);
        request.mutable_params()->set_seed(rng());
        grpc::ClientContext context;
        const auto sent = Clock::now();
        auto reader = stub->GenerateStream(&context, request);
        v1::GenerateStreamResponse chunk;
        double first = -1;
        int64_t got = 0;
        while (reader->Read(&chunk)) {
          if (chunk.token_ids_size() > 0 && first < 0) {
            first = std::chrono::duration<double>(Clock::now() - sent).count();
          }
          got += chunk.token_ids_size();
        }
        const bool ok = reader->Finish().ok();
        const double total = std::chrono::duration<double>(Clock::now() - sent).count();
        absl::MutexLock lock(&mu);
        if (!ok) {
          ++failures;
          continue;
        }
        tokens += got;
        ttft.push_back(first);
        latency.push_back(total);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("%zu requests (%lld failed) in %.2f s: %.2f requests/s, %.1f generated tokens/s\n",
              latency.size(), static_cast<long long>(failures), seconds, latency.size() / seconds,
              tokens / seconds);
  std::printf("time to first token: p50 %.3f s, p99 %.3f s; latency: p50 %.3f s, p99 %.3f s\n",
              Percentile(ttft, 0.5), Percentile(ttft, 0.99), Percentile(latency, 0.5),
              Percentile(latency, 0.99));
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace dsm

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return dsm::Main();
}
