#!/usr/bin/env bash
# 'siamese train' and its run folder: --resume with --epochs at or below the epochs done is a
# usage error that changes no file of the run; --resume of a folder that is not there creates
# nothing, and of a folder that is not a run leaves no lock in it; --overwrite clears the old
# run's models (a run stopped in its first epoch leaves no old model), while a refused
# --overwrite leaves the old run whole; a run folder in (or equal to) the data folder is refused
# before anything is made; --help states the exit codes; test pairs all of one kind print a note,
# not "ROC AUC nan". Generated data (noise PGMs) and a tiny network: each check in seconds.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

# noise_pgm FILE: a 46x56 grey PNM of random pixels
noise_pgm() { { printf 'P5\n46 56\n255\n'; head -c $((46 * 56)) /dev/urandom; } >"$1"; }
for c in a b c d; do
    mkdir -p "$tmp/data/$c"
    for i in 1 2 3 4 5 6; do noise_pgm "$tmp/data/$c/$i.pgm"; done
done
arch="conv(4,k=5,s=2) relu maxpool(2) linear(8)"
tiny=(--arch "$arch" --input 1x56x46 --batch 4 --threads 1 --seed 5 -q)
# sums DIR: sha256 of every file under DIR (hidden ones, .lock, included), by relative path
sums() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs -d '\n' sha256sum); }
# unchanged DIR BEFORE WHAT: DIR's files are those BEFORE recorded
unchanged() {
    local now
    now=$(sums "$1")
    [ "$now" = "$(cat "$2")" ] || fail "$3 changed $1: $(diff "$2" - <<<"$now")"
}
lap() { echo "$1: $SECONDS s" >&2; }

# 1. --resume --epochs N with N at or below the epochs done: exit 2, every file as it was, and a
# plain --resume afterwards still trains the run's own total
run=$tmp/run
expect 0 "$cli" train "$tmp/data" -o "$run" "${tiny[@]}" --epochs 3
sums "$run" >"$tmp/run.sums"
expect 2 "$cli" train --resume "$run" --epochs 2
grep_err "siamese train: $run has done 3 epochs; a total of 2 epochs would end it before now: give more than 3 (with --epochs)"
unchanged "$run" "$tmp/run.sums" "a refused --resume --epochs 2"
expect 2 "$cli" train --resume "$run" --epochs 3
grep_err "has done 3 epochs; a total of 3 epochs would add none: give more than 3 (with --epochs)"
unchanged "$run" "$tmp/run.sums" "a refused --resume --epochs 3"
# a finished run resumed without a new total trains nothing, says so, and changes no file (its
# log gained a data line, and its plot was redrawn, at every such resume)
expect 0 "$cli" train --resume "$run"
grep_err "the run has done all its 3 epochs: nothing to train"
unchanged "$run" "$tmp/run.sums" "a --resume of the finished run"
grep -q '"epochs": *3[,}]' "$run/config.json" || fail "config.json's epochs: $(cat "$run/config.json")"
expect 0 "$cli" train --resume "$run" --epochs 4 -q
[ "$(grep -c '"event":"epoch"' "$run/metrics.jsonl")" -eq 4 ] || fail "--epochs 4 did not train epoch 4"
lap "resume totals"

# a run stopped inside epoch 2 (Ctrl-C once it has logged a batch of it) has done 1: --epochs 1 is
# refused, --epochs 2 finishes epoch 2
stopped=$tmp/stopped
"$cli" train "$tmp/data" -o "$stopped" "${tiny[@]}" --split images --sampler online \
    --pairs-per-epoch 4000 --epochs 3 --log-every 1 >"$tmp/stopped.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    grep -q '"event":"log","epoch":2' "$stopped/metrics.jsonl" 2>/dev/null && break
    sleep 0.05
