#!/usr/bin/env bash
# SIGKILL at 20 moments of a one-thread training run (while reading its data, mid-epoch, while
# writing split.json, config.json, metrics.jsonl, a model, the checkpoint or the loss plot; the
# moment is a delay, or a delay and then the moment a temporary file of that write appears).
# After each kill every file under its final name is whole, the next 'train --resume' continues
# (or, before the first checkpoint, says so and the same command with --overwrite starts again),
# the stale lock of the killed process does not block it, and every finished run's models are
# bitwise equal to the uninterrupted run's. Then 'siamese index build' and 'index add' killed
# while writing leave the old index or the new one, never a broken one. About 40 short runs: 10 s
# on an idle 2-core machine, 20-30 s under load.
# ctest-label: slow
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/fault_lib.sh"

make_tiny_data "$tmp/data"
ref=$tmp/ref
expect 0 "$cli" train "$tmp/data" -o "$ref" "${train_args[@]}"
[ -s "$ref/model.safetensors" ] || fail "the uninterrupted run wrote no model"
losses() { command -v jq >/dev/null && jq -c 'select(.train_loss) | [.step, .train_loss, .test_loss]' "$1"; }

# kill_at MOMENT PID: MOMENT is "DELAY" (seconds) or "DELAY:GLOB" (then the first new file of the
# run folder matching GLOB: one an earlier kill left does not count); SIGKILL when the moment
# comes, unless the process has ended.
kill_at() {
    local delay=${1%%:*} glob='' pid=$2 f
    [[ $1 == *:* ]] && glob=${1#*:}
    local -a old=() now=()
    shopt -s nullglob
    # shellcheck disable=SC2206 # the glob is meant to expand (no fork: no compgen in $(...))
    [ -n "$glob" ] && old=($run/$glob)
    sleep "$delay"
    if [ -n "$glob" ]; then
        while kill -0 "$pid" 2>/dev/null; do
            # shellcheck disable=SC2206
            now=($run/$glob)
            for f in "${now[@]}"; do
                [[ " ${old[*]} " == *" $f "* ]] || break 2
            done
        done
    fi
    shopt -u nullglob
    kill -KILL "$pid" 2>/dev/null
}

# continue_cmd: the command that carries the run on: --resume after a checkpoint; else --resume
# must say there is nothing to resume, and the same command with --overwrite starts again.
continue_cmd() {
    if [ -e "$run/checkpoint.safetensors" ]; then
        cmd=("$cli" train --resume "$run" -q)
        return
    fi
    if [ -d "$run" ]; then
        expect 1 "$cli" train --resume "$run"
        grep_err "stopped before its first checkpoint"
    fi
    cmd=("$cli" train "$tmp/data" -o "$run" "${train_args[@]}" --overwrite)
}

# same_as_ref WHAT: a finished run equals the uninterrupted one, bit for bit, and left no temp file.
same_as_ref() {
    local f
    for f in model.safetensors best.safetensors loss.png; do
        cmp -s "$ref/$f" "$run/$f" || fail "$1: $f differs from the uninterrupted run's"
    done
    [ "$(losses "$ref/metrics.jsonl")" = "$(losses "$run/metrics.jsonl")" ] ||
        fail "$1: metrics.jsonl's losses differ from the uninterrupted run's:" \
            "$(diff <(losses "$ref/metrics.jsonl") <(losses "$run/metrics.jsonl"))"
    [ -z "$(temp_files "$run")" ] || fail "$1: temporary files left: $(temp_files "$run")"
    finished=$((finished + 1))
}

run=$tmp/run
moments=(0.02 0.1 0:split.json.tmp.* 0:config.json.tmp.* 0:best.safetensors.tmp.*
    0:model.safetensors.tmp.* 0:checkpoint.safetensors.tmp.* 0.15 0:metrics.jsonl.tmp.*
    0:loss.png.tmp.* 0.1:checkpoint.safetensors.tmp.* 0.2:model.safetensors.tmp.* 0.3
    0:config.json.tmp.* 0.05:best.safetensors.tmp.* 0.25:checkpoint.safetensors.tmp.* 0.4
    0.2:loss.png.tmp.* 0.35:checkpoint.safetensors.tmp.* 0.6)
killed=0 mid_write=0 finished=0 n=0 last_killed=
for moment in "${moments[@]}"; do
    n=$((n + 1))
    continue_cmd
    "${cmd[@]}" >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    kill_at "$moment" "$pid"
    wait "$pid"
    code=$?
    what="kill $n at $moment"
    case $code in
    137)
        killed=$((killed + 1))
        [ -n "$(temp_files "$run")" ] && mid_write=$((mid_write + 1))
        # the lock names the killed process, or the one before when this one died before
        # taking it
        lock_pid=$(cat "$run/.lock" 2>/dev/null)
        [ -z "$lock_pid" ] || [ "$lock_pid" = "$pid" ] || [ "$lock_pid" = "$last_killed" ] ||
            fail "$what: .lock names $lock_pid, not $pid"
        last_killed=$pid
        ;;
    0) same_as_ref "$what (finished first)" && rm -rf "$run" ;;
    *) fail "$what: exit $code: $(cat "$tmp/err")" ;;
    esac
    run_files_intact "$run" "$what"
