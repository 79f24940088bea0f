#!/usr/bin/env bash
# Run a program on Oclgrind's simulated GPU with its checks (data races, API
# errors, out-of-bounds accesses always; $AGECL_OCLGRIND_FLAGS adds more, e.g.
# "--max-wgsize 256 --local-mem-size 16384" for a small device), and fail when
# the simulator reports anything, whatever the program's own status.
# Usage: tools/oclgrind_run.sh PROGRAM [ARGS...]
set -uo pipefail
command -v oclgrind >/dev/null || { echo "oclgrind_run: oclgrind is not installed (apt-get install oclgrind)" >&2; exit 1; }
log=$(mktemp "${TMPDIR:-/tmp}/oclgrind.XXXXXX")
trap 'rm -f "$log"' EXIT
# shellcheck disable=SC2086  # the flags are words
oclgrind --data-races --check-api --max-errors 20 --log "$log" ${AGECL_OCLGRIND_FLAGS:-} "$@"
rc=$?
if [ -s "$log" ]; then
  echo "oclgrind_run: Oclgrind reported:" >&2
  cat "$log" >&2
  [ $rc -eq 0 ] && rc=1
fi
exit $rc
