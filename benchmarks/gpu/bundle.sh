#!/usr/bin/env bash
# Packs a built tree's GPU binaries (tests, benchmark, dsm, dsm-worker), the shared
# libraries they need that a bare CUDA machine lacks (gRPC, protobuf, abseil, Gloo, ...;
# not libc, libstdc++ or the CUDA libraries) and the shared test models into one folder,
# for `benchmarks/gpu/run.sh --prebuilt DIR` on a GPU machine that cannot install the
# build dependencies.
#
#   benchmarks/gpu/bundle.sh BUILD_DIR OUT_DIR [SHARED_DIR]
set -euo pipefail
build=${1:?build dir}
out=${2:?output dir}
shared=${3:-$(cd "$(dirname "$0")/../.." && pwd)/../shared}
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/shared/models"
binaries=("$build/bin/dsm" "$build/bin/dsm-worker" "$build/benchmarks/cuda_benchmark")
for t in cuda_test cuda_kernels_test cuda_model_test cuda_kernel_math_test nccl_communicator_test; do
  binaries+=("$build/tests/$t")
done
for b in "${binaries[@]}"; do
  cp "$b" "$out/bin/"
  strip --strip-debug "$out/bin/$(basename "$b")"
done
ldd "${binaries[@]}" | awk '/=> \// {print $3}' | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libstdc++.so*|libgcc_s.so*|ld-linux*|libdl.so*|libpthread.so*|librt.so*) ;;
    libcuda.so*|libcudart.so*|libcublas*|libnccl.so*) ;;
    *) cp -L "$lib" "$out/lib/" ;;
  esac
done
for m in stories260K tiny-deepseek; do
  [[ -d "$shared/models/$m" ]] && cp -r "$shared/models/$m" "$out/shared/models/"
done
du -sh "$out"
