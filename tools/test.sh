#!/usr/bin/env bash
# Installs dependencies, builds everything and runs every test (ctest prints the summary).
# Tests that need ../shared data skip visibly without it, and fail under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
# DSM_CUDA=ON (as CI sets it) makes a missing CUDA toolkit or a CUDA compile error fatal.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDSM_CUDA="${DSM_CUDA:-AUTO}"
cmake --build build
# Tokenizer fuzzers: clang with libFuzzer and sanitizers, in their own tree.
CC=clang-14 CXX=clang++-14 cmake -S tests/fuzz -B build-fuzz -G Ninja
cmake --build build-fuzz
# The coordinator's concurrency under ThreadSanitizer, against abseil built from Debian's
# own source package with -fsanitize=thread (the binary package is not instrumented).
bash tools/fetch_abseil_source.sh "$PWD/build-tsan/abseil-src"
CC=clang-14 CXX=clang++-14 cmake -S tests/tsan -B build-tsan -G Ninja \
  -DDSM_ABSL_SOURCE_DIR="$PWD/build-tsan/abseil-src"
cmake --build build-tsan
ctest --test-dir build --output-on-failure -j 2
