#!/usr/bin/env bash
# 'siamese train': usage and data errors, JSON progress, Ctrl-C saves a checkpoint (exit 130),
# and --resume finishes the run.
# ctest-label: slow
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

require_data faces att_faces/training
arch="conv(8,k=5,s=2) relu maxpool(2) conv(16,k=3) relu linear(16)"
small=(--arch "$arch" --input 1x56x46 --batch 8 --threads 1 --seed 3)

# --help and usage errors
expect 0 "$cli" train --help
grep -q -- "--resume" "$tmp/out" || fail "--help does not list --resume"
grep -q "^  train " <("$cli" --help) || fail "'train' missing from siamese --help"
expect 2 "$cli" train
expect 2 "$cli" train "$faces"
grep_err "RUN_DIR"
expect 2 "$cli" train "$faces" -o "$tmp/r" --bogus
grep_err "--bogus"
expect 2 "$cli" train "$faces" -o "$tmp/r" --input 0x256x256
for geometry in 3x256x256x1 "3x 256x256" 3x256x 256; do
    expect 2 "$cli" train "$faces" -o "$tmp/r" --input "$geometry"
    grep_err "is not CxHxW"
done
expect 2 "$cli" train "$faces" -o "$tmp/r" --pk 16x4x2
grep_err "is not PxK"
expect 2 "$cli" train "$faces" -o "$tmp/r" --epochs " 3"
expect 2 "$cli" train "$faces" -o "$tmp/r" --metric manhattan
grep_err "manhattan"
expect 2 "$cli" train "$faces" -o "$tmp/r" --epochs three
expect 2 "$cli" train --resume "$tmp/r" "$faces"
# numbers out of range: usage errors naming the flag, no run folder made
for bad in "--epochs 0" "--epochs -1" "--batch -1" "--lr nan" "--lr inf" "--lr -1" "--margin nan" \
    "--margin 0" "--per-class 0" "--pairs-per-epoch 0" "--threads -3" "--log-every 0" \
    "--train-fraction 1"; do
    expect 2 "$cli" train "$faces" -o "$tmp/range_run" $bad
    grep_err "siamese train: ${bad%% *} must be"
done
[ -e "$tmp/range_run" ] && fail "an out-of-range number left its run folder behind"

# bad data and settings: exit 1 naming the path or the reason
expect 1 "$cli" train "$tmp/nowhere" -o "$tmp/r"
grep_err "$tmp/nowhere"
expect 2 "$cli" train "$faces" -o "$tmp/arch_run" --arch "conv(8,k=3) reluu"
grep_err "reluu"
[ -e "$tmp/arch_run" ] && fail "a bad --arch left its run folder behind"
# settings the library refuses before touching a file are usage errors too, leaving no folder
expect 2 "$cli" train "$faces" -o "$tmp/r" --sampler online
grep_err "split"
expect 2 "$cli" train "$faces" -o "$tmp/r" --batch 70000
grep_err "batch size 70000 is out of range (1 to 65536)"
[ -e "$tmp/r" ] && fail "a refused setting left its run folder behind"
expect 1 "$cli" train --resume "$tmp/empty_run"

# --json: one JSON object per event on stdout, epoch events with the test metrics
expect 0 "$cli" train "$faces" -o "$tmp/json_run" "${small[@]}" --epochs 1 --json
grep -q '^{"event":"epoch",.*"test_auc":' "$tmp/out" || fail "no epoch event in --json output"
grep -vq '^{"event":' "$tmp/out" && fail "non-JSON line in --json output: $(grep -v '^{' "$tmp/out" | head -1)"
for f in model.safetensors best.safetensors checkpoint.safetensors metrics.jsonl loss.png config.json split.json; do
    [ -s "$tmp/json_run/$f" ] || fail "missing $f"
done
# one serializer: every metrics.jsonl line is also a --json line; epochs count from 1 as printed
grep -q '^{"event":"epoch","epoch":1,"epochs":1,' "$tmp/out" || fail "--json epoch is not 1-based"
missing=$(grep -vxFf "$tmp/out" "$tmp/json_run/metrics.jsonl")
[ -z "$missing" ] || fail "metrics.jsonl line not in --json output: $(echo "$missing" | head -1)"
expect 0 "$cli" train "$faces" -o "$tmp/json_run" "${small[@]}" --epochs 1 --overwrite
grep_err "^epoch 1/1 done"

# an existing run is never overwritten by mistake
expect 1 "$cli" train "$faces" -o "$tmp/json_run" "${small[@]}" --epochs 1
grep_err "resume"
expect 0 "$cli" train "$faces" -o "$tmp/json_run" "${small[@]}" --epochs 1 --overwrite -q
# --resume with an explicit --epochs 0 or negative --threads is refused, not ignored
cp "$tmp/json_run/metrics.jsonl" "$tmp/metrics.keep"
expect 2 "$cli" train --resume "$tmp/json_run" --epochs 0
grep_err "epochs must be at least 1"
expect 2 "$cli" train --resume "$tmp/json_run" --threads -3
grep_err "threads must be 0"
cmp -s "$tmp/json_run/metrics.jsonl" "$tmp/metrics.keep" || fail "a refused --resume touched the run"

# missing parent folders are made, as README's "-o runs/dogs" needs in a fresh clone; a file in
# the way fails naming it
expect 0 "$cli" train "$faces" -o "$tmp/new/runs/faces" "${small[@]}" --epochs 1 -q
[ -s "$tmp/new/runs/faces/model.safetensors" ] || fail "no model in a run folder with new parents"
: >"$tmp/a_file"
expect 1 "$cli" train "$faces" -o "$tmp/a_file/runs/faces" "${small[@]}" --epochs 1 -q
grep_err "a_file"

# Ctrl-C: the current step finishes, a checkpoint is saved, exit 130; --resume completes
run=$tmp/int_run
"$cli" train "$faces" -o "$run" "${small[@]}" --epochs 40 --log-every 1 >"$tmp/int_out" 2>"$tmp/int_err" &
pid=$!
for _ in $(seq 600); do
    [ -s "$run/metrics.jsonl" ] && break
    sleep 0.1
done
kill -INT "$pid"
wait "$pid"
code=$?
[ "$code" -eq 130 ] || fail "SIGINT: exit $code, want 130 ($(cat "$tmp/int_err"))"
grep -q "resume" "$tmp/int_err" || fail "SIGINT: no resume hint: $(cat "$tmp/int_err")"
[ -s "$run/checkpoint.safetensors" ] || fail "SIGINT: no checkpoint"
expect 0 "$cli" train --resume "$run" --epochs 2 -q
grep -q "final test" "$tmp/out" || fail "resume: no summary: $(cat "$tmp/out")"
[ "$(grep -c '"event":"epoch"' "$run/metrics.jsonl")" -eq 2 ] || fail "resume: want 2 epoch lines"

finish test_cli_train
