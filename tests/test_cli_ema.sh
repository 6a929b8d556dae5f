#!/usr/bin/env bash
# 'siamese train --ema DECAY' (a moving average of the weights, saved as the run's models): a run
# stopped after 2 epochs and resumed to 4 ends with the uninterrupted run's model and best model,
# bit for bit (the checkpoint carries the average; test_ema.c resumes one mid-epoch); both differ
# from the same run without --ema; config.json records the decay. A decay outside [0, 1) or not a
# number is a usage error naming --ema that leaves no run folder; --ema cannot be given to
# --resume, and a checkpoint whose averaged weights do not match its config.json is refused.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/fault_lib.sh"

make_tiny_data "$tmp/data"
run=(train "$tmp/data" --arch "conv(4,k=3,s=2) batchnorm relu flatten linear(16)" --input 1x16x16
    --batch 4 --threads 1 --seed 5 -q)

expect 0 "$cli" "${run[@]}" --ema 0.9 --epochs 4 -o "$tmp/whole"
expect 0 "$cli" "${run[@]}" --ema 0.9 --epochs 2 -o "$tmp/parts"
expect 0 "$cli" train --resume "$tmp/parts" --epochs 4 -q
for f in model best; do
    cmp -s "$tmp/whole/$f.safetensors" "$tmp/parts/$f.safetensors" ||
        fail "resumed at epoch 2, the --ema run ends with another $f.safetensors"
done

expect 0 "$cli" "${run[@]}" --epochs 4 -o "$tmp/plain"
for f in model best; do
    cmp -s "$tmp/whole/$f.safetensors" "$tmp/plain/$f.safetensors" &&
        fail "--ema 0.9 saved the same $f.safetensors as the run without it"
done
grep -q '"ema_decay": 0.8999999' "$tmp/whole/config.json" ||
    fail "config.json does not record --ema 0.9: $(grep ema "$tmp/whole/config.json")"
grep -q '"ema_decay": 0.0' "$tmp/plain/config.json" ||
    fail "config.json of a run without --ema: $(grep ema "$tmp/plain/config.json")"

for bad in -0.1 1 1.5 nan inf abc; do
    expect 2 "$cli" "${run[@]}" --ema "$bad" --epochs 1 -o "$tmp/bad"
    grep_err "\-\-ema"
    [ -e "$tmp/bad" ] && fail "--ema $bad: a usage error left $tmp/bad behind"
done
grep_err "invalid value 'abc'"
expect 2 "$cli" "${run[@]}" --ema 1 --epochs 1 -o "$tmp/bad"
grep_err "must be in \[0, 1)"

expect 2 "$cli" train --resume "$tmp/parts" --ema 0.9 --epochs 5 -q
grep_err "\-\-resume goes on with the run.s own settings (.*config.json): --ema cannot change them"

# a checkpoint without averaged weights under a config.json that asks for them, and the reverse
cp -r "$tmp/plain" "$tmp/plain_edited"
sed -i 's/"ema_decay": [0-9.e-]*/"ema_decay": 0.5/' "$tmp/plain_edited/config.json"
expect 1 "$cli" train --resume "$tmp/plain_edited" --epochs 5 -q
grep_err "holds no averaged weights"
cp -r "$tmp/whole" "$tmp/whole_edited"
sed -i 's/"ema_decay": [0-9.e-]*/"ema_decay": 0.0/' "$tmp/whole_edited/config.json"
expect 1 "$cli" train --resume "$tmp/whole_edited" --epochs 5 -q
grep_err "holds averaged weights"

finish test_cli_ema
