#!/usr/bin/env bash
# Builds dsmserve and runs the main job on the CPU backend: a model served by a
# tensor-parallel group of two worker processes (Gloo all-reduce) answering a request.
# Uses ../shared/models/stories260K when present, else a random model it generates.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target dsm dsm-worker
model="${DSM_SHARED_DIR:-../shared}/models/stories260K"
if [[ ! -f "$model/config.json" ]]; then
  model="${XDG_CACHE_HOME:-$HOME/.cache}/dsmserve/demo-model"
  [[ -f "$model/config.json" ]] || ./build/bin/dsm make-model --out "$model"
fi
echo "request: {\"prompt_token_ids\": [1, 400, 261, 429]} to $model at --tp 2" >&2
echo '{"prompt_token_ids": [1, 400, 261, 429]}' |
  ./build/bin/dsm run --model "$model" --tp 2 --max-tokens 32
