#!/usr/bin/env bash
# bf16 quality benchmark: the same fixed 300-step training run in fp32 and in bf16, side by side.
#
# usage: bench/bf16_quality.sh [-j THREADS] [--seed N] [--lr RATE] [--keep DIR] IMAGES_DIR [SIAMESE]
#        bench/bf16_quality.sh --fashion [-j ...] FASHION_MNIST_DIR [SIAMESE]
#        bench/bf16_quality.sh --report DIR     (the tables again from a kept DIR)
#   IMAGES_DIR  the Stanford Dogs subset's Images/ (unzip ../shared/data/stanford_dogs_224/*.zip)
#   SIAMESE     the siamese binary (default: build/siamese)
#
# Stanford Dogs: the seed network; recipe sampler with 20 similar + 20 dissimilar pairs per
# breed (4800 pairs), split 50/50 over pairs (2400 train = 75 batches of 32, 2400 test),
# 4 epochs = 300 Adam steps at lr 5e-4 (the recipe's) and margin 2. The test set is that
# large so that an AUC is measured to about +-0.01 (the recipe's 144 test pairs: +-0.05).
# --fashion: the mnist preset on Fashion-MNIST, 9600 online pairs = 300 steps at lr 5e-4,
# 20% of the images held out, 1920 test pairs.
# Prints each epoch's training loss and test ROC AUC for both runs, then the final ones and
# their differences against the targets: loss within 3%, AUC within 0.01.
set -euo pipefail

threads=2
seed=1
lr=0.0005
keep=""
report=""
dataset=dogs
while [[ $# -gt 0 ]]; do
    case "$1" in
        -j) threads="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --lr) lr="$2"; shift 2 ;;
        --keep) keep="$2"; shift 2 ;;
        --report) report="$2"; shift 2 ;;
        --fashion) dataset=fashion; shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done

config_value() {  # $1 = key: its value in the fp32 run's config.json
    sed -nE "s/.*\"$1\": *\"?([^\",]+)\"?,?$/\\1/p" "$work/fp32/config.json" | head -1
}

if [[ -n "$report" ]]; then
    work="$report"
    for p in fp32 bf16; do
        [[ -f "$work/$p/metrics.jsonl" ]] ||
            { echo "bf16_quality: $work/$p/metrics.jsonl: missing" >&2; exit 2; }
    done
    lr=$(config_value learning_rate); seed=$(config_value seed); threads=$(config_value threads)
    [[ "$(config_value arch)" == mnist ]] && dataset=fashion
else
    [[ $# -ge 1 ]] || { echo "bf16_quality: missing the data folder (try --help)" >&2; exit 2; }
    data="$1"
    siamese="${2:-build/siamese}"
    [[ -d "$data" ]] || { echo "bf16_quality: $data: not a folder" >&2; exit 2; }
    [[ -x "$siamese" ]] ||
        { echo "bf16_quality: $siamese: not an executable (build first)" >&2; exit 2; }
    work="${keep:-$(mktemp -d)}"
    [[ -n "$keep" ]] || trap 'rm -rf "$work"' EXIT
    mkdir -p "$work"
fi

if [[ "$dataset" == fashion ]]; then
    run_args=(--arch mnist --sampler online --pairs-per-epoch 9600 --epochs 1 --split images)
    title="mnist preset on Fashion-MNIST"; test_pairs=1920
else
    run_args=(--per-class 20 --train-fraction 0.5 --epochs 4)
    title="seed network on Stanford Dogs"; test_pairs=2400
fi

run_precision() {  # $1 = fp32 | bf16
    local start=$SECONDS
    "$siamese" train "$data" -o "$work/$1" --overwrite --quiet "${run_args[@]}" \
        --seed "$seed" --lr "$lr" -j "$threads" --precision "$1" >"$work/$1.log" 2>&1 ||
        { echo "bf16_quality: the $1 run failed:" >&2; cat "$work/$1.log" >&2; exit 1; }
    echo "$1: $((SECONDS - start)) s" >&2
}

# $1 = precision, $2 = field: prints that field of every epoch, one per line ("type" instead of
# "event" in runs kept from before the shared event serializer)
epoch_values() {
    grep -E '"(event|type)":"epoch"' "$work/$1/metrics.jsonl" | sed -E "s/.*\"$2\":([-0-9.eE+]+).*/\\1/"
}

final_epoch() { epoch_values "$1" "$2" | tail -1; }

print_epochs() {
    echo
    echo "| epoch | fp32 loss | bf16 loss | fp32 AUC | bf16 AUC |"
    echo "|---|---|---|---|---|"
    paste <(epoch_values fp32 train_loss) <(epoch_values bf16 train_loss) \
          <(epoch_values fp32 test_auc) <(epoch_values bf16 test_auc) |
        awk '{ printf "| %d | %.4f | %.4f | %.4f | %.4f |\n", NR, $1, $2, $3, $4 }'
}

if [[ -z "$report" ]]; then
    run_precision fp32
    run_precision bf16
fi
print_epochs

loss32=$(final_epoch fp32 train_loss); loss16=$(final_epoch bf16 train_loss)
auc32=$(final_epoch fp32 test_auc);    auc16=$(final_epoch bf16 test_auc)
awk -v l32="$loss32" -v l16="$loss16" -v a32="$auc32" -v a16="$auc16" -v title="$title" \
    -v seed="$seed" -v threads="$threads" -v lr="$lr" -v n="$test_pairs" 'BEGIN {
    dl = (l16 - l32) / l32 * 100; da = a16 - a32
    printf "\nbf16 quality, %s, 300 steps, lr %g, seed %s, %s threads\n", title, lr, seed, threads
    printf "| | fp32 | bf16 | difference | target |\n|---|---|---|---|---|\n"
    printf "| final training loss | %.4f | %.4f | %+.1f%% | within 3%%: %s |\n", l32, l16, dl,
           (dl <= 3 && dl >= -3) ? "met" : "NOT met"
    printf "| final test ROC AUC (%d pairs) | %.4f | %.4f | %+.4f | within 0.01: %s |\n", n, a32,
           a16, da, (da <= 0.01 && da >= -0.01) ? "met" : "NOT met"
}'
