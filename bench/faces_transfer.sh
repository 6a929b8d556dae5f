#!/usr/bin/env bash
# Face verification on AT&T subjects never trained on (issue 13): face-api's pretrained dlib ResNet
# as it is, fine-tuned from it, and the same network trained from scratch with the same recipe.
#
# usage: bench/faces_transfer.sh [BUILD] [DATA] [OUT]
#   BUILD  build folder holding the siamese tool (default: build)
#   DATA   the shared data sets folder (default: $SIAMESE_DATA_DIR, else ../shared/data)
#   OUT    work folder for models, runs and results (default: a new temporary folder)
# environment: FOLDS (default "shared 0 1 2 3 4"), KINDS ("finetuned scratch"), EPOCHS (8),
#              LR_BACKBONE (1e-5), SEED (1), THREADS (1)
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
# is, no training; KINDS=" " runs only the two imported rows.
# Prints one line per protocol and model, then the mean over the 5 folds.
set -euo pipefail

build=${1:-build}
data=${2:-${SIAMESE_DATA_DIR:-../shared/data}}
out=${3:-$(mktemp -d -t siamese-faces-XXXXXX)}
folds=${FOLDS:-shared 0 1 2 3 4}
kinds=${KINDS:-finetuned scratch}
epochs=${EPOCHS:-8}
lr_backbone=${LR_BACKBONE:-1e-5}
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
    --train-fraction 0.9 --lr 1e-4 --margin 1 --epochs "$epochs" --seed "$seed" -j "$threads" -q)

train() { # FOLD KIND -> model path
    local run=$out/$1/$2
    if [ ! -f "$run/model.safetensors" ]; then
        if [ "$2" = finetuned ]; then
            "$cli" train "$out/$1/train" -o "$run" "${recipe[@]}" --init "$face" --freeze "$frozen" \
                --lr-backbone "$lr_backbone" --overwrite >"$run.log" 2>&1
        else
            "$cli" train "$out/$1/train" -o "$run" "${recipe[@]}" --freeze input --overwrite \
                >"$run.log" 2>&1
        fi
    fi
    echo "$run/model.safetensors"
}

printf '%-8s %-10s %-8s %s\n' protocol model EER train_seconds
for fold in $folds; do
    make_fold "$fold"
    printf '%-8s %-10s %-8.4f %s\n' "$fold" as-is "$(eer "$face" "$out/$fold/test")" 0
    printf '%-8s %-10s %-8.4f %s\n' "$fold" aligned "$(eer "$aligned" "$out/$fold/test")" 0
    for kind in $kinds; do
        t0=$(date +%s)
        model=$(train "$fold" "$kind")
        t1=$(date +%s)
        printf '%-8s %-10s %-8.4f %s\n' "$fold" "$kind" "$(eer "$model" "$out/$fold/test")" $((t1 - t0))
    done
done | tee "$out/results.txt"

/usr/bin/python3 - "$out/results.txt" <<'EOF'
import sys, collections
rows = [l.split() for l in open(sys.argv[1]) if l[0].isdigit()]
by = collections.defaultdict(list)
for fold, model, eer, _ in rows:
    by[model].append(float(eer))
for model, v in by.items():
    print(f"5-fold   {model:<10} mean EER {sum(v) / len(v):.4f} over {len(v)} folds "
          f"(min {min(v):.4f}, max {max(v):.4f})")
EOF
echo "# results in $out"
