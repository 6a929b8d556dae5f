#!/usr/bin/env bash
# 'siamese train --val-groups': usage errors exit 2 naming the flag; a dataset without group
# folders exits 1 naming the reason; a short run on DATA/GROUP/CLASS/ folders holds out whole
# groups, names them, and keeps the setting in config.json.
# ctest-label: data
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

require_data faces att_faces/training
arch="conv(4,k=5,s=2) relu maxpool(2) linear(8)"
small=(--arch "$arch" --input 1x28x23 --threads 1 --seed 3 --split classes --pk 4x2)

expect 2 "$cli" train "$faces" -o "$tmp/r" --split classes --val-groups 1.5
grep_err "val-groups"
expect 2 "$cli" train "$faces" -o "$tmp/r" --split classes --val-groups -2
grep_err "val-groups"
expect 2 "$cli" train "$faces" -o "$tmp/r" --split classes --val-groups 2 --val-classes 0.2
grep_err "val-classes"
[ -e "$tmp/r" ] && fail "a usage error created the run folder"

# AT&T's subjects are classes without group folders
expect 2 "$cli" train "$faces" -o "$tmp/flat" "${small[@]}" --val-groups 1 --epochs 1 -q
grep_err "not inside a group folder"

# three groups of subjects (links to the shared images): one group held out whole
mkdir -p "$tmp/grouped/alpha" "$tmp/grouped/beta" "$tmp/grouped/gamma"
i=0
for s in "$faces"/*/; do
    g=(alpha beta gamma)
    ln -s "${s%/}" "$tmp/grouped/${g[$((i % 3))]}/$(basename "$s")"
    i=$((i + 1))
done
expect 0 "$cli" train "$tmp/grouped" -o "$tmp/run" "${small[@]}" --val-groups 1 --epochs 1
grep -q "validation: [0-9]* pairs of held-out classes (groups \(alpha\|beta\|gamma\))" \
    "$tmp/out" "$tmp/err" || fail "the held-out group is not named: $(cat "$tmp/out" "$tmp/err")"
grep -qF '"val_groups": 1' "$tmp/run/config.json" || fail "config.json lacks val_groups"
grep -q '"event":"epoch".*"val_auc":[0-9]' "$tmp/run/metrics.jsonl" || fail "no validation AUC"

finish test_cli_val_groups
