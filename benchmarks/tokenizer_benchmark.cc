// Tokenizer speed: loading the DeepSeek-Math tokenizer.json and single-thread encode
// throughput on a math/LaTeX corpus.
//
//   ./build/benchmarks/tokenizer_benchmark [--benchmark_filter=...]
// Needs ../shared/models/deepseek-math-tokenizer (or DSM_SHARED_DIR).

#include <cstdlib>
#include <random>
#include <string>

#include "benchmark/benchmark.h"
#include "common/file_util.h"
#include "coordinator/tokenizer/tokenizer.h"

namespace dsm {
namespace {

std::string TokenizerPath() {
  const char* shared = std::getenv("DSM_SHARED_DIR");
  return std::string(shared ? shared : DSM_SOURCE_DIR "/../shared") +
         "/models/deepseek-math-tokenizer/tokenizer.json";
}

// ~1 MB of math-flavoured text: word problems, LaTeX, numbers, some CJK.
std::string MathCorpus() {
  const char* snippets[] = {
      "Let $f(x) = 3x^2 - 5x + 2$. Find all real $x$ such that $f(x) = 0$.\n",
      "By the quadratic formula, $x = \\frac{5 \\pm \\sqrt{25 - 24}}{6} = \\frac{5 \\pm 1}{6}$, "
      "so $x = 1$ or $x = \\frac{2}{3}$.\n",
      "\\begin{align*} \\sum_{k=1}^{n} k^2 &= \\frac{n(n+1)(2n+1)}{6} \\\\ &= 385 \\text{ for } "
      "n = 10. \\end{align*}\n",
      "A train travels 240 km in 3 hours and then 180 km in 2 hours. What is its average speed? "
      "The total distance is 420 km over 5 hours, so the answer is \\boxed{84} km/h.\n",
      "Prove that $\\sqrt{2}$ is irrational. Suppose $\\sqrt{2} = p/q$ with $\\gcd(p, q) = 1$; "
      "then $p^2 = 2q^2$, so $p$ is even...\n",
      "已知三角形的两边长分别为3和4，夹角为90°，求第三边的长度。答案：5。\n",
      "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    "
      "return a\n",
      "$\\int_0^1 x^3\\,dx = \\left[\\frac{x^4}{4}\\right]_0^1 = 0.25$, and $e^{i\\pi} + 1 = 0$.\n",
  };
  std::mt19937 rng(1);
  std::string corpus;
  while (corpus.size() < (1 << 20)) {
    corpus += snippets[rng() % std::size(snippets)];
    corpus += std::to_string(rng() % 100000) + " ";
  }
  return corpus;
}

void BM_LoadTokenizer(benchmark::State& state) {
  const std::string json = *ReadFileToString(TokenizerPath());
  for (auto _ : state) {
    absl::StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::FromJson(json, "tokenizer.json");
    if (!t.ok()) state.SkipWithError(std::string(t.status().message()).c_str());
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_LoadTokenizer)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_EncodeMath(benchmark::State& state) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> t =
      Tokenizer::FromDirectory(TokenizerPath().substr(0, TokenizerPath().rfind('/')));
  if (!t.ok()) {
    state.SkipWithError(std::string(t.status().message()).c_str());
    return;
  }
  const std::string corpus = MathCorpus();
  size_t tokens = 0;
  for (auto _ : state) {
    absl::StatusOr<std::vector<int32_t>> ids = (*t)->Encode(corpus);
    tokens = ids->size();
    benchmark::DoNotOptimize(ids);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
}
BENCHMARK(BM_EncodeMath)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_DecodeMath(benchmark::State& state) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> t =
      Tokenizer::FromDirectory(TokenizerPath().substr(0, TokenizerPath().rfind('/')));
  if (!t.ok()) {
    state.SkipWithError(std::string(t.status().message()).c_str());
    return;
  }
  const std::string corpus = MathCorpus();
  const std::vector<int32_t> ids = *(*t)->Encode(corpus);
  for (auto _ : state) benchmark::DoNotOptimize((*t)->Decode(ids));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * corpus.size()));
}
BENCHMARK(BM_DecodeMath)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace dsm

BENCHMARK_MAIN();
