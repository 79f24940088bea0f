#!/bin/bash
# gpu_pack.sh - pack what bench/gpu.sh needs on a GPU machine that has an NVIDIA
# driver but none of our Debian packages.
#
#   bench/gpu_pack.sh [BUILD] [PACK]        (defaults: build, BUILD/gpu-pack)
#
# Run it here, after `ninja -C BUILD`. It downloads Debian's ICD loader, CLBlast
# and clFFT (apt-get download ocl-icd-libopencl1 libclblast1 libclfft2), unpacks
# them with dpkg -x and keeps only their shared objects, under their sonames, so
# that the pack holds plain files (no links):
#   PACK/lib/     libOpenCL.so.1  libclblast.so.1  libclFFT.so.2
#   PACK/build/   tools/agecl  bench/agecl-bench  libagecl.so.0   (a meson build
#                 folder's layout: agecl finds libagecl through $ORIGIN/..)
#   PACK/bench/   gpu.sh  torch_bench.py  bench_summary.awk
#   PACK/tools/torch/ir_model.py                 (what torch_bench.py imports)
# About 6 MB. PACK is then self-contained; on the GPU machine:
#   bash PACK/bench/gpu.sh PACK/build PACK/lib [RESULTS]
#
# Carrying it: copy the folder (scp -r, rsync, a tarball) to the GPU machine. In
# this project's device sessions, PACK sits inside the ignored build folder, so
# name it in the run tool's carry list and pass $OUT as RESULTS:
#   carry: ["build-bench/gpu-pack"]
#   command: bash bench/gpu.sh build-bench/gpu-pack/build build-bench/gpu-pack/lib "$OUT"
# The binaries need glibc 2.34 or newer and the libstdc++ of GCC 11 or newer
# (GLIBCXX_3.4.29, for CLBlast): Debian 12, Ubuntu 22.04, RHEL 9 and later;
# gpu.sh checks that they load before running them.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-build}
pack=${2:-$build/gpu-pack}
for f in tools/agecl bench/agecl-bench libagecl.so.0; do
    if [[ ! -e $build/$f ]]; then
        echo "gpu_pack.sh: no $build/$f; build first (ninja -C $build)" >&2
        exit 1
    fi
done

rm -rf "$pack"
mkdir -p "$pack/lib" "$pack/build/tools" "$pack/build/bench" "$pack/bench" "$pack/tools/torch"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "gpu_pack.sh: downloading ocl-icd-libopencl1 libclblast1 libclfft2" >&2
(cd "$work" && apt-get -q -o APT::Sandbox::User=root download ocl-icd-libopencl1 libclblast1 \
    libclfft2)
for deb in "$work"/*.deb; do
    dpkg -x "$deb" "$work/root"
done
multiarch=$work/root/usr/lib/x86_64-linux-gnu
for so in libOpenCL.so.1 libclblast.so.1 libclFFT.so.2; do
    cp -L "$multiarch/$so" "$pack/lib/$so"
done

cp -L "$build/tools/agecl" "$pack/build/tools/"
cp -L "$build/bench/agecl-bench" "$pack/build/bench/"
cp -L "$build/libagecl.so.0" "$pack/build/"
cp "$here/gpu.sh" "$here/torch_bench.py" "$here/bench_summary.awk" "$pack/bench/"
cp "$root/tools/torch/ir_model.py" "$pack/tools/torch/"
du -sh "$pack" >&2
echo "gpu_pack.sh: packed into $pack; on the GPU machine:" >&2
echo "  bash $pack/bench/gpu.sh $pack/build $pack/lib [RESULTS]" >&2
