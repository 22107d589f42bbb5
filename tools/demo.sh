#!/usr/bin/env bash
# The main job on a fresh machine: build dsmserve, serve a model on the CPU backend with
# a tensor-parallel group of two worker processes (`dsm serve --demo`: a generated
# DeepSeek-architecture model with random weights, no download), answer one chat
# request with `dsm chat`, and stop the server.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target dsm dsm-worker

log=$(mktemp)
./build/bin/dsm serve --demo --tp 2 --port 0 >"$log" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 600); do
  grep -q "^dsm serve: ready" "$log" && break  # listening, and the workers are up
  kill -0 $server 2>/dev/null || { echo "dsm serve failed to start" >&2; exit 1; }
  sleep 0.2
done
address=$(sed -n 's/^dsm serve: listening on //p' "$log")
echo "dsm serve is listening on $address" >&2
echo "What is 7 * 6?" | ./build/bin/dsm chat --addr "$address" --max-tokens 32 --temperature 0.8 --seed 7
