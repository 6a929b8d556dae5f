#!/usr/bin/env bash
# --precision auto on the command line: the default of the inference commands (a stderr line with
# the choice and both timings, then the cached choice), fp32 for training unless asked, the choice
# in config.json, a warning for an explicit bf16 that measures slower, neither under -q, a corrupt
# cache ignored, fp32 without timing when oneDNN sees no bf16 (ONEDNN_MAX_CPU_ISA=AVX2), and usage
# errors.
# The cache lives in a temporary XDG_CACHE_HOME: no user's cache is read or written.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
cache=$XDG_CACHE_HOME/siamese/precision.tsv
cd "$tmp"

# a tiny dataset of random 23x28 grey images: 3 classes of 4
for c in a b c; do
    mkdir -p "faces/$c"
    for i in 1 2 3 4; do
        { printf 'P5\n23 28\n255\n'; head -c $((23 * 28)) /dev/urandom; } >"faces/$c/$i.pgm"
    done
done
arch="conv(4,k=5,s=2) relu flatten linear(8)"
expect 0 "$cli" train faces --arch "$arch" --input 1x28x23 --epochs 1 --batch 4 --seed 3 -q -o run
model=run/model.safetensors
[ -f "$model" ] || { fail "training made no model: $(cat "$tmp/err")"; finish test_cli_precision; }
grep -q '"precision": "fp32"' run/config.json || fail "training's default is not fp32"
grep -q '"precision_chosen": ""' run/config.json || fail "fp32 training measured a precision"

# every inference command offers --precision, auto by default
for cmd in compare test eval calibrate verify embed search identify index; do
    "$cli" $cmd --help | grep -q -- "--precision P *auto (default" ||
        fail "siamese $cmd --help does not offer --precision with auto as the default"
done
"$cli" train --help | grep -q -- "--precision P *fp32 (default" || fail "train's default is not fp32"

a=faces/a/1.pgm
b=faces/b/1.pgm
expect 0 "$cli" compare "$model" "$a" "$b"
if grep -q "no bf16 kernels" "$tmp/err"; then
    grep_err "precision auto: fp32"
    [ -e "$cache" ] && fail "a cache was written on a CPU without bf16"
    echo "note: this CPU has no bf16 kernels; the measured paths are not tested here"
    finish test_cli_precision
fi
grep_err "precision auto: \(fp32\|bf16\) (forward of 8 images in CPU time: fp32 [0-9.e-]* ms, bf16 [0-9.e-]* ms; measured now)"
[ -s "$cache" ] || fail "no cache file at $cache"
expect 0 "$cli" compare "$model" "$a" "$b"
grep_err "; cached)"

# the cache's numbers are what the commands use: bf16 made slower there gives fp32 for auto
# and a warning with both numbers for an explicit bf16
awk -F'\t' 'BEGIN { OFS = "\t" } /^#/ { print; next } { $2 = "fp32"; $3 = "0.004"; $4 = "0.006"; print }' \
    "$cache" >edited && mv edited "$cache"
expect 0 "$cli" compare "$model" "$a" "$b"
grep_err "precision auto: fp32 (forward of 8 images in CPU time: fp32 4 ms, bf16 6 ms; cached)"
expect 0 "$cli" compare "$model" "$a" "$b" --precision bf16
grep_err "warning: bf16 is slower than fp32 on this CPU (forward of 8 images in CPU time: fp32 4 ms, bf16 6 ms)"
[ "$(grep -c warning "$tmp/err")" -eq 1 ] || fail "want one warning: $(cat "$tmp/err")"
expect 0 "$cli" eval "$model" faces --precision bf16 -q
[ -s "$tmp/err" ] && fail "eval --precision bf16 -q warned: $(cat "$tmp/err")"
expect 0 "$cli" compare "$model" "$a" "$b" --precision fp32
[ -s "$tmp/err" ] && fail "--precision fp32 printed: $(cat "$tmp/err")"

# the other commands share the same setting
expect 0 "$cli" embed "$model" faces -o emb.st
grep_err "precision auto: fp32 (forward of 8 images"
expect 0 "$cli" index build "$model" faces -o faces.idx -q --precision fp32
expect 0 "$cli" search faces.idx "$a" -k 2
grep_err "precision auto:"
# -q (no notes, no warnings) leaves out the choice, and bf16's slowness below
for cmd in "embed $model faces -o emb.st" "index build $model faces -o faces.idx" \
    "search faces.idx $a -k 2" "eval $model faces" "calibrate $model faces -o cal.st"; do
    # shellcheck disable=SC2086 # the command's words, split on purpose
    expect 0 "$cli" $cmd -q
    [ -s "$tmp/err" ] && fail "siamese $cmd -q printed: $(cat "$tmp/err")"
done
expect 0 "$cli" test "$model" faces --count 2
grep_err "precision auto:"

# a corrupt cache is ignored (measured again) and rewritten
printf 'garbage\n\001\002' >"$cache"
expect 0 "$cli" compare "$model" "$a" "$b"
grep_err "measured now"
grep -q garbage "$cache" && fail "the corrupt cache was kept"
# an unusable cache folder is no failure
rm -rf "$XDG_CACHE_HOME" && echo file >"$XDG_CACHE_HOME"
expect 0 "$cli" compare "$model" "$a" "$b"
grep_err "measured now"
rm -f "$XDG_CACHE_HOME"

