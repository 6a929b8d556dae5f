#!/usr/bin/env bash
# Learning-quality benchmark rows (issue 12): train with a written-down recipe, score with
# 'siamese eval' on data the run never saw, print the seed, the wall times and the number.
#
# usage: bench/quality.sh [--seed N] [--split-seed N] [-j THREADS] [--epochs N] [--keep DIR] ROW
#                         [DATA] [SIAMESE]
#   --split-seed N  train with --split-seed N: the row's held-out data drawn from N, its training
#                   from --seed (runs of several seeds on one split: ensembles, seed spreads)
#   ROW      att_faces   AT&T faces: train on training/ (37 subjects), verification EER on the
#                        testing/ subjects (every similar pair, as many dissimilar ones); 100
#                        epochs, the att_faces_5fold row's recipe
#            omniglot    Omniglot: train on the 30 background alphabets only (5 of them held
#                        out whole as validation; their 20-way one-shot accuracy picks the
#                        best epoch), 20-way one-shot accuracy on the validation alphabets and
#                        on Lake's 20 runs (all_runs.zip); 40 epochs, each background
#                        character also turned by 90, 180 and 270 degrees as classes of
#                        their own (OMNIGLOT_ROTATIONS, default 4: train --class-rotations;
#                        1 = none); OMNIGLOT_ARCH (default the omniglot preset) is the
#                        network, for candidates on validation
#            att_faces_5fold  AT&T faces, 5 folds over the 40 subjects: train on 32, EER on
#                        the other 8 (all similar pairs, as many dissimilar); the mean and
#                        each fold's; 100 epochs per fold; ATT_STAGE=validate scores 8 of
#                        each fold's training subjects instead (trained on the other 24) for
#                        candidates, ATT_ARCH ATT_INPUT ATT_AUGMENT ATT_MINING ATT_SELECT
#                        ATT_ARGS name them (see the row's function)
#            mnist       MNIST: train on train10k, pair accuracy on t10k pairs at the threshold
#                        chosen on held-out train10k images; 40 epochs, Euclidean
#                        distance, margin 2; MNIST_AUGMENT
#                        (default the row's) is the augmentation, MNIST_ARCH the network and
#                        MNIST_WEIGHT_DECAY Adam's weight decay (default none), MNIST_ARGS
#                        more train options (e.g. "--lr 0.0005", appended;
#                        a later option wins), for candidates on validation
#            mnist_ensemble  MNIST as an ensemble recipe: the mnist row trained with three
#                        seeds (MNIST_ENSEMBLE_SEEDS, default --seed and the next two) on one
#                        split (--split-seed, default --seed), joined by 'siamese ensemble',
#                        its threshold chosen by 'siamese calibrate' on the shared held-out
#                        train10k images (1,000 similar and 1,000 dissimilar pairs a digit,
#                        drawn by --seed), pair accuracy on t10k pairs drawn by --seed; each
#                        member's own row is printed too (its work folder: member_SEED)
#            fashion_mnist  Fashion-MNIST: train on the 60k, Recall@1 on t10k (retrieval);
#                        30 epochs; FASHION_ARCH, FASHION_AUGMENT (default the row's) and
#                        FASHION_ARGS (more train options, appended) for candidates on
#                        validation
#            dogs        Stanford Dogs: train on 100 breeds, ROC AUC on pairs of the other 20;
#                        the seed recipe (--epochs, default 1) beside a from-scratch P x K
#                        recipe (DOGS_EPOCHS, default 8) of about the same CPU time
#            all         every row above but mnist_ensemble in turn, then their table lines
#                        again as one markdown table (hours on a shared 2-core machine)
#   DATA     the shared data sets folder (default: $SIAMESE_DATA_DIR, else ../shared/data)
#   SIAMESE  the siamese binary (default: build/siamese)
#
# Each row ends with a markdown table line: | benchmark | protocol | seed | epochs | train wall
# time | number [95% interval] |. Timings are wall-clock on a machine that may be shared (the
# newer rows also print the training's CPU seconds and the load average).
set -euo pipefail

seed=1
threads=0
epochs=""
keep=""
split_args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seed) seed="$2"; shift 2 ;;
        -j) threads="$2"; shift 2 ;;
        --epochs) epochs="$2"; shift 2 ;;
        --keep) keep="$2"; shift 2 ;;
        --split-seed) split_args=(--split-seed "$2"); shift 2 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
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

