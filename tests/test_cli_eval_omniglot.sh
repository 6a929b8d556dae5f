#!/usr/bin/env bash
# Lake's Omniglot one-shot runs end to end: a model trained for a few seconds on the background
# set (omniglot preset), scored on all_runs.zip as its class_labels.txt say (20 runs x 20 test
# images), one run folder alone, and the runs-folder errors (no class_labels.txt, protocol and
# episode options that do not apply).
# ctest-label: slow
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
require_data runs_zip omniglot/all_runs.zip
require_data background_zip omniglot/images_background.zip
json() { jq -e "$1" "$tmp/out" >/dev/null 2>&1 || fail "JSON check '$1' failed: $(head -c 800 "$tmp/out")"; }

cd "$tmp"
mkdir runs && unzip -q "$runs_zip" -d runs || { echo "FAIL: cannot unzip $runs_zip" >&2; exit 1; }
# five background alphabets are enough for a few seconds of training
unzip -q "$background_zip" 'images_background/Alphabet_of_the_Magi/*' 'images_background/Armenian/*' \
    'images_background/Bengali/*' 'images_background/Greek/*' 'images_background/Latin/*' -d . ||
    { echo "FAIL: cannot unzip $background_zip" >&2; exit 1; }
expect 0 "$cli" train images_background -o run --arch omniglot --sampler online --split classes \
    --pairs-per-epoch 300 --epochs 1 -q
model=run/model.safetensors
[ -f "$model" ] || { echo "FAIL: training made no model: $(cat "$tmp/err")" >&2; exit 1; }

# the 20 runs: every run 20 test images, the overall number over 400
start=$(date +%s.%N)
expect 0 "$cli" eval "$model" runs
end=$(date +%s.%N)
echo "20 runs scored in $(echo "$end - $start" | bc) s"
[ "$(grep -cE '^  run[0-9]{2} +[0-9]+/20 ' "$tmp/out")" -eq 20 ] || fail "want 20 run rows: $(cat "$tmp/out")"
grep -qE '^  overall +[0-9]+/400 ' "$tmp/out" || fail "no overall row over 400: $(cat "$tmp/out")"
grep -q "800 images embedded" "$tmp/out" || fail "800 images: $(cat "$tmp/out")"
expect 0 "$cli" eval "$model" runs --json
json '.kind == "oneshot_runs" and .oneshot_runs.runs == 20 and .oneshot_runs.total == 400'
json '[.oneshot_runs.per_run[].total] | all(. == 20)'
json '.oneshot_runs.correct == ([.oneshot_runs.per_run[].correct] | add)'
# chance is 1 in 20; even a few seconds of training do far better
json '.oneshot_runs.accuracy > 0.10'
echo "20-way one-shot accuracy: $(jq .oneshot_runs.accuracy "$tmp/out")"

# one run folder on its own, and --protocol fewshot is accepted
expect 0 "$cli" eval "$model" runs/run07 --protocol fewshot --json
json '.oneshot_runs.runs == 1 and .oneshot_runs.total == 20 and .oneshot_runs.per_run[0].run == "run07"'

# errors: a run without class_labels.txt, options that do not apply
mkdir -p broken && cp -r runs/run01 runs/run02 broken/ && rm broken/run02/class_labels.txt
expect 1 "$cli" eval "$model" broken
grep_err "broken/run02/class_labels.txt: missing"
sed -i 's/class08/class99/' broken/run01/class_labels.txt
expect 1 "$cli" eval "$model" broken/run01
grep_err "class_labels.txt:1: run01/training/class99.png not found"
expect 2 "$cli" eval "$model" runs --protocol verification
grep_err "only --protocol fewshot applies"
expect 2 "$cli" eval "$model" runs --way 5
grep_err "do not apply"

finish test_cli_eval_omniglot
