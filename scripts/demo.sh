#!/usr/bin/env bash
# The demo: installs dependencies, builds, trains a Siamese network on Fashion-MNIST (Debian's
# dataset-fashion-mnist), then checks it on held-out images with `siamese test`, `compare` and
# `eval`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=${DEMO_DIR:-$root/runs/demo}
data=/usr/share/datasets/fashion-mnist
start=$(date +%s)

./scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
siamese=$root/build/siamese

rm -rf "$out"
mkdir -p "$out"
echo "== training on Fashion-MNIST (60000 training images; 20% of them held out) =="
"$siamese" train "$data/train-images-idx3-ubyte.gz" --arch mnist --sampler online \
    --split images --pairs-per-epoch 8000 --epochs 4 --batch 32 --lr 1e-3 --seed 1 \
    -o "$out/run" | tee "$out/train_summary.txt"

echo
echo "== siamese test: the first held-out image against the next five =="
"$siamese" test "$out/run/model.safetensors" "$data/train-images-idx3-ubyte.gz" \
    --png "$out/test_pairs.png"

echo
echo "== siamese compare on images the network never saw (the t10k set) =="
"$siamese" pairs "$data/t10k-images-idx3-ubyte.gz" --per-class 1 --seed 3 \
    --layout recipe -o "$out/unseen" >/dev/null
echo "-- two images of one class:"
"$siamese" compare "$out/run/model.safetensors" "$out/unseen/similar_all_images/similar_0_first.pgm" \
    "$out/unseen/similar_all_images/similar_0_second.pgm" --png "$out/compare_similar.png"
echo "-- two images of different classes:"
"$siamese" compare "$out/run/model.safetensors" "$out/unseen/dissimilar_all_images/dissimilar_0_first.pgm" \
    "$out/unseen/dissimilar_all_images/dissimilar_0_second.pgm" --png "$out/compare_dissimilar.png"

echo
echo "== siamese eval: how often the trained threshold is right on the t10k set =="
"$siamese" eval "$out/run/model.safetensors" "$data/t10k-images-idx3-ubyte.gz" \
    --pairs-per-class 100 | tee "$out/eval.txt"

end=$(date +%s)
echo
echo "== done in $((end - start)) s =="
echo "model:      $out/run/model.safetensors"
echo "loss curve: $out/run/loss.png"
echo "pair grid:  $out/test_pairs.png"
grep "final test" "$out/train_summary.txt"
awk '/accuracy, model thresh/ {print "t10k pairs: accuracy " $4 " " $5 " " $6 " at the trained threshold"}' \
    "$out/eval.txt"