# AT&T faces on the shared split: the att_faces_5fold row's recipe (chosen on its folds'
# validation subjects, bench/README.md "Fourth pass"): the faces preset with a 64-d embedding,
# weight decay 5e-4, 100 epochs, the last epoch's model (att_arch: see att_faces_5fold).
att_faces() {
    local faces="$data/att_faces"
    epochs=${epochs:-100}
    [[ -d "$faces/training" && -d "$faces/testing" ]] ||
        { echo "quality: $faces/training and testing/ missing" >&2; exit 2; }
    local train=("$siamese" train "$faces/training" -o "$work/att_faces" --overwrite -q
        --arch "$att_arch" --input 1x112x92 --weight-decay 5e-4
        --split classes --train-fraction 0.95 --pk 8x4 --mining semihard
        --augment "rotate=10,scale=0.9:1.1,translate=4,flip,brightness=0.2,contrast=0.2"
        --lr 0.001 --lr-schedule cosine --warmup 20 --epochs "$epochs"
        --seed "$seed" "${split_args[@]}" -j "$threads")
    local eval=("$siamese" eval "$work/att_faces/model.safetensors" "$faces/testing" --all-pairs
        --json -q --precision fp32 --seed "$seed" -j "$threads")
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
    local zips="$data/omniglot" dir="$work/omniglot" run="$work/omniglot_run"
    # 40 epochs of quarter-turned classes: chosen on the validation alphabets over 30 epochs
    # without turns (bench/README.md, "Fourth pass on Omniglot")
    epochs=${epochs:-40}
    [[ -f "$zips/images_background.zip" && -f "$zips/all_runs.zip" ]] ||
        { echo "quality: $zips/images_background.zip and all_runs.zip missing" >&2; exit 2; }
    mkdir -p "$dir/runs"
    unzip -q -o "$zips/images_background.zip" -d "$dir"
    unzip -q -o "$zips/all_runs.zip" -d "$dir/runs"
    # 5 of the 30 alphabets held out whole (validation: their 20-way one-shot accuracy, episodes
    # within one alphabet as in Lake's runs, picks best.safetensors); 5% of the characters of the
    # other 25 held out as the run's test classes; the rest trains
    local train=("$siamese" train "$dir/images_background" -o "$run" --overwrite --json
        --arch "${OMNIGLOT_ARCH:-omniglot}" --input 1x52x52
        --split classes --train-fraction 0.95 --val-groups 5
        --val-metric oneshot --val-way 20 --pk 32x4 --mining semihard --augment koch
        --lr 0.001 --lr-schedule cosine --warmup 100 --epochs "$epochs"
        --seed "$seed" "${split_args[@]}" -j "$threads")
    train+=(--class-rotations "${OMNIGLOT_ROTATIONS:-4}")
    local eval=("$siamese" eval "$run/best.safetensors" "$dir/runs" --json -q --precision fp32
        -j "$threads")
    local load_start
    load_start=$(load)
    echo "start: $(machine)"
    echo "train: ${train[*]}"
    timed_cpu train "${train[@]}" >"$work/omniglot.train.jsonl"
    # the validation alphabets, as the run named them; 20-way one-shot among their characters
    local groups
    groups=$(/usr/bin/python3 -c 'import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line).get("message", "")
    at = m.find("(groups ")
    if at < 0: continue
    depth, i = 1, at + 8
    while depth: depth += {"(": 1, ")": -1}.get(m[i], 0); i += 1
    print(m[at + 8:i - 1]); break' "$work/omniglot.train.jsonl")
    local val_dirs=() g
    while IFS= read -r g; do val_dirs+=("$dir/images_background/$g"); done < <(echo "$groups" |
        sed 's/, /\n/g')
    link_classes "$dir/validation" "${val_dirs[@]}"
    local val=("$siamese" eval "$run/best.safetensors" "$dir/validation" --protocol fewshot
        --way 20 --shot 1 --episodes 1000 --seed "$seed" --json -q --precision fp32
        -j "$threads")
    echo "validation: ${val[*]}"
    "${val[@]}" >"$work/omniglot.val.json"
    echo "eval:  ${eval[*]}"
    timed eval "${eval[@]}" >"$work/omniglot.eval.json"
    local j="$work/omniglot.eval.json" lake
    lake=$(/usr/bin/python3 -c 'import json, math, sys
r = json.load(open(sys.argv[1]))["oneshot_runs"]
n, k, z = r["total"], r["correct"], 1.959964
p = k / n; d = 1 + z * z / n; c = (p + z * z / (2 * n)) / d
h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
print("%.4f [%.4f, %.4f]" % (p, c - h, c + h))' "$j")
    printf 'row omniglot  seed %s  epochs %s  train %s  eval %.1f s  %s\n' "$seed" "$epochs" \
        "$(cat "$work/train.times")" "$(cat "$work/eval.seconds")" "$(machine)"
    printf '  validation (alphabets %s): best epoch %s; best.safetensors 20-way one-shot' "$groups" \
        "$(/usr/bin/python3 -c 'import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if "\"event\":\"epoch\"" in l]
b = max(e, key=lambda x: x["val_oneshot"])
print("%d: within-alphabet 20-way one-shot %.4f, ROC AUC %.4f" % (b["epoch"], b["val_oneshot"], b["val_auc"]))' \
            "$run/metrics.jsonl")"
    printf ' among all their characters %s\n' "$(interval "$work/omniglot.val.json" fewshot accuracy)"
    printf '  within-alphabet 20-way one-shot after each epoch: %s\n' "$(/usr/bin/python3 -c '
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if "\"event\":\"epoch\"" in l]
print(" ".join("%d:%.4f" % (x["epoch"], x["val_oneshot"]) for x in e))' "$run/metrics.jsonl")"
    printf '  Lake 20-way one-shot, 20 runs: %s of %s correct, accuracy %s (Wilson 95%%)\n' \
        "$(json_number "$j" oneshot_runs correct)" "$(json_number "$j" oneshot_runs total)" "$lake"
    printf '| Omniglot | 20-way one-shot, Lake runs (%s trials) | %s | %s | %s (-j %s; load %s at the start, %s at the end) | %s |\n' \
        "$(json_number "$j" oneshot_runs total)" "$seed" "$epochs" "$(cat "$work/train.times")" \
        "$threads" "$load_start" "$(load)" "$lake"
}

