#!/usr/bin/env bash
# What the collection commands read, and how they say it is wrong: relative paths of a .txt image
# list are read from the list's own folder (as pair manifests do), whatever the current folder;
# an image file named on the command line that cannot be read is an error (exit 1, the file
# named, no output written or changed) for embed, index build and index add, while the files of
# a folder or list that do not decode stay warnings; an image given where a data set is expected
# is named as an image, with what DATA may be. Generated noise PGMs and a tiny model only.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

# noise_pgm FILE: a 46x56 grey PNM of random pixels
noise_pgm() { { printf 'P5\n46 56\n255\n'; head -c $((46 * 56)) /dev/urandom; } >"$1"; }
for c in a b c d; do
    mkdir -p "$tmp/data/$c"
    for i in 1 2 3; do noise_pgm "$tmp/data/$c/$i.pgm"; done
done
tiny=(--arch "conv(4,k=5,s=2) relu maxpool(2) linear(8)" --input 1x56x46 --threads 1)
expect 0 "$cli" train "$tmp/data" -o "$tmp/run" "${tiny[@]}" --batch 4 --epochs 1 --seed 5
model=$tmp/run/model.safetensors
[ -f "$model" ] || { fail "no tiny model: $(cat "$tmp/err")"; finish test_cli_inputs; }
run() { expect "$1" "$cli" "${@:2}" --threads 1; } # run CODE COMMAND ARGS...

# ---- lists: relative paths from the list's folder, absolute ones as written
mkdir -p "$tmp/lst/sub" "$tmp/elsewhere"
noise_pgm "$tmp/lst/a.pgm"
noise_pgm "$tmp/lst/sub/b.pgm"
noise_pgm "$tmp/c.pgm"
printf '# images beside the list\na.pgm\n\nsub/b.pgm\n%s\n' "$tmp/c.pgm" >"$tmp/lst/l.txt"
printf 'a.pgm\n' >"$tmp/lst/one.txt"
cd "$tmp/elsewhere" || exit 1
run 0 embed "$model" ../lst/l.txt -o e.npy --format npy
grep -q "embedded 3 images (0 skipped)" "$tmp/err" || fail "embed of a list: $(cat "$tmp/err")"
[ "$(cat e.paths.txt)" = "$(printf '%s\n' "$tmp/lst/a.pgm" "$tmp/lst/sub/b.pgm" "$tmp/c.pgm")" ] ||
    fail "embed's paths are not the list's files: $(cat e.paths.txt)"
run 0 index build "$model" "$tmp/lst/one.txt" -o t.idx
grep -q "(1 items)" "$tmp/err" || fail "index build of a list: $(cat "$tmp/err")"
run 0 index add t.idx ../lst/l.txt
grep -q "added 3 images (2 new, 1 replaced, 0 skipped)" "$tmp/err" || fail "index add of a list: $(cat "$tmp/err")"
run 0 search t.idx ../lst/l.txt -k 1
[ "$(grep -c '^query ' "$tmp/out")" -eq 3 ] || fail "search of a list: $(cat "$tmp/out" "$tmp/err")"
run 0 index build "$model" "$tmp/data" -o gallery.idx
run 0 identify gallery.idx ../lst/l.txt
[ "$(wc -l <"$tmp/out")" -eq 3 ] || fail "identify of a list: $(cat "$tmp/out" "$tmp/err")"
# a list in the current folder names its files as before (as written)
cd "$tmp/lst" || exit 1
run 0 embed "$model" one.txt -o "$tmp/elsewhere/here.npy" --format npy
[ "$(cat "$tmp/elsewhere/here.paths.txt")" = "$tmp/lst/a.pgm" ] ||
    fail "a list in the current folder: $(cat "$tmp/elsewhere/here.paths.txt")"

