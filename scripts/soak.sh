#!/usr/bin/env bash
# A soak in miniature (issue 15): small training runs and many compare/search calls in a loop
# under ASan + LeakSanitizer, bounded in time; fails on any failed call, any sanitizer report, or
# peak memory that grows from the first call of a kind to the last.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

usage() {
    cat <<'EOF'
usage: scripts/soak.sh [--minutes M] [--build DIR] [--keep]

Loops, until M minutes have passed (default 10), over rounds of:
  - one small training run (a 5k-parameter network, 2 epochs, on a tiny class-folder data set),
  - 20 'siamese compare MODEL A B' calls,
  - 2 'siamese compare MODEL --pairs LIST' calls (200 pairs each, in one process),
  - 20 'siamese search INDEX QUERY' calls (k=5) against an index built once at the start.
Every command runs with -j 1 / --threads 1 under the sanitizer options of scripts/test.sh
(leak detection on). The data set is made from the repository's test image fixtures (5 classes
of 4 images), plus 8 people of 5 faces from att_faces when the shared data sets are there
($SIAMESE_DATA_DIR, else ../shared/data beside the checkout).

At the end, one training run of 20 epochs (train_long) and one 'compare --pairs' of 5000 pairs
(pairs_long) check that memory stays flat within one process too.

For each kind of call it records the peak RSS (GNU time's %M) of the first and last call and
fails when last > first x 1.2 + 8 MB (train_long and pairs_long: against the first train and
compare_pairs call). ASan's quarantine of freed memory is cut to 16 MB so that it does not
hide or fake growth. Every 'compare --pairs' call must print exactly what the first one
printed (same model, same list). It also fails when any call exits non-zero or prints a
sanitizer report. A summary table (calls, failures, peak RSS first/last/max, minutes, CPU, load
average) ends the output.

  --minutes M   how long to loop (a round that has started finishes; default 10)
  --build DIR   the build folder holding the 'siamese' program (default build-asan, i.e.
                cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSIAMESE_SANITIZE=ON
                cmake --build build-asan -j2)
  --keep        keep the working folder (data, runs, logs) and print its path
  -h, --help    this text

exit status: 0 every call passed and memory stayed flat, 1 a failure, 2 usage error
EOF
}

