#!/usr/bin/env bash
# 'siamese train --val-metric oneshot --val-way N': usage errors exit 2 naming the flag; too
# few validation classes for N-way exits 1 (the data) naming the reason; a short run on
# DATA/GROUP/CLASS/ folders scores N-way one-shot accuracy on the held-out group after every
# epoch (metrics.jsonl "val_oneshot", the same numbers in a second run with the same seed), says
# so, and keeps val_way in config.json, so a resumed run scores like one trained in one go.
# ctest-label: data
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

require_data faces att_faces/training
arch="conv(4,k=5,s=2) relu maxpool(2) linear(8)"
small=(--arch "$arch" --input 1x28x23 --threads 1 --seed 3 --split classes --pk 4x2)

expect 2 "$cli" train "$faces" -o "$tmp/r" --split classes --val-groups 1 --val-metric f1
grep_err "val-metric"
expect 2 "$cli" train "$faces" -o "$tmp/r" --split classes --val-metric oneshot
grep_err "val-groups"
expect 2 "$cli" train "$faces" -o "$tmp/r" --split classes --val-groups 1 --val-metric oneshot \
    --val-way 1
grep_err "val-way"
[ -e "$tmp/r" ] && fail "a usage error created the run folder"

# three groups of subjects (links to the shared images): one group held out whole
mkdir -p "$tmp/grouped/alpha" "$tmp/grouped/beta" "$tmp/grouped/gamma"
i=0
for s in "$faces"/*/; do
    g=(alpha beta gamma)
    ln -s "${s%/}" "$tmp/grouped/${g[$((i % 3))]}/$(basename "$s")"
    i=$((i + 1))
done
oneshot=(--val-groups 1 --val-metric oneshot)
expect 2 "$cli" train "$tmp/grouped" -o "$tmp/few" "${small[@]}" "${oneshot[@]}" --val-way 40 \
    --epochs 1 -q
grep_err "40-way one-shot validation needs 40 validation classes"

for r in run1 run2; do
    expect 0 "$cli" train "$tmp/grouped" -o "$tmp/$r" "${small[@]}" "${oneshot[@]}" --val-way 5 \
        --epochs 2
done
grep -q "chosen by 5-way one-shot within 1 group" "$tmp/out" "$tmp/err" ||
    fail "the one-shot validation is not described: $(cat "$tmp/out" "$tmp/err")"
grep -qF '"val_way": 5' "$tmp/run1/config.json" || fail "config.json lacks val_way"
[ "$(grep -c '"event":"epoch".*"val_oneshot":[01]' "$tmp/run1/metrics.jsonl")" = 2 ] ||
    fail "not 2 epochs with a one-shot accuracy: $(cat "$tmp/run1/metrics.jsonl")"
a=$(grep -o '"val_oneshot":[^,]*' "$tmp/run1/metrics.jsonl")
b=$(grep -o '"val_oneshot":[^,]*' "$tmp/run2/metrics.jsonl")
[ "$a" = "$b" ] || fail "the same seed gave other one-shot scores: $a vs $b"
grep -q "one-shot" "$tmp/err" || fail "the epoch line lacks the one-shot accuracy"

# resumed for a third epoch: config.json keeps --val-way, the epoch scores as in one go
expect 0 "$cli" train "$tmp/grouped" -o "$tmp/run3" "${small[@]}" "${oneshot[@]}" --val-way 5 \
    --epochs 3 -q
expect 0 "$cli" train --resume "$tmp/run1" --epochs 3 -q
a=$(grep -o '"val_oneshot":[^,]*' "$tmp/run1/metrics.jsonl" | sed -n 3p)
b=$(grep -o '"val_oneshot":[^,]*' "$tmp/run3/metrics.jsonl" | sed -n 3p)
[ -n "$a" ] && [ "$a" = "$b" ] || fail "resumed epoch 3 scored '$a', in one go '$b'"

finish test_cli_val_oneshot
