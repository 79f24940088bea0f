#!/usr/bin/env bash
# The test suite: install what is missing, build (release, then ASan+UBSan), run
# every test on the default OpenCL device (AGECL_DEVICE selects another), the GPU
# paths' subset on Oclgrind's simulated GPU (tools/oclgrind.sh runs all of it),
# then each fuzzer of tests/fuzz for 3 seconds (tools/fuzz.sh).
# Usage: tools/test.sh [--no-sanitize]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh --with-fuzz --with-oclgrind

run_suite() { # build folder, extra meson options...
  local dir=$1; shift
  if [ -d "$dir" ]; then meson setup --reconfigure "$dir" "$@" >/dev/null
  else meson setup "$dir" "$@" >/dev/null; fi
  ninja -C "$dir"
  meson test -C "$dir" --print-errorlogs --num-processes 1
}

run_suite build/release --buildtype=release -Dwerror=true
# Races, bounds and API errors of the GPU kernels, on a simulated GPU.
meson test -C build/release --setup oclgrind --print-errorlogs --num-processes 1
if [ "${1:-}" != "--no-sanitize" ]; then
  run_suite build/sanitize --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
  # A few seconds of each fuzzer, so that a reader that regressed shows here.
  tools/fuzz.sh 3
fi