# --- rows: AT&T 5-fold, MNIST, Fashion-MNIST, Stanford Dogs ---------------------------------

# machine: the CPU's model name and the load average now (the machine may be shared).
machine() {
    printf 'CPU %s, load average %s' \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
}

# timed_cpu NAME CMD...: runs CMD; "W s wall, C s CPU" (C: user + system time of CMD) in
# $work/NAME.times and the wall seconds in $work/NAME.seconds. On a shared machine the CPU time
# is the steadier of the two.
timed_cpu() {
    local name=$1; shift
    local t0 t1
    times >"$work/$name.cpu0" # 'times' in this shell, not a subshell: its children's CPU
    t0=$(date +%s.%N)
    "$@"
    t1=$(date +%s.%N)
    times >"$work/$name.cpu1"
    echo "$t1 - $t0" | bc >"$work/$name.seconds"
    echo "$(children_cpu "$work/$name.cpu1") - $(children_cpu "$work/$name.cpu0")" | bc \
        >"$work/$name.cpu"
    printf '%.0f s wall, %.0f s CPU' "$(echo "$t1 - $t0" | bc)" "$(cat "$work/$name.cpu")" \
        >"$work/$name.times"
}

# load: the load averages now (1, 5 and 15 minutes).
load() { cut -d' ' -f1-3 /proc/loadavg; }

# children_cpu FILE: user + system seconds of the finished children in the output of 'times'.
children_cpu() {
    /usr/bin/python3 -c 'import re, sys
line = open(sys.argv[1]).read().splitlines()[-1]
print(sum(float(m) * 60 + float(s) for m, s in re.findall(r"(\d+)m([\d.]+)s", line)))' "$1"
}

# interval FILE PATH...: "value [low, high]" of an interval object in siamese eval's JSON.
interval() {
    local f=$1; shift
    /usr/bin/python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v = v[k]
print("%.4f [%.4f, %.4f]" % (v["value"], v["low"], v["high"]))' "$f" "$@"
}

# best_epoch RUN: "epoch E of N, validation ROC AUC A[, accuracy C]": the epoch best.safetensors
# kept (the highest validation ROC AUC, then the lowest loss, as the trainer picks), from the
# run's metrics.jsonl (validation classes' val_auc, else the held-out images' test_auc).
best_epoch() {
    /usr/bin/python3 -c 'import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if "\"event\":\"epoch\"" in l]
key, loss = ("val_auc", "val_loss") if "val_auc" in e[0] else ("test_auc", "test_loss")
b = max(e, key=lambda x: (x[key], -x[loss]))
s = "epoch %d of %d, validation ROC AUC %.5f" % (b["epoch"], len(e), b[key])
print(s + (", accuracy %.4f" % b["test_accuracy"] if key == "test_auc" else ""))' "$1/metrics.jsonl"
}

# heldout RUN IMAGES DEST: the run's held-out images of an IDX set (split.json) as class folders.
heldout() {
    rm -rf "$3"
    /usr/bin/python3 "$(dirname "$0")/heldout_images.py" "$1/split.json" "$2" "$3"
}

# link_classes DEST SRC...: DEST/<name> -> SRC for each class folder SRC (a view of some classes).
link_classes() {
    local dest=$1; shift
    rm -rf "$dest"
    mkdir -p "$dest"
    local c
    for c in "$@"; do ln -s "$(cd "$c" && pwd)" "$dest/$(basename "$c")"; done
}

# AT&T faces, 5 folds over the 40 subjects (s1..s40 in number order; fold k holds out
# s8k+1..s8k+8): each fold trains on the other 32 (5% of them the run's own test classes) for
# 100 epochs and scores the last epoch's model by EER on its 8 subjects. The fourth pass
# (bench/README.md) chose the last epoch over best.safetensors picked by 6 of the training
# subjects (mean validation EER 0.0917 against 0.1228 on 8 held-out training subjects a fold),
# then the faces preset with a 64-d embedding and Adam's L2 weight decay 5e-4 (the mean over
# seeds 1 and 2 of the validation EER 0.0861 against 0.0986 for the preset without it).
att_arch="conv(32,k=5,s=2) bn relu maxpool(2) conv(64,k=3,p=1) bn relu maxpool(2) conv(128,k=3,p=1)\
 bn relu maxpool(2) flatten linear(256) relu linear(64)"
