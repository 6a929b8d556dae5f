#!/usr/bin/env bash
# Which rule should pick the MNIST row's threshold, judged on validation only (issue 12, ninth
# pass): each kept run's held-out train10k images split per digit into two halves (alternate
# files); each rule picks a threshold on one half and is scored on the other's 20,000 pairs,
# both ways. Rules: the pairs the trainer's threshold comes from (250 similar and 250
# dissimilar a digit), 1,000 a digit (the 20,000 pairs bench/quality.sh scores), every similar
# pair and as many dissimilar ones. Prints the errors per seed and their sums; the t10k accuracy
# at each rule's threshold on all the held-out images is printed beside and chooses nothing.
#
# usage: bench/mnist_threshold_halves.sh SIAMESE T10K KEPT...
#   SIAMESE: the binary; T10K: t10k-images-idx3-ubyte.gz; KEPT: folders written by
#   'bench/quality.sh --seed S --keep KEPT mnist' (mnist_run/ and mnist_val/ inside), the seed
#   read from each run's config.json (a folder may hold an ensemble as mnist_run/model.safetensors
#   beside a member's config.json)
set -euo pipefail
[[ "${1:-}" == -h || "${1:-}" == --help ]] && { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }
[[ $# -ge 3 ]] || { echo "usage: $0 SIAMESE T10K KEPT..." >&2; exit 2; }
siamese=$1 t10k=$2
shift 2
rules=("250:--pairs-per-class 250" "1000:--pairs-per-class 1000" "all:--all-pairs")
# THRESHOLD_RULES="NAME:OPTIONS;NAME:OPTIONS..." replaces them (the twelfth pass's: where in the
# best-accuracy plateau, "first:--pairs-per-class 1000;centre:--pairs-per-class 1000 --target
# best-accuracy-centre;centre-all:--all-pairs --target best-accuracy-centre")
[[ -n "${THRESHOLD_RULES:-}" ]] && IFS=';' read -r -a rules <<<"$THRESHOLD_RULES"

# scored EVAL_JSON: "ERRORS ACCURACY" of 'siamese eval --json' at the model's threshold.
scored() {
    /usr/bin/python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))["verification"]
a = v["accuracy_model"]["value"]
print(round((1 - a) * v["pairs"]), a)' "$1"
}

# errors MODEL CALIBRATE_ON SCORE_ON SEED OPTIONS...: the errors among SCORE_ON's 20,000 pairs
# at the threshold the options pick on CALIBRATE_ON.
errors() {
    local model=$1 on=$2 score=$3 seed=$4 tmp
    shift 4
    tmp=$(mktemp -d)
    # shellcheck disable=SC2068 # the rule's options, split on purpose
    "$siamese" calibrate "$model" "$on" -o "$tmp/m.safetensors" --target best-accuracy $@ \
        --seed "$seed" -q -j 1 --precision fp32 >/dev/null
    "$siamese" eval "$tmp/m.safetensors" "$score" --pairs-per-class 1000 --json -q -b 0 \
        --seed "$seed" -j 1 --precision fp32 >"$tmp/e.json"
    scored "$tmp/e.json" | cut -d' ' -f1
    rm -rf "$tmp"
}

printf 'seed'
for r in "${rules[@]}"; do printf '\t%s: errors a->b + b->a\tt10k' "${r%%:*}"; done
printf '\n'
declare -A sum
for kept in "$@"; do
    model="$kept/mnist_run/model.safetensors" val="$kept/mnist_val"
    [[ -f "$model" && -d "$val" ]] || { echo "$kept: no mnist_run/model.safetensors or mnist_val/" >&2; exit 1; }
    seed=$(sed -n 's/^ *"seed": *\([0-9]*\).*/\1/p' "$kept/mnist_run/config.json")
    "$(dirname "$0")/image_halves.sh" "$val" "$kept/halves"
    printf '%s' "$seed"
    for r in "${rules[@]}"; do
        name=${r%%:*} opts=${r#*:}
        ab=$(errors "$model" "$kept/halves/a" "$kept/halves/b" "$seed" "$opts")
        ba=$(errors "$model" "$kept/halves/b" "$kept/halves/a" "$seed" "$opts")
        sum[$name]=$((${sum[$name]:-0} + ab + ba))
        tmp=$(mktemp -d)
        # shellcheck disable=SC2086 # the rule's options, split on purpose
        "$siamese" calibrate "$model" "$val" -o "$tmp/m.safetensors" --target best-accuracy $opts \
            --seed "$seed" -q -j 1 --precision fp32 >/dev/null
        "$siamese" eval "$tmp/m.safetensors" "$t10k" --pairs-per-class 1000 --json -q -b 0 \
            --seed "$seed" -j 1 --precision fp32 >"$tmp/t.json"
        printf '\t%s + %s = %s\t%s' "$ab" "$ba" $((ab + ba)) \
            "$(scored "$tmp/t.json" | cut -d' ' -f2)"
        rm -rf "$tmp"
    done
    printf '\n'
done
printf 'sum'
for r in "${rules[@]}"; do printf '\t%s\t' "${sum[${r%%:*}]}"; done
printf '\n'
