#!/usr/bin/env bash
# 'siamese train' with the training tools: usage errors (exit 2) for bad augmentation specs, P x K
# and mining, schedules; a short AT&T faces run with augmentation, P x K batches, semi-hard mining,
# cosine schedule and validation classes whose loss goes down; bitwise resume; early stopping.
# ctest-label: slow
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

require_data faces att_faces/training
arch="conv(8,k=5,s=2) relu maxpool(2) conv(16,k=3) relu linear(16)"
small=(--arch "$arch" --input 1x56x46 --threads 1 --seed 3 --split classes)

# usage errors name the flag or the term
expect 2 "$cli" train "$faces" -o "$tmp/r" --augment "koch,wobble=1"
grep_err "wobble=1"
expect 2 "$cli" train "$faces" -o "$tmp/r" --augment "rotate=400"
grep_err "rotate=400"
expect 2 "$cli" train "$faces" -o "$tmp/r" --augment "rotate=10,elastic=-1:4"
grep_err "elastic=-1:4"
expect 2 "$cli" train "$faces" -o "$tmp/r" --augment "elastic=nan:4"
grep_err "ALPHA 'nan' is not a finite number"
grep_err "train: --augment 'elastic=nan:4': elastic" # the option named once, no 'augment: augment:'
expect 2 "$cli" train "$faces" -o "$tmp/r" --mining hard
grep_err "sampler pk"
expect 2 "$cli" train "$faces" -o "$tmp/r" --split classes --pk 8x4 --mining hardest
grep_err "hardest"
expect 2 "$cli" train "$faces" -o "$tmp/r" --loss triplet
grep_err "loss triplet needs batches of labelled images"
expect 2 "$cli" train "$faces" -o "$tmp/r" --split classes --pk 8x4 --loss quadruplet
grep_err "unknown --loss 'quadruplet'"
expect 2 "$cli" train "$faces" -o "$tmp/r" --pk 8
grep_err "PxK"
expect 2 "$cli" train "$faces" -o "$tmp/r" --sampler online --pk 8x4
grep_err "sampler pk"
expect 2 "$cli" train "$faces" -o "$tmp/r" --split classes --pk 64x4
grep_err "37 such classes"
# P x K that the whole folder could feed but the training side cannot: a usage error too
expect 2 "$cli" train "$faces" -o "$tmp/r" "${small[@]}" --pk 36x4
grep_err "the training side of .* has only 2[0-9] such classes: lower P or K"
expect 2 "$cli" train "$faces" -o "$tmp/r" "${small[@]}" --pk 24x4 --val-classes 0.25
grep_err "lower P or K"
expect 2 "$cli" train "$faces" -o "$tmp/r" --lr-schedule linear
grep_err "linear"
expect 2 "$cli" train "$faces" -o "$tmp/r" --val-classes 1.5
grep_err "val-classes"
[ -e "$tmp/r" ] && fail "a usage error created the run folder"

# a short run with every tool: the training loss goes down, validation metrics are recorded
tools=(--pk 8x4 --mining semihard --augment koch --lr-schedule cosine --warmup 5 --lr 0.002
    --val-classes 0.25)
expect 0 "$cli" train "$faces" -o "$tmp/run" "${small[@]}" "${tools[@]}" --epochs 6 -q
for kv in '"augment": "koch"' '"mining": "semihard"' '"pk_classes": 8' '"lr_schedule": "cosine"' \
    '"val_fraction": 0.25'; do
    grep -qF "$kv" "$tmp/run/config.json" || fail "config.json lacks $kv"
done
grep -q '"event":"epoch".*"val_auc":0\.' "$tmp/run/metrics.jsonl" || fail "no validation AUC"
losses=$(grep '"event":"epoch"' "$tmp/run/metrics.jsonl" | sed 's/.*"train_loss":\([0-9.e+-]*\).*/\1/')
first=$(echo "$losses" | head -1)
last=$(echo "$losses" | tail -1)
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.6 * a) }' ||
    fail "training loss did not go down: $first -> $last"

