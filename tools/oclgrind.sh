#!/usr/bin/env bash
# Every GPU-path test, whole, on Oclgrind's simulated GPU (tools/oclgrind_run.sh:
# data races, bounds, API errors; any report fails). Hours on 2 cores: the test
# suite runs a subset (`meson test --setup oclgrind`, tests/meson.build).
# Usage: tools/oclgrind.sh [--small] [TEST...]
#   --small: a device with the limits of older and mobile GPUs (work-groups of
#   256, 16 KiB of local memory); TEST: names of tests/test_NAME.c (default: all
#   that run OpenCL kernels)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh --with-oclgrind
if [ "${1:-}" = "--small" ]; then
  export AGECL_OCLGRIND_FLAGS="--max-wgsize 256 --local-mem-size 16384"
  shift
fi
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(heads layers tensor gemm conv conv_winograd conv_fft conv_algos model weights)
[ -d build/release ] || meson setup build/release --buildtype=release -Dwerror=true >/dev/null
ninja -C build/release >/dev/null
root=$PWD
export AGECL_CACHE_DIR=$root/build/release/test-cache-oclgrind
export POCL_CACHE_DIR=$root/build/release/test-cache/pocl
export AGECL_SHARED_DATA=$root/../shared/data AGECL_FIXTURES=$root/tests/fixtures AGECL_WERROR=1
export AGECL_TOOL=$root/build/release/tools/agecl
failed=()
for t in "${tests[@]}"; do
  start=$(date +%s)
  if tools/oclgrind_run.sh "build/release/tests/test_$t"; then status=ok; else status=FAILED; failed+=("$t"); fi
  echo "oclgrind: $t $status in $(( $(date +%s) - start )) s" >&2
done
[ ${#failed[@]} -eq 0 ] || { echo "oclgrind: failed: ${failed[*]}" >&2; exit 1; }
