#!/usr/bin/env bash
# Data-parallel training and sharded search under mpirun (issue 16): the summed gradient equals the
# one-process gradient; a 2-rank run of a small network follows the 1-process run of the same
# global batch (per-step loss, final test AUC within 0.005), and so does an augmented 3-rank run
# whose ranks each prepare only their slice of every batch; two identical 2-rank runs of a network
# with batchnorm give the same model bit for bit; SIGUSR1 to mpirun stops every rank
# with a checkpoint that resumes; 'mpirun -np 3 siamese search' on 3 shards prints exactly what
# the unsharded search prints. Skipped (77) without mpirun or in a build without MPI.
# ctest-label: slow
source "$(dirname "$0")/cli_lib.sh"

check=${SIAMESE_BINARY_DIR:?}/mpi_dist_check
if ! command -v mpirun >/dev/null; then
    echo "SKIP: mpirun not found (install openmpi-bin and libopenmpi-dev: scripts/deps.sh)"
    exit 77
fi
if [ ! -x "$check" ]; then
    echo "SKIP: this build has no MPI ($check missing; CMake did not find MPI)"
    exit 77
fi
require_data mnist mnist
mpi=(mpirun --oversubscribe --allow-run-as-root)
# Under LeakSanitizer, OpenMPI's one-time allocations at exit (in plugins it has unloaded by then,
# so the report cannot name them) would fail every rank: leak checking is off for the ranks only.
# The same training and search code is leak-checked by the one-process tests.
if [[ "${ASAN_OPTIONS:-}" == *detect_leaks=1* ]]; then
    export ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"
fi

# 1. one step: summed gradient vs the one-process gradient, on every rank; a sharded search refused
# on one rank only is refused on every rank (none hangs)
"${mpi[@]}" -np 2 "$check" >"$tmp/check" 2>&1 || fail "mpi_dist_check: $(cat "$tmp/check")"
grep -q "FAIL" "$tmp/check" && fail "mpi_dist_check: $(cat "$tmp/check")"
cat "$tmp/check"

# 2. a short run, 1 process vs 2 ranks with the same global batch (no batchnorm: its statistics
# are per rank by design); 20 steps of 32 pairs
arch="conv(16,k=3,p=1) relu maxpool(2) conv(32,k=3,p=1) relu maxpool(2) flatten linear(128) relu linear(64)"
run=(train "$mnist" --arch "$arch" --input 1x28x28 --sampler online --pairs-per-epoch 320
    --split images --epochs 2 --log-every 1 -j 1 --quiet)
expect 0 "$cli" "${run[@]}" -o "$tmp/one"
expect 0 "${mpi[@]}" -np 2 "$cli" "${run[@]}" -o "$tmp/two"
expect 0 "$cli" "${run[@]}" -j 2 -o "$tmp/threads" # the rounding of another summation order
losses() { grep '"event":"log"' "$1/metrics.jsonl" | sed 's/.*"train_loss":\([^,]*\),.*/\1/'; }
auc() { grep '"event":"epoch"' "$1/metrics.jsonl" | tail -1 | sed 's/.*"test_auc":\([^,]*\),.*/\1/'; }
[ "$(losses "$tmp/one" | wc -l)" -eq 20 ] || fail "1-process run: $(losses "$tmp/one" | wc -l) loss lines, want 20"
[ "$(losses "$tmp/two" | wc -l)" -eq 20 ] || fail "2-rank run: $(losses "$tmp/two" | wc -l) loss lines, want 20"
# the largest relative loss difference per step: step 1 (same parameters) to float rounding, the
# rest within 1e-3 (measured: 2e-5, as 1 vs 2 threads, another summation order, gives; Adam
# turns rounding-level differences of near-zero gradients into whole steps, so the curves drift)
paste <(losses "$tmp/one") <(losses "$tmp/two") <(losses "$tmp/threads") | awk '
    function rel(a, b) { d = a - b; if (d < 0) d = -d; return d / (a < 0 ? -a : a) }
    { r = rel($1, $2); t = rel($1, $3); printf "step %2d: loss %.7f, 2 ranks %.7f (relative %.1e), 2 threads %.7f (%.1e)\n", NR, $1, $2, r, $3, t
      if (r > max) max = r; if (t > tmax) tmax = t; if (NR == 1) first = r }
    END { printf "largest relative difference: 2 ranks %.2e, 2 threads %.2e\n", max, tmax
          exit !(first < 1e-6 && max < 1e-3) }' || fail "2-rank loss curve differs from the 1-process one beyond rounding (see above)"
a1=$(auc "$tmp/one") a2=$(auc "$tmp/two")
echo "final test ROC AUC: 1 process $a1, 2 ranks $a2"
awk -v a="$a1" -v b="$a2" 'BEGIN { d = a - b; exit !(d < 0.005 && d > -0.005) }' ||
    fail "final test AUC $a2 (2 ranks) vs $a1 (1 process): more than 0.005 apart"
[ -e "$tmp/two/model.safetensors" ] && [ -e "$tmp/two/checkpoint.safetensors" ] ||
    fail "2-rank run: no model or checkpoint in its folder"

