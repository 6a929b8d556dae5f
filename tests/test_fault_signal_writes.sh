#!/usr/bin/env bash
# A command ended by a signal while it writes its output leaves no temporary file behind: every
# write goes to PATH.tmp.XXXXXX before its rename, and the CLI's signal thread removes those of
# the writes in progress (siamese_remove_unfinished_writes) before the signal ends the process.
# 'siamese pairs' writing a large manifest is stopped by SIGINT, SIGTERM and SIGHUP once its
# temporary file exists: it ends by that signal (exit 128 + N), with neither the temporary file
# nor a half-written manifest left, and an older manifest at the path untouched. Generated
# data: seconds.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
cd "$tmp" || exit 1

for c in a b c d; do
    mkdir -p "data/$c"
    for i in 1 2 3 4 5 6; do { printf 'P5\n8 8\n255\n'; head -c 64 /dev/urandom; } >"data/$c/$i.pgm"; done
done
echo "an older manifest" >old.tsv

# interrupt SIGNAL CODE OUTPUT: starts a 2.4-million-pair manifest, signals it once its temporary
# file is there, and checks how it ended.
interrupt() {
    local sig=$1 code=$2 out=$3 i
    "$cli" pairs data -k 300000 -o "$out" >/dev/null 2>&1 &
    local pid=$!
    for i in $(seq 1 500); do
        compgen -G "$out.tmp.*" >/dev/null && break
        sleep 0.01
    done
    compgen -G "$out.tmp.*" >/dev/null || { fail "$sig: no temporary file of $out seen"; wait "$pid"; return; }
    kill -s "$sig" "$pid"
    wait "$pid"
    local got=$?
    [ "$got" -eq "$code" ] || fail "$sig: exit $got, want $code"
    compgen -G "$out.tmp.*" >/dev/null && fail "$sig: left $(echo "$out".tmp.*)"
}

interrupt INT 130 new.tsv
[ -e new.tsv ] && fail "SIGINT left a manifest new.tsv"
interrupt TERM 143 new.tsv
interrupt HUP 129 new.tsv
[ -e new.tsv ] && fail "a signal left a manifest new.tsv"
interrupt TERM 143 old.tsv
[ "$(cat old.tsv)" = "an older manifest" ] || fail "an interrupted write changed old.tsv"
finish test_fault_signal_writes
