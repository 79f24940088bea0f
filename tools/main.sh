#!/usr/bin/env bash
# The main job: install what is missing, build, then train the "cpu" preset on
# UTKFace with the paper's schedule and evaluate the best model on the test split.
#
#   AGECL_UTKFACE   the UTKFace folder (default ../shared/data/utkface)
#   AGECL_EPOCHS    epochs (default 30, the paper's schedule; the rate drops after 10 and 20)
#   AGECL_OUT       output folder (default runs/cpu); a rerun resumes where it stopped
#   AGECL_DEVICE    the OpenCL device (default: the first)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
[ -d build/release ] || meson setup build/release --buildtype=release >/dev/null
ninja -C build/release >/dev/null

data=${AGECL_UTKFACE:-../shared/data/utkface}
out=${AGECL_OUT:-runs/cpu}
epochs=${AGECL_EPOCHS:-30}
if [ ! -d "$data" ]; then
  cat >&2 <<MSG
agecl: no UTKFace folder at $data.
Download the "Aligned&Cropped Faces" release of UTKFace (UTKFace.tar.gz, from the
data set's page by Zhang, Song and Qi), unpack it, and point AGECL_UTKFACE at the
folder of *.jpg.chip.jpg files.
MSG
  exit 1
fi
agecl=build/release/tools/agecl
$agecl devices | head -n 3
mkdir -p "$out"
$agecl train --data "utkface:$data" --preset cpu --epochs "$epochs" --out "$out" \
  --cache "$out/images.cache" --resume
$agecl eval --model "$out/best.safetensors" --data "utkface:$data" --split test
