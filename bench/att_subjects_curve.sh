#!/usr/bin/env bash
# AT&T 5-fold validation EER against the number of training subjects: the att_faces_5fold row's
# recipe on N of each fold's 24 validation-stage training subjects (2 of them the trainer's test
# classes, as with 24), N*epochs held at 2400 so every N takes the row's number of steps, seeds
# 1-3; prints the table and a power-law fit EER = a * S^-b over the S = N - 2 subjects trained on
# (issue 12: how far the from-scratch row is from its goal is a matter of data).
#
# usage: bench/att_subjects_curve.sh [--seeds "1 2 3"] [--sizes "12 16 20 24"] DATA SIAMESE [OUT]
#   DATA: the shared data folder (att_faces/ inside); SIAMESE: the binary; OUT (default a temporary
#   folder): where each run's log and files stay (OUT/curveN-sS.log)
set -euo pipefail
seeds="1 2 3" sizes="12 16 20 24"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seeds) seeds="$2"; shift 2 ;;
        --sizes) sizes="$2"; shift 2 ;;
        -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done
[[ $# -ge 2 ]] || { echo "usage: $0 [--seeds S] [--sizes N] DATA SIAMESE [OUT]" >&2; exit 2; }
data=$1 siamese=$2 out=${3:-$(mktemp -d)}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$out"
results="$out/curve.tsv"
: >"$results"
for seed in $seeds; do
    for n in $sizes; do
        log="$out/curve$n-s$seed.log"
        ATT_STAGE=validate ATT_SUBJECTS=$n "$here/quality.sh" --epochs $((2400 / n)) \
            --seed "$seed" -j 1 --keep "$out/curve$n-s$seed" att_faces_5fold "$data" "$siamese" \
            >"$log" 2>&1 || { echo "att_subjects_curve: N=$n seed $seed failed: $log" >&2; exit 1; }
        eer=$(sed -n 's/.*validation: mean EER over the 5 folds \([0-9.]*\).*/\1/p' "$log")
        cpu=$(sed -n 's/.*wall, \([0-9]*\) s CPU (5 folds).*/\1/p' "$log")
        printf '%s\t%s\t%s\t%s\n' "$n" "$seed" "$eer" "$cpu" >>"$results"
        echo "N=$n seed $seed: mean validation EER $eer ($cpu s CPU)"
    done
done
/usr/bin/python3 - "$results" <<'EOF'
import math, sys
rows = [l.split('\t') for l in open(sys.argv[1]).read().split('\n') if l]
by = {}
for n, seed, eer, cpu in rows:
    by.setdefault(int(n), []).append((int(seed), float(eer)))
print('| subjects trained on (of N) | seeds | mean validation EER per seed | mean |')
print('|---|---|---|---|')
xs, ys = [], []
for n in sorted(by):
    e = sorted(by[n])
    m = sum(v for _, v in e) / len(e)
    print('| %d (of %d) | %s | %s | %.4f |' % (n - 2, n, ' '.join(str(s) for s, _ in e),
                                             ' '.join('%.4f' % v for _, v in e), m))
    xs.append(math.log(n - 2)); ys.append(math.log(m))
if len(xs) >= 2:
    k = len(xs); mx = sum(xs) / k; my = sum(ys) / k
    b = -sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    a = math.exp(my + b * mx)
    need = (a / 0.02) ** (1 / b) if b > 0 else float('inf')
    print('fit over the means: EER = %.3f * S^-%.2f; EER 0.02 at S = %.0f subjects trained on'
          % (a, b, need))
EOF