# no bf16 as oneDNN sees it: fp32 without timing
ONEDNN_MAX_CPU_ISA=AVX2 expect 0 "$cli" compare "$model" "$a" "$b"
grep_err "precision auto: fp32 (this CPU has no bf16 kernels)"

# training with auto: the choice and both timings in the log and in config.json
expect 0 "$cli" train faces --arch "$arch" --input 1x28x23 --epochs 1 --batch 4 --seed 3 \
    --precision auto -o run2
grep_err "precision auto: \(fp32\|bf16\) (forward of 4 images"
grep -q '"precision": "auto"' run2/config.json || fail "config.json lacks precision auto"
grep -qE '"precision_chosen": "(fp32|bf16)"' run2/config.json || fail "config.json lacks the choice"
grep -qE '"precision_bf16_seconds": [0-9.e-]+' run2/config.json || fail "config.json lacks the timing"

# usage errors
expect 2 "$cli" compare "$model" "$a" "$b" --precision fast
grep_err "unknown --precision 'fast' (auto, fp32, bf16, int8)"
expect 2 "$cli" search faces.idx "$a" --precision fp16
expect 2 "$cli" index build "$model" faces -o x.idx --precision fp16
[ -e x.idx ] && fail "a usage error wrote x.idx"
# a negative --threads is a usage error naming it, not all cores in silence
cp faces.idx keep.idx
expect 2 "$cli" embed "$model" faces -o x.st -j -3
grep_err "siamese embed: --threads must be 0 (all cores) to 1024, got -3"
expect 2 "$cli" index build "$model" faces -o x.idx -j -3
grep_err "siamese index: --threads must be 0"
expect 2 "$cli" index add faces.idx "$a" -j -3
expect 2 "$cli" search faces.idx "$a" -j -3
grep_err "siamese search: --threads must be 0"
expect 2 "$cli" verify "$model" "$a" "$b" -j -3
grep_err "siamese verify: --threads must be 0"
expect 2 "$cli" identify faces.idx "$a" -j -3
grep_err "siamese identify: --threads must be 0"
expect 2 "$cli" calibrate "$model" faces -o x.safetensors -j -3
grep_err "siamese calibrate: --threads must be 0"
expect 2 "$cli" compare "$model" "$a" "$b" -j -3
grep_err "siamese compare: --threads must be 0 (all cores) to 1024, got -3"
expect 2 "$cli" eval "$model" faces -j -3
grep_err "siamese eval: --threads must be 0 (all cores) to 1024, got -3"
expect 2 "$cli" quantize "$model" faces -o x.safetensors -j -3
grep_err "siamese quantize: --threads must be 0 (all cores) to 1024, got -3"
expect 2 "$cli" quantize "$model" faces -o x.safetensors --batch 300
grep_err "siamese quantize: --batch must be 1 to 256, got 300"
expect 2 "$cli" quantize "$model" faces -o x.safetensors --images 0
grep_err "siamese quantize: --images must be at least 1, got 0"
expect 2 "$cli" report . -j -3
grep_err "siamese report: --threads must be 0 (all cores) to 1024, got -3"
# more threads than OpenMP can start (libgomp crashed at 65535) is a usage error too, every command
expect 2 "$cli" compare "$model" "$a" "$b" -j 70000
grep_err "siamese compare: --threads must be 0 (all cores) to 1024, got 70000"
expect 2 "$cli" embed "$model" faces -o x.st -j 1025
grep_err "siamese embed: --threads must be 0 (all cores) to 1024, got 1025"
expect 2 "$cli" index build "$model" faces -o x.idx -j 70000
expect 2 "$cli" index add faces.idx "$a" -j 70000
expect 2 "$cli" search faces.idx "$a" -j 70000
expect 2 "$cli" verify "$model" "$a" "$b" -j 70000
expect 2 "$cli" identify faces.idx "$a" -j 70000
expect 2 "$cli" calibrate "$model" faces -o x.safetensors -j 70000
expect 2 "$cli" eval "$model" faces -j 70000
expect 2 "$cli" quantize "$model" faces -o x.safetensors -j 70000
expect 2 "$cli" report . -j 70000
expect 2 "$cli" test "$model" faces -j 70000
grep_err "siamese test: --threads must be 0 (all cores) to 1024, got 70000"
expect 2 "$cli" train faces -o x.run -j 70000
grep_err "siamese train: --threads must be 0 (all cores) to 1024, got 70000"
[ -e x.run ] && fail "train -j 70000 made its run folder"
expect 0 "$cli" compare "$model" "$a" "$b" -j 1024
# a negative --threshold: one message for the three commands that take it
for c in compare verify; do
    expect 2 "$cli" $c "$model" "$a" "$b" --threshold -0.5
    grep_err "siamese $c: --threshold must be a number >= 0, got -0.5"
done
expect 2 "$cli" identify faces.idx "$a" --threshold -0.5
grep_err "siamese identify: --threshold must be a number >= 0, got -0.5"
[ -e x.idx ] || [ -e x.st ] || [ -e x.safetensors ] && fail "a usage error wrote a file"
cmp -s faces.idx keep.idx || fail "index add -j -3 changed the index"
finish test_cli_precision
