#!/usr/bin/env bash
# The GPU check: build for the local GPU, run the cuda-labelled tests, then benchmark
# prefill and decode on DeepSeek-Math-7B's exact shape with random bf16 weights made on
# the device. Writes $OUT_DIR/gpu_benchmark.json (one object per batch size),
# $OUT_DIR/gpu_tests.log and $OUT_DIR/gpu_summary.txt.
#
#   benchmarks/gpu/run.sh                    # from a fresh clone (needs tools/setup.sh's packages)
#   benchmarks/gpu/run.sh --prebuilt DIR     # binaries packed by benchmarks/gpu/bundle.sh
#
# Environment: OUT_DIR (default build-gpu/results), BATCHES (default 1,8,64,256),
# DECODE_STEPS (default 64), PROMPT (default 128).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
out=${OUT_DIR:-$root/build-gpu/results}
mkdir -p "$out"
prebuilt=""
if [[ "${1:-}" == "--prebuilt" ]]; then prebuilt=$(cd "${2:?bundle dir}" && pwd); fi

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"

if [[ -z "$prebuilt" ]]; then
  bash tools/setup.sh
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DDSM_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=native || exit 1
  cmake --build build-gpu || exit 1
  bin=build-gpu/bin tests=build-gpu/tests bench=build-gpu/benchmarks
else
  bin=$prebuilt/bin tests=$prebuilt/bin bench=$prebuilt/bin
  export LD_LIBRARY_PATH=$prebuilt/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
  export DSM_BIN_DIR=$prebuilt/bin
  [[ -d $prebuilt/shared ]] && export DSM_SHARED_DIR=$prebuilt/shared
fi

status=0
: >"$out/gpu_tests.log"
for t in cuda_test cuda_kernel_math_test cuda_kernels_test cuda_model_test nccl_communicator_test; do
  echo "== $t" >>"$out/gpu_tests.log"
  timeout 300 "$tests/$t" >>"$out/gpu_tests.log" 2>&1
  rc=$?
  echo "$t: $([[ $rc -eq 0 ]] && echo ok || echo "FAILED (exit $rc)")"
  [[ $rc -eq 0 ]] || status=1
done
# Test cases by outcome (gtest prints failed and skipped names twice: once when they end,
# once in the final list; count the first, which carries a duration).
for outcome in OK SKIPPED FAILED; do
  n=$(grep -cE "^\[ +$outcome +\] .*\([0-9]+ ms\)$" "$out/gpu_tests.log")
  echo "  test cases $outcome: $n"
done
grep -E "^\[ +(FAILED|SKIPPED) +\] .*\([0-9]+ ms\)$" "$out/gpu_tests.log" || true

"$bench/cuda_benchmark" --batches="${BATCHES:-1,8,64,256}" --decode_steps="${DECODE_STEPS:-64}" \
  --prompt="${PROMPT:-128}" --out="$out/gpu_benchmark.json" | tee "$out/gpu_summary.txt"
[[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
echo "gpu check: $([[ $status -eq 0 ]] && echo passed || echo FAILED); results in $out"
exit $status
