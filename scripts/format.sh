#!/usr/bin/env bash
# Applies the house style (.clang-format) to every C file, or with --check lists the files that differ.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h' | grep -v '^tests/fixtures/')
if [ "${1:-}" = "--check" ]; then
  bad=0
  for f in "${files[@]}"; do
    if ! clang-format --style=file "$f" | cmp -s "$f" -; then
      echo "format.sh: $f is not formatted (run scripts/format.sh)" >&2
      bad=1
    fi
  done
  exit $bad
fi
clang-format --style=file -i "${files[@]}"
