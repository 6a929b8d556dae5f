#!/usr/bin/env bash
# 'siamese train --embedding-dim D --lr-backbone RATE': the head gives D-dim embeddings, both
# settings are kept in config.json, and a resumed run continues with them (the extended run
# equals one trained for the same epochs in one go, byte for byte); bad values are usage errors
# (exit 2), an architecture without a linear head exit 1 with the reason.
# ctest-label: data
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

require_data faces att_faces/training
arch="conv(8,k=5,s=2) bn relu maxpool(2) conv(16,k=3) relu linear(16)"
small=(--arch "$arch" --input 1x56x46 --threads 1 --seed 3 --batch 8 --quiet --embedding-dim 12
    --lr-backbone 1e-5)

expect 0 "$cli" train "$faces" -o "$tmp/two" "${small[@]}" --epochs 2
grep -q '"embedding_dim": 12' "$tmp/two/config.json" || fail "config.json lacks embedding_dim"
grep -q '"learning_rate_backbone": 9.99' "$tmp/two/config.json" ||
    fail "config.json lacks learning_rate_backbone: $(cat "$tmp/two/config.json")"
head -c 4096 "$tmp/two/model.safetensors" | grep -a -q '"embedding_dim":"12"' ||
    fail "the model's embeddings are not 12-dim"

expect 0 "$cli" train "$faces" -o "$tmp/one" "${small[@]}" --epochs 1
cp "$tmp/one/model.safetensors" "$tmp/one_epoch.safetensors"
expect 0 "$cli" train --resume "$tmp/one" --epochs 2 --quiet
cmp -s "$tmp/one/model.safetensors" "$tmp/two/model.safetensors" ||
    fail "resumed run differs from the run trained in one go"

# Without --lr-backbone the same run moves differently (the backbone rate is in effect).
expect 0 "$cli" train "$faces" -o "$tmp/same" --arch "$arch" --input 1x56x46 --threads 1 \
    --seed 3 --batch 8 --quiet --embedding-dim 12 --epochs 1
cmp -s "$tmp/same/model.safetensors" "$tmp/one_epoch.safetensors" &&
    fail "--lr-backbone changed nothing"

expect 2 "$cli" train "$faces" -o "$tmp/bad" "${small[@]}" --embedding-dim 0
grep_err "embedding-dim 0 must be at least 1"
expect 2 "$cli" train "$faces" -o "$tmp/bad" "${small[@]}" --lr-backbone 0
grep_err "lr-backbone must be positive"
expect 2 "$cli" train "$faces" -o "$tmp/bad" --arch "conv(4,k=3) relu maxpool(2)" --input 1x56x46 \
    --threads 1 --epochs 1 --quiet --embedding-dim 8
grep_err "not in a linear head"

finish test_cli_finetune_head