# ---- a file of a list or folder that does not decode (or is missing): a warning, exit 0
cd "$tmp/elsewhere" || exit 1
printf 'a.pgm\nmissing.pgm\n' >"$tmp/lst/gap.txt"
run 0 embed "$model" ../lst/gap.txt -o gap.st
grep_err "warning: ../lst/missing.pgm: cannot open: .*skipped"
grep_err "embedded 1 images (1 skipped)"
mkdir -p "$tmp/mixed"
noise_pgm "$tmp/mixed/good.pgm"
echo "notes about the photos" >"$tmp/mixed/notes.pgm"
run 0 embed "$model" "$tmp/mixed" -o mixed.st
grep_err "warning: $tmp/mixed/notes.pgm: not a recognized image.*skipped"
grep_err "embedded 1 images (1 skipped)"
run 0 index build "$model" "$tmp/mixed" -o mixed.idx
grep_err "warning: $tmp/mixed/notes.pgm: .*skipped"

# ---- a file named on the command line that cannot be read: exit 1, named, nothing written
a=$tmp/lst/a.pgm
named_error() { # WHAT FILE: stderr names FILE and WHAT, and nothing was embedded
    grep_err "$2: $1"
    grep -q "^embedded\|^added\|^wrote" "$tmp/err" && fail "work done or written: $(cat "$tmp/err")"
}
run 1 embed "$model" "$a" typo.pgm -o new.st
named_error "cannot open: No such file or directory" typo.pgm
[ -e new.st ] && fail "embed wrote new.st despite the missing file"
run 1 embed "$model" "$a" typo.pgm -o new --format npy
[ -e new.npy ] || [ -e new.paths.txt ] && fail "embed wrote new.npy despite the missing file"
run 0 embed "$model" "$a" "$tmp/lst/sub/b.pgm" -o keep.st # what a rewrite would change
cp keep.st keep.before
run 1 embed "$model" "$a" "$tmp/mixed/notes.pgm" -o keep.st
named_error "not a recognized image" "$tmp/mixed/notes.pgm"
cmp -s keep.st keep.before || fail "embed changed keep.st despite the bad file"
run 1 index build "$model" "$a" typo.pgm -o new.idx
named_error "cannot open: No such file or directory" typo.pgm
[ -e new.idx ] && fail "index build wrote new.idx despite the missing file"
cp t.idx t.before
run 1 index build "$model" "$a" typo.pgm -o t.idx
cmp -s t.idx t.before || fail "index build changed t.idx despite the missing file"
run 1 index add t.idx "$tmp/lst/sub/b.pgm" typo2.pgm
named_error "cannot open: No such file or directory" typo2.pgm
cmp -s t.idx t.before || fail "index add changed t.idx despite the missing file"
run 1 index add t.idx "$tmp/lst/sub/b.pgm" "$tmp/mixed/notes.pgm"
named_error "not a recognized image" "$tmp/mixed/notes.pgm"
cmp -s t.idx t.before || fail "index add changed t.idx despite the undecodable file"
run 1 index add t.idx ../lst/missing_list.txt
grep_err "missing_list.txt: cannot open: No such file or directory"
cmp -s t.idx t.before || fail "index add changed t.idx despite the missing list"

# ---- an image where a data set is expected: named as an image, with what DATA may be
image_as_data() { # stderr says FILE is an image, not a data set
    grep_err "$1: an image ($2), not a data set: give a folder of class folders"
    grep -q "tab-separated" "$tmp/err" && fail "parsed as a manifest: $(cat "$tmp/err")"
}
run 1 eval "$model" "$a"
image_as_data "$a" PNM
run 1 test "$model" "$a"
image_as_data "$a" PNM
run 1 calibrate "$model" "$a" -o cal.st
image_as_data "$a" PNM
expect 1 "$cli" pairs "$a" -o pairs.tsv
image_as_data "$a" PNM
{ printf '\377\330\377\340'; head -c 100 /dev/urandom; } >photo.jpg
echo "not a photo" >fake.jpg
# (train opens DATA first: its network, given or the default, is never built here)
expect 1 "$cli" train photo.jpg -o r1 "${tiny[@]}"
image_as_data photo.jpg JPEG
expect 1 "$cli" train fake.jpg -o r2 "${tiny[@]}"
image_as_data fake.jpg .jpg
[ -e r1 ] || [ -e r2 ] && fail "train made a run folder for an image"

finish test_cli_inputs
