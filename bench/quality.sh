#!/usr/bin/env bash
# Learning-quality benchmark rows (issue 12): train with a written-down recipe, score with
# 'siamese eval' on data the run never saw, print the seed, the wall times and the number.
#
# usage: bench/quality.sh [--seed N] [-j THREADS] [--epochs N] [--keep DIR] ROW [DATA] [SIAMESE]
#   ROW      att_faces   AT&T faces: train on training/ (37 subjects), verification EER on the
#                        testing/ subjects (every similar pair, as many dissimilar ones); 30 epochs
#            omniglot    Omniglot: train on the 30 background alphabets only, 20-way one-shot
#                        accuracy on Lake's 20 runs (all_runs.zip); 20 epochs
#   DATA     the shared data sets folder (default: $SIAMESE_DATA_DIR, else ../shared/data)
#   SIAMESE  the siamese binary (default: build/siamese)
#
# Rows not written yet (the issue's table): AT&T 5-fold over subjects, MNIST pair accuracy,
# Fashion-MNIST Recall@1, Stanford Dogs AUC.
# Each row ends with a markdown table line: | benchmark | protocol | seed | epochs | train wall
# time | number [95% interval] |. Timings are wall-clock on a machine that may be shared.
set -euo pipefail

seed=1
threads=0
epochs=""
keep=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seed) seed="$2"; shift 2 ;;
        -j) threads="$2"; shift 2 ;;
        --epochs) epochs="$2"; shift 2 ;;
        --keep) keep="$2"; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done
[[ $# -ge 1 ]] || { echo "quality: name a row (try --help)" >&2; exit 2; }
row="$1"
data="${2:-${SIAMESE_DATA_DIR:-../shared/data}}"
siamese="${3:-build/siamese}"
[[ -x "$siamese" ]] || { echo "quality: $siamese: not an executable (build first)" >&2; exit 2; }
work="${keep:-$(mktemp -d)}"
[[ -n "$keep" ]] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"

# json_number FILE PATH...: the number at a path of keys in a one-line JSON object.
json_number() {
    /usr/bin/python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v = v[k]
print(v)' "$@"
}

# timed NAME CMD...: runs CMD, keeps its wall time in seconds in $work/NAME.seconds.
timed() {
    local name=$1; shift
    local t0; t0=$(date +%s.%N)
    "$@"
    echo "$(date +%s.%N) - $t0" | bc >"$work/$name.seconds"
}

att_faces() {
    local faces="$data/att_faces"
    epochs=${epochs:-30}
    [[ -d "$faces/training" && -d "$faces/testing" ]] ||
        { echo "quality: $faces/training and testing/ missing" >&2; exit 2; }
    local train=("$siamese" train "$faces/training" -o "$work/att_faces" --overwrite -q
        --arch faces --split classes --train-fraction 0.9 --val-classes 0.15
        --pk 8x4 --mining semihard
        --augment "rotate=10,scale=0.9:1.1,translate=4,flip,brightness=0.2,contrast=0.2"
        --lr 0.001 --lr-schedule cosine --warmup 20 --epochs "$epochs"
        --seed "$seed" -j "$threads")
    local eval=("$siamese" eval "$work/att_faces/best.safetensors" "$faces/testing" --all-pairs
        --json -q --seed "$seed" -j "$threads")
    echo "train: ${train[*]}"
    timed train "${train[@]}"
    echo "eval:  ${eval[*]}"
    timed eval "${eval[@]}" >"$work/att_faces.eval.json"
    local j="$work/att_faces.eval.json"
    printf 'row att_faces  seed %s  epochs %s  train %.0f s  eval %.1f s  CPU %s\n' "$seed" \
        "$epochs" "$(cat "$work/train.seconds")" "$(cat "$work/eval.seconds")" \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    printf '  verification on testing/ (%s pairs): EER %.4f [%.4f, %.4f], ROC AUC %.4f\n' \
        "$(json_number "$j" verification pairs)" "$(json_number "$j" verification eer value)" \
        "$(json_number "$j" verification eer low)" "$(json_number "$j" verification eer high)" \
        "$(json_number "$j" verification auc value)"
    printf '| AT&T faces | EER on testing/ (%s pairs) | %s | %s | %.0f s | %.4f [%.4f, %.4f] |\n' \
        "$(json_number "$j" verification pairs)" "$seed" "$epochs" "$(cat "$work/train.seconds")" \
        "$(json_number "$j" verification eer value)" "$(json_number "$j" verification eer low)" \
        "$(json_number "$j" verification eer high)"
}

omniglot() {
    local zips="$data/omniglot" dir="$work/omniglot"
    epochs=${epochs:-20}
    [[ -f "$zips/images_background.zip" && -f "$zips/all_runs.zip" ]] ||
        { echo "quality: $zips/images_background.zip and all_runs.zip missing" >&2; exit 2; }
    mkdir -p "$dir/runs"
    unzip -q -o "$zips/images_background.zip" -d "$dir"
    unzip -q -o "$zips/all_runs.zip" -d "$dir/runs"
    local train=("$siamese" train "$dir/images_background" -o "$work/omniglot_run" --overwrite -q
        --arch omniglot --split classes --train-fraction 0.95 --val-classes 0.1
        --pk 32x4 --mining semihard --augment koch
        --lr 0.001 --lr-schedule cosine --warmup 200 --epochs "$epochs"
        --seed "$seed" -j "$threads")
    local eval=("$siamese" eval "$work/omniglot_run/best.safetensors" "$dir/runs" --json -q
        -j "$threads")
    echo "train: ${train[*]}"
    timed train "${train[@]}"
    echo "eval:  ${eval[*]}"
    timed eval "${eval[@]}" >"$work/omniglot.eval.json"
    local j="$work/omniglot.eval.json"
    printf 'row omniglot  seed %s  epochs %s  train %.0f s  eval %.1f s  CPU %s\n' "$seed" \
        "$epochs" "$(cat "$work/train.seconds")" "$(cat "$work/eval.seconds")" \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    printf '  Lake 20-way one-shot, 20 runs: %s of %s correct, accuracy %.4f\n' \
        "$(json_number "$j" oneshot_runs correct)" "$(json_number "$j" oneshot_runs total)" \
        "$(json_number "$j" oneshot_runs accuracy)"
    printf '| Omniglot | 20-way one-shot, Lake runs (%s trials) | %s | %s | %.0f s | %.4f |\n' \
        "$(json_number "$j" oneshot_runs total)" "$seed" "$epochs" \
        "$(cat "$work/train.seconds")" "$(json_number "$j" oneshot_runs accuracy)"
}

case "$row" in
    att_faces) att_faces ;;
    omniglot) omniglot ;;
    *) echo "quality: unknown row '$row' (rows: att_faces, omniglot)" >&2; exit 2 ;;
esac
