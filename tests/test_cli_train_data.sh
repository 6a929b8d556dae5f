#!/usr/bin/env bash
# 'siamese train DATA -o RUN' opens DATA before anything else that is slow or leaves a trace: a
# DATA that does not open (missing, an empty folder, one class, a file that is no dataset, an
# unreadable manifest) exits 1 naming DATA and the reason, before the network is built (a bad
# --arch, or --init's missing file, is not reached) and before the run folder is made or touched.
# Generated noise PGMs only: each check in well under a second once the order is right.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

# noise_pgm FILE: a 46x56 grey PNM of random pixels
noise_pgm() { { printf 'P5\n46 56\n255\n'; head -c $((46 * 56)) /dev/urandom; } >"$1"; }
mkdir -p "$tmp/empty" "$tmp/one_class/a"
for i in 1 2 3; do noise_pgm "$tmp/one_class/a/$i.pgm"; done
printf 'these are notes, not a pairs manifest\n' >"$tmp/notes.txt"
printf 'a.pgm\tb.pgm\t0\n' >"$tmp/unreadable.tsv"
chmod 000 "$tmp/unreadable.tsv"
# an existing run folder with a file in it: a refused run leaves it exactly as it was
mkdir -p "$tmp/kept"
echo "someone's notes" >"$tmp/kept/notes.txt"
kept_before=$(cd "$tmp/kept" && ls -A && cat notes.txt)

# refused DATA REASON [FLAGS...]: exit 1, stderr names DATA and REASON, no run folder (nor any of
# its missing parents) made, the existing folder unchanged (no lock file left in it)
refused() {
    local data=$1 reason=$2
    shift 2
    expect 1 "$cli" train "$data" -o "$tmp/runs/new/run" --threads 1 "$@"
    grep_err "siamese train: $data"
    grep_err "$reason"
    [ -e "$tmp/runs" ] && fail "train $data $*: made $tmp/runs"
    expect 1 "$cli" train "$data" -o "$tmp/kept" --overwrite --threads 1 "$@"
    grep_err "siamese train: $data"
    [ "$(cd "$tmp/kept" && ls -A && cat notes.txt)" = "$kept_before" ] ||
        fail "train $data $* -o $tmp/kept changed it: $(ls -A "$tmp/kept")"
}

tiny=(--arch "conv(4,k=5,s=2) relu maxpool(2) linear(8)" --input 1x56x46)
# the run's own order (no network flag: the CLI leaves DATA to the run) and the CLI's (a network
# flag: the CLI checks the network itself, after DATA), and P x K's class count
for flags in "" "tiny" "pk"; do
    case $flags in
    tiny) set -- "${tiny[@]}" ;;
    pk) set -- "${tiny[@]}" --pk 2x2 --split images ;;
    *) set -- ;;
    esac
    refused "$tmp/nowhere" "cannot open: No such file or directory" "$@"
    refused "$tmp/empty" "found 0 class folders holding files; need at least two" "$@"
    refused "$tmp/one_class" "found 1 class folder holding files; need at least two" "$@"
    refused "$tmp/notes.txt" "expected 3 tab-separated fields" "$@"
    if [ "$(id -u)" -ne 0 ]; then # root reads the file anyway
        refused "$tmp/unreadable.tsv" "Permission denied" "$@"
    fi
done

# DATA before the network: with a bad --arch too, DATA's problem is the one said (the CLI's
# network check builds the network, so it comes after DATA) ...
refused "$tmp/nowhere" "cannot open" --arch "conv(8,k=3) reluu"
grep -q "reluu" "$tmp/err" && fail "a bad --arch was reported before the missing DATA: $(cat "$tmp/err")"
# ... and in the run itself: --init's weights are read into the network just after it is built
refused "$tmp/empty" "need at least two" --init "$tmp/no_weights.safetensors"
grep -q "init" "$tmp/err" && fail "--init was read before DATA was opened: $(cat "$tmp/err")"

# good DATA with the bad --arch is still the usage error it was, and the run is still made
noise_pgm "$tmp/one_class/a/4.pgm"
mkdir -p "$tmp/one_class/b" && for i in 1 2 3 4; do noise_pgm "$tmp/one_class/b/$i.pgm"; done
expect 2 "$cli" train "$tmp/one_class" -o "$tmp/runs/arch" --arch "conv(8,k=3) reluu"
grep_err "reluu"
[ -e "$tmp/runs" ] && fail "a bad --arch made $tmp/runs"
expect 0 "$cli" train "$tmp/one_class" -o "$tmp/runs/ok" "${tiny[@]}" --batch 4 --epochs 1 -q -j 1
[ -f "$tmp/runs/ok/model.safetensors" ] || fail "a good DATA trained no model: $(cat "$tmp/err")"

finish test_cli_train_data