done
kill -INT "$pid"
wait "$pid"
code=$?
if [ "$code" -eq 130 ]; then
    grep -q "checkpoint saved: resume the run in $stopped to go on (--resume $stopped)" \
        "$tmp/stopped.out" || fail "the interrupted run does not name --resume: $(cat "$tmp/stopped.out")"
    sums "$stopped" >"$tmp/stopped.sums"
    expect 2 "$cli" train --resume "$stopped" --epochs 1
    grep_err "has done 1 epoch (and [0-9]* batch\(es\)\? of epoch 2); a total of 1 epoch would add none: give more than 1 (with --epochs)"
    unchanged "$stopped" "$tmp/stopped.sums" "a refused --resume --epochs 1 of a stopped run"
    expect 0 "$cli" train --resume "$stopped" --epochs 2 -q
    [ "$(grep -c '"event":"epoch"' "$stopped/metrics.jsonl")" -eq 2 ] ||
        fail "--epochs 2 did not finish epoch 2 of the stopped run"
else
    fail "the run to stop in epoch 2: exit $code, want 130: $(cat "$tmp/stopped.out")"
fi
lap "resume of a stopped run"

# 2. --resume of a folder that is not there: nothing made, parents included
expect 1 "$cli" train --resume "$tmp/typo_run"
grep_err "siamese train: $tmp/typo_run: no such folder (given to --resume)"
[ -e "$tmp/typo_run" ] && fail "--resume made $tmp/typo_run"
expect 1 "$cli" train --resume "$tmp/x/sub/deeper/x"
grep_err "no such folder"
[ -e "$tmp/x" ] && fail "--resume made $(cd "$tmp" && find x)"
: >"$tmp/a_file"
expect 1 "$cli" train --resume "$tmp/a_file"
grep_err "siamese train: $tmp/a_file: not a folder (given to --resume)"
# a folder that is not a run: no lock left, its files as they were
mkdir -p "$tmp/not_run"
echo notes >"$tmp/not_run/notes.txt"
sums "$tmp/not_run" >"$tmp/not_run.sums"
expect 1 "$cli" train --resume "$tmp/not_run"
grep_err "nothing to resume"
grep_err "overwriting this folder (the command that started it, with --overwrite)"
[ -e "$tmp/not_run/.lock" ] && fail "a failed --resume left $tmp/not_run/.lock"
unchanged "$tmp/not_run" "$tmp/not_run.sums" "a failed --resume"
# a run without its lock file (copied without hidden files) whose resume fails: no lock left
cp -r "$run" "$tmp/copied"
rm "$tmp/copied/.lock"
sums "$tmp/copied" >"$tmp/copied.sums"
expect 2 "$cli" train --resume "$tmp/copied" --epochs 1
unchanged "$tmp/copied" "$tmp/copied.sums" "a refused --resume of a run without .lock"
lap "resume of missing folders"

# 3. --overwrite: refused (data without images, pairs that cannot be made, a network too large),
# the old run stays whole; stopped in its first epoch, no old model is left
old=$tmp/old
expect 0 "$cli" train "$tmp/data" -o "$old" "${tiny[@]}" --epochs 1
expect 0 "$cli" report "$old" -j 1
sums "$old" >"$tmp/old.sums"
mkdir -p "$tmp/junk/x" "$tmp/junk/y"
echo "a" >"$tmp/junk/x/a.txt"
: >"$tmp/junk/y/b.png"
expect 1 "$cli" train "$tmp/junk" -o "$old" "${tiny[@]}" --epochs 1 --overwrite
grep_err "none of its 2 files decodes as an image"
unchanged "$old" "$tmp/old.sums" "--overwrite refused for its data"
expect 1 "$cli" train "$tmp/data" -o "$old" "${tiny[@]}" --split classes --train-fraction 0.3 --overwrite
grep_err "pairs need at least two"
unchanged "$old" "$tmp/old.sums" "--overwrite refused for its pairs"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1"
expect 1 "$cli" train "$tmp/data" -o "$old" --arch "conv(8,k=3) relu linear(16)" \
    --input 3x8000x8000 --epochs 1 --threads 1 -q --overwrite
