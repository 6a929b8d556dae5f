#!/usr/bin/env bash
# AT&T faces 5-fold as an ensemble recipe (issue 12, eleventh pass in bench/README.md): the
# att_faces_5fold row of bench/quality.sh trained with several seeds on one split, then per fold
# the seeds' models joined by 'siamese ensemble' and scored on the fold's held-out subjects
# beside each member, all on the same pairs (--seed SPLIT).
#
# usage: bench/att_ensemble.sh [--split-seed N] [--stage validate|test] [--epochs N] [--work DIR]
#                              SEED...
#                              [-- DATA SIAMESE]
#   --split-seed N  the split every member shares (default 1): with --stage validate, each
#                   fold's 8 validation subjects; the pairs scored are drawn from it too
#   --stage S       validate (default): score 8 of each fold's 32 training subjects, trained on
#                   the other 24 (ATT_STAGE=validate of quality.sh); test: the fold's 8 test
#                   subjects, trained on all 32
#   --epochs N      the members' epochs (default the row's 100; fewer only to try the script)
#   --work DIR      keep everything there (default: a temporary folder, removed at the end);
#                   a member already trained there (DIR/seed_S/att5/fold4/run/model.safetensors)
#                   is not trained again
#   SEED...         the members' --seed (at least 2)
#   DATA SIAMESE    as for bench/quality.sh (defaults: ../shared/data, build/siamese)
#
# Prints per fold the members' EERs and the ensemble's, then the means over the folds, and a
# markdown line. Members train one at a time with one thread each (quality.sh -j 1).
set -euo pipefail

split=1
stage=validate
work=""
epochs=()
seeds=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --split-seed) split="$2"; shift 2 ;;
        --stage) stage="$2"; shift 2 ;;
        --work) work="$2"; shift 2 ;;
        --epochs) epochs=(--epochs "$2"); shift 2 ;;
        --) shift; break ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) seeds+=("$1"); shift ;;
    esac
done
[[ ${#seeds[@]} -ge 2 ]] || { echo "att_ensemble: give at least 2 seeds (try --help)" >&2; exit 2; }
[[ "$stage" == validate || "$stage" == test ]] ||
    { echo "att_ensemble: --stage is validate or test, not '$stage'" >&2; exit 2; }
data="${1:-${SIAMESE_DATA_DIR:-../shared/data}}"
siamese="${2:-build/siamese}"
[[ -x "$siamese" ]] || { echo "att_ensemble: $siamese: not an executable (build first)" >&2; exit 2; }
[[ -n "$work" ]] || { work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; }
mkdir -p "$work"
here=$(cd "$(dirname "$0")" && pwd)

# eer MODEL SUBJECTS: the EER of MODEL on every similar pair of SUBJECTS and as many dissimilar.
eer() {
    "$siamese" eval "$1" "$2" --all-pairs --json -q --precision fp32 --seed "$split" -j 1 |
        /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["verification"]["eer"]["value"])'
}

for s in "${seeds[@]}"; do
    if [[ -f "$work/seed_$s/att5/fold4/run/model.safetensors" ]]; then
        echo "== member seed $s: already trained in $work/seed_$s"
        continue
    fi
    echo "== member seed $s (split seed $split, stage $stage)"
    ATT_STAGE="$stage" "$here/quality.sh" --seed "$s" --split-seed "$split" -j 1 "${epochs[@]}" \
        --keep "$work/seed_$s" att_faces_5fold "$data" "$siamese" | grep -E '^(row|  fold|  mean|  validation)'
done

echo "stage $stage, split seed $split, members' seeds ${seeds[*]}; EER per fold (every similar pair, as many dissimilar, drawn by seed $split)"
table="$work/eer_$stage.tsv"
printf 'fold\t%s\tensemble\n' "$(printf 'seed %s\t' "${seeds[@]}" | sed 's/\t$//')" >"$table"
for k in 0 1 2 3 4; do
    members=() line="$k"
    subjects="$work/seed_${seeds[0]}/att5/fold$k/test"
    for s in "${seeds[@]}"; do
        m="$work/seed_$s/att5/fold$k/run/model.safetensors"
        members+=("$m")
        line+=$'\t'"$(eer "$m" "$subjects")"
    done
    "$siamese" ensemble -q "${members[@]}" -o "$work/fold$k.ensemble.safetensors"
    line+=$'\t'"$(eer "$work/fold$k.ensemble.safetensors" "$subjects")"
    echo "$line" >>"$table"
done
column -t -s $'\t' "$table"
/usr/bin/python3 - "$table" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
head, body = rows[0], [[float(x) for x in r[1:]] for r in rows[1:]]
means = [sum(col) / len(col) for col in zip(*body)]
members, ens = means[:-1], means[-1]
mean_members = sum(members) / len(members)
print("means over the 5 folds: " + ", ".join("%s %.4f" % (h, m) for h, m in zip(head[1:], members))
      + "; members %.4f; best member %.4f; ensemble %.4f (%.0f%% of the members' mean, %s the best)"
      % (mean_members, min(members), ens, 100 * ens / mean_members,
         "below" if ens < min(members) else "not below"))
print("| AT&T faces 5-fold, an ensemble of %d | mean EER over the 5 folds | %s | %.4f | %.4f |"
      % (len(members), ", ".join(head[1:-1]), mean_members, ens))
PY