# Candidates (bench/README.md, "Fourth pass"): ATT_STAGE=validate draws 8 of each fold's 32
# training subjects (seeded, never the fold's test subjects) as validation subjects, trains on
# the other 24 and scores those 8 the way the test subjects are scored (every similar pair, as
# many dissimilar ones); the fold's test subjects are then not used at all. The recipe's parts:
# ATT_ARCH (network, default $att_arch), ATT_INPUT (--input, default 1x112x92),
# ATT_WEIGHT_DECAY (default 5e-4; 0 for none),
# ATT_AUGMENT (default the row's), ATT_MINING (default semihard), ATT_SELECT (last: no
# trainer validation, the last epoch's model.safetensors is scored, the default since the fourth
# pass; val: 20% of the training subjects held out by the trainer pick best.safetensors, as
# before), ATT_ARGS (more train
# options, e.g. "--weight-decay 5e-4 --metric cosine --margin 0.5"), ATT_SUBJECTS (validate
# stage: train on N of the 24 subjects, 10 <= N <= 24, 2 of them the trainer's test classes
# as with all 24, for a learning curve; give --epochs 2400/N for the row's number of steps).
att_faces_5fold() {
    local faces="$data/att_faces" dir="$work/att5"
    epochs=${epochs:-100}
    local stage=${ATT_STAGE:-test} select=${ATT_SELECT:-last} arch=${ATT_ARCH:-$att_arch}
    local augment=${ATT_AUGMENT:-rotate=10,scale=0.9:1.1,translate=4,flip,brightness=0.2,contrast=0.2}
    local recipe=(--arch "$arch" --pk 8x4 --mining "${ATT_MINING:-semihard}" --augment "$augment")
    recipe+=(--input "${ATT_INPUT:-1x112x92}" --weight-decay "${ATT_WEIGHT_DECAY:-5e-4}")
    recipe+=(--lr 0.001 --lr-schedule cosine --warmup 20)
    # ATT_ARGS comes last so that its options override the recipe's (--lr, --margin, --pk, ...)
    # shellcheck disable=SC2206 # ATT_ARGS is a list of options, split on purpose
    [[ -n "${ATT_ARGS:-}" ]] && recipe+=($ATT_ARGS)
    case "$select" in
        val) recipe+=(--val-classes 0.2 --per-class 20) ;;
        last) ;;
        *) echo "quality: ATT_SELECT is val or last, not '$select'" >&2; exit 2 ;;
    esac
    [[ "$stage" == test || "$stage" == validate ]] ||
        { echo "quality: ATT_STAGE is test or validate, not '$stage'" >&2; exit 2; }
    [[ -z "${ATT_SUBJECTS:-}" || ("$stage" == validate && "$ATT_SUBJECTS" =~ ^[0-9]+$ &&
        "$ATT_SUBJECTS" -ge 10 && "$ATT_SUBJECTS" -le 24) ]] ||
        { echo "quality: ATT_SUBJECTS (10 to 24 training subjects) needs ATT_STAGE=validate" >&2
          exit 2; }
    local model=best.safetensors
    [[ "$select" == last ]] && model=model.safetensors
    [[ -d "$faces/training" && -d "$faces/testing" ]] ||
        { echo "quality: $faces/training and testing/ missing" >&2; exit 2; }
    local subjects=() n s k f
    for n in $(seq 1 40); do
        for s in "$faces/training/s$n" "$faces/testing/s$n"; do
            [[ -d "$s" ]] && subjects+=("$s")
        done
    done
    [[ ${#subjects[@]} -eq 40 ]] || { echo "quality: $faces: want s1..s40" >&2; exit 2; }
    echo "start: $(machine)  stage $stage  recipe ${recipe[*]}"
    for k in 0 1 2 3 4; do
        f="$dir/fold$k"
        local pool=("${subjects[@]:0:$((8 * k))}" "${subjects[@]:$((8 * k + 8))}")
        local held=("${subjects[@]:$((8 * k)):8}") name="test"
        if [[ "$stage" == validate ]]; then
            # 8 of the fold's 32 training subjects, drawn from the seed (--split-seed when
            # given, so that runs of several seeds share them) and the fold
            mapfile -t pool < <(/usr/bin/python3 -c 'import random, sys
s = sys.argv[2:]
random.Random("att5-%s-%s" % (sys.argv[1], len(s))).shuffle(s)
print("\n".join(s))' "${split_args[1]:-$seed}-$k" "${pool[@]}")
            held=("${pool[@]:0:8}") pool=("${pool[@]:8}") name="validation"
            # ATT_SUBJECTS=N trains on the first N of the (shuffled) 24 only: a learning curve
            [[ -n "${ATT_SUBJECTS:-}" ]] && pool=("${pool[@]:0:$ATT_SUBJECTS}")
        fi
        link_classes "$f/train" "${pool[@]}"
        link_classes "$f/test" "${held[@]}"
        # the trainer keeps 2 of the subjects as its own test classes (int(0.95 x 24) = 22
        # train); with ATT_SUBJECTS=N, (N - 1.5) / N keeps 2 as well
        local fraction=0.95
        [[ -n "${ATT_SUBJECTS:-}" ]] && fraction=$(/usr/bin/python3 -c "print(($ATT_SUBJECTS - 1.5) / $ATT_SUBJECTS)")
        local train=("$siamese" train "$f/train" -o "$f/run" --overwrite -q
            --split classes --train-fraction "$fraction" --epochs "$epochs" "${recipe[@]}"
            --seed "$seed" "${split_args[@]}" -j "$threads")
        local eval=("$siamese" eval "$f/run/$model" "$f/test" --all-pairs --json -q
            --precision fp32 --seed "$seed" -j "$threads")
        echo "fold $k: $name subjects $(for s in "${held[@]}"; do basename "$s"; done | paste -sd' '); ${#pool[@]} training subjects"
        echo "  train: ${train[*]}"
        timed_cpu "fold$k" "${train[@]}"
        echo "  eval:  ${eval[*]}"
        "${eval[@]}" >"$f/eval.json"
        printf '  fold %d: train %s; best.safetensors = %s; %s %s pairs: EER %s, ROC AUC %.4f\n' \
            "$k" "$(cat "$work/fold$k.times")" "$(best_epoch "$f/run")" "$name" \
            "$(json_number "$f/eval.json" verification pairs)" \
            "$(interval "$f/eval.json" verification eer)" \
            "$(json_number "$f/eval.json" verification auc value)"
    done
    # the mean over the folds; its interval joins the folds' bootstrap intervals as normal ones
    # (standard error (high - low) / 3.92 each, the folds independent)
    local mean folds wall cpu auc
    mean=$(/usr/bin/python3 -c 'import json, sys, math
e = [json.load(open(p))["verification"]["eer"] for p in sys.argv[1:]]
m = sum(x["value"] for x in e) / len(e)
se = math.sqrt(sum(((x["high"] - x["low"]) / 3.92) ** 2 for x in e)) / len(e)
print("%.4f [%.4f, %.4f]" % (m, max(0, m - 1.96 * se), m + 1.96 * se))' "$dir"/fold?/eval.json)
    auc=$(/usr/bin/python3 -c 'import json, sys
a = [json.load(open(p))["verification"]["auc"]["value"] for p in sys.argv[1:]]
print("%.4f" % (sum(a) / len(a)))' "$dir"/fold?/eval.json)
    folds=$(for k in 0 1 2 3 4; do printf '%.4f ' "$(json_number "$dir/fold$k/eval.json" \
        verification eer value)"; done)
    wall=$(cat "$work"/fold?.seconds | paste -sd+ | bc)
    cpu=$(cat "$work"/fold?.cpu | paste -sd+ | bc)
    printf 'row att_faces_5fold  stage %s  seed %s  epochs %s  train %.0f s wall, %.0f s CPU (5 folds)  end: %s\n' \
        "$stage" "$seed" "$epochs" "$wall" "$cpu" "$(machine)"
    if [[ "$stage" == validate ]]; then
        printf '  validation: mean EER over the 5 folds %s, mean ROC AUC %s; per fold %s\n' \
            "$mean" "$auc" "$folds"
        printf '| %s | %s | %s | %.0f s wall, %.0f s CPU (load %s) | %s | %s |\n' "${recipe[*]}" \
            "$seed" "$epochs" "$wall" "$cpu" "$(load)" "$mean" "$auc"
        return
    fi
    printf '  mean EER over the 5 folds %s; per fold %s\n' "$mean" "$folds"
    printf '| AT&T faces 5-fold | mean EER, 8 unseen subjects per fold (720 pairs each); folds %s| %s | %s | %.0f s wall, %.0f s CPU (load %s) | %s |\n' \
        "$folds" "$seed" "$epochs" "$wall" "$cpu" "$(load)" "$mean"
}

# The VGG-like network of the MNIST and Fashion-MNIST rows (MNIST_ARCH, FASHION_ARCH replace it
# for candidates on validation).
vgg_arch="conv(32,k=3,p=1) bn relu conv(32,k=3,p=1) bn relu maxpool(2) conv(64,k=3,p=1) bn \
relu conv(64,k=3,p=1) bn relu maxpool(2) flatten linear(256) relu linear(64)"

# MNIST: a VGG-like network (conv 32, 32, pool, conv 64, 64, pool, linear 256, 64-d) on the
# shared train10k, 10% of its images held out: their pairs set the decision threshold the model
# file carries. The last epoch's model is scored (model.safetensors: on the held-out images it
# beat best.safetensors, whose ROC AUC choice saturates at 1.0000 mid-run); accuracy on t10k
# pairs (1000 similar and 1000 dissimilar per digit) at that threshold, by siamese eval. The
# contrastive loss on the Euclidean distance with margin 2: the sixth pass's rule (bench/README.md)
# kept it against the cosine distance with margin 1 of the fifth pass (132 errors in 2 x 20,000
# held-out pairs, seeds 1 and 2, against 110), dropout in the head and elastic distortions;
# MNIST_ARGS="--metric cosine --margin 1" is the fifth pass's row.
mnist() {
    local idx="$data/mnist" run="$work/mnist_run"
    epochs=${epochs:-40}
    [[ -f "$idx/train10k-images-idx3-ubyte.gz" && -f "$idx/t10k-images-idx3-ubyte.gz" ]] ||
        { echo "quality: $idx/train10k- and t10k-images-idx3-ubyte.gz missing" >&2; exit 2; }
    local train=("$siamese" train "$idx/train10k-images-idx3-ubyte.gz" -o "$run" --overwrite -q
        --arch "${MNIST_ARCH:-$vgg_arch}" --input 1x28x28
        --split images --train-fraction 0.9 --per-class 250
        --pk 10x8 --mining semihard --augment "${MNIST_AUGMENT:-rotate=10,scale=0.9:1.1,translate=2}"
        --lr 0.001 --lr-schedule cosine --warmup 50 --epochs "$epochs"
        --metric euclidean --margin 2
        ${MNIST_WEIGHT_DECAY:+--weight-decay "$MNIST_WEIGHT_DECAY"}
        --seed "$seed" "${split_args[@]}" -j "$threads")
    # shellcheck disable=SC2206 # MNIST_ARGS is a list of options, split on purpose
    [[ -n "${MNIST_ARGS:-}" ]] && train+=($MNIST_ARGS)
    local eval=("$siamese" eval "$run/model.safetensors" "$idx/t10k-images-idx3-ubyte.gz"
        --pairs-per-class 1000 --json -q --precision fp32 --seed "$seed" -j "$threads")
    echo "start: $(machine)"
    echo "train: ${train[*]}"
    timed_cpu mnist "${train[@]}"
    heldout "$run" "$idx/train10k-images-idx3-ubyte.gz" "$work/mnist_val"
    "$siamese" eval "$run/model.safetensors" "$work/mnist_val" --pairs-per-class 1000 --json -q \
        --precision fp32 --seed "$seed" -j "$threads" >"$work/mnist.val.json"
    echo "eval:  ${eval[*]}"
    "${eval[@]}" >"$work/mnist.eval.json"
    local j="$work/mnist.eval.json" v="$work/mnist.val.json"
    printf 'row mnist  seed %s  epochs %s  train %s  end: %s\n' "$seed" "$epochs" \
        "$(cat "$work/mnist.times")" "$(machine)"
    printf '  validation: best.safetensors = %s (not scored); the last epoch on the held-out images (%s pairs): ROC AUC %.5f, accuracy %.4f at their best threshold\n' \
        "$(best_epoch "$run")" "$(json_number "$v" verification pairs)" \
        "$(json_number "$v" verification auc value)" \
        "$(json_number "$v" verification accuracy_best value)"
    printf '  t10k pairs (%s): accuracy %s at the threshold %.4f chosen on held-out train10k images (at the best threshold for t10k itself: %s); ROC AUC %.4f\n' \
        "$(json_number "$j" verification pairs)" "$(interval "$j" verification accuracy_model)" \
        "$(json_number "$j" verification model_threshold)" \
        "$(interval "$j" verification accuracy_best)" "$(json_number "$j" verification auc value)"
    printf '| MNIST | pair accuracy on t10k (%s pairs), threshold from validation | %s | %s | %s (load %s) | %s |\n' \
        "$(json_number "$j" verification pairs)" "$seed" "$epochs" "$(cat "$work/mnist.times")" \
        "$(load)" "$(interval "$j" verification accuracy_model)"
}

# MNIST as an ensemble recipe (issue 12, tenth pass in bench/README.md): the mnist row's recipe
# trained with three seeds on one split, so that the held-out images are the same for all three
# and pick the ensemble's threshold. The members' rows are the mnist row's, each in its folder.
mnist_ensemble() {
    local members=() s top="$work" split="${split_args[1]:-$seed}" row_seed="$seed"
    # shellcheck disable=SC2206 # a list of seeds, split on purpose
    local seeds=(${MNIST_ENSEMBLE_SEEDS:-$seed $((seed + 1)) $((seed + 2))})
    split_args=(--split-seed "$split")
    for s in "${seeds[@]}"; do
        echo "== member: seed $s, split seed $split"
        work="$top/member_$s" seed="$s"
        mkdir -p "$work"
        mnist
        members+=("$work/mnist_run/model.safetensors")
    done
    work="$top" seed="$row_seed"
    local e="$work/ensemble.safetensors" j="$work/mnist_ensemble.eval.json"
    local held_out="$top/member_${seeds[0]}/mnist_val"
    "$siamese" ensemble -q "${members[@]}" -o "$e"
    "$siamese" calibrate "$e" "$held_out" --pairs-per-class 1000 --seed "$seed" --precision fp32 \
        -j "$threads" -o "$e"
    "$siamese" eval "$e" "$data/mnist/t10k-images-idx3-ubyte.gz" --pairs-per-class 1000 --json -q \
        --precision fp32 --seed "$seed" -j "$threads" >"$j"
    local wall=0 cpu=0
    for s in "${seeds[@]}"; do
        wall=$(echo "$wall + $(cat "$top/member_$s/mnist.seconds")" | bc)
        cpu=$(echo "$cpu + $(cat "$top/member_$s/mnist.cpu")" | bc)
    done
    printf 'row mnist_ensemble  seeds %s  split seed %s  end: %s\n' "${seeds[*]}" "$split" \
        "$(machine)"
    printf '  t10k pairs (%s): accuracy %s at the threshold %.4f calibrated on the held-out train10k images (at the best threshold for t10k itself: %s); ROC AUC %.4f\n' \
        "$(json_number "$j" verification pairs)" "$(interval "$j" verification accuracy_model)" \
        "$(json_number "$j" verification model_threshold)" \
        "$(interval "$j" verification accuracy_best)" "$(json_number "$j" verification auc value)"
    printf '| MNIST | pair accuracy on t10k (%s pairs), threshold from validation: an ensemble of %d | %s (split %s) | %s | %.0f s wall, %.0f s CPU: the members summed | %s |\n' \
        "$(json_number "$j" verification pairs)" "${#seeds[@]}" "${seeds[*]}" "$split" \
        "${epochs}" "$wall" "$cpu" "$(interval "$j" verification accuracy_model)"
}

# Fashion-MNIST: the VGG-like network of the MNIST row on the 60k training images (5% held out:
# their pairs pick best.safetensors, their Recall@1 is printed); Recall@1 on t10k, every image a
# query against the other 9,999. 30 epochs: the held-out images preferred them to 20 (Recall@1
# 0.9193 against 0.9146, validation ROC AUC 0.98994 against 0.98880; bench/README.md, fifth
# pass), as they preferred 20 to 10 (0.9146 against 0.9043, 0.98880 against 0.98649).
fashion_mnist() {
    local idx="$data/fashion_mnist" run="$work/fashion_run"
    [[ -f "$idx/train-images-idx3-ubyte.gz" ]] || idx=/usr/share/datasets/fashion-mnist
    epochs=${epochs:-30}
    [[ -f "$idx/train-images-idx3-ubyte.gz" && -f "$idx/t10k-images-idx3-ubyte.gz" ]] ||
        { echo "quality: $data/fashion_mnist (or /usr/share/datasets/fashion-mnist) missing" >&2
          exit 2; }
    local train=("$siamese" train "$idx/train-images-idx3-ubyte.gz" -o "$run" --overwrite -q
        --arch "${FASHION_ARCH:-$vgg_arch}" --input 1x28x28
        --split images --train-fraction 0.95 --per-class 150
        --pk 10x8 --mining semihard --augment "${FASHION_AUGMENT:-flip,translate=2}"
        --lr 0.001 --lr-schedule cosine --warmup 100 --epochs "$epochs"
        --seed "$seed" "${split_args[@]}" -j "$threads")
    # shellcheck disable=SC2206 # FASHION_ARGS is a list of options, split on purpose
    [[ -n "${FASHION_ARGS:-}" ]] && train+=($FASHION_ARGS)
    local eval=("$siamese" eval "$run/best.safetensors" "$idx/t10k-images-idx3-ubyte.gz"
        --protocol retrieval --json -q --precision fp32 --seed "$seed" -j "$threads")
    echo "start: $(machine)"
    echo "train: ${train[*]}"
    timed_cpu fashion "${train[@]}"
    heldout "$run" "$idx/train-images-idx3-ubyte.gz" "$work/fashion_val"
    "$siamese" eval "$run/best.safetensors" "$work/fashion_val" --protocol retrieval --json -q \
        --precision fp32 --seed "$seed" -j "$threads" >"$work/fashion.val.json"
    echo "eval:  ${eval[*]}"
    "${eval[@]}" >"$work/fashion.eval.json"
    local j="$work/fashion.eval.json" v="$work/fashion.val.json"
    printf 'row fashion_mnist  seed %s  epochs %s  train %s  end: %s\n' "$seed" "$epochs" \
        "$(cat "$work/fashion.times")" "$(machine)"
    printf '  validation: best.safetensors = %s; held-out images (%s queries): Recall@1 %.4f\n' \
        "$(best_epoch "$run")" "$(json_number "$v" retrieval queries)" \
        "$(json_number "$v" retrieval recall_at_1 value)"
    printf '  t10k retrieval (%s queries): Recall@1 %s, Recall@5 %s, MAP@R %.4f\n' \
        "$(json_number "$j" retrieval queries)" "$(interval "$j" retrieval recall_at_1)" \
        "$(interval "$j" retrieval recall_at_5)" "$(json_number "$j" retrieval map_at_r value)"
    printf '| Fashion-MNIST | Recall@1 on t10k (%s queries) | %s | %s | %s (load %s) | %s |\n' \
        "$(json_number "$j" retrieval queries)" "$seed" "$epochs" \
        "$(cat "$work/fashion.times")" "$(load)" "$(interval "$j" retrieval recall_at_1)"
}

# dogs_run NAME TRAIN TEST TRAIN_OPTIONS...: trains one Stanford Dogs recipe into $work/NAME and
# scores its best model on every similar pair of TEST and as many dissimilar ones.
dogs_run() {
    local name=$1 train_dir=$2 test_dir=$3; shift 3
    local train=("$siamese" train "$train_dir" -o "$work/$name" --overwrite -q "$@"
        --seed "$seed" "${split_args[@]}" -j "$threads")
    local eval=("$siamese" eval "$work/$name/best.safetensors" "$test_dir" --all-pairs --json -q
        --precision fp32 --seed "$seed" -j "$threads")
    echo "$name: start: $(machine)"
    echo "  train: ${train[*]}"
    timed_cpu "$name" "${train[@]}"
    echo "  eval:  ${eval[*]}"
    "${eval[@]}" >"$work/$name.eval.json"
    local j="$work/$name.eval.json"
    printf '  %s: train %s; %s pairs of the 20 unseen breeds: ROC AUC %s, EER %s\n' "$name" \
        "$(cat "$work/$name.times")" "$(json_number "$j" verification pairs)" \
        "$(interval "$j" verification auc)" "$(interval "$j" verification eer)"
}

# Stanford Dogs (the shared 120 x 40 subset): the first 100 breeds (WordNet id order) train, the
# last 20 are never seen; ROC AUC on their pairs. The seed recipe (the default train: seed
# network at 256x256, 3 + 3 recipe pairs per class, 80/20 over pairs) for --epochs (default 1,
# 15 steps) beside a small from-scratch network at 112x112 with P x K semi-hard batches and
# photo augmentation for DOGS_EPOCHS epochs, which take about the same CPU time here.
dogs() {
    local zip="$data/stanford_dogs_224/stanford_dogs_224_subset40.zip" dir="$work/dogs"
    local best_epochs=${DOGS_EPOCHS:-8}
    epochs=${epochs:-1}
    [[ -f "$zip" ]] || { echo "quality: $zip missing" >&2; exit 2; }
    unzip -q -o "$zip" -d "$dir"
    local breeds=("$dir"/Images/*)
    [[ ${#breeds[@]} -eq 120 ]] || { echo "quality: $zip: want 120 breed folders" >&2; exit 2; }
    link_classes "$dir/train" "${breeds[@]:0:100}"
    link_classes "$dir/test" "${breeds[@]:100}"
    dogs_run dogs_seed "$dir/train" "$dir/test" --epochs "$epochs"
    dogs_run dogs_best "$dir/train" "$dir/test" --input 3x112x112 --arch "conv(32,k=5,s=2) bn \
relu maxpool(2) conv(64,k=3,p=1) bn relu maxpool(2) conv(128,k=3,p=1) bn relu maxpool(2) \
conv(256,k=3,p=1) bn relu maxpool(2) flatten linear(256) relu linear(128)" \
        --split classes --train-fraction 0.95 --val-classes 0.1 --per-class 20 --pk 16x4 \
        --mining semihard --augment photo --lr 0.001 --lr-schedule cosine --warmup 20 \
        --epochs "$best_epochs"
    local s="$work/dogs_seed.eval.json" b="$work/dogs_best.eval.json"
    printf 'row dogs  seed %s  end: %s\n' "$seed" "$(machine)"
    printf '| Stanford Dogs | ROC AUC, 20 unseen breeds (%s pairs): seed recipe | %s | %s | %s | %s |\n' \
        "$(json_number "$s" verification pairs)" "$seed" "$epochs" \
        "$(cat "$work/dogs_seed.times")" "$(interval "$s" verification auc)"
    printf '| Stanford Dogs | ROC AUC, 20 unseen breeds (%s pairs): from scratch, 112x112, P x K | %s | %s | %s | %s |\n' \
        "$(json_number "$b" verification pairs)" "$seed" "$best_epochs" \
        "$(cat "$work/dogs_best.times")" "$(interval "$b" verification auc)"
}

case "$row" in
    att_faces) att_faces ;;
    omniglot) omniglot ;;
    att_faces_5fold) att_faces_5fold ;;
    mnist) mnist ;;
    mnist_ensemble) mnist_ensemble ;;
    fashion_mnist) fashion_mnist ;;
    dogs) dogs ;;
    all) # every row in turn, each with its own default epochs unless --epochs was given; then
        # the rows' table lines again as one table (the issue's table, regenerated, not typed)
        asked="$epochs"
        echo "start: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$(dirname "$0")" \
            rev-parse --short HEAD 2>/dev/null || echo unknown), $(machine)"
        for r in att_faces att_faces_5fold mnist fashion_mnist dogs omniglot; do
            epochs="$asked"
            echo "== $r"
            "$r" | tee "$work/all.$r.out"
        done
        echo "== table ($(date -u '+%Y-%m-%d %H:%M UTC'), -j $threads, $(machine))"
        echo "| benchmark | protocol | seed | epochs | train time | number [95% interval] |"
        echo "|---|---|---|---|---|---|"
        for r in att_faces att_faces_5fold mnist fashion_mnist dogs omniglot; do
            grep '^| ' "$work/all.$r.out"
        done ;;
    *) echo "quality: unknown row '$row' (rows: att_faces, omniglot, att_faces_5fold, mnist," \
        "mnist_ensemble, fashion_mnist, dogs, all)" >&2; exit 2 ;;
esac
