#!/usr/bin/env bash
# Install the Debian packages agecl needs, when any is missing.
# Usage: tools/deps.sh [--with-torch]   (--with-torch: PyTorch, for fixtures and comparisons)
set -euo pipefail
pkgs=(meson ninja-build pkg-config gcc python3 ocl-icd-opencl-dev opencl-c-headers
      pocl-opencl-icd clinfo libclblast-dev libclfft-dev libcmocka-dev libstb-dev)
[ "${1:-}" = "--with-torch" ] && pkgs+=(python3-torch python3-numpy libjemalloc2)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "agecl: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
