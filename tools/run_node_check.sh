#!/usr/bin/env bash
# Runs a Node check script whose npm packages live in PACKAGE_DIR (ctest calls this).
#   tools/run_node_check.sh PACKAGE_DIR SCRIPT ARGS...
# Exit 77 (skipped) when node or the packages are missing, except under CI=true.
set -euo pipefail
packages=$1 script=$2
shift 2
if ! command -v node >/dev/null 2>&1 || [[ ! -d "$packages/node_modules" ]]; then
  echo "node or the npm packages in $packages are missing (tools/setup.sh installs them)"
  [[ "${CI:-}" == "true" ]] && exit 1
  exit 77
fi
exec node "$script" "$@"
