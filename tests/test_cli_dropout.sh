#!/usr/bin/env bash
# A network with dropout(p) trains through the CLI: the masks follow the step count, so a run
# stopped after 2 epochs and resumed to 4 ends with the model of an uninterrupted 4-epoch run, bit
# for bit; dropout really acts in training (the model differs from the same run with p = 0); a
# bad p is a usage error naming the token and leaves no run behind.
# ctest-label: data
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
require_data mnist mnist

arch() { echo "conv(8,k=3,p=1) relu maxpool(2) flatten linear(64) relu dropout($1) linear(16)"; }
run=(train "$mnist" --input 1x28x28 --sampler online --pairs-per-epoch 320 --split images -j 1
    --seed 3 -q)

expect 0 "$cli" "${run[@]}" --arch "$(arch 0.3)" --epochs 4 -o "$tmp/whole"
expect 0 "$cli" "${run[@]}" --arch "$(arch 0.3)" --epochs 2 -o "$tmp/parts"
expect 0 "$cli" train --resume "$tmp/parts" --epochs 4 -q
cmp -s "$tmp/whole/model.safetensors" "$tmp/parts/model.safetensors" ||
    fail "resumed at epoch 2, the dropout run ends with another model than the whole run"

expect 0 "$cli" "${run[@]}" --arch "$(arch 0)" --epochs 4 -o "$tmp/none"
cmp -s "$tmp/whole/model.safetensors" "$tmp/none/model.safetensors" &&
    fail "dropout(0.3) trained the same model as dropout(0)"

expect 2 "$cli" "${run[@]}" --arch "$(arch 1)" --epochs 1 -o "$tmp/bad"
grep_err "dropout probability"
[ -e "$tmp/bad" ] && fail "a usage error left $tmp/bad behind"

finish test_cli_dropout
