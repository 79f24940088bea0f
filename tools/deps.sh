#!/usr/bin/env bash
# Install the Debian packages agecl needs, when any is missing.
# Usage: tools/deps.sh [--with-torch] [--with-fuzz] [--with-oclgrind] [--with-mpi]
#   --with-torch: PyTorch, for fixtures, comparisons and weights in and out (with
#   ONNX and OpenCV to check and run exported graphs); --with-fuzz: clang and
#   libFuzzer, for tools/fuzz.sh; --with-oclgrind: the simulated GPU of
#   `meson test --setup oclgrind`; --with-mpi: Open MPI, for agecl train on
#   several devices (-Dmpi=enabled). The test suite installs the last three.
set -euo pipefail
pkgs=(meson ninja-build pkg-config gcc python3 ocl-icd-opencl-dev opencl-c-headers
      pocl-opencl-icd clinfo libclblast-dev libclfft-dev libcmocka-dev libstb-dev)
for arg in "$@"; do
  case "$arg" in
    --with-torch) pkgs+=(python3-torch python3-numpy libjemalloc2 python3-onnx python3-opencv) ;;
    --with-oclgrind) pkgs+=(oclgrind) ;;
    --with-fuzz) pkgs+=(clang libclang-rt-dev) ;;
    --with-mpi) pkgs+=(openmpi-bin libopenmpi-dev) ;;
    *) echo "tools/deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
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
