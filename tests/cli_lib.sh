# Shared by the CLI script tests (source it): $cli, a temporary folder $tmp removed on exit,
# failure counting and the expect/grep_err checks.
cli=${SIAMESE_CLI:?SIAMESE_CLI must name the built siamese program}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# --precision auto caches its measurement in the user's cache folder: tests use their own
export XDG_CACHE_HOME=$tmp/.cache
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# expect CODE CMD...: runs CMD, stdout in $tmp/out, stderr in $tmp/err, checks the exit code.
expect() {
    local want=$1; shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    [ "$got" -eq "$want" ] || fail "exit $got, want $want: $* (stderr: $(cat "$tmp/err"))"
}
grep_err() { grep -q -- "$1" "$tmp/err" || fail "stderr lacks '$1': $(cat "$tmp/err")"; }

# require_data VAR REL: sets VAR to REL's path under the shared data sets ($SIAMESE_DATA_DIR, else
# the folder CMake found); when it is missing, says what to put where and exits 77, which ctest
# shows as "Skipped". Call it before any check.
require_data() {
    local dir=${SIAMESE_DATA_DIR:-${SIAMESE_DATA_DIR_DEFAULT:-../shared/data}}
    if [ ! -e "$dir/$2" ]; then
        echo "SKIP: data set missing: $dir/$2. Put the shared data sets (their list:" \
            "shared/data/README.md) in ../shared/data beside the checkout, or set" \
            "SIAMESE_DATA_DIR to their folder"
        exit 77
    fi
    printf -v "$1" '%s' "$dir/$2"
}

# epochs_past RUN: one more than the epochs RUN's metrics.jsonl says were done, the least --epochs
# a --resume of a stopped or killed run accepts (at or below the epochs done is refused); an epoch
# line written past the last checkpoint only makes it one more.
epochs_past() { echo $(($(grep -c '"event":"epoch"' "$1/metrics.jsonl") + 1)); }

# finish NAME: exits 1 when any check failed, else says all checks of NAME passed.
finish() {
    if [ "$failures" -ne 0 ]; then echo "$failures failure(s)" >&2; exit 1; fi
    echo "$1: all checks passed"
}
