#!/usr/bin/env bash
# 'siamese pairs': manifest and recipe-layout output, seeding, bad files, usage and data errors.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

pgm() { # pgm FILE SEED: a 6x5 binary PGM
    { printf 'P5\n6 5\n255\n'; head -c 30 /dev/zero | tr '\0' "\\$(printf '%03o' $(( $2 % 200 + 20 )))"; } >"$1"
}
data=$tmp/data
for c in alpha beta gamma delta; do
    mkdir -p "$data/$c"
    for i in 1 2 3 4 5 6 7; do pgm "$data/$c/$i.pgm" $((i * 7 + ${#c})); done
done

# --help
expect 0 "$cli" pairs --help
grep -q -- "--per-class" "$tmp/out" || fail "--help does not list --per-class"
grep -q "^  pairs " <("$cli" --help) || fail "'pairs' missing from siamese --help"

# manifest: 4 classes x (3 + 3) pairs, paths relative to the manifest's folder
cd "$tmp"
expect 0 "$cli" pairs data -o pairs.tsv --seed 5
[ "$(grep -vc '^#' pairs.tsv)" -eq 24 ] || fail "want 24 pairs, got $(grep -vc '^#' pairs.tsv)"
[ "$(grep -c $'\t0$' pairs.tsv)" -eq 12 ] || fail "want 12 similar pairs"
grep -v '^#' pairs.tsv | cut -f1 | grep -q '^data/' || fail "paths are not relative: $(sed -n 2p pairs.tsv)"
grep -q "24 pairs" "$tmp/out" || fail "summary line: $(cat "$tmp/out")"
while IFS=$'\t' read -r a b label; do
    [ -f "$a" ] && [ -f "$b" ] || fail "manifest names missing files: $a $b"
    ca=$(dirname "$a"); cb=$(dirname "$b")
    if [ "$label" = 0 ]; then [ "$ca" = "$cb" ] && [ "$a" != "$b" ] || fail "bad similar pair $a $b"
    else [ "$ca" != "$cb" ] || fail "dissimilar pair within one class: $a $b"; fi
done < <(grep -v '^#' pairs.tsv)

# same seed -> same file; another seed differs; --per-class
expect 0 "$cli" pairs data -o again.tsv --seed 5
cmp -s <(grep -v '^#' pairs.tsv) <(grep -v '^#' again.tsv) || fail "same seed, different pairs"
expect 0 "$cli" pairs data -o other.tsv --seed 6
cmp -s <(grep -v '^#' pairs.tsv) <(grep -v '^#' other.tsv) && fail "different seeds, same pairs"
expect 0 "$cli" pairs data -o k2.tsv -k 2
[ "$(grep -vc '^#' k2.tsv)" -eq 16 ] || fail "--per-class 2: want 16 pairs"

# the manifest is itself a dataset: reading it back gives the same pairs
mkdir -p sub
expect 0 "$cli" pairs pairs.tsv -o sub/copy.tsv
[ "$(grep -vc '^#' sub/copy.tsv)" -eq 24 ] || fail "manifest -> manifest lost pairs"
grep -v '^#' sub/copy.tsv | cut -f1 | head -1 | grep -q '^/' || fail "paths outside the manifest folder should be absolute"

# --layout recipe: the tutorial's tree, hard links, readable again
expect 0 "$cli" pairs data --layout recipe -o recipe --seed 5
[ "$(ls recipe/similar_all_images | wc -l)" -eq 24 ] || fail "want 24 files in similar_all_images"
[ "$(ls recipe/dissimilar_all_images | wc -l)" -eq 24 ] || fail "want 24 files in dissimilar_all_images"
[ -f recipe/similar_all_images/similar_11_second.pgm ] || fail "similar_11_second.pgm missing"
[ "$(stat -c %h recipe/similar_all_images/similar_0_first.pgm)" -ge 2 ] || fail "not a hard link"
expect 0 "$cli" pairs recipe -o fromrecipe.tsv
[ "$(grep -vc '^#' fromrecipe.tsv)" -eq 24 ] || fail "recipe layout read back: want 24 pairs"
expect 1 "$cli" pairs data --layout recipe -o recipe --seed 5
grep_err "already exists"

# a corrupt file is skipped with a warning naming it; the run still succeeds
printf 'P5\n6 5\n255\nab' >data/beta/3.pgm
: >data/gamma/2.pgm
expect 0 "$cli" pairs data -o bad.tsv
grep_err "beta/3.pgm"
grep_err "gamma/2.pgm"
grep_err "2 files skipped"
grep -q "beta/3.pgm" bad.tsv && fail "a corrupt file ended up in the pairs"

# usage errors: exit 2
expect 2 "$cli" pairs
expect 2 "$cli" pairs data
grep_err "-o"
expect 2 "$cli" pairs data -o x.tsv --layout tree
grep_err "layout"
expect 2 "$cli" pairs data -o x.tsv --per-class 0
expect 2 "$cli" pairs data -o x.tsv --per-class lots
expect 2 "$cli" pairs data -o x.tsv --no-such-option
expect 2 "$cli" pairs data other -o x.tsv

# data errors: exit 1, naming the path and the reason
expect 1 "$cli" pairs "$tmp/missing-folder" -o x.tsv
grep_err "missing-folder: cannot open: No such file or directory$"
mkdir -p one/only && pgm one/only/1.pgm 1
expect 1 "$cli" pairs one -o x.tsv
grep_err "need at least two"
printf 'a.pgm\tb.pgm\t0\na.pgm b.pgm 1\n' >broken.tsv
expect 1 "$cli" pairs broken.tsv -o x.tsv
grep_err "broken.tsv:2:"
[ -e x.tsv ] && fail "a failed run left x.tsv behind"

# the output is never one of the inputs: the manifest read stays as it was
cp bad.tsv keep.tsv
expect 2 "$cli" pairs bad.tsv -o ./bad.tsv
grep_err "./bad.tsv: the output is the input bad.tsv; it would be overwritten"
cmp -s bad.tsv keep.tsv || fail "pairs overwrote the manifest it read"

finish test_cli_pairs
