#!/bin/bash
# gpu.sh - agecl and PyTorch on an NVIDIA GPU, on a machine that has the driver
# but none of our Debian packages (bench/gpu_pack.sh packs what it needs).
#
#   bash bench/gpu.sh BUILD LIBS [RESULTS]
#
# BUILD    a meson build folder, or PACK/build (tools/agecl, bench/agecl-bench,
#          libagecl.so.0)
# LIBS     a folder with libOpenCL.so.1 (the ICD loader), libclblast.so.1 and
#          libclFFT.so.2, e.g. PACK/lib
# RESULTS  where agecl.jsonl, agecl-algos.jsonl, torch.jsonl, conv_algos.txt, *.log
#          and summary.txt go (default: a new temporary folder, named at the end)
#
# Steps: find NVIDIA's OpenCL library (libnvidia-opencl.so.1: the ld cache, the
# usual library folders, /usr/local/nvidia), write an ICD file naming it into a
# private OCL_ICD_VENDORS folder (so only that platform is seen), check that the
# binaries load, print `agecl devices`, run agecl-bench on the GPU, then, where
# a Python with CUDA-enabled PyTorch is present, bench/torch_bench.py on the
# same GPU (TF32 off), and end with a table: images/s of the training step and
# of inference, agecl against PyTorch, and their ratio.
#
# Settings (environment), sized so that IR50 fits in 10 minutes on one GPU:
#   GPU_BENCH_PRESET=ir50  GPU_BENCH_BATCH=64  GPU_BENCH_RUNS=3  GPU_BENCH_WARMUP=2
#   GPU_BENCH_ONLY=peak,layers,ops,step,infer   agecl-bench's sections
#   GPU_BENCH_PROFILE=1       add the step's per-kernel device times (--profile)
#   GPU_BENCH_ALGOS=all       last, the layers again under these convolution
#                             algorithms (agecl-bench --algo; "none" skips)
#   GPU_BENCH_DEVICE=gpu      agecl's device selector
#   GPU_BENCH_TIMEOUT=240 GPU_BENCH_TORCH_TIMEOUT=180 GPU_BENCH_ALGOS_TIMEOUT=150
#                             seconds allowed to agecl-bench, PyTorch and the --algo run
#   GPU_BENCH_TORCH_DEVICE=cuda   cuda, or cpu for a dry run; "none" skips PyTorch
#   GPU_BENCH_OPENCL_LIB=     the vendor library, instead of searching for NVIDIA's
#   PYTHON=python3
# A dry run on a machine without a GPU, with PoCL in NVIDIA's place:
#   GPU_BENCH_OPENCL_LIB=/usr/lib/x86_64-linux-gnu/libpocl.so.2 GPU_BENCH_DEVICE=cpu \
#   GPU_BENCH_PRESET=tiny GPU_BENCH_BATCH=4 GPU_BENCH_TORCH_DEVICE=cpu \
#   PYTHON=/usr/bin/python3 bash bench/gpu.sh build build/gpu-pack/lib
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if [[ $# -lt 2 || $# -gt 3 ]]; then
    sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//; /^set -e/d' >&2
    exit 2
fi
build=$(cd "$1" && pwd)
libs=$(cd "$2" && pwd)
results=${3:-$(mktemp -d)}
mkdir -p "$results"
results=$(cd "$results" && pwd)

preset=${GPU_BENCH_PRESET:-ir50}
batch=${GPU_BENCH_BATCH:-64}
runs=${GPU_BENCH_RUNS:-3}
warmup=${GPU_BENCH_WARMUP:-2}
only=${GPU_BENCH_ONLY:-peak,layers,ops,step,infer}
device=${GPU_BENCH_DEVICE:-gpu}
limit=${GPU_BENCH_TIMEOUT:-240}
torch_limit=${GPU_BENCH_TORCH_TIMEOUT:-180}
algos_limit=${GPU_BENCH_ALGOS_TIMEOUT:-150}
torch_device=${GPU_BENCH_TORCH_DEVICE:-cuda}
python=${PYTHON:-python3}
say() { echo "gpu.sh: $*" >&2; }

# The vendor's OpenCL library: the override, else NVIDIA's wherever the driver put it.
find_opencl_lib() {
    if [[ -n ${GPU_BENCH_OPENCL_LIB:-} ]]; then
        echo "$GPU_BENCH_OPENCL_LIB"
        return
    fi
    local name=libnvidia-opencl.so.1 dir found
    found=$( (ldconfig -p 2>/dev/null || true) | awk -v n="$name" '$1 == n { print $NF; exit }')
    if [[ -n $found ]]; then
        echo "$found"
        return
    fi
    for dir in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/nvidia/lib64 \
        /usr/local/nvidia/lib /usr/lib/nvidia /usr/local/cuda/lib64 \
        /run/nvidia/driver/usr/lib/x86_64-linux-gnu; do
        if [[ -e $dir/$name ]]; then
            echo "$dir/$name"
            return
        fi
    done
    find /usr/local/nvidia /usr/lib /usr/lib64 -name "$name*" 2>/dev/null | head -n 1 || true
}

opencl_lib=$(find_opencl_lib)
if [[ -z $opencl_lib || ! -e $opencl_lib ]]; then
    say "no libnvidia-opencl.so.1 found (set GPU_BENCH_OPENCL_LIB to the vendor's OpenCL library)"
    exit 1
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
vendors=$scratch/icd
mkdir -p "$vendors"
echo "$opencl_lib" > "$vendors/agecl-gpu.icd"
export OCL_ICD_VENDORS=$vendors
unset OCL_ICD_FILENAMES
export LD_LIBRARY_PATH=$libs:$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export AGECL_CACHE_DIR=$scratch/program-cache
say "OpenCL vendor library: $opencl_lib (ICD file in $vendors)"

agecl=$build/tools/agecl
bench=$build/bench/agecl-bench
for exe in "$agecl" "$bench"; do
    if [[ ! -x $exe ]]; then
        say "no $exe"
        exit 1
    fi
    if ldd "$exe" | grep -q 'not found'; then
        say "$exe does not load here:"
        ldd "$exe" >&2
        exit 1
    fi
done

if ! "$agecl" devices; then
    say "agecl sees no device through $opencl_lib"
    exit 1
fi
say "agecl-bench: --device $device --preset $preset --batch $batch --runs $runs --only $only"
bench_args=(--device "$device" --preset "$preset" --batch "$batch" --runs "$runs"
    --warmup "$warmup" --only "$only" --json)
[[ ${GPU_BENCH_PROFILE:-1} == 1 ]] && bench_args+=(--profile)
status=0
timeout "$limit" "$bench" "${bench_args[@]}" > "$results/agecl.jsonl" \
    2> >(tee "$results/agecl.log" >&2) || status=$?
if [[ $status -ne 0 ]]; then
    say "agecl-bench ended with status $status (124: over ${limit} s); its results so far are kept"
fi

torch_status=skipped
if [[ $torch_device != none ]]; then
    check="import torch; assert '$torch_device' == 'cpu' or torch.cuda.is_available()"
    if "$python" -c "$check" 2>/dev/null; then
        say "torch_bench.py on $torch_device"
        torch_status=0
        timeout "$torch_limit" "$python" "$here/torch_bench.py" --device "$torch_device" \
            --preset "$preset" --batch "$batch" --runs "$runs" --warmup "$warmup" --json \
            > "$results/torch.jsonl" 2> >(tee "$results/torch.log" >&2) || torch_status=$?
    else
        say "no PyTorch with $torch_device in $python: PyTorch skipped"
    fi
fi

# Every convolution algorithm at every layer, last, so that a slow one cannot cost the
# figures above; a time limit of its own.
algos=${GPU_BENCH_ALGOS:-all}
if [[ $algos != none && ,$only, == *,layers,* ]]; then
    say "agecl-bench: the layers under --algo $algos"
    timeout "$algos_limit" "$bench" --device "$device" --preset "$preset" --batch "$batch" \
        --runs "$runs" --warmup "$warmup" --only layers --algo "$algos" --json \
        > "$results/agecl-algos.jsonl" 2> >(tee "$results/agecl-algos.log" >&2) ||
        say "agecl-bench --algo $algos ended with status $? (its results so far are kept)"
fi

echo
if [[ -s $results/agecl.jsonl ]]; then
    files=("$results/agecl.jsonl")
    [[ -s $results/torch.jsonl ]] && files+=("$results/torch.jsonl")
    awk -f "$here/bench_summary.awk" "${files[@]}" | tee "$results/summary.txt" ||
        say "no training step or inference figures to compare"
fi
# The algorithm measured fastest for each layer and pass on this GPU.
cp "$AGECL_CACHE_DIR/conv_algos.txt" "$results/" 2>/dev/null || true
say "results in $results (agecl-bench status $status, PyTorch $torch_status)"
[[ $status -eq 0 ]]
