#!/usr/bin/env bash
# The test suite: install what is missing, build (release, then ASan+UBSan; both
# with MPI), run every test on the default OpenCL device (AGECL_DEVICE selects
# another), two-process training under mpirun, the GPU paths' subset on Oclgrind's
# simulated GPU (tools/oclgrind.sh runs all of it), then each fuzzer of tests/fuzz
# for 3 seconds (tools/fuzz.sh).
# Usage: tools/test.sh [--no-sanitize]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh --with-fuzz --with-oclgrind --with-mpi

# The tests of a finished run whose only failure is LeakSanitizer's tracer failing to
# stop the process's threads at exit ("LeakSanitizer has encountered a fatal error"
# after every test passed: an intermittent fault of the tool, google/sanitizers#1353,
# seen once with PoCL's thread pool); nothing when any test failed otherwise.
lsan_tracer_faults() { # meson's testlog.json
  python3 - "$1" <<'PY'
import json, sys
names = []
for line in open(sys.argv[1]):
    t = json.loads(line)
    if t["result"] == "OK":
        continue
    out = (t.get("stdout") or "") + (t.get("stderr") or "")
    if "LeakSanitizer has encountered a fatal error" not in out or "[  FAILED  ]" in out \
            or "[  PASSED  ]" not in out or "ERROR: LeakSanitizer: detected" in out:
        sys.exit(1)
    names.append(t["name"].split(" / ")[-1])
print(" ".join(names))
PY
}

run_suite() { # build folder, extra meson options...
  local dir=$1; shift
  if [ -d "$dir" ]; then meson setup --reconfigure "$dir" "$@" >/dev/null
  else meson setup "$dir" "$@" >/dev/null; fi
  ninja -C "$dir"
  meson test -C "$dir" --print-errorlogs --num-processes 1 && return 0
  local again
  again=$(lsan_tracer_faults "$dir/meson-logs/testlog.json") && [ -n "$again" ] || return 1
  echo "agecl: LeakSanitizer's tracer failed in: $again; running them once more" >&2
  # shellcheck disable=SC2086  # test names are words
  meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes 1 $again
}

run_suite build/release --buildtype=release -Dwerror=true -Dmpi=enabled
# Races, bounds and API errors of the GPU kernels, on a simulated GPU.
meson test -C build/release --setup oclgrind --print-errorlogs --num-processes 1
if [ "${1:-}" != "--no-sanitize" ]; then
  # With MPI: two-process training under ASan and UBSan too (tests/mpi turns
  # LeakSanitizer off there: Open MPI's own allocations outlive it).
  run_suite build/sanitize --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
    -Dmpi=enabled
  # A few seconds of each fuzzer, so that a reader that regressed shows here.
  tools/fuzz.sh 3
fi
