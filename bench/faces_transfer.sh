#!/usr/bin/env bash
# Face verification on AT&T subjects never trained on (issue 13): face-api's pretrained dlib ResNet
# as it is, fine-tuned from it, and the same network trained from scratch with the same recipe.
#
# usage: bench/faces_transfer.sh [BUILD] [DATA] [OUT]
#   BUILD  build folder holding the siamese tool (default: build)
#   DATA   the shared data sets folder (default: $SIAMESE_DATA_DIR, else ../shared/data)
#   OUT    work folder for models, runs and results (default: a new temporary folder)
# environment: FOLDS (default "shared 0 1 2 3 4"), KINDS ("finetuned scratch"; also
#              "aligned-ft"), EPOCHS (8), LR_BACKBONE (1e-5), SEED (1), THREADS (1);
#              ALIGNED_EPOCHS, ALIGNED_LR, ALIGNED_LR_BACKBONE for aligned-ft (default 8, 1e-5,
#              1e-6: chosen on the validation subjects, bench/README.md)
#
# Protocols (EER over every similar pair of the test subjects and as many dissimilar pairs drawn
# at random: siamese eval --all-pairs, fp32, seed 0):
#   shared  train on att_faces/training (37 subjects), test on att_faces/testing (s5, s6, s7)
#   0..4    5-fold over all 40 subjects: fold k tests s(8k+1)..s(8k+8), trains on the other 32
# Recipe (fine-tuned and from scratch alike): 3x150x150 (grey replicated to RGB, stretched),
# P x K = 8 x 4 batches with semihard mining, a class split holding out 10% of the training
# subjects for the per-epoch test pairs, Adam lr 1e-4, margin 1, EPOCHS epochs, --threads 1.
# Fine-tuning starts from the imported weights (--init), the backbone at LR_BACKBONE (1e-5) and
# the head (fc) at 1e-4, with the input normalisation and the
# fixed 2x2 average-pool skips frozen; from scratch is the same architecture, freshly initialised
# (its 2x2 skip convolutions trainable), with the input scale layer frozen at the identity (x/255
# as the loader gives it): trainable, it makes the first convolution compute its data gradient,
# which oneDNN runs on a reference kernel for 3 channels (a first step of minutes, not seconds).
# "aligned" is the imported network with face-api's landmark network as its face aligner
# (siamese import face-api --align: each photo's face chip sampled on its 68 landmarks), as it
# is, no training; KINDS=" " runs only the two imported rows. "aligned-ft" is the fine-tuning
# recipe started from that aligned model (train --init keeps the aligner, frozen, and trains on
# the face chips the commands embed), with ALIGNED_EPOCHS, ALIGNED_LR and ALIGNED_LR_BACKBONE.
# Validation (for choosing a recipe, never the test subjects): each trained row also gives the EER
# and d' on its run's held-out training subjects (split.json's test_classes: 10% of the training
# subjects, the run's per-epoch test pairs), and the "aligned" row the imported aligned network's
# on the same subjects; as-is rows without a trained run print "-". d' (decidability: the gap
# between the mean distances of dissimilar and similar pairs over their pooled standard
# deviation, every pair of the subjects) still ranks models when their EERs are all 0.
# Prints one line per protocol and model (EER, training wall/CPU seconds, validation EER/d'), then
# the means over the 5 folds and over the protocols' validation subjects.
set -euo pipefail

build=${1:-build}
data=${2:-${SIAMESE_DATA_DIR:-../shared/data}}
out=${3:-$(mktemp -d -t siamese-faces-XXXXXX)}
folds=${FOLDS:-shared 0 1 2 3 4}
kinds=${KINDS:-finetuned scratch}
epochs=${EPOCHS:-8}
lr_backbone=${LR_BACKBONE:-1e-5}
aligned_epochs=${ALIGNED_EPOCHS:-8}
aligned_lr=${ALIGNED_LR:-1e-5}
aligned_lr_backbone=${ALIGNED_LR_BACKBONE:-1e-6}
seed=${SEED:-1}
threads=${THREADS:-1}
cli=$build/siamese
faces=$data/att_faces
faceapi=${FACEAPI_DIR:-$HOME/.cache/siamese/npm/face-api}

[ -x "$cli" ] || { echo "no $cli: build first" >&2; exit 2; }
[ -d "$faces/training" ] && [ -d "$faces/testing" ] || { echo "SKIP: no $faces" >&2; exit 0; }
[ -f "$faceapi/face_recognition_model-weights_manifest.json" ] || {
    echo "SKIP: no face-api package in $faceapi (scripts/deps.sh --face-api)" >&2
    exit 0
}
mkdir -p "$out"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores," \
    "load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"