grep_err "cannot allocate"
unchanged "$old" "$tmp/old.sums" "--overwrite refused for its network"
expect 1 "$cli" train "$tmp/data" -o "$old" "${tiny[@]}" --epochs 1
grep_err "already holds a training run"
unchanged "$old" "$tmp/old.sums" "a fresh run refused without --overwrite"
# another network over the old run, Ctrl-C in its first epoch
"$cli" train "$tmp/data" -o "$old" --arch "conv(6,k=5,s=2) relu maxpool(2) linear(8)" \
    --input 1x56x46 --batch 4 --threads 1 --split images --sampler online --pairs-per-epoch 40000 \
    --epochs 1 --log-every 1 -q --overwrite >"$tmp/over.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    grep -q 'conv(6' "$old/config.json" 2>/dev/null && grep -q '"event":"log"' "$old/metrics.jsonl" && break
    sleep 0.05
done
kill -INT "$pid"
wait "$pid"
code=$?
[ "$code" -eq 130 ] || fail "--overwrite run interrupted: exit $code, want 130: $(cat "$tmp/over.out")"
for f in model.safetensors best.safetensors report.html; do
    [ -e "$old/$f" ] && fail "--overwrite interrupted in its first epoch left the old run's $f"
done
grep -q 'conv(6' "$old/config.json" || fail "config.json is not the new run's"
grep -q '"event":"epoch"' "$old/metrics.jsonl" && fail "metrics.jsonl holds the old run's epoch"
lap "overwrite"

# 4. a run folder that is the data folder or inside it: exit 2, nothing made, the data unchanged
# (through "..", a symlink, an absolute path, a folder still to make)
sums "$tmp/data" >"$tmp/data.sums"
ln -s data "$tmp/data_link"
for out in "$tmp/data" "$tmp/data/" "$tmp/data/a" "$tmp/data/new/deeper" "$tmp/data/a/../../data" \
    "$tmp/data_link/b" "$tmp/data/zz/../c"; do
    expect 2 "$cli" train "$tmp/data" -o "$out" "${tiny[@]}" --epochs 1 --overwrite
    grep_err "siamese train: -o $out: the run folder would be .*the data folder $tmp/data\$"
done
expect 2 "$cli" train "$tmp/data_link" -o "$tmp/data/s1" "${tiny[@]}" --epochs 1
grep_err "the run folder would be inside the data folder $tmp/data_link"
(cd "$tmp/data/a" && expect 2 "$cli" train .. -o . "${tiny[@]}" --epochs 1)
grep_err "siamese train: -o .: the run folder would be inside the data folder .."
unchanged "$tmp/data" "$tmp/data.sums" "a refused run folder inside the data"
# beside it (a name that starts the same) is fine
expect 0 "$cli" train "$tmp/data" -o "$tmp/data2" "${tiny[@]}" --epochs 1
lap "run folder inside the data"

# 5. --help states the exit codes; test pairs all of one kind: a note, no nan
expect 0 "$cli" train --help
grep -q "^exit status: 0 ok, 1 " "$tmp/out" || fail "train --help has no exit status: $(tail -3 "$tmp/out")"
grep -q "130 interrupted" "$tmp/out" || fail "train --help does not give 130"
: >"$tmp/same.tsv"
for i in 1 2 3 4 5 6; do
    printf '%s\t%s\t0\n' "$tmp/data/a/$i.pgm" "$tmp/data/b/$i.pgm" "$tmp/data/c/$i.pgm" \
        "$tmp/data/d/$i.pgm" >>"$tmp/same.tsv"
done
expect 0 "$cli" train "$tmp/same.tsv" -o "$tmp/same" --arch "$arch" --input 1x56x46 --batch 4 \
    --threads 1 --epochs 1
grep -q "nan" "$tmp/out" "$tmp/err" && fail "nan printed: $(grep -h nan "$tmp/out" "$tmp/err")"
grep -q "^final test: .*ROC AUC n/a (the test pairs are all of one kind)" "$tmp/out" ||
    fail "the summary has no note: $(cat "$tmp/out")"
grep -q "test ROC AUC n/a (the test pairs are all of one kind)" "$tmp/err" ||
    fail "the epoch line has no note: $(cat "$tmp/err")"
lap "help and one kind of pair"

finish test_cli_train_run_folder
