#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time from its seed corpus (ctest calls this).
#   tools/run_fuzzer.sh FUZZER_BINARY SEED_DIR SECONDS
# Exit 77 (skipped) when the fuzzer was not built, except under CI=true where that fails.
set -euo pipefail
binary=$1 seeds=$2 seconds=$3
if [[ ! -x "$binary" ]]; then
  echo "fuzzer $binary not built (tools/test.sh builds it with clang-14)"
  [[ "${CI:-}" == "true" ]] && exit 1
  exit 77
fi
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
exec "$binary" -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1 \
  "$corpus" "$seeds"