# resuming reproduces the uninterrupted run bit for bit (P x K batches and augmentation are
# drawn from the seed, the epoch and the position)
expect 0 "$cli" train "$faces" -o "$tmp/whole" "${small[@]}" "${tools[@]}" --epochs 2 -q
expect 0 "$cli" train "$faces" -o "$tmp/parts" "${small[@]}" "${tools[@]}" --epochs 1 -q
expect 0 "$cli" train --resume "$tmp/parts" --epochs 2 -q
cmp -s "$tmp/whole/model.safetensors" "$tmp/parts/model.safetensors" ||
    fail "resumed run differs from the uninterrupted one"
# and a second fresh run of the same seed repeats the first bit for bit
expect 0 "$cli" train "$faces" -o "$tmp/again" "${small[@]}" "${tools[@]}" --epochs 2 -q
cmp -s "$tmp/whole/model.safetensors" "$tmp/again/model.safetensors" ||
    fail "two fresh runs of one seed differ"

# augmentation is never applied to evaluation: with weights that cannot move (lr 1e-30), runs
# with and without it differ in their training loss only, never in their test or validation pairs
still=("${small[@]}" --pk 8x4 --lr 1e-30 --val-classes 0.25 --epochs 1 -q)
expect 0 "$cli" train "$faces" -o "$tmp/plain" "${still[@]}"
expect 0 "$cli" train "$faces" -o "$tmp/koch" "${still[@]}" --augment koch
field() { grep '"event":"epoch"' "$1/metrics.jsonl" | grep -o "\"$2\":[^,}]*"; }
for f in test_loss test_auc val_auc; do
    [ -n "$(field "$tmp/plain" $f)" ] || fail "metrics.jsonl lacks $f"
    [ "$(field "$tmp/plain" $f)" = "$(field "$tmp/koch" $f)" ] ||
        fail "augmentation changed $f: $(field "$tmp/plain" $f) against $(field "$tmp/koch" $f)"
done
[ "$(field "$tmp/plain" train_loss)" != "$(field "$tmp/koch" train_loss)" ] ||
    fail "--augment koch did not change the training batches"

# the triplet loss: recorded in config.json and kept on resume (bitwise)
triplet=("${small[@]}" --pk 8x4 --mining hard --loss triplet --margin 1 --lr 0.002)
expect 0 "$cli" train "$faces" -o "$tmp/twhole" "${triplet[@]}" --epochs 2 -q
expect 0 "$cli" train "$faces" -o "$tmp/tparts" "${triplet[@]}" --epochs 1 -q
grep -qF '"loss": "triplet"' "$tmp/tparts/config.json" || fail "config.json lacks the triplet loss"
grep -qF '"loss": "contrastive"' "$tmp/parts/config.json" || fail "config.json lacks the loss"
expect 2 "$cli" train --resume "$tmp/tparts" --epochs 2 --loss contrastive --lr 0.1 -q
grep_err "config.json): --lr, --loss cannot change them"
expect 0 "$cli" train --resume "$tmp/tparts" --epochs 2 -q
cmp -s "$tmp/twhole/model.safetensors" "$tmp/tparts/model.safetensors" ||
    fail "resumed triplet run differs from the uninterrupted one"
# a cosine triplet run with the default margin 2 is warned that no triplet's loss reaches zero
expect 0 "$cli" train "$faces" -o "$tmp/tcos" "${triplet[@]}" --metric cosine --margin 2 --epochs 1
grep_err "every triplet's loss stays above zero"
# the report's loss chart says which loss each line is; a contrastive run's says contrastive
expect 0 "$cli" report "$tmp/twhole" -j 1
grep -qF "Triplet loss (training), contrastive loss (test pairs)" "$tmp/twhole/report.html" ||
    fail "report: the triplet run's loss chart is not titled by its losses"
expect 0 "$cli" report "$tmp/whole" -j 1
grep -qF ">Contrastive loss<" "$tmp/whole/report.html" ||
    fail "report: the contrastive run's loss chart is not titled Contrastive loss"

# early stopping: a learning rate too small to change a weight never improves the model
expect 0 "$cli" train "$faces" -o "$tmp/stop" "${small[@]}" --pk 8x4 --lr 1e-30 --patience 2 \
    --val-classes 0.25 --epochs 6
grep_err "early stop after epoch 3"
[ "$(grep -c '"event":"epoch"' "$tmp/stop/metrics.jsonl")" -eq 3 ] || fail "ran past the patience"

finish test_cli_train_tools
