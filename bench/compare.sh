#!/bin/bash
# compare.sh - agecl against PyTorch on this machine: a training step and an
# inference pass, images/s, at one preset and batch.
#
#   bench/compare.sh [-B BUILD] [-n ROUNDS] [-p PRESET] [-b BATCH] [-r RUNS]
#                    [-d DEVICE] [-t THREADS] [-o DIR]
#
# Runs BUILD/bench/agecl-bench and bench/torch_bench.py in turn, A B A B, for
# ROUNDS rounds, so that a slow spell of a shared machine hits both; each run
# prints the median of RUNS timed runs after a warm-up. PyTorch runs at its best
# on this machine: jemalloc preloaded when /usr/lib/x86_64-linux-gnu/libjemalloc.so.2
# exists, with its decay off (MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1: with
# the default decay it hands memory back every step and runs 1.4-1.7x slower),
# NCHW and channels-last, inference also frozen (torch.jit.freeze and
# optimize_for_inference), on THREADS threads (default: all). Then prints, per
# figure, the median over the rounds of each side, the ratio agecl / PyTorch for
# each of PyTorch's variants and agecl / the best of them (above 1: agecl is
# faster). The JSON lines stay in DIR (default: a temporary folder, removed at
# the end).
#
# Defaults: build, 3 rounds, preset cpu, batch 16, 3 runs, every OpenCL device.
# Environment: PYTHON (default /usr/bin/python3, Debian's, which has torch).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=build rounds=3 preset=cpu batch=16 runs=3 device="" threads=0 out=""
usage() { sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//; /^set -e/d'; }
while getopts "B:n:p:b:r:d:t:o:h" opt; do
    case $opt in
        B) build=$OPTARG ;;
        n) rounds=$OPTARG ;;
        p) preset=$OPTARG ;;
        b) batch=$OPTARG ;;
        r) runs=$OPTARG ;;
        d) device=$OPTARG ;;
        t) threads=$OPTARG ;;
        o) out=$OPTARG ;;
        h) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done

bench=$build/bench/agecl-bench
python=${PYTHON:-/usr/bin/python3}
[[ -x $bench ]] || { echo "compare.sh: no $bench; build first (ninja -C $build)" >&2; exit 1; }
if [[ -z $out ]]; then
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

jemalloc=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
preload=()
[[ -e $jemalloc ]] && preload=(env "LD_PRELOAD=$jemalloc"
                                "MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1")
device_args=()
[[ -n $device ]] && device_args=(--device "$device")

common=(--preset "$preset" --batch "$batch" --runs "$runs" --only "step,infer" --json)
for ((round = 1; round <= rounds; round++)); do
    echo "compare.sh: round $round of $rounds: agecl" >&2
    "$bench" "${common[@]}" "${device_args[@]}" >> "$out/agecl.jsonl"
    echo "compare.sh: round $round of $rounds: pytorch" >&2
    "${preload[@]}" "$python" "$here/torch_bench.py" "${common[@]}" --device cpu \
        --threads "$threads" >> "$out/torch.jsonl"
done
awk -f "$here/bench_summary.awk" "$out/agecl.jsonl" "$out/torch.jsonl"
