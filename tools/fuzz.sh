#!/usr/bin/env bash
# Build the libFuzzer harnesses of tests/fuzz with clang (ASan + UBSan) and run
# each for SECONDS (default 60), from the seeds of tests/fuzz/seeds.py and the
# corpus earlier runs grew (build/fuzz/corpus). A finding stops with its input
# saved as build/fuzz/crash-<harness>-*, and a non-zero exit.
#   tools/fuzz.sh [SECONDS] [HARNESS...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
command -v clang >/dev/null || { echo "agecl: tools/fuzz.sh needs clang (apt-get install clang)" >&2; exit 1; }
dir=build/fuzz
if [ -d "$dir" ]; then CC=clang meson setup --reconfigure "$dir" >/dev/null
else CC=clang meson setup "$dir" --buildtype=debug -Dfuzz=true -Dtests=false \
       -Db_sanitize=address,undefined -Db_lundef=false >/dev/null; fi
ninja -C "$dir" >/dev/null
python3 tests/fuzz/seeds.py "$dir/seeds"
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(safetensors checkpoint csv aaf utkface image program_cache clblast conv_algos)
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1
export AGECL_CACHE_DIR= POCL_CACHE_DIR=${POCL_CACHE_DIR:-$dir/pocl}
for name in "${names[@]}"; do
  mkdir -p "$dir/corpus/$name"
  log="$dir/fuzz-$name.log"
  if ! "$dir/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
       -rss_limit_mb=4096 -artifact_prefix="$dir/crash-$name-" -print_final_stats=1 \
       "$dir/corpus/$name" "$dir/seeds/$name" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "agecl: fuzz_$name found a problem; the input is $dir/crash-$name-*" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  echo "fuzz_$name: $runs runs in ${seconds} s, no finding"
done
