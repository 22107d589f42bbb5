#!/usr/bin/env bash
# Runs a ThreadSanitizer test binary from build-tsan (ctest calls this): any report fails.
#   tools/run_tsan_test.sh TEST_BINARY SUPPRESSIONS
# Exit 77 (skipped) when it was not built, except under CI=true where that fails.
set -euo pipefail
binary=$1 suppressions=$2
if [[ ! -x "$binary" ]]; then
  echo "TSan test $binary not built (tools/test.sh builds it with clang-14 into build-tsan)"
  [[ "${CI:-}" == "true" ]] && exit 1
  exit 77
fi
export TSAN_OPTIONS="suppressions=$suppressions halt_on_error=1 exitcode=66 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
exec "$binary" --gtest_brief=1
