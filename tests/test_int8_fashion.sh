#!/usr/bin/env bash
# int8 on real data: the mnist preset trained briefly on Fashion-MNIST's t10k images, quantised
# on 256 of them, keeps its ROC AUC on 2000 pairs within 0.01 of fp32's in 'siamese eval'
# (bench/int8_quality.sh measures the full demo model against the 0.005 target).
# ctest-label: data
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
require_data fashion fashion_mnist/t10k-images-idx3-ubyte.gz
cd "$tmp"
expect 0 "$cli" train "$fashion" --arch mnist --sampler online --split images \
    --pairs-per-epoch 3200 --epochs 1 --batch 32 --lr 1e-3 --seed 1 -j 2 -q -o run
[ -f run/model.safetensors ] || { fail "no model: $(cat "$tmp/err")"; finish test_int8_fashion; }
expect 0 "$cli" quantize run/model.safetensors "$fashion" -o q.st -j 2
grep_err "calibrated on 256 images"
auc() { grep -o '"auc":{"value":[0-9.]*' "$tmp/out" | grep -o '[0-9.]*$'; }
expect 0 "$cli" eval q.st "$fashion" --pairs-per-class 100 -b 0 -q --json --precision fp32 -j 2
a32=$(auc)
expect 0 "$cli" eval q.st "$fashion" --pairs-per-class 100 -b 0 -q --json --precision int8 -j 2
a8=$(auc)
echo "ROC AUC fp32 $a32, int8 $a8"
awk -v a="$a32" -v b="$a8" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0.8 && d <= 0.01) }' ||
    fail "int8 AUC $a8 is not within 0.01 of fp32's $a32 (or fp32's is below 0.8)"
finish test_int8_fashion
