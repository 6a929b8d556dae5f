#!/usr/bin/env bash
# Fuzzes every parser of outside data with libFuzzer (tests/fuzz/fuzz_*.c), or replays the
# committed inputs without fuzzing.
#   scripts/fuzz.sh [SECONDS]           builds build-fuzz with clang (ASan+UBSan+libFuzzer), then
#                                       fuzzes each harness for SECONDS (default 60), one at a time,
#                                       from tests/fuzz/corpus/<harness> (+ its .dict). New corpus
#                                       entries go to build-fuzz/corpus/<harness>; a crash is
#                                       written to build-fuzz/crashes/<harness>/ and fails the run.
#   scripts/fuzz.sh --only NAME [SECONDS]   one harness (image, model, checkpoint, ...)
#   scripts/fuzz.sh --ci [RUNS]         CI's stage: each harness RUNS inputs (default 100000) from
#                                       seed 1 and a fresh corpus, the same inputs on every run
#   scripts/fuzz.sh --replay BUILD_DIR  replays tests/fuzz/corpus/<h> and tests/fuzz/regressions/<h>
#                                       through BUILD_DIR/fuzz_replay_<h> (any compiler; ctest's
#                                       fuzz_regress)
# Every crash found becomes a regression: minimise it (fuzz_<h> -minimize_crash=1 -runs=10000 FILE),
# fix the library, commit the input as tests/fuzz/regressions/<h>/<what>.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fuzz_dir=$root/tests/fuzz
harnesses() { for f in "$fuzz_dir"/fuzz_*.c; do basename "$f" .c | sed 's/^fuzz_//'; done; }

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:suppressions=$root/tests/asan.supp"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# One OpenMP thread: the parsers are serial, and idle OpenMP workers spinning beside the
# fuzzer take a core from a shared machine (fuzz_index ran 1.4x the executions per CPU second, fuzz_model 1.25x).
export OMP_NUM_THREADS=1

replay() {
  local build=$1 failed=0
  for h in $(harnesses); do
    local prog=$build/fuzz_replay_$h
    if [ ! -x "$prog" ]; then
      echo "fuzz.sh: $prog is not built (cmake --build $build)" >&2
      exit 1
    fi
    local inputs=()
    for d in "$fuzz_dir/corpus/$h" "$fuzz_dir/regressions/$h"; do
      if [ -d "$d" ]; then inputs+=("$d"); fi
    done
    if [ ${#inputs[@]} -eq 0 ]; then
      echo "FAIL: no corpus for harness $h (tests/fuzz/corpus/$h)" >&2
      failed=1
      continue
    fi
    if ! "$prog" "${inputs[@]}"; then
      echo "FAIL: harness $h crashed on a committed input" >&2
      failed=1
    fi
  done
  return $failed
}

seconds=60
only=""
ci_runs=""
case "${1:-}" in
--replay)
  replay "${2:?usage: scripts/fuzz.sh --replay BUILD_DIR}"
  exit $?
  ;;
--only)
  only=${2:?usage: scripts/fuzz.sh --only NAME [SECONDS]}
  seconds=${3:-60}
  ;;
--ci)
  # CI's stage: a fixed number of runs from a fixed seed and a fresh corpus, so a CI run
  # repeats exactly what passed here instead of drawing new inputs each time.
  ci_runs=${2:-100000}
  ;;
-h | --help)
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
  ;;
"") ;;
*) seconds=$1 ;;
esac
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh [--only NAME] [SECONDS] | --replay BUILD_DIR" >&2
  exit 2
fi
if [ -n "$only" ] && [ ! -f "$fuzz_dir/fuzz_$only.c" ]; then
  echo "fuzz.sh: no harness '$only' (one of: $(harnesses | tr '\n' ' '))" >&2
  exit 2
fi
if ! command -v clang >/dev/null; then
  echo "fuzz.sh: clang is missing (scripts/deps.sh --fuzz installs it)" >&2
  exit 1
fi

build=${SIAMESE_FUZZ_BUILD:-$root/build-fuzz}
CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIAMESE_FUZZ=ON \
  -DSIAMESE_WERROR=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target fuzz_all

status=0
for h in $(harnesses); do
  if [ -n "$only" ] && [ "$h" != "$only" ]; then continue; fi
  corpus=$build/corpus/$h crashes=$build/crashes/$h
  if [ -n "$ci_runs" ]; then corpus=$build/ci-corpus/$h && rm -rf "$corpus"; fi
  mkdir -p "$corpus" "$crashes"
  args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1
    -artifact_prefix="$crashes/")
  if [ -n "$ci_runs" ]; then args=(-runs="$ci_runs" -seed=1 -rss_limit_mb=2048 -timeout=20
    -print_final_stats=1 -artifact_prefix="$crashes/"); fi
  if [ -f "$fuzz_dir/$h.dict" ]; then args+=(-dict="$fuzz_dir/$h.dict"); fi
  if [ -n "$ci_runs" ]; then echo "== fuzz_$h: $ci_runs runs, seed 1 =="; else echo "== fuzz_$h: $seconds s =="; fi
  seeds=("$fuzz_dir/corpus/$h")
  if [ -d "$fuzz_dir/regressions/$h" ]; then seeds+=("$fuzz_dir/regressions/$h"); fi
  if ! "$build/fuzz_$h" "${args[@]}" "$corpus" "${seeds[@]}" 2>"$build/fuzz_$h.log"; then
    echo "FAIL: fuzz_$h found a crash: $(ls "$crashes")" >&2
    tail -n 40 "$build/fuzz_$h.log" >&2
    status=1
  fi
  grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|Done )' "$build/fuzz_$h.log" || true
done
exit $status
