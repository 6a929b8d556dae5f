#!/usr/bin/env bash
# Stop signals never land on a computing thread: SIGUSR1 and SIGINT sent to 'siamese train' as
# fast as a shell can while it trains (oneDNN's JIT gemm points the stack pointer into the heap,
# so a handler run there used to corrupt the heap: "corrupted size vs. prev_size", exit 134) stop
# it cleanly after its step: exit 130 with the checkpoint saved, which --resume finishes. Sent
# before training starts, a signal ends the process (as by default) or stops it, never worse.
# ctest-label: data
source "$(dirname "$0")/cli_lib.sh"
require_data mnist mnist

arch="conv(16,k=3,p=1) relu maxpool(2) conv(32,k=3,p=1) relu maxpool(2) flatten linear(128) relu linear(64)"
run=(train "$mnist" --arch "$arch" --input 1x28x28 --sampler online --pairs-per-epoch 640
    --split images --epochs 50 --log-every 1 -j 1 --quiet)

# bombard RUN SIGNAL: starts a run into $tmp/RUN, sends SIGNAL without pause from its first logged
# step until it exits; prints its exit code
bombard() {
    "$cli" "${run[@]}" -o "$tmp/$1" >"$tmp/$1.out" 2>&1 &
    local pid=$! sent=0
    for _ in $(seq 1 600); do grep -q '"event":"log"' "$tmp/$1/metrics.jsonl" 2>/dev/null && break; sleep 0.1; done
    while kill "-$2" "$pid" 2>/dev/null; do sent=$((sent + 1)); done
    wait "$pid"
    local code=$?
    echo "$2: $sent signals sent, exit $code" >&2
    echo "$code"
}

for round in 1 2 3; do
    code=$(bombard "usr1_$round" USR1)
    [ "$code" -eq 130 ] || fail "SIGUSR1 flood, round $round: exit $code, want 130: $(cat "$tmp/usr1_$round.out")"
    grep -q "checkpoint saved" "$tmp/usr1_$round.out" ||
        fail "SIGUSR1 flood, round $round: no 'checkpoint saved': $(cat "$tmp/usr1_$round.out")"
done
expect 0 "$cli" train --resume "$tmp/usr1_1" --epochs "$(epochs_past "$tmp/usr1_1")" --quiet
[ -s "$tmp/usr1_1/model.safetensors" ] || fail "the resumed run wrote no model"

# before training (no stop flag yet) a signal ends the process as its default action does, or
# stops it once the flag is watched; never worse. Sent without pause from the run's first moment
# until it exits: a single signal sent at start was twice lost on CI (the run finished, exit 0;
# never reproduced here in 600 tries, loaded or not, shared or static build), and a flood still
# covers the start and the hand-over from the default action to the watcher
"$cli" train "$mnist" --arch "$arch" --input 1x28x28 --epochs 2000 -j 1 -o "$tmp/early" \
    >"$tmp/early.out" 2>&1 &
pid=$!
sent=0
while kill -USR1 "$pid" 2>/dev/null; do sent=$((sent + 1)); done
wait "$pid"
code=$?
echo "USR1 from the start: $sent signals sent, exit $code" >&2
[ "$code" -eq 138 ] || [ "$code" -eq 130 ] ||
    fail "SIGUSR1 from the start: exit $code, want 138 (killed by SIGUSR1) or 130 (stopped): $(tail -3 "$tmp/early.out")"

finish test_cli_stop_signals
