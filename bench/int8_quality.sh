#!/usr/bin/env bash
# int8 quality benchmark (issue 17): a model scored in fp32 and in int8 on the same pairs by
# bench_int8: ROC AUC of both (target: within 0.005) and verdicts changed (target: < 1% of pairs).
#
# usage: bench/int8_quality.sh [--fashion-model M] [--dogs-model M] [--keep DIR] [-j THREADS]
#                              [--skip-fashion] [--skip-dogs] [--skip-faces] [BUILD_DIR]
#   BUILD_DIR  holds siamese and bench_int8 (default: build)
# Fashion-MNIST (Debian's dataset-fashion-mnist, else ../shared/data/fashion_mnist): the demo's
# model (scripts/demo.sh: mnist preset, 4 epochs of 8000 online pairs on the training images, seed
# 1), unless --fashion-model gives one; calibrated on 256 training images; scored on 10,000 pairs
# of the t10k images (500 similar + 500 dissimilar per class, seed 1), none seen in training.
# Stanford Dogs (../shared/data/stanford_dogs_224, unzipped into the work folder): the seed
# network trained 1 epoch on 20 + 20 pairs per breed with half of the pairs held out (75 steps),
# unless --dogs-model gives one; calibrated on 256 images; scored on the run's 2400 test pairs
# (a given model: 4 + 4 pairs per breed over all images, seed 7).
# AT&T faces (../shared/data/att_faces; face-api's package from scripts/deps.sh --face-api, or
# SIAMESE_FACEAPI_DIR): face-api's network with its aligner (siamese import face-api --align), its
# threshold calibrated in fp32 at the EER on 10 + 10 pairs per training/ subject, calibrated for
# int8 on 256 training/ photos (aligned chips); scored on 45 + 45 pairs of each of the 40
# subjects (training/ and testing/; seed 0), then on testing/'s 3 subjects alone (photos neither
# calibration saw); the network without its aligner (photos stretched to 150x150) likewise on the
# 40 subjects. Embedding CPU seconds are of the network on the chips (the aligner, fp32, not
# counted).
# Prints the CPU and the load average with the numbers (the machine may be shared).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2
keep=""
fashion_model=""
dogs_model=""
do_fashion=1
do_dogs=1
do_faces=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        -j) threads="$2"; shift 2 ;;
        --keep) keep="$2"; shift 2 ;;
        --fashion-model) fashion_model="$2"; shift 2 ;;
        --dogs-model) dogs_model="$2"; shift 2 ;;
        --skip-fashion) do_fashion=0; shift ;;
        --skip-dogs) do_dogs=0; shift ;;
        --skip-faces) do_faces=0; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "int8_quality: unknown option $1 (try --help)" >&2; exit 2 ;;
        *) break ;;
    esac
done
build="${1:-build}"
siamese="$build/siamese"
bench="$build/bench_int8"
for exe in "$siamese" "$bench"; do
    [[ -x "$exe" ]] || { echo "int8_quality: $exe: not an executable (build first)" >&2; exit 2; }
done
data_dir=${SIAMESE_DATA_DIR:-../shared/data}
work="${keep:-$(mktemp -d)}"
[[ -n "$keep" ]] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores;" \
    "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# $1 = name, $2 = model, $3 = calibration data, then bench_int8's data and options
score() {
    local name=$1 model=$2 calib=$3
    shift 3
    "$siamese" quantize "$model" "$calib" -o "$work/$name-int8.safetensors" -j "$threads" -q ||
        { echo "int8_quality: quantize of $model failed" >&2; exit 1; }
    echo "== $name: $model, calibrated on 256 images of $calib"
    "$bench" "$work/$name-int8.safetensors" "$@" -j "$threads"
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

if [[ $do_fashion -eq 1 ]]; then
    fashion=/usr/share/datasets/fashion-mnist
    [[ -d $fashion ]] || fashion=$data_dir/fashion_mnist
    [[ -d $fashion ]] || { echo "int8_quality: no Fashion-MNIST (dataset-fashion-mnist)" >&2; exit 2; }
    if [[ -z "$fashion_model" ]]; then
        "$siamese" train "$fashion/train-images-idx3-ubyte.gz" --arch mnist --sampler online \
            --split images --pairs-per-epoch 8000 --epochs 4 --batch 32 --lr 1e-3 --seed 1 \
            -j "$threads" -q -o "$work/fashion" >"$work/fashion.log" 2>&1 ||
            { echo "int8_quality: the Fashion-MNIST run failed:" >&2; cat "$work/fashion.log" >&2; exit 1; }
        fashion_model=$work/fashion/model.safetensors
    fi
    score fashion "$fashion_model" "$fashion/train-images-idx3-ubyte.gz" \
        "$fashion/t10k-images-idx3-ubyte.gz" --per-class 500 --seed 1
fi

if [[ $do_dogs -eq 1 ]]; then
    zip=$(ls "$data_dir"/stanford_dogs_224/*.zip 2>/dev/null | head -1)
    [[ -n "$zip" ]] || { echo "int8_quality: no Stanford Dogs zip in $data_dir/stanford_dogs_224" >&2; exit 2; }
    [[ -d "$work/dogs/Images" ]] || { mkdir -p "$work/dogs" && unzip -q "$zip" -d "$work/dogs"; }
    images=$work/dogs/Images
    if [[ -z "$dogs_model" ]]; then
        "$siamese" train "$images" --per-class 20 --train-fraction 0.5 --epochs 1 --seed 1 \
            --precision fp32 -j "$threads" -q -o "$work/dogs_run" >"$work/dogs.log" 2>&1 ||
            { echo "int8_quality: the Stanford Dogs run failed:" >&2; cat "$work/dogs.log" >&2; exit 1; }
        score dogs "$work/dogs_run/model.safetensors" "$images" "$images" \
            --split "$work/dogs_run/split.json"
    else
        score dogs "$dogs_model" "$images" "$images" --per-class 4 --seed 7
    fi
fi

if [[ $do_faces -eq 1 ]]; then
    att=$data_dir/att_faces
    faceapi=${SIAMESE_FACEAPI_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/siamese/npm/face-api}
    [[ -d $att/training ]] || { echo "int8_quality: no AT&T faces in $att" >&2; exit 2; }
    [[ -f $faceapi/face_recognition_model-weights_manifest.json ]] ||
        { echo "int8_quality: no face-api package in $faceapi (scripts/deps.sh --face-api)" >&2; exit 2; }
    "$siamese" import face-api "$faceapi" --align -o "$work/faces.safetensors" >/dev/null
    "$siamese" import face-api "$faceapi" -o "$work/faces_unaligned.safetensors" >/dev/null
    for name in faces faces_unaligned; do
        "$siamese" calibrate "$work/$name.safetensors" "$att/training" -o "$work/$name.safetensors" \
            --target eer --precision fp32 -j "$threads" -q
        score "$name" "$work/$name.safetensors" "$att/training" "$att" --per-class 45 --seed 0
    done
    echo "== faces: testing/ only (3 subjects)"
    "$bench" "$work/faces-int8.safetensors" "$att/testing" --per-class 45 --seed 0 -j "$threads"
fi
