#!/usr/bin/env bash
# Training accounts for every file of its data set (issue 15): a class folder with a truncated
# image, a text file, an empty file and a broken JPEG among generated noise images. Each bad
# file is warned about by name, metrics.jsonl's "data" line counts and lists them with reasons,
# the summary and the run report say so, pairs come from usable images only (the model equals
# the one trained on the folder without the bad files, bit for bit), and a folder with no usable
# image fails naming it. Generated data only: no shared data set needed.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

# noise_pgm FILE: a 46x56 grey PNM of random pixels
noise_pgm() { { printf 'P5\n46 56\n255\n'; head -c $((46 * 56)) /dev/urandom; } >"$1"; }
mkdir -p "$tmp/clean"
for c in a b c d; do
    mkdir -p "$tmp/clean/$c"
    for i in 1 2 3 4 5 6; do noise_pgm "$tmp/clean/$c/$i.pgm"; done
done
cp -r "$tmp/clean" "$tmp/data"
head -c 300 "$tmp/clean/a/1.pgm" >"$tmp/data/b/truncated.pgm"
echo "notes about the photos" >"$tmp/data/c/notes.txt"
: >"$tmp/data/d/empty.jpg"
{ printf '\377\330\377\340'; head -c 200 /dev/urandom; } >"$tmp/data/a/broken.jpg"

arch="conv(4,k=5,s=2) relu maxpool(2) linear(8)"
train() { # DATA RUN [more options]
    local data=$1 run=$2
    shift 2
    expect 0 "$cli" train "$data" -o "$run" --arch "$arch" --input 1x56x46 --batch 4 \
        --threads 1 --epochs 1 --seed 5 "$@"
}

train "$tmp/data" "$tmp/run"
for f in b/truncated.pgm c/notes.txt d/empty.jpg a/broken.jpg; do
    grep -q "warning: $tmp/data/$f: .*skipped" "$tmp/err" || fail "no warning naming $f: $(cat "$tmp/err")"
done
grep -q "^data: *28 files, 24 usable, 4 skipped" "$tmp/out" ||
    fail "the summary does not count the files: $(cat "$tmp/out")"
data=$(grep '"event":"data"' "$tmp/run/metrics.jsonl")
[ -n "$data" ] || fail "metrics.jsonl has no data line"
grep -q '"files":28,"usable":24,"skipped":4' <<<"$data" || fail "data line counts: $data"
for f in b/truncated.pgm c/notes.txt d/empty.jpg a/broken.jpg; do
    grep -Eq "\{\"file\":\"$f\",\"reason\":\"[^\"]+\"\}" <<<"$data" || fail "$f not listed with a reason: $data"
done
grep -q '"file":"c/notes.txt","reason":"not a recognized image' <<<"$data" ||
    fail "the text file's reason: $data"
grep -q '"file":"d/empty.jpg","reason":"empty file"' <<<"$data" || fail "the empty file's reason: $data"

# pairs from usable images only: the same pairs, so the same model, as without the bad files
train "$tmp/clean" "$tmp/run_clean"
grep -q "^data: *24 files, 24 usable, 0 skipped" "$tmp/out" || fail "clean folder: $(cat "$tmp/out")"
cmp -s "$tmp/run/model.safetensors" "$tmp/run_clean/model.safetensors" ||
    fail "the model trained beside bad files differs from the one trained without them"

# --json prints the same data line
train "$tmp/data" "$tmp/run_json" --json
grep -q '^{"event":"data","files":28,"usable":24,"skipped":4,' "$tmp/out" ||
    fail "--json has no data line: $(head -3 "$tmp/out")"

# the run report's training page shows the account
expect 0 "$cli" report "$tmp/run" -j 1
page="$tmp/run/report.html"
grep -q 'id="run-files">28' "$page" || fail "report: files"
grep -q 'id="run-files-usable">24' "$page" || fail "report: usable images"
grep -q 'id="run-files-skipped">4' "$page" || fail "report: skipped files"
grep -q '<td>c/notes.txt</td><td>not a recognized image' "$page" || fail "report: no skipped-file table"

# -o naming one of the run's own files is refused, the file untouched
cp "$tmp/run/config.json" "$tmp/config.keep"
expect 2 "$cli" report "$tmp/run" -o "$tmp/run/config.json" -j 1
grep_err "$tmp/run/config.json: the output is also an input; it would be overwritten"
cmp -s "$tmp/run/config.json" "$tmp/config.keep" || fail "report -o overwrote the run's config.json"

# nothing usable: a clear failure naming the folder, no model
mkdir -p "$tmp/junk/x" "$tmp/junk/y"
echo "a" >"$tmp/junk/x/a.txt"
: >"$tmp/junk/y/b.png"
expect 1 "$cli" train "$tmp/junk" -o "$tmp/run_junk" --arch "$arch" --input 1x56x46 --epochs 1
grep_err "$tmp/junk: none of its 2 files decodes as an image"
[ -e "$tmp/run_junk/model.safetensors" ] && fail "a model was written for a folder of junk"

finish test_cli_train_files
