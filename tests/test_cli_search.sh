#!/usr/bin/env bash
# The collection commands end to end on AT&T faces: a model trained briefly here, an index of 7
# images per person, the 3 held-out images per person searched (Recall@1 far above chance 1/40),
# embed (safetensors, npy), index add/remove/info, similar, verify, identify, and the errors:
# a query that does not decode, a truncated index, an index searched with another model.
# ctest-label: slow
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

require_data faces att_faces
arch="conv(16,k=5,s=2) relu maxpool(2) conv(32,k=3) relu maxpool(2) linear(32)"
small=(--arch "$arch" --input 1x56x46 --batch 32 --threads 2 --sampler online --split images)

# gallery: images 1-7 of each person; queries: 8-10, never seen by the model or the index
for d in "$faces"/*/s*; do
    c=$(basename "$d")
    mkdir -p "$tmp/gallery/$c" "$tmp/queries/$c"
    for i in 1 2 3 4 5 6 7; do ln -s "$d/$i.pgm" "$tmp/gallery/$c/$i.pgm"; done
    for i in 8 9 10; do ln -s "$d/$i.pgm" "$tmp/queries/$c/$i.pgm"; done
done
expect 0 "$cli" train "$tmp/gallery" -o "$tmp/run" "${small[@]}" --epochs 4 --pairs-per-epoch 2000 --seed 3 -q
model=$tmp/run/model.safetensors

# build and describe
expect 0 "$cli" index build "$model" "$tmp/gallery" -o "$tmp/faces.idx" -q
expect 0 "$cli" index info "$tmp/faces.idx"
grep -q "^items: *280 (0 without" "$tmp/out" || fail "index info: $(cat "$tmp/out")"
grep -q "^classes: *40$" "$tmp/out" || fail "index info classes: $(cat "$tmp/out")"
grep -q "^dimensions: *32$" "$tmp/out" || fail "index info dimensions: $(cat "$tmp/out")"

# Recall@1 of the 120 held-out queries: the nearest gallery image is the same person
expect 0 "$cli" search "$tmp/faces.idx" "$tmp/queries" -k 1 --json
n=$(grep -c '^{"query":' "$tmp/out")
[ "$n" -eq 120 ] || fail "search: $n results, want 120"
hits=$(sed -E 's|^\{"query":"[^"]*/(s[0-9]+)/[0-9]+\.pgm".*"class":"([^"]*)".*|\1 \2|' "$tmp/out" |
    awk '$1 == $2 { h++ } END { print h + 0 }')
echo "Recall@1: $hits/120 (chance 3/120)"
[ "$hits" -ge 72 ] || fail "Recall@1 $hits/120, want >= 72 (chance is 3)"

# the table, k larger than 1, and the picture
q=$tmp/queries/s5/8.pgm
expect 0 "$cli" search "$tmp/faces.idx" "$q" -k 4 --png "$tmp/grid.png"
[ "$(grep -c '^ *[1-4]  [0-9.]*  s[0-9]* ' "$tmp/out")" -eq 4 ] || fail "search table: $(cat "$tmp/out")"
head -c 8 "$tmp/grid.png" | od -An -c | grep -q "P   N   G" || fail "--png did not write a PNG"

# errors: usage, a query that does not decode, a truncated index, another model
expect 2 "$cli" search "$tmp/faces.idx"
expect 2 "$cli" search "$tmp/faces.idx" "$q" -k 0
printf 'not an image' >"$tmp/bad.pgm"
expect 1 "$cli" search "$tmp/faces.idx" "$q" "$tmp/bad.pgm"
grep_err "$tmp/bad.pgm"
[ -s "$tmp/out" ] && fail "search printed results despite a bad query"
mkdir -p "$tmp/no_images" && : >"$tmp/no_images.txt"
expect 1 "$cli" search "$tmp/faces.idx" "$tmp/no_images"
grep_err "$tmp/no_images: no files in it"
expect 1 "$cli" embed "$model" "$tmp/no_images.txt" -o "$tmp/none.st"
grep_err "$tmp/no_images.txt: no files in it"
expect 1 "$cli" identify "$tmp/faces.idx" "$tmp/no_images" "$tmp/no_images.txt"
grep_err "no files in the 2 folders and lists given"
head -c 3000 "$tmp/faces.idx" >"$tmp/cut.idx"
expect 1 "$cli" search "$tmp/cut.idx" "$q"
grep_err "$tmp/cut.idx"
expect 1 "$cli" index info "$tmp/cut.idx"
grep_err "$tmp/cut.idx"
cp "$tmp/faces.idx" "$tmp/flipped.idx"
printf 'X' | dd of="$tmp/flipped.idx" bs=1 seek=20 conv=notrunc status=none
expect 1 "$cli" search "$tmp/flipped.idx" "$q"
grep_err "$tmp/flipped.idx"
expect 0 "$cli" train "$tmp/gallery" -o "$tmp/other" "${small[@]}" --epochs 1 --pairs-per-epoch 64 --seed 4 -q
expect 1 "$cli" search "$tmp/faces.idx" "$q" --model "$tmp/other/model.safetensors"
grep_err "another model"
grep_err "weights"

# embed: the safetensors output is an index; npy gives the matrix and the paths
expect 0 "$cli" embed "$model" "$tmp/gallery" -o "$tmp/emb.st" -q
expect 0 "$cli" search "$tmp/emb.st" "$q" -k 1
expect 0 "$cli" embed "$model" "$tmp/gallery" -o "$tmp/emb" --format npy -q
head -c 6 "$tmp/emb.npy" | od -An -c | grep -q "N   U   M   P   Y" || fail "embed npy: no NUMPY magic"
[ "$(wc -l <"$tmp/emb.paths.txt")" -eq 280 ] || fail "embed npy: paths.txt lines"
size=$(stat -c %s "$tmp/emb.npy")
[ "$size" -eq $((128 + 280 * 32 * 4)) ] || fail "embed npy: $size bytes, want header 128 + data"
expect 2 "$cli" embed "$model" "$tmp/gallery"
grep_err "\-o"

# an output that is an input is refused (exit 2) before any work, the files untouched
cp "$model" "$tmp/model.keep"
cp "$tmp/faces.idx" "$tmp/faces.keep"
expect 2 "$cli" embed "$model" "$tmp/gallery" -o "$model"
grep_err "$model: the output is also an input; it would be overwritten"
expect 2 "$cli" index build "$model" "$tmp/gallery" -o "$model" -q
grep_err "$model: the output is also an input"
expect 2 "$cli" search "$tmp/faces.idx" "$q" --png "$tmp/faces.idx" -q
grep_err "faces.idx: the output is also an input"
cmp -s "$model" "$tmp/model.keep" || fail "embed or index build overwrote the model"
cmp -s "$tmp/faces.idx" "$tmp/faces.keep" || fail "search --png overwrote the index"
# and so are the files the index names: its recorded model, its gallery images
expect 2 "$cli" search "$tmp/faces.idx" "$q" --png "$model" -q
grep_err "$model: the output is also an input"
expect 2 "$cli" search "$tmp/faces.idx" "$q" --png "$tmp/gallery/s2/3.pgm" -q
grep_err "gallery/s2/3.pgm: the output is the input .*/s2/3.pgm; it would be overwritten"
cmp -s "$model" "$tmp/model.keep" || fail "search --png overwrote the index's model"

# remove and add back: counts, and a removed image is no longer found
expect 0 "$cli" index remove "$tmp/faces.idx" "$tmp/gallery/s1/1.pgm" "$tmp/gallery/s1/2.pgm" -q
expect 0 "$cli" index info "$tmp/faces.idx"
grep -q "^items: *278 " "$tmp/out" || fail "after remove: $(cat "$tmp/out")"
expect 0 "$cli" search "$tmp/faces.idx" "$tmp/gallery/s1/1.pgm" -k 278
tail -n +2 "$tmp/out" | grep -q "/s1/1.pgm$" && fail "a removed image is still found"
expect 1 "$cli" index remove "$tmp/faces.idx" "$tmp/gallery/s1/1.pgm"
grep_err "not in"
expect 0 "$cli" index add "$tmp/faces.idx" "$tmp/gallery/s1/1.pgm" -q
expect 0 "$cli" index info "$tmp/faces.idx"
grep -q "^items: *279 (0 without" "$tmp/out" || fail "after add (its folder names its class): $(cat "$tmp/out")"
expect 0 "$cli" search "$tmp/faces.idx" "$tmp/gallery/s1/1.pgm" -k 1
grep -q "^   1  0.00000[0-9]  s1  .*/s1/1.pgm$" "$tmp/out" || fail "an added image is not its own nearest: $(cat "$tmp/out")"

# similar: itself excluded; --other-classes only other people
item="$tmp/gallery/s9/3.pgm"
expect 0 "$cli" similar "$tmp/faces.idx" "$item" -k 5
grep -q "/s9/3.pgm$" <(tail -n +2 "$tmp/out") && fail "similar returned the item itself"
[ "$(tail -n +2 "$tmp/out" | wc -l)" -eq 5 ] || fail "similar: $(cat "$tmp/out")"
expect 0 "$cli" similar "$tmp/faces.idx" "$item" -k 5 --other-classes
tail -n +2 "$tmp/out" | grep -q "  s9  " && fail "--other-classes returned the item's class"
expect 1 "$cli" similar "$tmp/faces.idx" "$tmp/nowhere.pgm"
grep_err "not in"

# verify and identify
expect 0 "$cli" verify "$model" "$tmp/queries/s9/8.pgm" "$tmp/queries/s9/9.pgm"
grep -q "^verdict: *\(same\|different\)$" "$tmp/out" || fail "verify: $(cat "$tmp/out")"
grep -q "^margin: " "$tmp/out" || fail "verify margin: $(cat "$tmp/out")"
expect 0 "$cli" verify "$model" "$tmp/queries/s9/8.pgm" "$tmp/queries/s9/9.pgm" --threshold 0
grep -q "^verdict: *different$" "$tmp/out" || fail "verify --threshold 0: $(cat "$tmp/out")"
expect 1 "$cli" verify "$model" "$tmp/queries/s9/8.pgm" "$tmp/bad.pgm"
grep_err "$tmp/bad.pgm"
expect 0 "$cli" identify "$tmp/faces.idx" "$tmp/queries/s12" --threshold 1000
[ "$(grep -c $'\ts12\t' "$tmp/out")" -ge 2 ] || fail "identify: $(cat "$tmp/out")"
expect 0 "$cli" identify "$tmp/faces.idx" "$tmp/queries/s12/8.pgm" --threshold 0
grep -q $'\tunknown\t' "$tmp/out" || fail "identify --threshold 0: $(cat "$tmp/out")"

finish test_cli_search
