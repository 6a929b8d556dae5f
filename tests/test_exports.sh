#!/usr/bin/env bash
# A sealed library: libsiamese.so exports exactly the functions include/siamese.h declares with
# SIAMESE_API (all named siamese_*), libsiamese.a defines exactly those as globals (its internals,
# sm_* and the rest, are local: an embedder's own sm_grow neither clashes with ours nor replaces
# it), and cli/ is a pure client: it includes siamese.h and its own headers, nothing of src/.
set -u
src=${SIAMESE_SOURCE_DIR:?SIAMESE_SOURCE_DIR must name the source tree}
bin=${SIAMESE_BINARY_DIR:?SIAMESE_BINARY_DIR must name the build tree}
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

lib=$bin/libsiamese.so
[ -e "$lib" ] || { echo "FAIL: $lib not built" >&2; exit 1; }
archive=$bin/libsiamese.a
[ -e "$archive" ] || { echo "FAIL: $archive not built" >&2; exit 1; }
nm -D --defined-only "$lib" | awk '{print $NF}' | sort -u >"$tmp/exported"
[ "$(wc -l <"$tmp/exported")" -ge 50 ] || fail "only $(wc -l <"$tmp/exported") exported symbols"
# the archive's members' global definitions ("ADDRESS TYPE NAME" lines of nm -g)
nm -g --defined-only "$archive" | awk 'NF == 3 {print $3}' | sort -u >"$tmp/archive_globals"

tr '\n' ' ' <"$src/include/siamese.h" | grep -oE 'SIAMESE_API [^;{]*\(' |
    sed -E 's/ *\($//; s/.*[ *]//' | grep '^siamese_' | sort -u >"$tmp/declared"
[ "$(wc -l <"$tmp/declared")" -ge 50 ] || fail "found only $(wc -l <"$tmp/declared") declarations"

# check_symbols WHAT LIST: the sorted symbol names in LIST are the SIAMESE_API declarations, no
# more, no fewer.
check_symbols() {
    local leaked missing extra
    leaked=$(grep -v '^siamese_' "$2")
    [ -z "$leaked" ] || fail "$1, not named siamese_*: $(echo $leaked | head -c 400)"
    missing=$(comm -23 "$tmp/declared" "$2")
    [ -z "$missing" ] || fail "declared with SIAMESE_API but not $1: $(echo $missing)"
    extra=$(comm -13 "$tmp/declared" "$2" | grep '^siamese_')
    [ -z "$extra" ] || fail "$1 but not declared in siamese.h: $(echo $extra)"
}
check_symbols "exported by libsiamese.so" "$tmp/exported"
check_symbols "defined as globals in libsiamese.a" "$tmp/archive_globals"

# cli/ includes only siamese.h and files of cli/ itself
for f in "$src"/cli/*.c "$src"/cli/*.h; do
    grep -oE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]+"' "$f" |
        sed -E 's/.*"([^"]+)"/\1/' | while read -r inc; do
        [ "$inc" = siamese.h ] || [ -f "$src/cli/$inc" ] && [ "${inc#*/}" = "$inc" ] ||
            echo "$(basename "$f") includes \"$inc\""
    done
done >"$tmp/includes"
[ ! -s "$tmp/includes" ] || fail "cli/ reaches past siamese.h: $(tr '\n' ';' <"$tmp/includes")"

if [ "$failures" -ne 0 ]; then echo "$failures failure(s)" >&2; exit 1; fi
echo "test_exports: $(wc -l <"$tmp/exported") exported siamese_* symbols, all declared, and the" \
    "same globals in libsiamese.a; cli/ includes only siamese.h and its own headers"
