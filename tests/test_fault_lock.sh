#!/usr/bin/env bash
# Two 'siamese train' processes on one run folder: the second refuses at once (exit 1, naming the
# folder and the first one's pid), fresh, --overwrite or --resume, and leaves the first one's
# files alone; a lock left by a killed process (and a .lock file naming a dead pid) does not
# block a resume; a finished run leaves the lock free. A run folder deleted mid-run: exit 1
# naming the file it could not write.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/fault_lib.sh"

make_tiny_data "$tmp/data"
run=$tmp/run
"$cli" train "$tmp/data" -o "$run" "${train_args[@]}" --epochs 400 >"$tmp/a_out" 2>"$tmp/a_err" &
first=$!
for _ in $(seq 300); do
    [ -s "$run/checkpoint.safetensors" ] && break
    sleep 0.05
done
[ -s "$run/checkpoint.safetensors" ] || fail "the first run wrote no checkpoint: $(cat "$tmp/a_err")"
[ "$(cat "$run/.lock")" = "$first" ] || fail ".lock holds '$(cat "$run/.lock")', not pid $first"

for second in "train $tmp/data -o $run" "train $tmp/data -o $run --overwrite" "train --resume $run"; do
    start=$SECONDS
    # shellcheck disable=SC2086 # the words of $second are the arguments
    expect 1 "$cli" $second --threads 1 -q
    grep_err "$run is in use by another training process (pid $first"
    [ $((SECONDS - start)) -le 5 ] || fail "$second: took $((SECONDS - start)) s to refuse"
done
kill -0 "$first" 2>/dev/null || fail "the first run stopped: $(cat "$tmp/a_err")"
[ -s "$run/checkpoint.safetensors" ] || fail "a refused process removed the checkpoint"

# the first one killed: its stale lock does not block a resume (which finishes the run)
kill -KILL "$first"
wait "$first"
[ "$(cat "$run/.lock")" = "$first" ] || fail "the killed run's .lock does not name it"
# the killed run may have done more than one epoch: each resume asks for more than it has done
done_epochs=$(($(epochs_past "$run") - 1))
expect 0 "$cli" train --resume "$run" --epochs $((done_epochs + 1)) -q
[ -s "$run/model.safetensors" ] || fail "the resume wrote no model"
[ -s "$run/.lock" ] && fail "a finished run left its pid in .lock: $(cat "$run/.lock")"

# a .lock naming a pid that no process holds is no lock
echo 999999 >"$run/.lock"
expect 0 "$cli" train --resume "$run" --epochs $((done_epochs + 2)) -q

# another holder of the lock (this shell, through flock(1) when there) is refused the same way
if command -v flock >/dev/null; then
    exec {fd}<>"$run/.lock"
    flock -n "$fd" || fail "flock(1) could not take the free lock"
    expect 1 "$cli" train --resume "$run" --epochs $((done_epochs + 3)) -q
    grep_err "$run is in use by another training process"
    exec {fd}>&-
    expect 0 "$cli" train --resume "$run" --epochs $((done_epochs + 3)) -q
fi

# a run folder deleted mid-run: the next write fails, exit 1 naming a file of the folder
"$cli" train "$tmp/data" -o "$tmp/gone" "${train_args[@]}" --epochs 100 >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 300); do
    [ -s "$tmp/gone/checkpoint.safetensors" ] && break
    sleep 0.05
done
# (rm -rf fails when the run adds a file meanwhile: again until the folder is gone)
for _ in 1 2 3 4 5 6 7 8; do
    rm -rf "$tmp/gone" 2>/dev/null
    [ -e "$tmp/gone" ] || break
done
wait "$pid"
code=$?
[ "$code" -eq 1 ] || fail "a deleted run folder: exit $code, want 1 ($(cat "$tmp/err"))"
grep_err "$tmp/gone/.*No such file or directory"

finish test_fault_lock
