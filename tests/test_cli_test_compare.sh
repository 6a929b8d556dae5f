#!/usr/bin/env bash
# 'siamese test' and 'siamese compare': a small model trained on a few AT&T classes, the table and
# the PNG grid, distances, verdicts, pair lists, JSON lines, data errors (exit 1) and usage errors
# (exit 2), and no output files left after a failure.
# ctest-label: data
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
require_data att att_faces/training
is_png() { [ -f "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }
# table rows: lines starting with a row number
rows() { grep -cE '^ *[0-9]+  ' "$tmp/out"; }
# JSON lines: every line one object holding a numeric dissimilarity
json_ok() {
    local n=$1
    [ "$(wc -l <"$tmp/out")" -eq "$n" ] || fail "want $n JSON lines, got $(wc -l <"$tmp/out")"
    grep -vqE '^\{.*"dissimilarity":-?[0-9.]+(e-?[0-9]+)?[,}].*\}$' "$tmp/out" &&
        fail "a line is not a JSON object with a dissimilarity: $(cat "$tmp/out")"
}

# a small dataset: 8 AT&T classes, 10 faces each (symlinks)
data=$tmp/faces
for c in 1 2 3 4 8 9 10 11; do
    mkdir -p "$data/s$c" && ln -s "$att/s$c"/*.pgm "$data/s$c/" || { echo "FAIL: cannot link $att/s$c" >&2; exit 1; }
done
cd "$tmp"

# --help and the command list
expect 0 "$cli" test --help
grep -q -- "--count" "$tmp/out" || fail "test --help does not list --count"
grep -q "next(dataiter)" "$tmp/out" || fail "test --help does not say which images it compares"
expect 0 "$cli" compare --help
grep -q -- "--pairs" "$tmp/out" || fail "compare --help does not list --pairs"
"$cli" --help | grep -q "^  test " || fail "'test' missing from siamese --help"
"$cli" --help | grep -q "^  compare " || fail "'compare' missing from siamese --help"

# a model in a run folder (split.json, config.json, a threshold): 48 recipe pairs, 10 for test
expect 0 "$cli" train "$data" --arch mnist --epochs 2 --batch 8 --seed 3 -q -o run
model=run/model.safetensors
[ -f "$model" ] && [ -f run/split.json ] || { fail "training made no run folder"; exit 1; }

# test: 5 rows from the run's test pairs, with verdicts; the PNG grid
expect 0 "$cli" test "$model" "$data" --png grid.png
[ "$(rows)" -eq 5 ] || fail "want 5 rows, got $(rows): $(cat "$tmp/out")"
grep -q "split.json" "$tmp/out" || fail "test does not say it used the run's split"
# columns: #, x0, x1, same class (yes/no, from the class folders), dissimilarity, verdict, and
# last the tutorial's label of pair i, which is not about (x0, x1)
grep -qE '^ +# +x0 +x1 +same class +dissimilarity +verdict +tutorial label$' "$tmp/out" ||
    fail "table header: $(grep -E '^ +# ' "$tmp/out")"
[ "$(grep -E '^ *[0-9]+  ' "$tmp/out" | awk '($6 == "similar" || $6 == "dissimilar") &&
      ($7 == "similar" || $7 == "dissimilar") && NF == 7' | wc -l)" -eq 5 ] ||
    fail "rows lack verdicts or tutorial labels: $(cat "$tmp/out")"
[ "$(grep -E '^ *[0-9]+  ' "$tmp/out" | awk '{split($2, a, "/"); split($3, b, "/")
      if ($4 == (a[1] == b[1] ? "yes" : "no")) n++} END {print n + 0}')" -eq 5 ] ||
    fail "same class disagrees with the class folders of x0 and x1: $(cat "$tmp/out")"
is_png grid.png || fail "grid.png is not a PNG"
grep -q "grid.png" "$tmp/out" || fail "test does not say where the picture is"
x0=$(grep -E '^ +1  ' "$tmp/out" | awk '{print $2}')
[ "$(grep -E '^ *[0-9]+  ' "$tmp/out" | awk '{print $2}' | sort -u)" = "$x0" ] ||
    fail "x0 is not the same image on every row"
cp "$tmp/out" table5.txt

# the same run again gives the same table; --count, --json, the default picture name
expect 0 "$cli" test "$model" "$data" --png grid.png
cmp -s table5.txt "$tmp/out" || fail "two runs of test differ"
expect 0 "$cli" test "$model" "$data" --count 3 --json
json_ok 3
grep -q '"verdict":"' "$tmp/out" || fail "JSON rows lack the verdict"
[ "$(grep -cE '^\{"index":[0-9]+,"x0":"[^"]*","x1":"[^"]*","same_class":(true|false),.*"tutorial_label":[01],' "$tmp/out")" -eq 3 ] ||
    fail "JSON rows do not lead with same_class and end with the tutorial label: $(head -1 "$tmp/out")"
is_png test_pairs.png || fail "the default picture test_pairs.png is missing"
expect 0 "$cli" test "$model" "$data" --count 9 -o nine.png
[ "$(rows)" -eq 9 ] || fail "--count 9: want 9 rows, got $(rows)"
expect 0 "$cli" test "$model" "$data" --count 50 -o many.png
[ "$(rows)" -eq 9 ] || fail "10 test pairs give 9 rows, got $(rows)"
grep_err "only 10 usable test pairs"

# a model without its run folder: all recipe pairs of DATA, seeded
mkdir -p bare && cp "$model" bare/
expect 0 "$cli" test bare/model.safetensors "$data" --seed 4 -o bare.png
[ "$(rows)" -eq 5 ] || fail "bare model: want 5 rows, got $(rows)"
grep -q "all pairs of the dataset" "$tmp/out" || fail "bare model: source line: $(head -1 "$tmp/out")"

# no pair decodes: exit 1 naming DATA and how many pairs there were
mkdir -p junk/a junk/b
for c in a b; do for i in 1 2 3; do echo junk >"junk/$c/$i.pgm"; done; done
expect 1 "$cli" test bare/model.safetensors junk -o junk.png
grep_err "junk: 0 usable test pairs of [0-9]*; the check needs at least 2"

# --split names the split to use
expect 0 "$cli" test bare/model.safetensors "$data" --split run/split.json -o bare.png
grep -q "run/split.json" "$tmp/out" || fail "--split was not used"

# the run's split does not fit other data: exit 1 with a hint; --no-split uses all pairs of DATA
other=$tmp/other
for c in 12 13 14; do
    mkdir -p "$other/s$c" && ln -s "$att/s$c"/*.pgm "$other/s$c/" || { echo "FAIL: cannot link $att/s$c" >&2; exit 1; }
done
expect 1 "$cli" test "$model" "$other" -o other.png
grep_err "split.json"
grep_err "no-split"
expect 0 "$cli" test "$model" "$other" --no-split -o other.png
[ "$(rows)" -eq 5 ] || fail "--no-split: want 5 rows, got $(rows)"

# a test pair whose image does not decode is skipped with a warning naming it (as the loader does)
x0=$(grep -E '^ +1  ' "$tmp/out" | awk '{print $2}')
rm "$other/$x0" && head -c 100 "$att/$x0" >"$other/$x0"
expect 0 "$cli" test "$model" "$other" --no-split -o other.png
grep_err "$x0"
[ "$(rows)" -eq 5 ] || fail "with a corrupt image: want 5 rows, got $(rows)"
grep -E '^ +1  ' "$tmp/out" | awk '{print $2}' | grep -qx "$x0" && fail "the corrupt image is still x0"

# compare: an image with itself is ~0; another image; the picture; metrics and thresholds
a=$data/s1/1.pgm b=$data/s2/1.pgm
expect 0 "$cli" compare "$model" "$a" "$a"
d=$(awk '/^dissimilarity:/ {print $2}' "$tmp/out")
awk -v d="$d" 'BEGIN { exit !(d != "" && d >= 0 && d < 1e-3) }' || fail "self-distance $d, want < 1e-3"
grep -q "^verdict: *similar" "$tmp/out" || fail "self-comparison is not judged similar"
expect 0 "$cli" compare "$model" "$a" "$b" --png pair.png
is_png pair.png || fail "pair.png is not a PNG"
expect 0 "$cli" compare "$model" "$a" "$b" --metric cosine
grep -q "verdict" "$tmp/out" && fail "a verdict under another metric without --threshold"
grep_err "give --threshold"
expect 0 "$cli" compare "$model" "$a" "$b" --metric cosine --threshold 0
grep -q "^verdict: *dissimilar" "$tmp/out" || fail "--threshold 0 should judge two faces dissimilar"
expect 0 "$cli" compare "$model" "$a" "$b" --json
json_ok 1

# compare --pairs: one line per pair of a manifest written by 'siamese pairs' (relative paths)
mkdir -p lists
expect 0 "$cli" pairs "$data" -o lists/pairs.tsv --seed 2
n=$(grep -vc '^#' lists/pairs.tsv)
mkdir -p elsewhere && cd elsewhere
expect 0 "$cli" compare "../$model" --pairs ../lists/pairs.tsv
cd "$tmp"
[ "$(wc -l <"$tmp/out")" -eq "$n" ] || fail "--pairs: want $n lines, got $(wc -l <"$tmp/out")"
[ "$(awk -F'\t' 'NF == 5 && $3 ~ /^[0-9]+\.[0-9]+$/ && ($4 == "similar" || $4 == "dissimilar") &&
      ($5 == 0 || $5 == 1)' "$tmp/out" | wc -l)" -eq "$n" ] || fail "--pairs lines are not path, path, distance, verdict, label: $(head -2 "$tmp/out")"
grep_err "labelled pairs agree"
expect 0 "$cli" compare "$model" --pairs lists/pairs.tsv --json
json_ok "$n"
printf '# two pairs, one without a label\n%s\t%s\n\n%s\t%s\t1\n' "$a" "$a" "$a" "$b" >two.tsv
expect 0 "$cli" compare "$model" --pairs two.tsv
[ "$(wc -l <"$tmp/out")" -eq 2 ] || fail "two.tsv: want 2 lines"
[ "$(head -1 "$tmp/out" | awk -F'\t' '{print NF}')" -eq 4 ] || fail "an unlabelled pair got a label column"
# the batched distances equal the one-by-one ones
one=$("$cli" compare "$model" "$a" "$b" | awk '/^dissimilarity:/ {print $2}')
[ "$(sed -n 2p "$tmp/out" | cut -f3)" = "$one" ] || fail "batched distance $(sed -n 2p "$tmp/out" | cut -f3) != single $one"

# --precision bf16: on a CPU with bf16 kernels a different distance within bf16 rounding; on
# one without, the fp32 distance and a notice (the default, auto, may itself have chosen bf16)
one=$("$cli" compare "$model" "$a" "$b" --precision fp32 | awk '/^dissimilarity:/ {print $2}')
expect 0 "$cli" compare "$model" "$a" "$b" --precision bf16
half=$(awk '/^dissimilarity:/ {print $2}' "$tmp/out")
if grep -q "no bf16 kernels" "$tmp/err"; then
    [ "$half" = "$one" ] || fail "the fp32 fallback gave $half, not fp32's $one"
else
    awk -v h="$half" -v f="$one" 'BEGIN { d = h - f; if (d < 0) d = -d
        exit !(h != "" && h != f && d <= 0.02 * f + 1e-3) }' ||
        fail "bf16 distance $half: want near fp32's $one, and computed in bf16"
fi
expect 0 "$cli" test "$model" "$data" --count 3 --json --precision bf16
json_ok 3

# data errors: exit 1 naming the file, nothing written
expect 1 "$cli" compare "$model" "$a" missing.png --png none.png
grep_err "missing.png"
[ -e none.png ] && fail "a failed compare left none.png"
head -c 200 "$a" >corrupt.pgm
expect 1 "$cli" compare "$model" "$a" corrupt.pgm
grep_err "corrupt.pgm"
expect 1 "$cli" compare no-model.safetensors "$a" "$b"
grep_err "no-model.safetensors"
expect 1 "$cli" compare "$a" "$a" "$b"
grep_err "$a"
expect 1 "$cli" test no-model.safetensors "$data" -o none.png
grep_err "no-model.safetensors"
expect 1 "$cli" test "$model" "$tmp/no-data" -o none.png
grep_err "no-data"
[ -e none.png ] && fail "a failed test left none.png"
expect 2 "$cli" test "$model" "$data" -o no-folder/grid.png
grep_err "no-folder/grid.png"
[ -s "$tmp/out" ] && fail "a failed test printed a table"
printf '%s\t%s\t0\n%s\tcorrupt.pgm\t1\n' "$a" "$b" "$a" >bad.tsv
expect 1 "$cli" compare "$model" --pairs bad.tsv
grep_err "bad.tsv:2"
grep_err "corrupt.pgm"
[ -s "$tmp/out" ] && fail "a failed --pairs run printed results"
printf '%s\n' "$a" >short.tsv
expect 1 "$cli" compare "$model" --pairs short.tsv
grep_err "short.tsv:1"
expect 1 "$cli" compare "$model" --pairs no-list.tsv
grep_err "no-list.tsv"

# a picture never overwrites an input: exit 2 before any work, the files as they were
cp "$model" keep_model.safetensors
cp "$a" keep_a.pgm
cp "$a" a_copy.pgm
expect 2 "$cli" compare "$model" a_copy.pgm "$b" --png a_copy.pgm
grep_err "a_copy.pgm: the output is also an input; it would be overwritten"
expect 2 "$cli" compare "$model" "$a" "$b" --png "$tmp/$model"
grep_err "the output is the input $model"
expect 2 "$cli" test "$model" "$data" --png "$model"
grep_err "$model: the output is also an input"
cmp -s "$model" keep_model.safetensors || fail "compare or test --png overwrote the model"
cmp -s a_copy.pgm keep_a.pgm || fail "compare --png overwrote an image it compared"

# usage errors: exit 2
expect 2 "$cli" test "$model" "$data" --no-such-option
grep_err "no-such-option"
expect 2 "$cli" test "$model"
expect 2 "$cli" test "$model" "$data" --count 0
expect 2 "$cli" test "$model" "$data" --count five
expect 2 "$cli" test "$model" "$data" -j -3
grep_err "siamese test: --threads must be 0 (all cores) to 1024, got -3"
expect 2 "$cli" compare "$model" "$a" "$b" --no-such-option
expect 2 "$cli" compare "$model" "$a"
expect 2 "$cli" compare "$model" "$a" "$b" --metric manhattan
expect 2 "$cli" compare "$model" "$a" --pairs two.tsv
expect 2 "$cli" compare "$model" --pairs two.tsv --png x.png
expect 2 "$cli" compare "$model" "$a" "$b" --threshold -1
expect 2 "$cli" compare "$model" "$a" "$b" --precision fp16
grep_err "unknown --precision 'fp16'"
expect 2 "$cli" test "$model" "$data" --precision fp16
grep_err "unknown --precision 'fp16'"

finish test_cli_test_compare
