#!/usr/bin/env bash
# The rooms' dependency graph as linked: "A -> B (N symbols)" when an object file of room A
# (src/<room>/ or cli/) uses N symbols defined in room B. docs/ARCHITECTURE.md quotes it.
# Usage: scripts/rooms.sh [BUILD_DIR]   (default build; build it first)
set -euo pipefail
build=${1:-build}
dirs=("$build/CMakeFiles/siamese_obj.dir/src" "$build/CMakeFiles/siamese_cli.dir/cli")
for d in "${dirs[@]}"; do
  [ -d "$d" ] || { echo "rooms.sh: $d not found (build first)" >&2; exit 2; }
done
find "${dirs[@]}" -name '*.c.o' | while read -r obj; do
  rel=${obj#*.dir/} # src/nn/net.c.o or cli/main.c.o
  room=$(echo "$rel" | awk -F/ '{ print ($1 == "cli") ? "cli" : $2 }')
  nm "$obj" | awk -v room="$room" '
    NF == 3 && $2 ~ /^[TDBR]$/ { print "def", room, $3 }
    NF == 2 && $1 == "U" { print "use", room, $2 }'
done | awk '
  $1 == "def" { home[$3] = $2; next }
  { used[$2 " " $3] = 1 }
  END {
    for (k in used) {
      split(k, a, " ")
      if ((a[2] in home) && home[a[2]] != a[1]) n[a[1] " -> " home[a[2]]]++
    }
    for (e in n) printf "%-18s (%d symbols)\n", e, n[e]
  }' | sort
