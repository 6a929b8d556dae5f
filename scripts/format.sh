#!/usr/bin/env bash
# Applies the house style (.clang-format) to every C file, or with --check lists the files that differ.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h' | grep -v '^tests/fixtures/')
if [ "${1:-}" = "--check" ]; then
  # one clang-format for every file: --dry-run -Werror reports each difference as
  # "FILE:LINE:COL: error: ..." (2 s here, against 34 s for a process per file)
  rc=0
  out=$(clang-format --style=file --dry-run -Werror "${files[@]}" 2>&1) || rc=$?
  bad=$(sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: .*/\1/p' <<<"$out" | sort -u)
  for f in $bad; do echo "format.sh: $f is not formatted (run scripts/format.sh)" >&2; done
  if [ "$rc" -ne 0 ] && [ -z "$bad" ]; then
    echo "format.sh: clang-format failed: $out" >&2
  fi
  [ "$rc" -eq 0 ] && [ -z "$bad" ]
  exit
fi
clang-format --style=file -i "${files[@]}"