# 2b. each rank's loader prepares only its slice of every batch, augmented as at its place in the
# whole batch: 3 ranks with augmentation and an uneven last batch (170 = 5 x 32 + 10 pairs)
# follow the 1-process run the same way (a slice augmented differently would change step 1)
aug=(train "$mnist" --arch "$arch" --input 1x28x28 --sampler online --pairs-per-epoch 170
    --split images --epochs 1 --log-every 1 -j 1 --quiet --augment rotate=10,translate=2,flip)
expect 0 "$cli" "${aug[@]}" -o "$tmp/aug1"
expect 0 "${mpi[@]}" -np 3 "$cli" "${aug[@]}" -o "$tmp/aug3"
[ "$(losses "$tmp/aug3" | wc -l)" -eq 6 ] || fail "augmented 3-rank run: $(losses "$tmp/aug3" | wc -l) loss lines, want 6"
paste <(losses "$tmp/aug1") <(losses "$tmp/aug3") | awk '
    function rel(a, b) { d = a - b; if (d < 0) d = -d; return d / (a < 0 ? -a : a) }
    { r = rel($1, $2); if (r > max) max = r; if (NR == 1) first = r }
    END { printf "augmented, 3 ranks: step 1 relative difference %.1e, largest %.2e\n", first, max
          exit !(NR == 6 && first < 1e-6 && max < 1e-3) }' ||
    fail "augmented 3-rank loss curve differs from the 1-process one beyond rounding"

# 2c. two identical 2-rank runs with the per-layer sums overlapped with backward (the default)
# give the same model bit for bit, with batchnorm (whose running statistics once made a layer's
# gradient chunk start before the conv below it had written its gradients: every run differed)
bn=(train "$mnist" --arch "conv(16,k=3,p=1) bn relu maxpool(2) flatten linear(32)" --input 1x28x28
    --sampler online --pairs-per-epoch 320 --split images --epochs 1 -j 1 --quiet)
for r in 1 2; do
    expect 0 "${mpi[@]}" -np 2 -x SIAMESE_DIST_OVERLAP=1 "$cli" "${bn[@]}" -o "$tmp/bn$r"
done
cmp -s "$tmp/bn1/model.safetensors" "$tmp/bn2/model.safetensors" ||
    fail "two identical 2-rank runs with batchnorm (overlapped sums) gave different models"

# 3. SIGUSR1 to mpirun stops every rank after the step, checkpoint saved; --resume finishes
"${mpi[@]}" -np 2 "$cli" "${run[@]}" --epochs 50 -o "$tmp/stop" >"$tmp/stop.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do grep -q '"event":"log"' "$tmp/stop/metrics.jsonl" 2>/dev/null && break; sleep 0.1; done
kill -USR1 "$pid"
wait "$pid"
code=$?
[ "$code" -eq 130 ] || fail "stopped 2-rank run: exit $code, want 130: $(cat "$tmp/stop.out")"
grep -q "checkpoint saved" "$tmp/stop.out" || fail "stopped run: no 'checkpoint saved': $(cat "$tmp/stop.out")"
expect 0 "${mpi[@]}" -np 2 "$cli" train --resume "$tmp/stop" --epochs "$(epochs_past "$tmp/stop")" --quiet

# 4. sharded search equals the unsharded search
faces=$(dirname "$mnist")/att_faces/testing
if [ -d "$faces" ]; then
    expect 0 "$cli" index build "$tmp/one/model.safetensors" "$faces" -o "$tmp/all.idx" -q -j 1 --precision fp32
    expect 0 "$cli" index build "$tmp/one/model.safetensors" "$faces" -o "$tmp/sh.idx" --shards 3 -q -j 1 --precision fp32
    [ -e "$tmp/sh.idx.2" ] && [ ! -e "$tmp/sh.idx.3" ] || fail "--shards 3 did not write sh.idx.0..2"
    queries=$(find "$faces" -type f | sort | head -n 12)
    # shellcheck disable=SC2086
    expect 0 "$cli" search "$tmp/all.idx" $queries -k 7 -j 1 --precision fp32 -q
    cp "$tmp/out" "$tmp/plain"
    # shellcheck disable=SC2086
    expect 0 "${mpi[@]}" -np 3 "$cli" search "$tmp/sh.idx" $queries -k 7 -j 1 --precision fp32 -q
    cmp -s "$tmp/plain" "$tmp/out" || fail "sharded search differs: $(diff "$tmp/plain" "$tmp/out" | head)"
    [ "$(grep -c '^query' "$tmp/out")" -eq 12 ] || fail "sharded search: $(grep -c '^query' "$tmp/out") queries printed, want 12"
    # shellcheck disable=SC2086
    expect 0 "${mpi[@]}" -np 3 "$cli" search "$tmp/sh.idx" $queries -k 7 --json -j 1 --precision fp32 -q
    expect 1 "${mpi[@]}" -np 2 "$cli" search "$tmp/sh.idx" $queries -k 7 -j 1 -q
    grep_err "more shards than the 2 ranks"
else
    echo "note: $faces missing: sharded search not checked"
fi
finish test_mpi
