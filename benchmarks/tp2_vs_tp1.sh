#!/usr/bin/env bash
# Tensor parallelism on one host against one rank with as many threads, through the whole
# service, on the 1.23 B model, in one run (this machine is noisy: only ratios measured
# together mean anything):
#   benchmarks/tp2_vs_tp1.sh [OUT_DIR]   (default benchmarks/results-tp-<date>)
#
# Two `dsm serve` stay up side by side: --tp 1 with THREADS (2) threads, and --tp 2 with
# THREADS / 2 threads per rank (two worker processes exchanging activations through the
# shared-memory collectives). Each of ROUNDS (3) rounds runs `dsm loadtest` against one
# and then the other with 1 and with 16 concurrent requests (16-token prompts, 48
# generated tokens, greedy), so each ratio comes from runs seconds apart. Compared: the
# inter-token latency p50 (the steady decode step at batch 1 and batch 16); tp 2's speed
# relative to tp 1 is tp 1's p50 / tp 2's. Needs a Release build in build/.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/serve_common.sh
bench_setup "${1:-}" results-tp

base=$((51100 + RANDOM % 1000))
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
start() {  # tp, port
  build/bin/dsm serve --model "$model" --tp "$1" --threads $((threads / $1)) --port "$2" \
    --kv-cache-mib 2048 >"$out/serve_tp$1.log" 2>&1 &
  pids+=($!)
}
start 1 "$base"
start 2 $((base + 1))
for tp in 1 2; do wait_ready "$out/serve_tp$tp.log" 240 "dsm serve --tp $tp"; done
loadtest() {  # tp, concurrency, json
  build/bin/dsm loadtest --addr "127.0.0.1:$((base + $1 - 1))" --concurrency "$2" \
    --requests "$2" --prompt_len fixed:16 --output_len fixed:48 --ignore_eos \
    --progress=false --report_json "$3" >/dev/null
}
for tp in 1 2; do loadtest "$tp" 16 "$out/warmup_tp$tp.json"; done  # KV pages, scratch

for round in $(seq 1 "$rounds"); do
  for c in 1 16; do
    for tp in 1 2; do
      echo "== round $round: --tp $tp, $c concurrent requests"
      loadtest "$tp" "$c" "$out/tp${tp}_c${c}_$round.json"
    done
  done
done

python3 - "$out" "$rounds" <<'PY'
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
rows = []
for r in range(1, rounds + 1):
    for c in (1, 16):
        p50 = {tp: 1e3 * json.load(open(f"{out}/tp{tp}_c{c}_{r}.json"))["runs"][0]["itl_s"]["p50"]
               for tp in (1, 2)}
        rows.append({"round": r, "concurrency": c, "tp1_itl_ms_p50": p50[1],
                     "tp2_itl_ms_p50": p50[2], "tp2_speed_vs_tp1": p50[1] / p50[2]})
json.dump(rows, open(f"{out}/tp2_vs_tp1.json", "w"), indent=2)
print("--tp 2 (one thread per rank) against --tp 1 (two threads): inter-token latency p50")
print(f"{'round':>5} {'clients':>7} {'tp 1':>9} {'tp 2':>9} {'tp 2 speed':>10}")
for x in rows:
    print(f"{x['round']:>5} {x['concurrency']:>7} {x['tp1_itl_ms_p50']:>7.1f}ms"
          f" {x['tp2_itl_ms_p50']:>7.1f}ms {x['tp2_speed_vs_tp1']:>9.2f}x")
for c in (1, 16):
    speeds = sorted(x["tp2_speed_vs_tp1"] for x in rows if x["concurrency"] == c)
    print(f"median over rounds, {c:>2} clients: {speeds[len(speeds) // 2]:.2f}x")
PY
echo "results in $out"