face=$out/face.safetensors
[ -f "$face" ] || "$cli" import face-api "$faceapi" -o "$face" >/dev/null
aligned=$out/face_aligned.safetensors
[ -f "$aligned" ] || "$cli" import face-api "$faceapi" --align -o "$aligned" >/dev/null
arch=$(/usr/bin/python3 -c "
import json, struct, sys
f = open(sys.argv[1], 'rb'); n = struct.unpack('<Q', f.read(8))[0]
print(json.loads(f.read(n))['__metadata__']['arch'])" "$face")
frozen=input,conv64_down.pool,conv128_down.pool,conv256_down.pool,conv256_down_out.pool

# Folder trees of class folders (symlinks): $out/<protocol>/{train,test}/sN.
subjects() { # every subject folder of both halves, s1..s40
    for d in "$faces"/training/s* "$faces"/testing/s*; do echo "$d"; done
}
make_fold() {
    local name=$1 dir=$out/$1
    [ -d "$dir" ] && return 0
    mkdir -p "$dir/train" "$dir/test"
    if [ "$name" = shared ]; then
        for d in "$faces"/training/s*; do ln -s "$d" "$dir/train/"; done
        for d in "$faces"/testing/s*; do ln -s "$d" "$dir/test/"; done
        return 0
    fi
    subjects | while read -r d; do
        local n=${d##*/s}
        if [ $(((n - 1) / 8)) -eq "$name" ]; then ln -s "$d" "$dir/test/"; else ln -s "$d" "$dir/train/"; fi
    done
}

eer() { # MODEL TEST_DIR -> the EER
    "$cli" eval "$1" "$2" --all-pairs --precision fp32 -j "$threads" --seed 0 --bootstrap 0 \
        --json -q | /usr/bin/python3 -c "
import json, sys
r = json.load(sys.stdin)
v = r.get('verification', r)
e = v['eer']
print(e['value'] if isinstance(e, dict) else e)"
}

recipe=(--arch "$arch" --input 3x150x150 --sampler pk --pk 8x4 --mining semihard --split classes
    --train-fraction 0.9 --margin 1 --seed "$seed" -j "$threads" -q)

train() { # FOLD KIND: trains into $out/FOLD/KIND (once), its wall and CPU seconds in KIND.time
    local run=$out/$1/$2
    [ -f "$run/model.safetensors" ] && return 0
    local cmd=("$cli" train "$out/$1/train" -o "$run" "${recipe[@]}" --overwrite)
    case $2 in
    finetuned)
        cmd+=(--lr 1e-4 --epochs "$epochs" --init "$face" --freeze "$frozen"
            --lr-backbone "$lr_backbone") ;;
    aligned-ft)
        cmd+=(--lr "$aligned_lr" --epochs "$aligned_epochs" --init "$aligned" --freeze "$frozen"
            --lr-backbone "$aligned_lr_backbone") ;;
    *) cmd+=(--lr 1e-4 --epochs "$epochs" --freeze input) ;;
    esac
    /usr/bin/time -f "%e %U %S" -o "$run.time" "${cmd[@]}" >"$run.log" 2>&1
}

seconds() { # RUN -> "wall/cpu" of its training
    awk '{ printf "%.0f/%.0f", $1, $2 + $3 }' "$1.time"
}

val_dir() { # FOLD -> a folder of the held-out training subjects of the fold's first trained run
    local dir=$out/$1/val run
    for run in "$out/$1"/*/split.json; do
        [ -f "$run" ] || continue
        if [ ! -d "$dir" ]; then
            mkdir -p "$dir"
            /usr/bin/python3 -c "import json, sys
print('\n'.join(json.load(open(sys.argv[1]))['test_classes']))" "$run" |
                while read -r s; do ln -s "$(readlink -f "$out/$1/train/$s")" "$dir/$s"; done
        fi
        echo "$dir"
        return 0
    done
}

dprime() { # MODEL DIR -> d' over every pair of DIR's images (Euclidean distances)
    "$cli" embed "$1" "$2" -o "$out/val_embed" --format npy -j "$threads" --precision fp32 -q
    /usr/bin/python3 - "$out/val_embed" <<'EOF'
import sys, numpy as np
x = np.load(sys.argv[1] + ".npy").astype(np.float64)
who = [p.rstrip("\n").split("/")[-2] for p in open(sys.argv[1] + ".paths.txt")]
d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
same = np.array([[a == b for b in who] for a in who])
upper = np.triu(np.ones_like(same), 1)
s, o = d[same & upper], d[~same & upper]
print(f"{(o.mean() - s.mean()) / np.sqrt((o.var() + s.var()) / 2):.2f}")
EOF
}

printf '%-8s %-10s %-8s %-14s %s\n' protocol model EER train_wall/cpu "val_EER/d'"
for fold in $folds; do
    make_fold "$fold"
    for kind in $kinds; do train "$fold" "$kind"; done
    val=$(val_dir "$fold")
    val_of() { # MODEL -> "EER/d'" on the held-out training subjects, or -
        if [ -n "$val" ]; then printf '%.4f/%s' "$(eer "$1" "$val")" "$(dprime "$1" "$val")"
        else echo -; fi
    }
    printf '%-8s %-10s %-8.4f %-14s %s\n' "$fold" as-is "$(eer "$face" "$out/$fold/test")" 0 -
    printf '%-8s %-10s %-8.4f %-14s %s\n' "$fold" aligned "$(eer "$aligned" "$out/$fold/test")" 0 \
        "$(val_of "$aligned")"
    for kind in $kinds; do
        model=$out/$fold/$kind/model.safetensors
        printf '%-8s %-10s %-8.4f %-14s %s\n' "$fold" "$kind" "$(eer "$model" "$out/$fold/test")" \
            "$(seconds "$out/$fold/$kind")" "$(val_of "$model")"
    done
done | tee "$out/results.txt"

/usr/bin/python3 - "$out/results.txt" <<'EOF'
import sys, collections
rows = [l.split() for l in open(sys.argv[1]) if l[0] != "p"]
test, val = collections.defaultdict(list), collections.defaultdict(list)
for fold, model, eer, _, v in rows:
    if fold.isdigit():
        test[model].append(float(eer))
    if v != "-":
        val[model].append([float(f) for f in v.split("/")])
for model, e in test.items():
    print(f"5-fold   {model:<10} mean EER {sum(e) / len(e):.4f} over {len(e)} folds "
          f"(min {min(e):.4f}, max {max(e):.4f})")
for model, v in val.items():
    e, d = (sum(r[k] for r in v) / len(v) for k in (0, 1))
    print(f"val      {model:<10} held-out training subjects: mean EER {e:.4f}, mean d' {d:.2f} "
          f"over {len(v)} protocols")
EOF
echo "# results in $out"
