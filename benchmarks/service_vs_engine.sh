#!/usr/bin/env bash
# The whole service against the engine alone, on the 1.23 B model, temperature 1, in one
# run (this machine is noisy: only ratios measured together mean anything):
#   benchmarks/service_vs_engine.sh [OUT_DIR]   (default benchmarks/results-service-<date>)
#
# One `dsm serve` (coordinator, gRPC, one worker process with THREADS threads) stays up;
# each round runs engine_benchmark (the same StepRunner in-process: no coordinator, no
# RPC) and then `dsm loadtest` with 1 and with 16 concurrent requests, 128-token prompts
# and 48 generated tokens, as the engine's 48 decode steps after a 128-token prompt.
# Compared: the engine's step time (mean and median) with the service's inter-token
# latency (mean and p50). The mean inter-token latency at 16 clients also holds the
# steps in which later requests' prompts are prefilled (chunked prefill stalls the
# decodes, as in vLLM): the p50 is the steady decode.
# Those ratios swing with the machine's noise (+-15% between neighbouring runs). A figure
# that does not: the share of each loadtest's wall time that the worker spent in its own
# steps (dsm:worker_step_seconds: what the engine alone does for the same work), read
# from /metrics around the run; 1 minus it is what serving (gRPC, the coordinator, the
# client's turnarounds) adds. Needs a Release build in build/.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/serve_common.sh
bench_setup "${1:-}" results-service

port=$((50100 + RANDOM % 1000))
log="$out/serve.log"
metrics_port=$((port + 1000))
build/bin/dsm serve --model "$model" --port "$port" --threads "$threads" --kv-cache-mib 4096 \
  --metrics-port "$metrics_port" >"$log" 2>&1 &
serve=$!
trap 'kill $serve 2>/dev/null || true' EXIT
wait_ready "$log" 180 "dsm serve"
worker_step_seconds() {  # rank 0's dsm:worker_step_seconds_sum
  python3 -c '
import sys, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1]).read().decode()
print(sum(float(line.split()[-1]) for line in text.splitlines()
          if line.startswith("dsm:worker_step_seconds_sum") and "rank=\"0\"" in line))' \
    "$metrics_port"
}
loadtest() {  # concurrency, json
  build/bin/dsm loadtest --addr "127.0.0.1:$port" --concurrency "$1" --requests "$1" \
    --prompt_len fixed:128 --output_len fixed:48 --ignore_eos --temperature 1 \
    --progress=false --report_json "$2" >/dev/null
}
loadtest 16 "$out/warmup.json"  # touches the worker's KV pages and scratch once

for round in $(seq 1 "$rounds"); do
  echo "== round $round: engine alone, batch 1 and 16"
  build/benchmarks/engine_benchmark --model "$model" --threads "$threads" --batches 1,16 \
    --steps 48 --decode_rounds 1 --temperature 1 --roofline=false --json "$out/engine_$round.json" |
    grep "decode:"
  for c in 1 16; do
    echo "== round $round: dsm serve + dsm loadtest, $c concurrent requests"
    before=$(worker_step_seconds)
    loadtest "$c" "$out/service_c${c}_$round.json"
    echo "{\"worker_step_seconds\": $(python3 -c "print($(worker_step_seconds) - $before)")}" \
      >"$out/worker_c${c}_$round.json"
  done
done

python3 - "$out" "$rounds" <<'EOF'
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
rows = []
for r in range(1, rounds + 1):
    engine = {d["batch"]: d for d in json.load(open(f"{out}/engine_{r}.json"))["decode"]}
    for c in (1, 16):
        run = json.load(open(f"{out}/service_c{c}_{r}.json"))["runs"][0]
        itl = run["itl_s"]
        worker_s = json.load(open(f"{out}/worker_c{c}_{r}.json"))["worker_step_seconds"]
        e = engine[c]
        rows.append({"round": r, "concurrency": c,
                     "engine_ms_mean": e["ms_per_step"], "engine_ms_median": e["median_ms_per_step"],
                     "service_itl_ms_mean": 1e3 * itl["mean"], "service_itl_ms_p50": 1e3 * itl["p50"],
                     "ratio_mean": e["ms_per_step"] / (1e3 * itl["mean"]),
                     "ratio_median": e["median_ms_per_step"] / (1e3 * itl["p50"]),
                     "engine_share_of_wall_time": worker_s / run["duration_s"]})
json.dump(rows, open(f"{out}/service_vs_engine.json", "w"), indent=2)
print("service speed as a fraction of the engine's (engine step time / service inter-token latency)")
print(f"{'round':>5} {'clients':>7} {'engine mean':>11} {'service mean':>12} {'ratio':>6} {'engine median':>13} {'service p50':>11} {'ratio':>6} {'engine share':>12}")
for x in rows:
    print(f"{x['round']:>5} {x['concurrency']:>7} {x['engine_ms_mean']:>9.1f}ms {x['service_itl_ms_mean']:>10.1f}ms {x['ratio_mean']:>6.2f}"
          f" {x['engine_ms_median']:>11.1f}ms {x['service_itl_ms_p50']:>9.1f}ms {x['ratio_median']:>6.2f}"
          f" {x['engine_share_of_wall_time']:>12.3f}")
for c in (1, 16):
    mine = [x for x in rows if x["concurrency"] == c]
    print(f"best rounds, {c:>2} clients: mean {min(x['engine_ms_mean'] for x in mine) / min(x['service_itl_ms_mean'] for x in mine):.2f},"
          f" median/p50 {min(x['engine_ms_median'] for x in mine) / min(x['service_itl_ms_p50'] for x in mine):.2f}")
EOF
echo "results in $out"
