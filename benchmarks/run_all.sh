#!/usr/bin/env bash
# Reruns the CPU figures of docs/PERFORMANCE.md in one command and writes JSON:
#   benchmarks/run_all.sh [OUT_DIR]   (default benchmarks/results-<date>)
# Needs a Release build in build/ (cmake -S . -B build -G Ninja && cmake --build build).
# The 1.23 B model of the CPU-speed targets is generated once under /tmp (~2.5 GB, a
# minute). Takes about 10 minutes on the 2-core build machine.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-benchmarks/results-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
threads=${THREADS:-2}
bin=build/benchmarks

echo "== engine, greedy: prefill vs the FMA peak, decode at batch 1 and 16 vs the bandwidth"
"$bin/engine_benchmark" --threads "$threads" --batches 1,16 --steps 16 --json "$out/engine.json"
echo "== engine, temperature 1 (sampling on the rank)"
"$bin/engine_benchmark" --threads "$threads" --batches 1,16 --steps 16 --temperature 1 \
  --roofline=false --json "$out/engine_t1.json"
echo "== GEMM kernels"
"$bin/matmul_benchmark" --benchmark_filter='BM_MatMulBf16/(11008|2048)/|BM_MemoryRead' \
  --benchmark_out="$out/matmul.json" --benchmark_out_format=json --benchmark_counters_tabular=true
echo "== tokenizer"
"$bin/tokenizer_benchmark" --benchmark_out="$out/tokenizer.json" --benchmark_out_format=json

echo "== the whole service: dsm serve + dsm loadtest, temperature 1"
port=$((50100 + RANDOM % 1000))
log="$out/serve.log"
build/bin/dsm serve --model /tmp/dsm-bench-1b --port "$port" --threads "$threads" \
  --kv-cache-mib 4096 >"$log" 2>&1 &
serve=$!
trap 'kill $serve 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do grep -q "dsm serve: ready" "$log" && break; sleep 1; done
grep -q "dsm serve: ready" "$log" || { echo "dsm serve did not start; see $log"; exit 1; }
for c in 1 16; do
  build/bin/dsm loadtest --addr "127.0.0.1:$port" --concurrency "$c" --requests "$c" \
    --prompt_len fixed:128 --output_len fixed:48 --ignore_eos --temperature 1 \
    --progress=false --report_json "$out/loadtest_c$c.json"
done
echo "results in $out"
