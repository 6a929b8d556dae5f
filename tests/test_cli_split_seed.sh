#!/usr/bin/env bash
# 'siamese train --split-seed': runs of different --seed on one --split-seed hold out the same
# images (split.json) and the same validation pairs, and still train differently; without it the
# seed draws the split. config.json keeps it, and --resume cannot change it.
# ctest-label: data
source "$(dirname "$0")/cli_lib.sh"
require_data faces att_faces/training

arch="conv(8,k=5,s=2) relu maxpool(2) conv(16,k=3) relu linear(16)"
common=(--arch "$arch" --input 1x56x46 --threads 1 --epochs 1 --split images --pk 4x2
    --val-classes 0.2 -q)

# train NAME OPTION...: a one-epoch run into $tmp/NAME
train() {
    local name=$1
    shift
    expect 0 "$cli" train "$faces" -o "$tmp/$name" "${common[@]}" "$@"
}

train seed1 --seed 1
train seed2_split1 --seed 2 --split-seed 1
train seed2 --seed 2
cmp -s "$tmp/seed1/split.json" "$tmp/seed2_split1/split.json" ||
    fail "--seed 2 --split-seed 1 split the data unlike --seed 1"
cmp -s "$tmp/seed1/split.json" "$tmp/seed2/split.json" && fail "--seed 2 split the data as --seed 1"
cmp -s "$tmp/seed1/model.safetensors" "$tmp/seed2_split1/model.safetensors" &&
    fail "--split-seed made the training of another seed the same"
grep -q '"split_seed": *1\b' "$tmp/seed2_split1/config.json" ||
    fail "config.json lacks split_seed 1: $(cat "$tmp/seed2_split1/config.json")"

# the validation pairs: the same weights (seed 1's, a learning rate too small to move them)
# scored after one epoch give the same validation AUC only on the same pairs
val_auc() { grep '"event":"epoch"' "$tmp/$1/metrics.jsonl" | grep -o '"val_auc":[0-9.e-]*'; }
still=(--init "$tmp/seed1/model.safetensors" --lr 1e-30)
train still1 --seed 1 "${still[@]}"
train still2_split1 --seed 2 --split-seed 1 "${still[@]}"
train still2 --seed 2 "${still[@]}"
[ -n "$(val_auc still1)" ] || fail "no validation AUC in metrics.jsonl"
[ "$(val_auc still1)" = "$(val_auc still2_split1)" ] ||
    fail "the same weights scored $(val_auc still1) and $(val_auc still2_split1) on one split"
[ "$(val_auc still1)" != "$(val_auc still2)" ] ||
    fail "--seed 2 validated on seed 1's validation pairs"

# --resume takes the split from the run; a new --split-seed is refused
expect 2 "$cli" train --resume "$tmp/seed2_split1" --split-seed 5
grep_err "split-seed"
expect 0 "$cli" train --resume "$tmp/seed2_split1" --epochs 2 -q
cmp -s "$tmp/seed1/split.json" "$tmp/seed2_split1/split.json" || fail "--resume changed the split"

finish test_cli_split_seed
