#!/usr/bin/env bash
# Memory limits (ulimit -v): training (a small network, and one whose batch needs tens of MB of
# activations) and search under address-space limits from 40 MB up to where they succeed: every
# run exits 0, or 1 with a message about memory; never a crash (SIGSEGV: oneDNN's JIT wrote
# through a NULL code buffer when its mmap failed, before the engine checked for room: when a plan
# is built, and when it first runs) or an abort.
# Not under AddressSanitizer, which reserves terabytes of address space.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/fault_lib.sh"

if ldd "$cli" 2>/dev/null | grep -q 'lib[at]san' || ! (ulimit -v 2000000 && "$cli" --help) >/dev/null 2>&1; then
    echo "SKIP: $cli cannot run under ulimit -v (built with a sanitizer?)"
    exit 77
fi
make_tiny_data "$tmp/data"
memory='out of memory|cannot allocate|Cannot allocate memory|Thread creation failed'

# under KB CMD...: runs CMD under ulimit -v KB; counts the outcome, fails on a crash or on an exit
# 1 that does not speak of memory. Exit 127 (the loader could not map the libraries) is no run.
ok=0 refused=0
under() {
    local kb=$1
    shift
    (
        ulimit -v "$kb"
        exec "$@"
    ) >"$tmp/out" 2>"$tmp/err"
    local code=$?
    case $code in
    0) ok=$((ok + 1)) ;;
    1)
        refused=$((refused + 1))
        grep -Eq "$memory" "$tmp/err" || fail "ulimit -v $kb: exit 1 not about memory: $(cat "$tmp/err")"
        ;;
    127) ;;
    *) fail "ulimit -v $kb: exit $code (a crash?): $* ($(head -c 300 "$tmp/err"))" ;;
    esac
}

for mb in 40 60 70 80 90 100 110 120 130 140 160 200 300; do
    rm -rf "$tmp/run"
    under $((mb * 1024)) "$cli" train "$tmp/data" -o "$tmp/run" "${train_args[@]}" --epochs 1
done
echo "small network: $ok runs finished, $refused refused for memory"
[ "$ok" -ge 1 ] && [ "$refused" -ge 1 ] || fail "the limits do not span the failures and a success"

# a batch of 8 pairs of 1x96x96 images through 32 channels: 16 x 32 x 94 x 94 floats a layer.
# Every 3 MB from 144 to 204 MB: the 72 MB of activation memory fits, but oneDNN then JITs the
# inner product's gemm kernels on the first execute (5 MB for training, 11 MB for the evaluation's
# inference plan), and crashed with less room than that left (at 150-160 and 187-200 MB, with or
# without MPI) before the engine checked for room once a plan's memory is mapped.
ok=0 refused=0
wide=(--arch "conv(32,k=3) relu conv(32,k=3) relu maxpool(8) flatten linear(8)" --input 1x96x96
    --epochs 1 --batch 8 --threads 1 -q)
for mb in $(seq 144 3 204) 250 350 450; do
    rm -rf "$tmp/run"
    under $((mb * 1024)) "$cli" train "$tmp/data" -o "$tmp/run" "${wide[@]}"
done
echo "wide batch: $ok runs finished, $refused refused for memory"
[ "$ok" -ge 1 ] && [ "$refused" -ge 1 ] || fail "the wide batch's limits do not span a refusal and a success"

ok=0 refused=0
expect 0 "$cli" train "$tmp/data" -o "$tmp/ref" "${train_args[@]}" --epochs 1
expect 0 "$cli" index build "$tmp/ref/model.safetensors" "$tmp/data" -o "$tmp/c.idx" -j 1 --precision fp32 -q
for mb in 50 60 70 80 90 100 120 150; do
    under $((mb * 1024)) "$cli" search "$tmp/c.idx" "$tmp/data/class0" -j 1 --precision fp32
done
echo "search: $ok finished, $refused refused for memory"
[ "$ok" -ge 1 ] || fail "search finished under none of the limits"

# int8: the int8 engine makes no sgemm kernels, so the index's first GEMM JITs them (it crashed
# now and then at 139-151 MB, in a thread of the scan, before it ran first and alone after a check)
ok=0 refused=0
if "$cli" quantize "$tmp/ref/model.safetensors" "$tmp/data" -o "$tmp/q.safetensors" >/dev/null 2>&1 &&
    "$cli" index build "$tmp/q.safetensors" "$tmp/data" -o "$tmp/q.idx" -j 1 --precision int8 -q \
        >/dev/null 2>&1; then
    for mb in $(seq 130 2 160) 200 300; do
        under $((mb * 1024)) "$cli" search "$tmp/q.idx" "$tmp/data/class0" -j 1 --precision int8
    done
    echo "int8 search: $ok finished, $refused refused for memory"
    [ "$ok" -ge 1 ] || fail "int8 search finished under none of the limits"
else
    echo "int8 search: not run (quantize or the int8 index failed without a limit)"
fi

finish test_fault_memory
