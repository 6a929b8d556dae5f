#!/usr/bin/env bash
# siamese quantize and --precision int8 on the command line: help, usage errors (exit 2), a bad
# model or dataset (exit 1, the file named, the output not written), the output written
# atomically beside an untouched input (never over it), the quantised file still a plain fp32
# model, int8 distances close to fp32's, and a clear error for int8 on an uncalibrated model.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
cd "$tmp"

# a tiny dataset of random 28x28 grey images: 3 classes of 4
for c in a b c; do
    mkdir -p "imgs/$c"
    for i in 1 2 3 4; do
        { printf 'P5\n28 28\n255\n'; head -c $((28 * 28)) /dev/urandom; } >"imgs/$c/$i.pgm"
    done
done
arch="conv(8,k=3,p=1) bn relu maxpool(2) conv(8,k=3) relu flatten linear(16) linear(8)"
expect 0 "$cli" train imgs --arch "$arch" --input 1x28x28 --epochs 1 --batch 4 --seed 3 -q -o run
model=run/model.safetensors
[ -f "$model" ] || { fail "training made no model: $(cat "$tmp/err")"; finish test_cli_quantize; }
cp "$model" before.safetensors

# help and usage errors
expect 0 "$cli" quantize --help
grep -q "MODEL DATA -o MODEL_INT8" "$tmp/out" || fail "quantize --help lacks the usage line"
"$cli" --help 2>&1 | grep -q "quantize" || fail "siamese --help does not list quantize"
expect 2 "$cli" quantize "$model" imgs
grep_err "give the output file with -o"
expect 2 "$cli" quantize "$model"
expect 2 "$cli" quantize "$model" imgs -o q.st --images 0
expect 2 "$cli" quantize "$model" imgs -o "$model"
grep_err "the output is also an input; it would be overwritten"
ln -s "$model" link.safetensors
expect 2 "$cli" quantize "$model" imgs -o link.safetensors
cmp -s "$model" before.safetensors || fail "the input model changed"

# bad model or data: exit 1, the file named, no output
expect 1 "$cli" quantize missing.safetensors imgs -o q.st
grep_err "missing.safetensors"
expect 1 "$cli" quantize "$model" nowhere -o q.st
grep_err "nowhere"
printf 'junk' >junk.safetensors
expect 1 "$cli" quantize junk.safetensors imgs -o q.st
grep_err "junk.safetensors"
[ -e q.st ] && fail "a failed quantize wrote its output"
# data with no image that decodes: the message names the data, not the model
mkdir -p junkimgs/a junkimgs/b
echo junk >junkimgs/a/x.png
echo junk >junkimgs/b/y.png
expect 1 "$cli" quantize "$model" junkimgs -o q.st
grep_err "siamese quantize: junkimgs: no image decoded to calibrate int8 on"
[ -e q.st ] && fail "a quantize without images wrote its output"
echo keep >existing.st
expect 1 "$cli" quantize "$model" nowhere -o existing.st
[ "$(cat existing.st)" = keep ] || fail "a failed quantize changed an existing output file"

# a layer the int8 engine cannot run (a residual add without a relu after it) is refused with
# the layer named; with the relu the residual network is quantised
expect 0 "$cli" train imgs --arch "conv(8,k=3,p=1) relu block conv(8,k=3,p=1) add avgpool flatten linear(4)" \
    --input 1x28x28 --epochs 1 --batch 4 --seed 3 -q -o resrun
expect 1 "$cli" quantize resrun/model.safetensors imgs -o res8.st
grep_err "layer 5 (add) is not supported: a residual add without a relu"
expect 0 "$cli" train imgs --arch "conv(8,k=3,p=1) relu block conv(8,k=3,p=1) add relu avgpool flatten linear(4)" \
    --input 1x28x28 --epochs 1 --batch 4 --seed 3 -q -o resrun2
expect 0 "$cli" quantize resrun2/model.safetensors imgs -o res8.st --images 10 --batch 4
grep_err "wrote res8.st"

# the quantised model
expect 0 "$cli" quantize "$model" imgs -o q.st --images 10 --batch 4
grep_err "calibrated on 10 images of imgs"
grep_err "wrote q.st"
[ -f q.st ] || fail "no output file"
ls -a | grep -q '\.tmp' && fail "a temporary file was left behind: $(ls -a)"
cmp -s "$model" before.safetensors || fail "the input model changed"
# still a plain fp32 model: the same fp32 distance as the input, with int8 close to it
expect 0 "$cli" compare "$model" imgs/a/1.pgm imgs/b/2.pgm --precision fp32
d32=$(grep -o '[0-9][0-9.]*' "$tmp/out" | head -1)
expect 0 "$cli" compare q.st imgs/a/1.pgm imgs/b/2.pgm --precision fp32
[ "$(grep -o '[0-9][0-9.]*' "$tmp/out" | head -1)" = "$d32" ] || fail "q.st in fp32 differs from the input"
expect 0 "$cli" compare q.st imgs/a/1.pgm imgs/b/2.pgm --precision int8
d8=$(grep -o '[0-9][0-9.]*' "$tmp/out" | head -1)
awk -v a="$d32" -v b="$d8" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.05 * a + 1e-4) }' ||
    fail "int8 distance $d8 is not within 5% of fp32's $d32"
# the other inference commands take int8 too
expect 0 "$cli" embed q.st imgs -o emb.st -q --precision int8
expect 0 "$cli" eval q.st imgs --precision int8 -q -b 0
# int8 on a model without calibration: a clear error, exit 1
expect 1 "$cli" compare "$model" imgs/a/1.pgm imgs/b/2.pgm --precision int8
grep_err "no int8 calibration"
expect 1 "$cli" embed "$model" imgs -o emb2.st -q --precision int8
grep_err "no int8 calibration"
# int8 is not a training precision
expect 2 "$cli" train imgs --arch "$arch" --input 1x28x28 --epochs 1 -o run8 --precision int8
grep_err "int8 is for inference"
finish test_cli_quantize
