#!/usr/bin/env bash
# The whole test suite: installs dependencies, checks the formatting, builds, runs ctest, then
# builds and runs it again under ASan+UBSan, then fuzzes each parser briefly (libFuzzer).
#   scripts/test.sh           every test (labels unit, data, slow, quality), Release and sanitizer
#                             builds (the sanitizer build skips quality: learning numbers only)
#   scripts/test.sh --quick   the unit tests only (ctest -L unit), Release build only
# Tests that need the shared data sets are skipped, not failed, when they are missing (README).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc)

quick=0
case "${1:-}" in
"") ;;
--quick) quick=1 ;;
-h | --help)
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
  ;;
*)
  echo "usage: scripts/test.sh [--quick]" >&2
  exit 2
  ;;
esac
# Tests run as many at a time as there are cores. OpenMP threads that find no core sleep at once
# instead of spinning (OMP_WAIT_POLICY=passive: it changes no result, only the waiting); on the
# 2-core machine the Release tests took 176 s that way against 203 s one at a time and 211 s
# with spinning, the sanitizer tests 308 s against 431 s and 337 s.
ctest_args=(--output-on-failure -j "$jobs")
export OMP_WAIT_POLICY=passive
if [ "$quick" -eq 1 ]; then ctest_args+=(-L '^unit$'); fi

# stage TEXT: the stage's heading, with the seconds since the script started
stage() { echo "== $1 (at ${SECONDS}s) =="; }

# run_ctest DIR: the (selected) tests of build DIR, then why each skipped test was skipped.
run_ctest() {
  (cd "$1" && ctest "${ctest_args[@]}")
  grep -h '^SKIP:' "$1/Testing/Temporary/LastTest.log" 2>/dev/null | sort -u || true
}

# face-api's model (npm) for test_faceapi; chromium too for the full run: test_report_browser
# renders the HTML reports in it, and clang for the short fuzzing stage
if [ "$quick" -eq 1 ]; then "$root/scripts/deps.sh" --face-api; else "$root/scripts/deps.sh" --browser --fuzz --face-api; fi

stage "formatting (scripts/format.sh --check)"
"$root/scripts/format.sh" --check

stage "release build (the CLI linked against libsiamese.so)"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DSIAMESE_CLI_SHARED=ON >/dev/null
cmake --build "$root/build" -j "$jobs"
run_ctest "$root/build"

if [ "$quick" -eq 1 ]; then
  stage "unit tests passed"
  exit 0
fi

stage "AddressSanitizer + UndefinedBehaviorSanitizer build"
cmake -S "$root" -B "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DSIAMESE_SANITIZE=ON >/dev/null
cmake --build "$root/build-asan" -j "$jobs"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:suppressions=$root/tests/asan.supp"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest_args+=(-LE '^quality$')
run_ctest "$root/build-asan"

stage "fuzzing: every harness 100000 runs from seed 1 (scripts/fuzz.sh --ci, clang build in build-fuzz)"
"$root/scripts/fuzz.sh" --ci 100000

stage "all tests passed"
