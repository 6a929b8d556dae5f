#!/usr/bin/env bash
# No space left on the device: a run folder, an index, embeddings and a pairs manifest on a small
# tmpfs. Training (fresh, and resumed on a nearly full disk), index build and add, embed, pairs
# and an eval --report page fail with exit 1 and a message naming the file and "No space left on
# device"; the last good model, checkpoint, index and manifest are untouched, no temporary file is
# left, and once there is room again the resume finishes bitwise equal to an uninterrupted run.
# Needs to mount a tmpfs (root, in a private mount namespace when unshare(1) allows): skips else.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/fault_lib.sh"
in_mount_namespace "$@"
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

disk=$tmp/disk
mount_tmpfs "$disk" 16m

# fill: leaves about $1 KB free on the tmpfs (0: none).
fill() {
    rm -f "$disk/filler"
    local avail
    avail=$(df -k --output=avail "$disk" | tail -1 | tr -d ' ')
    [ "$avail" -gt "$1" ] && head -c $(((avail - $1) * 1024)) /dev/zero >"$disk/filler" 2>/dev/null
    return 0
}
# no_space WHAT FILE: the last command failed with exit 1 naming FILE and the reason.
no_space() {
    grep -q "No space left on device" "$tmp/err" || fail "$1: no 'No space left on device': $(cat "$tmp/err")"
    grep -q "$2" "$tmp/err" || fail "$1: the message does not name $2: $(cat "$tmp/err")"
}

make_tiny_data "$tmp/data"
ref=$tmp/ref
expect 0 "$cli" train "$tmp/data" -o "$ref" "${train_args[@]}"

# a fresh run on a disk with 3 MB free: the first model fits, the second does not
run=$disk/run
fill 3000
expect 1 "$cli" train "$tmp/data" -o "$run" "${train_args[@]}"
no_space "fresh run" "$run/[a-z]*.safetensors"
[ -z "$(temp_files "$run")" ] || fail "fresh run: temporary files left: $(temp_files "$run")"
run_files_intact "$run" "fresh run"

# a run of 2 epochs, then --resume to 4 on a nearly full disk: its model and checkpoint stay
rm -rf "$run"
fill 0
rm -f "$disk/filler"
expect 0 "$cli" train "$tmp/data" -o "$run" "${train_args[@]}" --epochs 2
cp "$run/model.safetensors" "$run/checkpoint.safetensors" "$tmp/"
for free in 0 1000 3000; do
    fill $free
    expect 1 "$cli" train --resume "$run" --epochs 4 -q
    no_space "resume with ${free} KB free" "$run/"
    cmp -s "$run/model.safetensors" "$tmp/model.safetensors" ||
        st_intact "$run/model.safetensors" || fail "resume with $free KB free: model.safetensors broken"
    cmp -s "$run/checkpoint.safetensors" "$tmp/checkpoint.safetensors" ||
        fail "resume with $free KB free: the last good checkpoint changed"
    [ -z "$(temp_files "$run")" ] || fail "resume with $free KB free: temporary files left"
    run_files_intact "$run" "resume with ${free} KB free"
done
rm -f "$disk/filler"
expect 0 "$cli" train --resume "$run" --epochs 4 -q
for f in model.safetensors best.safetensors; do
    cmp -s "$ref/$f" "$run/$f" || fail "the resume after the full disk: $f differs from the uninterrupted run's"
done
rm -rf "$run"

# index build over an old index, index add, embed and pairs on a full disk
model=$ref/model.safetensors
expect 0 "$cli" index build "$model" "$tmp/data" -o "$disk/c.idx" -j 1 --precision fp32 -q
expect 0 "$cli" pairs "$tmp/data" -o "$disk/pairs.tsv"
cp "$disk/c.idx" "$disk/pairs.tsv" "$tmp/"
fill 0
expect 1 "$cli" index build "$model" "$tmp/data/class0" -o "$disk/c.idx" -j 1 --precision fp32 -q
no_space "index build" "$disk/c.idx"
expect 1 "$cli" index add "$disk/c.idx" "$tmp/data/class1" -j 1 --precision fp32 -q
no_space "index add" "$disk/c.idx"
cmp -s "$disk/c.idx" "$tmp/c.idx" || fail "the old index changed on a full disk"
expect 1 "$cli" embed "$model" "$tmp/data" -o "$disk/e.safetensors" -j 1 --precision fp32 -q
no_space "embed" "$disk/e.safetensors"
expect 1 "$cli" pairs "$tmp/data" -o "$disk/pairs.tsv" --seed 9 -k 30
no_space "pairs" "$disk/pairs.tsv"
cmp -s "$disk/pairs.tsv" "$tmp/pairs.tsv" || fail "the old manifest changed on a full disk"
# an HTML page on a full disk: exit 1 naming the page and the reason
expect 1 "$cli" eval "$model" "$tmp/data" --report "$disk/r.html" -j 1 --precision fp32 -q
no_space "eval --report" "$disk/r.html"
[ -z "$(temp_files "$disk")" ] || fail "temporary files left: $(temp_files "$disk")"

# the recipe's folder tree (copies: a tmpfs cannot hard-link the data) on a full disk: exit 1
# naming the file, and no half tree is left (it used to keep the files written so far); with an
# old tree in the way, its files stay
rm -f "$disk/filler"
fill 40
expect 1 "$cli" pairs "$tmp/data" -o "$disk/tree" --layout recipe -k 20
no_space "pairs --layout recipe" "$disk/tree/"
[ -e "$disk/tree" ] && fail "pairs --layout recipe left a half tree: $(find "$disk/tree" -type f | wc -l) files"
rm -f "$disk/filler"
expect 0 "$cli" pairs "$tmp/data" -o "$disk/tree" --layout recipe
n=$(find "$disk/tree" -type f | wc -l)
expect 1 "$cli" pairs "$tmp/data" -o "$disk/tree" --layout recipe
grep_err "already exists"
[ "$(find "$disk/tree" -type f | wc -l)" -eq "$n" ] || fail "a refused recipe layout removed files it did not make"

finish test_fault_disk
