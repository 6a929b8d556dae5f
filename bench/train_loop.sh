#!/usr/bin/env bash
# The training loop against the bare training step (issue 17): `siamese train` on about 2,000
# Stanford Dogs pairs (seed network, 1 epoch, batch 32, fp32, every batch logged) between two
# timings of bench_speed's bare training step (`bench_speed --child train`, the process that
# `bench_speed --no-torch` starts for its "train pairs/s" row), all in one invocation.
#
# usage: bench/train_loop.sh [--per-class K] [--train-fraction F] [--steps N] [-j THREADS]
#                            [--seed N] [--keep DIR] [BUILD]
#   --per-class K        recipe pairs per breed, similar and dissimilar (default 10: 2,400 pairs)
#   --train-fraction F   share of them trained on (default 0.84: 2,016 pairs, 63 batches)
#   --steps N            timed bare steps before and after the run (default 6, 2 untimed first)
#   -j THREADS           threads of both (default 0: all cores, as the issue's numbers)
#   BUILD                the build folder holding siamese and bench_speed (default: build)
#
# Prints the CPU and the load, then both speeds and their ratio: the run's pairs/s between its
# first and last logged batch (what a user sees) against the bare step's median, and the run's
# own accounting (metrics.jsonl: step_time inside the training step, loop_time of the loop
# around it, step_cpu of the process meanwhile, loader_cpu of assembling batches), as medians per
# step beside the bare step's wall and CPU seconds, which a shared machine
# disturbs far less than comparing two wall clocks taken minutes apart.
set -euo pipefail

per_class=10
fraction=0.84
steps=6
threads=0
seed=1
keep=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --per-class) per_class="$2"; shift 2 ;;
        --train-fraction) fraction="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        -j) threads="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --keep) keep="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done
build="${1:-build}"
data="${SIAMESE_DATA_DIR:-$(dirname "$0")/../../shared/data}"
zip="$data/stanford_dogs_224/stanford_dogs_224_subset40.zip"
for exe in siamese bench_speed; do
    [[ -x "$build/$exe" ]] || { echo "train_loop: $build/$exe: not built" >&2; exit 2; }
done
[[ -f "$zip" ]] || { echo "train_loop: $zip missing (set SIAMESE_DATA_DIR)" >&2; exit 2; }
work="${keep:-$(mktemp -d)}"
[[ -n "$keep" ]] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
unzip -q -o "$zip" -d "$work/dogs"

load() { cut -d' ' -f1-3 /proc/loadavg; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "CPU: $cpu, $(nproc) cores; threads: $threads (0 = all)"
echo "load at start: $(load)"

# bare_step NAME: bench_speed's training step, its output kept in $work/NAME.txt.
bare_threads=$threads
[[ $bare_threads -gt 0 ]] || bare_threads=$(nproc)
bare_step() {
    OMP_NUM_THREADS=$bare_threads \
        "$build/bench_speed" --child train --steps "$steps" --warmup 2 >"$work/$1.txt"
    grep '^result' "$work/$1.txt"
}

echo "bare step before the run: $(bare_step bare1) (load $(load))"
run=("$build/siamese" train "$work/dogs/Images" -o "$work/run" --overwrite -q --epochs 1
    --batch 32 --precision fp32 --per-class "$per_class" --train-fraction "$fraction"
    --log-every 1 --seed "$seed" -j "$threads")
echo "run: ${run[*]}"
/usr/bin/time -f "%e %U %S %M" -o "$work/run.time" "${run[@]}"
echo "run: wall, user, system seconds, peak RSS KiB: $(cat "$work/run.time") (load $(load))"
echo "bare step after the run: $(bare_step bare2) (load $(load))"

/usr/bin/python3 - "$work" <<'EOF'
import json, statistics as st, sys
work = sys.argv[1]
logs = [json.loads(l) for l in open(f"{work}/run/metrics.jsonl")]
logs = [l for l in logs if l.get("event") == "log"]
first, last = logs[0], logs[-1]
pairs = 32 * (last["step"] - first["step"])
wall = last["elapsed"] - first["elapsed"]
run_pps = pairs / wall
# per step, between consecutive logged batches: the loop's period and the step inside it
period = [b["elapsed"] - a["elapsed"] for a, b in zip(logs, logs[1:])]
loop = [b["loop_time"] - a["loop_time"] for a, b in zip(logs, logs[1:])]
step = [b["step_time"] - a["step_time"] for a, b in zip(logs, logs[1:])]
wait = [b["data_wait"] - a["data_wait"] for a, b in zip(logs, logs[1:])]
cpu = [b["step_cpu"] - a["step_cpu"] for a, b in zip(logs, logs[1:])]
loader = (last["loader_cpu"] - first["loader_cpu"]) / (last["step"] - first["step"])
window_step = last["step_time"] - first["step_time"]
bare = []
for name in ("bare1", "bare2"):
    for line in open(f"{work}/{name}.txt"):
        if line.startswith("  ours train step"):
            bare.append((float(line.split(": ")[1].split(" s")[0]),
                         float(line.split("cpu ")[1].split(" s")[0])))
bare_step = st.median(b[0] for b in bare)
bare_cpu = st.median(b[1] for b in bare)
bare_pps = 32 / bare_step
print(f"steps in the window: {last['step'] - first['step']} (batches {first['batch']}..{last['batch']}"
      f" of {last['batches']}); bare steps timed: {len(bare)}")
print(f"bare step (bench_speed): median {bare_step:.3f} s = {bare_pps:.2f} pairs/s, "
      f"CPU {bare_cpu:.3f} s")
print(f"run, first to last logged batch: {run_pps:.2f} pairs/s = {run_pps / bare_pps:.3f} x the bare step")
print(f"run, median per step: period {st.median(period):.3f} s, step {st.median(step):.3f} s "
      f"(= {st.median(step) / bare_step:.3f} x the bare step), loop {st.median(loop):.3f} s, "
      f"data wait {st.median(wait) * 1e3:.1f} ms; step CPU {st.median(cpu):.3f} s "
      f"(= {st.median(cpu) / bare_cpu:.3f} x the bare step's)")
print(f"run, window totals: step {window_step:.2f} s of {wall:.2f} s = {window_step / wall:.4f} "
      f"(loop overhead {1 - window_step / wall:.4f}); loader CPU {loader * 1e3:.1f} ms per batch")
print(f"run, whole: elapsed {last['elapsed']:.1f} s at its last batch, loop {last['loop_time']:.1f} s, "
      f"step {last['step_time']:.1f} s, data wait {last['data_wait']:.1f} s")
print(f"ratio run / bare: {run_pps / bare_pps:.3f} (wall clocks); in-run step share of the loop "
      f"{window_step / wall:.4f}; median step / median period {st.median(step) / st.median(period):.4f}")
EOF
echo "load at end: $(load)"
