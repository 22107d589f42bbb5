#!/usr/bin/env bash
# Checks that a Dockerfile's runtime stage carries every shared library the built
# binaries need: each ldd dependency must come from a Debian package listed between
# "# runtime-packages-begin" and "# runtime-packages-end", or (CUDA libraries under
# /usr/local/cuda or /usr/local/cuda-X.Y) be named on its "# cuda-libraries:" line. libc6, libgcc-s1 and
# libstdc++6 are in every Debian base image.
#   tools/check_image_libraries.sh DOCKERFILE [--cpu] BINARY...
# --cpu: the image is built without the CUDA backend, so CUDA libraries are not needed.
set -euo pipefail
dockerfile=$1
shift
cpu=0
if [[ "${1:-}" == "--cpu" ]]; then
  cpu=1
  shift
fi
listed=$(sed -n '/# runtime-packages-begin/,/# runtime-packages-end/p' "$dockerfile" |
  tr ' \\' '\n\n' | grep -E '^lib|^zlib' | sort -u)
cuda_line=$(grep -E '^# cuda-libraries:' "$dockerfile" | sed 's/^# cuda-libraries://' || true)
missing=0
declare -A needed_by  # library path -> "soname binary"
for binary in "$@"; do
  while read -r name path; do
    if [[ -z "$path" || "$path" == "not" ]]; then
      echo "$binary: $name is not found by ldd"
      missing=1
    elif [[ "$path" =~ ^/usr/local/cuda(-[0-9.]+)?/ ]]; then
      # ldd names the toolkit as /usr/local/cuda or as its versioned directory,
      # depending on how the build found it (RPATH or ld.so.conf).
      ((cpu)) && continue
      if ! grep -qw -- "$name" <<<"$cuda_line"; then
        echo "$dockerfile: the CUDA library $name ($(basename "$binary") needs it) is not copied into the runtime stage"
        missing=1
      fi
    else
      needed_by["$(readlink -f "$path")"]="$name $(basename "$binary")"
    fi
  done < <(ldd "$binary" | awk '/=>/ {print $1, $3}')
done
# One dpkg query for every library (it is slow per call), by file name: with usrmerge
# dpkg may have registered /lib/... where ldd resolves /usr/lib/...
# The key is "<directory name>/<file name>" (x86_64-linux-gnu/libc.so.6, not lib32's).
key() { echo "$(basename "$(dirname "$1")")/$(basename "$1")"; }
declare -A package_of  # key -> package
names=()
for path in "${!needed_by[@]}"; do names+=("$(key "$path")"); done
while read -r line; do
  package=${line%%: *}
  package_of["$(key "${line#*: }")"]=${package%%:*}
done < <(dpkg -S "${names[@]}" 2>/dev/null || true)
for path in "${!needed_by[@]}"; do
  read -r name binary <<<"${needed_by[$path]}"
  package=${package_of[$(key "$path")]:-}
  case "$package" in libc6 | libgcc-s1 | libstdc++6) continue ;; esac
  if [[ -z "$package" ]]; then
    echo "$binary: $path ($name) belongs to no Debian package"
    missing=1
  elif ! grep -qx -- "$package" <<<"$listed"; then
    echo "$dockerfile: runtime stage lacks $package ($name, needed by $binary)"
    missing=1
  fi
done
if ((missing)); then exit 1; fi
echo "$dockerfile: the runtime stage has every library $(for b in "$@"; do basename "$b"; done | tr '\n' ' ')needs"
