#!/usr/bin/env bash
# The main job: install what is missing, build, train an age model from scratch on
# UTKFace with the "scratch" recipe (docs/recipes.md), then print the test split's
# metrics. The recipe was chosen on the validation split; the job's model then
# trains on the training and validation splits together (--train-on train+val, a
# third more faces; in the learning curve of docs/recipes.md, half the training
# faces cost 0.97 years of validation MAE) and keeps its last epoch; the test split
# stays untouched.
#
#   AGECL_PRESET    quick (default: the "cpu" model, about an hour on 2 cores) or
#                   quality (the "cpu-large" model, about 4 hours on 2 cores, and the
#                   quick job's model, reused from runs/main when it is there; the
#                   test split is that of their ensemble, the mean of both)
#   AGECL_UTKFACE   the UTKFace folder (default ../shared/data/utkface)
#   AGECL_EPOCHS    epochs of the job's model (default 28 quick / 30 quality: on
#                   train+val, the steps of the 40 epochs of the training split
#                   alone that the quality job ran until session 13)
#   AGECL_OUT       its folder (default runs/main or runs/quality); a rerun resumes
#   AGECL_DEVICE    the OpenCL device (default: the first)
set -euo pipefail
cd "$(dirname "$0")/.."
job=${AGECL_PRESET:-quick}
case "$job" in
  quick) preset=cpu; epochs=28; out=runs/main ;;
  quality) preset=cpu-large; epochs=30; out=runs/quality ;;
  *) echo "agecl: AGECL_PRESET is quick or quality, not '$job'" >&2; exit 2 ;;
esac
epochs=${AGECL_EPOCHS:-$epochs}
out=${AGECL_OUT:-$out}
data=${AGECL_UTKFACE:-../shared/data/utkface}
if [ ! -d "$data" ]; then
  cat >&2 <<MSG
agecl: no UTKFace folder at $data.
Download the "Aligned&Cropped Faces" release of UTKFace (UTKFace.tar.gz, from the
data set's page by Zhang, Song and Qi), unpack it, and point AGECL_UTKFACE at the
folder of *.jpg.chip.jpg files.
MSG
  exit 1
fi
tools/deps.sh
[ -d build/release ] || meson setup build/release --buildtype=release >/dev/null
ninja -C build/release >/dev/null

agecl=build/release/tools/agecl
$agecl devices | head -n 3
# train PRESET EPOCHS FOLDER: a model from scratch (resuming what FOLDER holds)
train() {
  mkdir -p "$3"
  echo "agecl: the $job job: preset $1, recipe scratch, $2 epochs, into $3" >&2
  $agecl train --data "utkface:$data" --preset "$1" --recipe scratch --epochs "$2" \
    --train-on train+val --out "$3" --cache "$3/images.cache" --resume --no-test
}
train "$preset" "$epochs" "$out"
models=(--model "$out/best.safetensors")
if [ "$job" = quality ]; then
  train cpu 28 runs/main
  models+=(--model runs/main/best.safetensors)
fi
echo "test split, the last epoch's model${models[2]:+s (their ensemble)}: ${models[*]}"
$agecl eval "${models[@]}" --data "utkface:$data" --split test
