#!/usr/bin/env bash
# A read-only run folder (a tmpfs remounted read-only: chmod does not stop root): training into
# it, resuming or overwriting a run there, index build and add, embed and pairs fail with exit 1
# and a message naming the file and "Read-only file system"; every file there is unchanged.
# Needs to mount a tmpfs (root, in a private mount namespace when unshare(1) allows): skips else.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/fault_lib.sh"
in_mount_namespace "$@"
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

ro=$tmp/ro
mount_tmpfs "$ro" 32m
make_tiny_data "$tmp/data"
expect 0 "$cli" train "$tmp/data" -o "$ro/run" "${train_args[@]}" --epochs 2
model=$ro/run/model.safetensors
expect 0 "$cli" index build "$model" "$tmp/data/class0" -o "$ro/c.idx" -j 1 --precision fp32 -q
expect 0 "$cli" pairs "$tmp/data" -o "$ro/pairs.tsv"
if ! mount -o remount,ro "$ro" 2>/dev/null; then
    echo "SKIP: cannot remount $ro read-only"
    exit 77
fi
sums=$(cd "$ro" && find . -type f -exec md5sum {} + | sort)

# read_only WHAT FILE: the last command failed naming FILE and the reason.
read_only() {
    grep -q "Read-only file system" "$tmp/err" || fail "$1: no 'Read-only file system': $(cat "$tmp/err")"
    grep -q "$2" "$tmp/err" || fail "$1: the message does not name $2: $(cat "$tmp/err")"
}

expect 1 "$cli" train "$tmp/data" -o "$ro/new" "${train_args[@]}"
read_only "a new run" "$ro/new"
expect 1 "$cli" train "$tmp/data" -o "$ro/run" "${train_args[@]}" --overwrite
read_only "--overwrite" "$ro/run"
expect 1 "$cli" train --resume "$ro/run" --epochs 3 -q
read_only "--resume" "$ro/run"
expect 1 "$cli" index build "$model" "$tmp/data" -o "$ro/c.idx" -j 1 --precision fp32 -q
read_only "index build" "$ro/c.idx"
expect 1 "$cli" index add "$ro/c.idx" "$tmp/data/class1" -j 1 --precision fp32 -q
read_only "index add" "$ro/c.idx"
expect 1 "$cli" embed "$model" "$tmp/data" -o "$ro/e.safetensors" -j 1 --precision fp32 -q
read_only "embed" "$ro/e.safetensors"
expect 1 "$cli" pairs "$tmp/data" -o "$ro/pairs.tsv" --seed 4
read_only "pairs" "$ro/pairs.tsv"
[ "$sums" = "$(cd "$ro" && find . -type f -exec md5sum {} + | sort)" ] ||
    fail "files changed in the read-only folder"

# the run stays usable: resumed from a copy in a writable folder it finishes
cp -r "$ro/run" "$tmp/run"
expect 0 "$cli" train --resume "$tmp/run" --epochs 3 -q

finish test_fault_readonly
