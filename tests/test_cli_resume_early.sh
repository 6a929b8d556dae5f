#!/usr/bin/env bash
# 'siamese train --resume' on a run killed before its first checkpoint (while reading its data:
# an empty folder; in its first epoch: config.json without checkpoint.safetensors) says plainly
# that there is nothing to resume and how to start again, and that advice works.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

src=${SIAMESE_SOURCE_DIR:?}/tests/fixtures/images/src
for c in a b c; do
    mkdir -p "$tmp/data/$c"
    for i in 1 2 3 4; do cp "$src/png_g8.png" "$tmp/data/$c/$i.png"; done
done
cmd=("$cli" train "$tmp/data" -o "$tmp/run" --arch "conv(2,k=3,s=2) relu flatten linear(3)"
    --input 1x12x12 --epochs 1 --batch 4 --threads 1 -q)

# killed while decoding its data: the folder exists, nothing in it
mkdir -p "$tmp/run"
expect 1 "$cli" train --resume "$tmp/run"
grep_err "stopped before its first checkpoint"
grep_err "neither config.json nor checkpoint.safetensors"
grep -q "line -1" "$tmp/err" && fail "the old message: $(cat "$tmp/err")"

# killed in its first epoch: config.json written, no checkpoint yet
expect 0 "${cmd[@]}"
rm "$tmp/run/checkpoint.safetensors"
expect 1 "$cli" train --resume "$tmp/run"
grep_err "stopped before its first checkpoint"
grep_err "config.json is there, checkpoint.safetensors is not"
grep_err "overwriting this folder (the command that started it, with --overwrite)"
[ -s "$tmp/run/config.json" ] || fail "the failed resume removed config.json"

# the advice: the same command with --overwrite starts the run again
expect 1 "${cmd[@]}"
expect 0 "${cmd[@]}" --overwrite
[ -s "$tmp/run/checkpoint.safetensors" ] || fail "no checkpoint after starting again"
expect 0 "$cli" train --resume "$tmp/run" --epochs 2 -q

# a checkpoint cut short: exit 1 naming it, and the run's files as they were (the new --epochs
# total is not written into config.json by a resume that never started)
head -c 1000 "$tmp/run/checkpoint.safetensors" >"$tmp/cut" && mv "$tmp/cut" "$tmp/run/checkpoint.safetensors"
(cd "$tmp/run" && md5sum ./*) >"$tmp/before.md5"
expect 1 "$cli" train --resume "$tmp/run" --epochs 3
grep_err "checkpoint.safetensors: header length runs past the end of the file"
(cd "$tmp/run" && md5sum ./*) | cmp -s - "$tmp/before.md5" ||
    fail "a failed resume changed the run: $(cd "$tmp/run" && md5sum ./* | diff "$tmp/before.md5" -)"

# a new run that fails before it starts (a model too large to allocate) leaves no folder it made,
# parents included, and a folder that was there as it was (no .lock left in it)
big=(--arch "conv(8,k=3) relu linear(16)" --input 3x8000x8000 --epochs 1 --threads 1 -q)
# (under AddressSanitizer the 32 GB request must fail as malloc does, not abort the program)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1"
expect 1 "$cli" train "$tmp/data" -o "$tmp/new/deeper/big" "${big[@]}"
grep_err "cannot allocate"
[ -e "$tmp/new" ] && fail "a failed new run left $(cd "$tmp" && find new)"
mkdir "$tmp/was_there"
expect 1 "$cli" train "$tmp/data" -o "$tmp/was_there" "${big[@]}"
[ -d "$tmp/was_there" ] || fail "a failed run removed a folder that was there before it"
[ -z "$(ls -A "$tmp/was_there")" ] && [ -d "$tmp/was_there" ] ||
    fail "a failed run left files in a folder that was there: $(ls -A "$tmp/was_there")"
# a run folder holding a run: the refused new run leaves it as it was
(cd "$tmp/run" && md5sum ./* ./.lock) >"$tmp/before.md5"
expect 1 "$cli" train "$tmp/data" -o "$tmp/run" "${big[@]}"
grep_err "siamese train: $tmp/run already holds a training run: resume it, choose another folder, or overwrite it (--resume $tmp/run, or --overwrite)"
(cd "$tmp/run" && md5sum ./* ./.lock) | cmp -s - "$tmp/before.md5" || fail "a refused run changed the run"
# bad DATA into it: refused for its data (opened first), without the hint meant for the run
mkdir "$tmp/no_classes"
expect 1 "$cli" train "$tmp/no_classes" -o "$tmp/run" --epochs 1 -q
grep_err "found 0 class folders"
grep -q -- "--resume" "$tmp/err" && fail "a data error got a resume hint: $(cat "$tmp/err")"
(cd "$tmp/run" && md5sum ./* ./.lock) | cmp -s - "$tmp/before.md5" || fail "a refused run changed the run"

finish test_cli_resume_early
