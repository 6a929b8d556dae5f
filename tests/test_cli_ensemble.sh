#!/usr/bin/env bash
# 'siamese ensemble': tiny networks trained for one epoch on MNIST (different --seed, one
# --split-seed) joined into one model file, with its members' tensors as members.<i>.*. That file
# then works with every command that takes a model: calibrate, eval, compare, verify, embed (the
# members' embedding lengths summed), index build and search, quantize and --precision int8,
# bf16 and auto. Its euclidean distance is sqrt of the mean of the members' squared distances,
# its cosine distance the mean of theirs. Refusals: usage errors (one model, no -o, -o naming an
# input, 17 models, one model twice) exit 2; a missing or corrupt member, another input geometry or metric, an
# ensemble as a member exit 1 naming the file; an existing output is never touched by a failure.
# 'train --init ENSEMBLE' is refused as a bad --init is, leaving no run folder.
# ctest-label: data
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
require_data mnist mnist
require_data t10k_images mnist/t10k-images-idx3-ubyte.gz
require_data t10k_labels mnist/t10k-labels-idx1-ubyte.gz
cd "$tmp"

# ---------------------------------------------------------------- data and members

# two class-folder sets of 28x28 PGM digits from MNIST's test images: val/<digit>/ (the first 10
# of each digit, for calibrate and quantize) and test/<digit>/ (the next 10, for eval and the rest)
gzip -dc "$t10k_images" | head -c $((16 + 784 * 600)) >t10k.raw
labels=$(gzip -dc "$t10k_labels" | head -c $((8 + 600)) | od -An -tu1 -j8 -v)
count=(0 0 0 0 0 0 0 0 0 0)
i=0
for d in $labels; do
    n=${count[d]}
    if [ "$n" -lt 20 ]; then
        set=val
        [ "$n" -ge 10 ] && set=test
        mkdir -p "$set/$d"
        { printf 'P5\n28 28\n255\n'; tail -c +$((17 + 784 * i)) t10k.raw | head -c 784; } >"$set/$d/$i.pgm"
        count[d]=$((n + 1))
    fi
    i=$((i + 1))
