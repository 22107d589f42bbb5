#!/usr/bin/env bash
# Reruns the CPU figures of docs/PERFORMANCE.md in one command and writes JSON:
#   benchmarks/run_all.sh [OUT_DIR]   (default benchmarks/results-<date>)
# Needs a Release build in build/ (cmake -S . -B build -G Ninja && cmake --build build).
# The 1.23 B model of the CPU-speed targets is generated once under /tmp (~2.5 GB, a
# minute). Takes about 25 minutes on the 2-core build machine, plus ~10 the first time
# llama.cpp is built for the side-by-side comparison (LLAMACPP=0 skips it).
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

echo "== the whole service against the engine alone, alternating (benchmarks/service_vs_engine.sh)"
ROUNDS=${SERVICE_ROUNDS:-3} benchmarks/service_vs_engine.sh "$out/service"
echo "== --tp 2 (one thread per rank) against --tp 1, alternating (benchmarks/tp2_vs_tp1.sh)"
ROUNDS=${TP_ROUNDS:-3} benchmarks/tp2_vs_tp1.sh "$out/tp"
if [[ "${LLAMACPP:-1}" != 0 ]]; then
  echo "== llama.cpp side by side on the same weights (benchmarks/llamacpp/run.sh; LLAMACPP=0 skips)"
  benchmarks/llamacpp/run.sh "$out/llamacpp"
fi
echo "results in $out"