minutes=10
build=$root/build-asan
keep=0
while [ $# -gt 0 ]; do
    case $1 in
    --minutes) minutes=${2:-}; shift 2 || { usage >&2; exit 2; } ;;
    --minutes=*) minutes=${1#*=}; shift ;;
    --build) build=${2:-}; shift 2 || { usage >&2; exit 2; } ;;
    --build=*) build=${1#*=}; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "soak.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
if ! [[ $minutes =~ ^[0-9]+([.][0-9]+)?$ ]] || [ "$(awk -v m="$minutes" 'BEGIN{print (m > 0)}')" != 1 ]; then
    echo "soak.sh: --minutes must be a positive number, not '$minutes'" >&2
    exit 2
fi
# a relative --build is taken from the current folder, else from the checkout
[ -d "$build" ] || [ ! -d "$root/$build" ] || build=$root/$build
cli=$build/siamese
if [ ! -x "$cli" ]; then
    echo "soak.sh: no program $cli; build it first:" >&2
    echo "  cmake -S $root -B $build -DCMAKE_BUILD_TYPE=Debug -DSIAMESE_SANITIZE=ON" >&2
    echo "  cmake --build $build -j2 --target siamese_cli" >&2
    exit 1
fi
if [ ! -x /usr/bin/time ]; then
    echo "soak.sh: needs GNU time (/usr/bin/time) to measure peak RSS (apt-get install time)" >&2
    exit 1
fi
sanitized=no
grep -q '^SIAMESE_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null && sanitized=yes
[ "$sanitized" = yes ] ||
    echo "soak.sh: warning: $build is not a -DSIAMESE_SANITIZE=ON build: no leak or address checks" >&2

# scripts/test.sh's options, with ASan's quarantine of freed memory cut from 256 MB to 16 MB: a
# freed block still waits there (use-after-free is still caught for recent frees) but the
# quarantine no longer fills with hundreds of MB, which would make every long process look
# as if it grew
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:suppressions=$root/tests/asan.supp:quarantine_size_mb=16"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export OMP_NUM_THREADS=1

work=$(mktemp -d "${TMPDIR:-/tmp}/siamese-soak.XXXXXX")
# --precision auto would cache its measurement in the user's cache folder: keep it here
export XDG_CACHE_HOME=$work/.cache
cleanup() { if [ "$keep" = 1 ]; then echo "working folder kept: $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
trap 'echo "soak.sh: interrupted" >&2; exit 1' INT TERM
mkdir -p "$work/logs"

# ---- data ---------------------------------------------------------------------------------
data=$work/data
make_fixture_classes() {
    local src=$root/tests/fixtures/images/src c i f
    local imgs=(png_g8.png png_rgb8.png jpeg_grey.jpg pnm_p5.pnm gif_plain.gif png_p8.png)
    for c in 0 1 2 3 4; do
        mkdir -p "$data/fix$c"
        for i in 0 1 2 3; do
            f=${imgs[$(((i + c) % 6))]}
            cp "$src/$f" "$data/fix$c/$i.${f##*.}" || return 1
        done
    done
}
add_faces() {
    local faces=${SIAMESE_DATA_DIR:-$root/../shared/data}/att_faces/training s i n=0
    [ -d "$faces" ] || return 1
    for s in "$faces"/s*; do
        [ -d "$s" ] || continue
        mkdir -p "$data/$(basename "$s")"
        for i in 1 2 3 4 5; do cp "$s/$i.pgm" "$data/$(basename "$s")/" || return 1; done
        n=$((n + 1))
        [ "$n" -lt 8 ] || break
    done
    [ "$n" -gt 0 ]
}
make_fixture_classes || { echo "soak.sh: cannot copy the test fixtures from $root/tests" >&2; exit 1; }
data_note="5 classes x 4 fixture images"
if add_faces; then data_note="$data_note + 8 att_faces people x 5"; fi
mapfile -t images < <(find "$data" -type f | sort)

# ---- bookkeeping --------------------------------------------------------------------------
kinds=(train compare compare_pairs search train_long pairs_long)
declare -A calls fails first last maxrss items
for k in "${kinds[@]}"; do calls[$k]=0; fails[$k]=0; first[$k]=; last[$k]=0; maxrss[$k]=0; items[$k]=0; done
sanitizer_reports=0
sum_of() { # sum_of ARRAY: the total over the kinds
    local -n arr=$1
    local k t=0
    # shellcheck disable=SC2004 # an associative array needs the $ in its subscript
    for k in "${kinds[@]}"; do t=$((t + arr[$k])); done
    echo "$t"
}
failed_logs=()

# run KIND ITEMS CMD...: runs CMD under GNU time with its output in logs/, records its peak RSS
# (KB) and whether it failed (non-zero exit, or a sanitizer report on stderr).
run() {
    local kind=$1 n=$2; shift 2
    local i=${calls[$kind]} log=$work/logs/$kind.last rc rss
    /usr/bin/time -o "$work/rss" -f %M "$@" >"$log.out" 2>"$log.err"
    rc=$?
    rss=$(tail -n 1 "$work/rss")
    [[ $rss =~ ^[0-9]+$ ]] || rss=0
    calls[$kind]=$((i + 1))
    items[$kind]=$((${items[$kind]} + n))
    [ -n "${first[$kind]}" ] || first[$kind]=$rss
    last[$kind]=$rss
    [ "$rss" -le "${maxrss[$kind]}" ] || maxrss[$kind]=$rss
    local report=0
    if grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Leak|Undefined)' \
        "$log.err"; then
        report=1
        sanitizer_reports=$((sanitizer_reports + 1))
    fi
    if [ "$rc" -ne 0 ] || [ "$report" = 1 ]; then
        fails[$kind]=$((${fails[$kind]} + 1))
        local keep_log=$work/logs/$kind.fail.$i
        cp "$log.err" "$keep_log.err"
        cp "$log.out" "$keep_log.out"
        failed_logs+=("$keep_log.err")
        keep=1
        echo "FAIL ($kind #$((i + 1)), exit $rc): $*" >&2
        [ "${#failed_logs[@]}" -gt 3 ] || head -n 30 "$log.err" >&2
        return 1
    fi
}

# same_answer KIND: the last call of KIND printed what its first successful call printed (the
# same model and list each time: a different answer is memory gone wrong, or nondeterminism)
same_answer() {
    local kind=$1 log=$work/logs/$1.last
    if [ ! -e "$work/logs/$kind.first.out" ]; then cp "$log.out" "$work/logs/$kind.first.out"; return 0; fi
    cmp -s "$log.out" "$work/logs/$kind.first.out" && return 0
    fails[$kind]=$((${fails[$kind]} + 1))
    cp "$log.out" "$work/logs/$kind.differs.${calls[$kind]}.out"
    failed_logs+=("$work/logs/$kind.differs.${calls[$kind]}.out")
    echo "FAIL ($kind #${calls[$kind]}): its output differs from the first call's" >&2
    return 1
}

train_args=(--arch "conv(4,k=3,s=2) relu flatten linear(16)" --input 1x32x32 --batch 4 --threads 1 --log-every 1000 -q --overwrite)
train_once() { # train_once SEED
    run train 1 "$cli" train "$data" -o "$work/runs/r$(($1 % 2))" --seed "$1" --epochs 2 "${train_args[@]}"
}

# ---- setup: a model, an index, a pairs list ------------------------------------------------
cpu=$(grep -m 1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')
load_start=$(cut -d ' ' -f 1-3 /proc/loadavg)
echo "soak: $cli ($([ "$sanitized" = yes ] && echo ASan+UBSan+LSan || echo NOT sanitized)), $minutes min"
echo "soak: data $data_note (${#images[@]} images); CPU ${cpu:-unknown}; load average $load_start"
start=$(date +%s)
mkdir -p "$work/runs"
if ! run train 1 "$cli" train "$data" -o "$work/model" --seed 1 --epochs 2 "${train_args[@]}"; then
    echo "soak.sh: the first training run failed; nothing else to do" >&2
    exit 1
fi
model=$work/model/best.safetensors
if ! "$cli" index build "$model" "$data" -o "$work/data.idx" -j 1 -q >"$work/logs/index.out" \
    2>"$work/logs/index.err"; then
    echo "soak.sh: 'siamese index build' failed:" >&2
    cat "$work/logs/index.err" >&2
    keep=1
    exit 1
fi
pairs=$work/pairs.tsv
n_img=${#images[@]}
for ((p = 0; p < 200; p++)); do
    printf '%s\t%s\n' "${images[$(((p * 7) % n_img))]}" "${images[$(((p * 13 + 3) % n_img))]}"
done >"$pairs"

# ---- the loop -----------------------------------------------------------------------------
deadline=$(awk -v s="$start" -v m="$minutes" 'BEGIN{printf "%d", s + m * 60}')
round=0
while [ "$(date +%s)" -lt "$deadline" ] && [ "${#failed_logs[@]}" -lt 20 ]; do
    round=$((round + 1))
    train_once $((round + 1))
    for ((c = 0; c < 20; c++)); do
        a=${images[$(((round * 20 + c) % n_img))]}
        b=${images[$(((round * 31 + c * 7 + 1) % n_img))]}
        run compare 1 "$cli" compare "$model" "$a" "$b" -j 1
    done
    for ((c = 0; c < 2; c++)); do
        run compare_pairs 200 "$cli" compare "$model" --pairs "$pairs" -j 1 || continue
        same_answer compare_pairs
    done
    for ((c = 0; c < 20; c++)); do
        q=${images[$(((round * 20 + c * 3) % n_img))]}
        run search 1 "$cli" search "$work/data.idx" "$q" -k 5 -j 1 -q
    done
    elapsed=$(($(date +%s) - start))
    printf 'round %d: %d:%02d elapsed, %d calls, %d failed\n' "$round" $((elapsed / 60)) \
        $((elapsed % 60)) "$(sum_of calls)" "$(sum_of fails)"
done

# ---- within one process: 10x the epochs, 25x the pairs -----------------------------------
run train_long 1 "$cli" train "$data" -o "$work/runs/long" --seed 1 --epochs 20 "${train_args[@]}"
for ((c = 0; c < 25; c++)); do cat "$pairs"; done >"$work/pairs_long.tsv"
run pairs_long 5000 "$cli" compare "$model" --pairs "$work/pairs_long.tsv" -j 1

# ---- summary ------------------------------------------------------------------------------
elapsed=$(($(date +%s) - start))
load_end=$(cut -d ' ' -f 1-3 /proc/loadavg)
status=0
mb() { awk -v k="$1" 'BEGIN{printf "%.1f", k / 1024}'; }
echo
printf '%-14s %7s %8s %8s %12s %11s %10s  %s\n' kind calls items failures "RSS first MB" "RSS last MB" \
    "RSS max MB" memory
total_calls=0
for k in "${kinds[@]}"; do
    verdict=flat
    f=${first[$k]:-0}
    # a long process is held to the first short one of its kind
    case $k in train_long) f=${first[train]:-0} ;; pairs_long) f=${first[compare_pairs]:-0} ;; esac
    limit=$((f * 12 / 10 + 8192))
    if [ "${calls[$k]}" -gt 0 ] && [ "${last[$k]}" -gt "$limit" ]; then verdict="GREW (> $(mb $limit) MB)"; status=1; fi
    [ "${fails[$k]}" -eq 0 ] || status=1
    total_calls=$((total_calls + ${calls[$k]}))
    printf '%-14s %7d %8d %8d %12s %11s %10s  %s\n' "$k" "${calls[$k]}" "${items[$k]}" "${fails[$k]}" \
        "$(mb "$f")" "$(mb "${last[$k]}")" "$(mb "${maxrss[$k]}")" "$verdict"
done
[ "$sanitizer_reports" -eq 0 ] || status=1
printf '%d rounds, %d calls in %d:%02d min; sanitizer reports: %d; build: %s\n' "$round" "$total_calls" \
    $((elapsed / 60)) $((elapsed % 60)) "$sanitizer_reports" \
    "$([ "$sanitized" = yes ] && echo ASan+UBSan, leaks checked || echo not sanitized)"
echo "CPU: ${cpu:-unknown} ($(nproc --all) cores, $(nproc) usable here); load average at start $load_start, at end $load_end"
if [ "$status" -ne 0 ]; then
    echo "soak: FAILED" >&2
    [ "${#failed_logs[@]}" -lt 20 ] || echo "  (stopped after 20 failed calls)" >&2
    for l in "${failed_logs[@]:0:5}"; do echo "  log: $l" >&2; done
    keep=1
    exit 1
fi
echo "soak: passed"
