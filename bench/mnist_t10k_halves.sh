#!/usr/bin/env bash
# The MNIST row's models under protocol B (issue 12, thirteenth pass in bench/README.md): t10k's
# images split per digit into halves A and B (alternate files); each model's threshold is picked
# on 1,000 pairs a digit of A (siamese calibrate --target best-accuracy) and it is scored on
# 1,000 pairs a digit of B (siamese eval: 20,000 pairs), with its run's seed. Prints one line a
# model (seed, digits trained on, threshold, accuracy with its 95% interval, errors) and the mean.
#
# usage: bench/mnist_t10k_halves.sh SIAMESE T10K OUT KEPT...
#   SIAMESE: the binary; T10K: t10k-images-idx3-ubyte.gz (its labels file beside it); OUT: a
#   folder for t10k's images as PNG class folders and the halves; KEPT: folders written by
#   'bench/quality.sh --seed S --keep KEPT mnist' (mnist_run/ inside)
set -euo pipefail
[[ "${1:-}" == -h || "${1:-}" == --help ]] && { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }
[[ $# -ge 4 ]] || { echo "usage: $0 SIAMESE T10K OUT KEPT..." >&2; exit 2; }
siamese=$1 t10k=$2 out=$3
shift 3
here=$(dirname "$0")

# t10k as PNG class folders (every image listed as held out), then its halves.
if [[ ! -d "$out/halves/b" ]]; then
    mkdir -p "$out"
    /usr/bin/python3 -c 'import json, sys
json.dump({"test_images": ["t10k#%d" % i for i in range(10000)]}, open(sys.argv[1], "w"))' \
        "$out/all.json"
    rm -rf "$out/t10k"
    /usr/bin/python3 "$here/heldout_images.py" "$out/all.json" "$t10k" "$out/t10k"
    "$here/image_halves.sh" "$out/t10k" "$out/halves"
fi

# config_field KEPT NAME: a number from the run's config.json.
config_field() {
    sed -n "s/^ *\"$2\": *\\([0-9.]*\\).*/\\1/p" "$1/mnist_run/config.json"
}

printf 'seed\tdigits trained on\tthreshold (A)\taccuracy on B [95%%]\terrors of 20,000\n'
sum=0 count=0
for kept in "$@"; do
    model="$kept/mnist_run/model.safetensors"
    [[ -f "$model" ]] || { echo "$kept: no mnist_run/model.safetensors" >&2; exit 1; }
    seed=$(config_field "$kept" seed)
    trained=$(/usr/bin/python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
print(s["image_count"] - len(s["test_images"]))' "$kept/mnist_run/split.json")
    tmp=$(mktemp -d)
    "$siamese" calibrate "$model" "$out/halves/a" -o "$tmp/m.safetensors" --target best-accuracy \
        --pairs-per-class 1000 --seed "$seed" -q -j 1 --precision fp32 >/dev/null
    "$siamese" eval "$tmp/m.safetensors" "$out/halves/b" --pairs-per-class 1000 --json -q -b 1000 \
        --seed "$seed" -j 1 --precision fp32 >"$tmp/e.json"
    line=$(/usr/bin/python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))["verification"]
a = v["accuracy_model"]
print("%.4f\t%.5f [%.5f, %.5f]\t%d\t%.6f" % (v["model_threshold"], a["value"], a["low"], a["high"],
      round((1 - a["value"]) * v["pairs"]), a["value"]))' "$tmp/e.json")
    rm -rf "$tmp"
    printf '%s\t%s\t%s\n' "$seed" "$trained" "${line%$'\t'*}"
    sum=$(echo "$sum + ${line##*$'\t'}" | bc -l)
    count=$((count + 1))
done
printf 'mean of %d\t\t\t%.5f\n' "$count" "$(echo "$sum / $count" | bc -l)"
