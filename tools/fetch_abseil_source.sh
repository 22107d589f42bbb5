#!/usr/bin/env bash
# Unpacks the source of the abseil that Debian ships (the same version as libabsl-dev)
# into $1, for the ThreadSanitizer build: Debian's binary abseil is not instrumented, so
# TSan could not see its Mutex. Uses apt's source index (adds a deb-src entry if none).
set -euo pipefail
dest=$1
[[ -f "$dest/CMakeLists.txt" ]] && exit 0
sudo_cmd=()
[[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo "fetch_abseil_source: adding a deb-src entry for bookworm (apt source index)"
  "${sudo_cmd[@]}" tee /etc/apt/sources.list.d/dsmserve-src.sources >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  "${sudo_cmd[@]}" apt-get update -qq
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version=$(dpkg-query -W -f='${source:Version}' libabsl-dev)
(cd "$work" && apt-get source --download-only -qq "abseil=$version" 2>/dev/null ||
   (cd "$work" && apt-get source --download-only -qq abseil))
mkdir -p "$dest"
tar -xzf "$work"/abseil_*.orig.tar.gz -C "$dest" --strip-components=1
echo "fetch_abseil_source: abseil $version in $dest"