done
# the last kill may have come after the last model but before the last checkpoint: one more
# resume (of a finished run: it only checks) ends it
continue_cmd
expect 0 "${cmd[@]}"
same_as_ref "the final resume"
grep -q "in use" "$tmp/err" && fail "a stale lock blocked a resume: $(cat "$tmp/err")"
echo "training: $killed of ${#moments[@]} kills landed ($mid_write while a temporary file was" \
    "there), $finished runs finished equal to the uninterrupted run"
[ "$killed" -ge 10 ] || fail "only $killed kills landed: the run outpaced the schedule"
[ "$mid_write" -ge 3 ] || fail "only $mid_write kills landed during a write"

echo "training part: $SECONDS s"
# a run killed after its last checkpoint but before its loss plot (here: the plot removed): the
# resume draws it, equal to the uninterrupted run's (it used to leave the plot of an epoch before)
cp -r "$ref" "$tmp/replot"
rm "$tmp/replot/loss.png"
expect 0 "$cli" train --resume "$tmp/replot" -q
cmp -s "$ref/loss.png" "$tmp/replot/loss.png" || fail "the resume of a finished run drew no loss plot"

# --overwrite over a finished run, with other settings, killed while writing its split: the old
# checkpoint is gone, so --resume says there is nothing to resume instead of carrying on the old
# run under the new run's split (it did before)
"$cli" train "$tmp/data" -o "$run" "${train_args[@]}" --seed 6 --overwrite >"$tmp/out" 2>"$tmp/err" &
pid=$!
kill_at 0:split.json.tmp.* "$pid"
wait "$pid"
if [ $? -eq 137 ]; then
    expect 1 "$cli" train --resume "$run"
    grep_err "stopped before its first checkpoint"
    run_files_intact "$run" "--overwrite killed"
else
    echo "note: the --overwrite run finished before its kill"
fi

# index build over an existing index, and index add, killed while writing: INDEX is the old file
# or a new whole one; 1280 items (hard links: 64 copies of the data) make the file 2.6 MB, long
# enough to be caught mid-write.
mkdir "$tmp/many" && cp -al "$tmp/data" "$tmp/many/0"
for i in 1 2 3 4 5 6; do cp -al "$tmp/many" "$tmp/more" && mv "$tmp/more" "$tmp/many/$i"; done
find "$tmp/many" -type f >"$tmp/list.txt"
model=$ref/model.safetensors idx=$tmp/c.idx
expect 0 "$cli" index build "$model" "$tmp/data" -o "$idx" -j 1 --precision fp32 -q
cp "$idx" "$tmp/old.idx"
run=$tmp
landed=0
for moment in 0:c.idx.tmp.* 0.2; do
    for action in build add; do
        if [ $action = build ]; then
            args=(index build "$model" "$tmp/list.txt" -o "$idx")
        else args=(index add "$idx" "$tmp/list.txt"); fi
        "$cli" "${args[@]}" -j 1 --precision fp32 -q >"$tmp/out" 2>"$tmp/err" &
        pid=$!
        kill_at "$moment" "$pid"
        wait "$pid"
        [ $? -eq 137 ] && landed=$((landed + 1))
        st_intact "$idx" || fail "index $action killed at $moment: $idx is not whole"
        expect 0 "$cli" index info "$idx"
        cmp -s "$idx" "$tmp/old.idx" || grep -Eq "^items: +(1280|1300) " "$tmp/out" ||
            fail "index $action killed at $moment: neither the old index nor the new one"
        cp "$tmp/old.idx" "$idx"
    done
done
[ "$landed" -ge 2 ] || fail "only $landed of 4 index kills landed"

echo "took $SECONDS s"
finish test_fault_kill
