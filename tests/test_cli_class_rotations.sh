#!/usr/bin/env bash
# 'siamese train --class-rotations': usage errors (exit 2) for a count other than 1, 2, 4 and for
# samplers without classes; a short run with quarter-turned classes says so, keeps the count in
# config.json, differs from the run without it, and resumes bit for bit; a non-square input is
# refused.
# ctest-label: slow
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

require_data faces att_faces/training
arch="conv(8,k=5,s=2) relu maxpool(2) conv(16,k=3) relu linear(16)"
small=(--arch "$arch" --input 1x40x40 --threads 1 --seed 3 --split classes --pk 8x4
    --mining semihard -q)

expect 2 "$cli" train "$faces" -o "$tmp/r" --pk 8x4 --class-rotations 3
grep_err "class-rotations 3"
expect 2 "$cli" train "$faces" -o "$tmp/r" --class-rotations 4
grep_err "pk"
[ -e "$tmp/r" ] && fail "a usage error created the run folder"
"$cli" train --help | grep -q -- "--class-rotations" || fail "--help lacks --class-rotations"

expect 0 "$cli" train "$faces" -o "$tmp/turned" "${small[@]}" --class-rotations 4 --epochs 2 \
    --json
grep -q "turned by 90, 180 and 270 degrees" "$tmp/out" || fail "the run does not say it turns"
grep -qF '"class_rotations": 4' "$tmp/turned/config.json" || fail "config.json lacks the count"
expect 0 "$cli" train "$faces" -o "$tmp/plain" "${small[@]}" --epochs 2
cmp -s "$tmp/turned/model.safetensors" "$tmp/plain/model.safetensors" &&
    fail "--class-rotations 4 changed nothing"
grep -qF '"class_rotations": 0' "$tmp/plain/config.json" || fail "config.json: no rotations wanted"

# resuming keeps the rotations: the same model as the uninterrupted run
expect 0 "$cli" train "$faces" -o "$tmp/parts" "${small[@]}" --class-rotations 4 --epochs 1
expect 0 "$cli" train --resume "$tmp/parts" --epochs 2 -q
cmp -s "$tmp/turned/model.safetensors" "$tmp/parts/model.safetensors" ||
    fail "the resumed run differs from the uninterrupted one"

# half turns keep any shape; quarter turns need a square input
expect 0 "$cli" train "$faces" -o "$tmp/half" "${small[@]}" --input 1x56x46 --class-rotations 2 \
    --epochs 1
expect 2 "$cli" train "$faces" -o "$tmp/oblong" "${small[@]}" --input 1x56x46 \
    --class-rotations 4 --epochs 1
grep_err "square"

finish test_cli_class_rotations