done
rm -f t10k.raw
[ "$(find val test -name '*.pgm' | wc -l)" -eq 200 ] || {
    fail "could not cut 200 PGM digits out of $t10k_images"
    finish test_cli_ensemble
}
# three test images: two of one digit, one of another
set -- test/7/*.pgm
img1=$1 img2=$2
set -- test/1/*.pgm
img3=$1

# member NAME OPTION...: a one-epoch run on 10 + 10 recipe pairs per class into NAME/
member() {
    local name=$1
    shift
    expect 0 "$cli" train "$mnist" -o "$name" --epochs 1 --per-class 10 --split-seed 1 -j 2 -q "$@"
    [ -f "$name/model.safetensors" ] || fail "training $name made no model"
}
arch="conv(8,k=3,p=1) relu maxpool(2) conv(8,k=3) relu flatten linear(16)"
small="conv(8,k=3,p=1) relu maxpool(2) flatten linear(16)"
member m1 --arch "$arch" --input 1x28x28 --seed 1
member m2 --arch "$arch" --input 1x28x28 --seed 2
member m3 --arch "$small" --input 1x28x28 --seed 3 # members may differ in architecture
member big --arch "$arch" --input 1x32x32 --seed 1
member cos1 --arch "$arch" --input 1x28x28 --seed 1 --metric cosine
member cos2 --arch "conv(8,k=3,p=1) relu maxpool(2) flatten linear(12)" --input 1x28x28 --seed 2 \
    --metric cosine
[ "$failures" -eq 0 ] || finish test_cli_ensemble
A=m1/model.safetensors B=m2/model.safetensors C=m3/model.safetensors
for f in "$A" "$B" "$C"; do cp "$f" "$f.orig"; done

# ---------------------------------------------------------------- help

expect 0 "$cli" ensemble --help
grep -q "usage: siamese ensemble MODEL MODEL... -o ENSEMBLE" "$tmp/out" ||
    fail "ensemble --help lacks the usage line: $(head -3 "$tmp/out")"
grep -q "2 to 16" "$tmp/out" || fail "ensemble --help does not say how many models it joins"
"$cli" --help | grep -q "^  ensemble " || fail "'ensemble' missing from siamese --help"

# ---------------------------------------------------------------- the ensemble

expect 0 "$cli" ensemble "$A" "$B" "$C" -o E.st
[ -s E.st ] || fail "ensemble wrote no E.st"
grep_err "member 0: $A (embedding 16"
grep_err "member 1: $B (embedding 16"
grep_err "member 2: $C (embedding 16"
grep_err "wrote E.st: 3 networks, embedding 48, metric euclidean, 1x28x28 input"
grep_err "siamese calibrate E.st"
[ -s "$tmp/out" ] && fail "ensemble printed on stdout: $(cat "$tmp/out")"
expect 0 "$cli" ensemble "$A" "$B" "$C" -o Eq.st -q
[ -s "$tmp/err" ] || [ -s "$tmp/out" ] && fail "ensemble -q printed: $(cat "$tmp/out" "$tmp/err")"
cmp -s E.st Eq.st || fail "the same members made two different ensemble files"
ls -a | grep -q '\.tmp' && fail "a temporary file was left behind: $(ls -a)"
for f in "$A" "$B" "$C"; do cmp -s "$f" "$f.orig" || fail "ensemble changed its input $f"; done
# the file: safetensors whose tensors all belong to members 0..2, the format in its metadata
len=$(od -An -tu8 -N8 E.st | tr -d ' ')
tail -c +9 E.st | head -c "$len" >E.header.json
jq -e '.__metadata__.format == "siamese/ensemble/1" and .__metadata__.members == "3" and
    .__metadata__.embedding_dim == "48" and (.__metadata__ | has("threshold") | not) and
    ([keys[] | select(. != "__metadata__")] | length > 0 and
     all(test("^members\\.[0-2]\\.")) and any(startswith("members.2.")))' E.header.json >/dev/null ||
    fail "E.st's header is not an ensemble of 3 members: $(head -c 600 E.header.json)"

# no threshold yet: compare gives a distance and no verdict
expect 0 "$cli" compare E.st "$img1" "$img3" --json -j 2 --precision fp32
jq -e '(.dissimilarity | type == "number") and (has("threshold") | not) and (has("verdict") | not)' \
    "$tmp/out" >/dev/null || fail "uncalibrated ensemble: $(cat "$tmp/out")"
# verify needs one, and says how to get it
expect 1 "$cli" verify E.st "$img1" "$img3" -j 2
grep_err "E.st holds no threshold: choose one on validation pairs with 'siamese calibrate E.st DATA"

# calibrate: a threshold written into E2.st, E.st untouched; in place (the help's example) the same
cp E.st E.orig
expect 0 "$cli" calibrate E.st val -o E2.st -j 2 -q
grep -q "^threshold [0-9]" "$tmp/out" || fail "calibrate printed no threshold: $(cat "$tmp/out" "$tmp/err")"
thr=$(awk '/^threshold / {print $2; exit}' "$tmp/out")
[ -s E2.st ] || fail "calibrate wrote no E2.st"
cmp -s E.st E.orig || fail "calibrate -o E2.st changed E.st"
cp E.st Ein.st
expect 0 "$cli" calibrate Ein.st val -o Ein.st -j 2 -q
cmp -s Ein.st E2.st || fail "calibrating the ensemble in place gave another file than into E2.st"

# eval: valid JSON with the verification numbers and the calibrated threshold
expect 0 "$cli" eval E2.st test --pairs-per-class 20 --json -q -j 2 -b 100
cp "$tmp/out" eval_fp32.json
jq -e --argjson t "${thr:-null}" '.verification.pairs == 400 and
    (.verification.auc.value | type == "number" and . >= 0 and . <= 1) and
    (.verification.eer.value | type == "number") and
    (.verification.accuracy_best.value | type == "number") and
    ((.verification.model_threshold - $t) | fabs < 1e-5)' "$tmp/out" >/dev/null ||
    fail "eval E2.st --json: $(head -c 800 "$tmp/out")"

# compare and verify: a distance and a verdict at the calibrated threshold
expect 0 "$cli" compare E2.st "$img1" "$img2" -j 2
grep -qE '^dissimilarity: [0-9.]+ \(euclidean\)' "$tmp/out" || fail "compare E2.st: $(cat "$tmp/out")"
grep -qE '^verdict: +(similar|dissimilar)' "$tmp/out" || fail "compare E2.st gave no verdict: $(cat "$tmp/out")"
expect 0 "$cli" compare E2.st "$img1" "$img1" --json -j 2 --precision fp32
jq -e '.dissimilarity < 1e-3 and .verdict == "similar"' "$tmp/out" >/dev/null ||
    fail "an image against itself: $(cat "$tmp/out")"
expect 0 "$cli" verify E2.st "$img1" "$img1" -j 2
grep -q "^verdict: *same" "$tmp/out" || fail "verify E2.st of an image with itself: $(cat "$tmp/out")"

# embed: the ensemble's embedding is the members' side by side: 16 + 16 + 16 = 48
npy_shape() { head -c 128 "$1" | grep -ao "'shape': ([0-9]*, [0-9]*)" | grep -o '[0-9][0-9, ]*'; }
expect 0 "$cli" embed "$A" test -o m1emb --format npy -q -j 2
[ "$(npy_shape m1emb.npy)" = "100, 16" ] || fail "member embeddings: shape $(npy_shape m1emb.npy), want 100, 16"
expect 0 "$cli" embed E2.st test -o Eemb --format npy -q -j 2
[ "$(npy_shape Eemb.npy)" = "100, 48" ] || fail "ensemble embeddings: shape $(npy_shape Eemb.npy), want 100, 48"
[ "$(wc -l <Eemb.paths.txt)" -eq 100 ] || fail "Eemb.paths.txt: $(wc -l <Eemb.paths.txt) lines, want 100"

# index build, info and search: the query itself first, at distance ~0; a member is not the model
expect 0 "$cli" index build E2.st test -o test.idx -q -j 2
[ -s test.idx ] || fail "index build wrote no test.idx"
expect 0 "$cli" index info test.idx
grep -qE '^dimensions: +48$' "$tmp/out" || fail "index info: $(cat "$tmp/out")"
grep -q "dim=48;metric=euclidean" "$tmp/out" || fail "index info fingerprint: $(cat "$tmp/out")"
expect 0 "$cli" search test.idx "$img1" -k 3 --json -j 2
jq -e --arg q "/$img1" '(.neighbours | length == 3) and (.neighbours[0].item | endswith($q)) and
    .neighbours[0].dissimilarity < 1e-3 and .neighbours[0].class == "7"' "$tmp/out" >/dev/null ||
    fail "search test.idx $img1: $(cat "$tmp/out")"
expect 1 "$cli" search test.idx "$img1" -k 3 --model "$A" -j 2
grep_err "another model"

# quantize: int8 per member; eval and compare with --precision int8 near fp32
cp E2.st E2.orig
expect 0 "$cli" quantize E2.st val -o E8.st -j 2
grep_err "wrote E8.st"
cmp -s E2.st E2.orig || fail "quantize changed E2.st"
expect 0 "$cli" eval E8.st test --pairs-per-class 20 --json -q -j 2 -b 100 --precision int8
jq -e --slurpfile f eval_fp32.json '.verification.pairs == 400 and
    ((.verification.auc.value - $f[0].verification.auc.value) | fabs < 0.05)' "$tmp/out" >/dev/null ||
    fail "eval E8.st --precision int8: $(head -c 600 "$tmp/out") (fp32 auc $(jq .verification.auc.value eval_fp32.json))"
expect 0 "$cli" compare E2.st "$img1" "$img3" --json -j 2 --precision fp32
d32=$(jq .dissimilarity "$tmp/out")
expect 0 "$cli" compare E8.st "$img1" "$img3" --json -j 2 --precision int8
d8=$(jq .dissimilarity "$tmp/out")
awk -v a="$d32" -v b="$d8" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= 0.05 * a + 1e-4) }' ||
    fail "int8 ensemble distance $d8 is not within 5% of fp32's $d32"
expect 0 "$cli" embed E8.st test -o E8emb --format npy -q -j 2 --precision int8
[ "$(npy_shape E8emb.npy)" = "100, 48" ] || fail "int8 ensemble embeddings: shape $(npy_shape E8emb.npy)"
expect 1 "$cli" compare E2.st "$img1" "$img3" -j 2 --precision int8
grep_err "no int8 calibration"

# bf16 (or its fp32 fallback on a CPU without bf16 kernels) and auto
expect 0 "$cli" compare E2.st "$img1" "$img3" --json -j 2 --precision bf16
half=$(jq .dissimilarity "$tmp/out")
if grep -q "no bf16 kernels" "$tmp/err"; then
    [ "$half" = "$d32" ] || fail "the bf16 fallback gave $half, not fp32's $d32"
else
    awk -v h="$half" -v f="$d32" 'BEGIN { d = h - f; if (d < 0) d = -d; exit !(h > 0 && d <= 0.02 * f + 1e-3) }' ||
        fail "bf16 ensemble distance $half: want near fp32's $d32"
fi
expect 0 "$cli" eval E2.st test --pairs-per-class 20 --json -q -j 2 -b 0 --precision bf16
jq -e '.verification.auc.value | type == "number"' "$tmp/out" >/dev/null || fail "eval --precision bf16: $(head -c 600 "$tmp/out")"
expect 0 "$cli" compare E2.st "$img1" "$img3" --json -j 2 --precision auto
jq -e '.dissimilarity | type == "number"' "$tmp/out" >/dev/null || fail "compare --precision auto: $(cat "$tmp/out")"
expect 0 "$cli" eval E2.st test --pairs-per-class 20 --json -q -j 2 -b 0 --precision auto
jq -e '.verification.auc.value | type == "number"' "$tmp/out" >/dev/null || fail "eval --precision auto: $(head -c 600 "$tmp/out")"

# ---------------------------------------------------------------- distances

# pair_distances MODEL: the fp32 distances of pairs.tsv, one a line
printf '%s\t%s\n' "$img1" "$img2" "$img1" "$img3" "$img2" "$img3" "test/0/$(ls test/0 | head -1)" "$img3" >pairs.tsv
pair_distances() {
    "$cli" compare "$1" --pairs pairs.tsv --json -j 2 --precision fp32 2>"$tmp/err" | jq .dissimilarity ||
        fail "compare $1 --pairs pairs.tsv: $(cat "$tmp/err")"
}
# euclidean: the ensemble's distance is sqrt(mean of the members' squared distances)
paste <(pair_distances "$A") <(pair_distances "$B") <(pair_distances "$C") <(pair_distances E.st) >euclid.txt
[ "$(awk 'NF == 4' euclid.txt | wc -l)" -eq 4 ] || fail "want 4 lines of 4 distances: $(cat euclid.txt)"
awk '{ want = sqrt(($1 * $1 + $2 * $2 + $3 * $3) / 3); d = $4 - want; if (d < 0) d = -d
       if (!(want > 0 && d <= 1e-4 * want + 1e-6)) { print; bad = 1 } } END { exit bad }' euclid.txt >bad.txt ||
    fail "euclidean ensemble distance is not sqrt(mean of the members' squares) (members, ensemble): $(cat bad.txt)"
# cosine: the ensemble's distance is the mean of the members' (each made unit length)
expect 0 "$cli" ensemble cos1/model.safetensors cos2/model.safetensors -o C.st -q
paste <(pair_distances cos1/model.safetensors) <(pair_distances cos2/model.safetensors) <(pair_distances C.st) >cos.txt
[ "$(awk 'NF == 3' cos.txt | wc -l)" -eq 4 ] || fail "want 4 lines of 3 distances: $(cat cos.txt)"
awk '{ want = ($1 + $2) / 2; d = $3 - want; if (d < 0) d = -d
       if (!(want > 0 && d <= 1e-4 * want + 1e-6)) { print; bad = 1 } } END { exit bad }' cos.txt >bad.txt ||
    fail "cosine ensemble distance is not the mean of the members' (members, ensemble): $(cat bad.txt)"

# ---------------------------------------------------------------- refusals

# every failure below leaves the existing output out.st as it was, and no temporary file
printf 'known content\n' >out.st
cp out.st out.orig
untouched() {
    cmp -s out.st out.orig || fail "a failed 'ensemble $*' changed the existing output out.st"
    ls -a | grep -q '\.tmp' && fail "a failed 'ensemble $*' left a temporary file: $(ls -a)"
}

# usage errors: exit 2
expect 2 "$cli" ensemble "$A" -o out.st
grep_err "missing arguments (usage: MODEL MODEL... -o ENSEMBLE"
untouched "one model"
expect 2 "$cli" ensemble "$A" "$B"
grep_err "give the output file with -o"
expect 2 "$cli" ensemble "$A" "$B" -o out.st --no-such-option
grep_err "no-such-option"
untouched "--no-such-option"
models17=()
for i in $(seq 1 17); do cp "$A" "copy$i.st" && models17+=("copy$i.st"); done
expect 2 "$cli" ensemble "${models17[@]}" -o out.st
grep_err "at most 16 models, not 17"
untouched "17 models"
# one model twice (by its name or another path): its members must differ
expect 2 "$cli" ensemble "$A" "$B" "$A" -o out.st
grep_err "$A is given twice"
untouched "a model given twice"
expect 2 "$cli" ensemble "$A" "m2/../$A" -o out.st
grep_err "given twice"
untouched "a model given twice by another path"
expect 0 "$cli" ensemble "${models17[@]:0:16}" -o E16.st
grep_err "wrote E16.st: 16 networks, embedding 256"

# -o naming an input (by its name, a symlink, another path): exit 2, the input byte-identical
expect 2 "$cli" ensemble "$A" "$B" -o "$A"
grep_err "$A: the output is also an input; it would be overwritten"
expect 2 "$cli" ensemble "$A" "$B" -o "$B"
grep_err "$B: the output is also an input"
ln -s "$A" link.st
expect 2 "$cli" ensemble "$A" "$B" -o link.st
grep_err "link.st: the output is the input $A"
expect 2 "$cli" ensemble "$A" "$B" -o "m2/../$A"
grep_err "the output is the input $A"
for f in "$A" "$B"; do cmp -s "$f" "$f.orig" || fail "a refused ensemble changed its input $f"; done

# a missing or corrupt member: exit 1, the file named
expect 1 "$cli" ensemble "$A" missing.st -o out.st
grep_err "missing.st"
untouched "a missing member"
printf 'junk' >junk.st
expect 1 "$cli" ensemble "$A" junk.st -o out.st
grep_err "junk.st"
untouched "a junk member"
head -c 1000 "$B" >truncated.st
expect 1 "$cli" ensemble "$A" truncated.st "$C" -o out.st
grep_err "truncated.st"
untouched "a truncated member"
# a safetensors file that is not a model (embeddings)
expect 0 "$cli" embed "$A" val -o emb.st -q -j 2
expect 1 "$cli" ensemble "$A" emb.st -o out.st
grep_err "emb.st"
untouched "an embeddings file as a member"

# members that do not fit: exit 1, the offending file and the reason named
expect 1 "$cli" ensemble "$A" "$B" big/model.safetensors -o out.st
grep_err "big/model.safetensors"
grep_err "input geometry"
untouched "another input geometry"
expect 1 "$cli" ensemble "$A" cos1/model.safetensors "$C" -o out.st
grep_err "cos1/model.safetensors: ensemble: member 1 has another metric than member 0 (member 0: $A)"
untouched "another metric"
expect 1 "$cli" ensemble "$A" E.st -o out.st
grep_err "E.st"
grep_err "ensemble"
untouched "an ensemble as a member"

# an output that cannot be written: exit 1, named
expect 2 "$cli" ensemble "$A" "$B" -o no-folder/E.st
grep_err "no-folder/E.st"
[ -e no-folder ] && fail "a failed ensemble made no-folder"

# ---------------------------------------------------------------- train --init

# a bad --init today: exit 1, the file named, no run folder; an ensemble as --init the same
expect 1 "$cli" train val --arch "$arch" --input 1x28x28 --epochs 1 -j 2 -q -o run_missing --init missing.st
grep_err "missing.st"
[ -e run_missing ] && fail "a train with a missing --init left run_missing behind"
cp E.st E.orig
expect 1 "$cli" train val --arch "$arch" --input 1x28x28 --epochs 1 -j 2 -q -o run_ens --init E.st
grep_err "E.st"
grep_err "ensemble"
[ -e run_ens ] && fail "a train refusing --init E.st left run_ens behind: $(ls -a run_ens)"
cmp -s E.st E.orig || fail "train --init changed E.st"
expect 1 "$cli" train val --arch "$arch" --input 1x28x28 --epochs 1 -j 2 -q -o run_ens8 --init E8.st
grep_err "ensemble"
[ -e run_ens8 ] && fail "a train refusing --init E8.st left run_ens8 behind"

finish test_cli_ensemble
