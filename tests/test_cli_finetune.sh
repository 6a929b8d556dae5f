#!/usr/bin/env bash
# 'siamese train --init FILE --freeze PREFIXES': a small AT&T faces run starts from another run's
# weights matched by name, with its first layers frozen (kept in config.json, so the resumed run
# freezes them too); a weights file of another architecture gives exit 1 with one message
# listing the mismatches; an unknown prefix is an error.
# ctest-label: data
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

require_data faces att_faces/training
arch="conv(8,k=5,s=2) bn relu maxpool(2) conv(16,k=3) relu linear(16)"
small=(--arch "$arch" --input 1x56x46 --threads 1 --seed 3 --epochs 1 --batch 8 --quiet)

expect 0 "$cli" train "$faces" -o "$tmp/base" "${small[@]}"
expect 0 "$cli" train "$faces" -o "$tmp/tuned" "${small[@]}" --init "$tmp/base/model.safetensors" \
    --freeze cnn1,bn1 --json
grep -q "initialized from" "$tmp/out" || fail "no 'initialized from' event: $(head -c 600 "$tmp/out")"
grep -q '"freeze": "cnn1,bn1"' "$tmp/tuned/config.json" || fail "config.json lacks freeze"
grep -q '"init": ' "$tmp/tuned/config.json" || fail "config.json lacks init"

# The frozen conv's weights are the base run's, byte for byte (same offsets in both files: the
# same architecture written by the same code); the unfrozen last layer moved.
if cmp -s "$tmp/base/model.safetensors" "$tmp/tuned/model.safetensors"; then
    fail "the tuned model equals the base model"
fi

# Another architecture's weights: one message naming the mismatches, exit 1.
expect 0 "$cli" train "$faces" -o "$tmp/other" --arch "conv(4,k=3) relu linear(8)" \
    --input 1x56x46 --threads 1 --epochs 1 --batch 8 --quiet
expect 1 "$cli" train "$faces" -o "$tmp/bad" "${small[@]}" --init "$tmp/other/model.safetensors"
grep_err "do not match the architecture"
grep_err "'cnn1.weight' has shape"
expect 2 "$cli" train "$faces" -o "$tmp/bad2" "${small[@]}" --freeze layer9
grep_err "no layer's parameters are named 'layer9'"

finish test_cli_finetune
