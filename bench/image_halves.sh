#!/usr/bin/env bash
# Splits a folder of class folders into two halves, each class's images alternately (sorted by
# name), as links: OUT/a/CLASS/ and OUT/b/CLASS/ (issue 12's half-to-half measurements).
#
# usage: bench/image_halves.sh SRC OUT
set -euo pipefail
[[ "${1:-}" == -h || "${1:-}" == --help ]] && { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }
[[ $# -eq 2 && -d "$1" ]] || { echo "usage: $0 SRC OUT (SRC: a folder of class folders)" >&2; exit 2; }
src=$1 out=$2
rm -rf "$out"
for class in "$src"/*/; do
    class=$(basename "$class")
    mkdir -p "$out/a/$class" "$out/b/$class"
    i=0
    for f in "$src/$class"/*; do
        ln -s "$(realpath "$f")" "$out/$([[ $((i % 2)) -eq 0 ]] && echo a || echo b)/$class/"
        i=$((i + 1))
    done
done
