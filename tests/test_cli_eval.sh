#!/usr/bin/env bash
# 'siamese eval' and 'siamese calibrate' on a small model trained on a few AT&T classes: every protocol's table and JSON,
# pictures, pair manifests, the model's threshold, a file that does not decode, --held-out (only
# the images a run's split.json held out), and bad inputs
# (one-image classes, way > classes, an empty manifest, unknown options): a clear message, exit 1
# or 2, never a crash.
# ctest-label: data
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"
require_data att att_faces/training
is_png() { [ -f "$1" ] && [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }
json() { jq -e "$1" "$tmp/out" >/dev/null 2>&1 || fail "JSON check '$1' failed: $(head -c 600 "$tmp/out")"; }

# 8 AT&T classes, 10 faces each (symlinks), and a small model trained for a few seconds
data=$tmp/faces
for c in 1 2 3 4 8 9 10 11; do
    mkdir -p "$data/s$c" && ln -s "$att/s$c"/*.pgm "$data/s$c/" || { echo "FAIL: cannot link $att/s$c" >&2; exit 1; }
done
cd "$tmp"
expect 0 "$cli" train "$data" -o run --arch mnist --epochs 2 --per-class 10 -q
model=run/model.safetensors
[ -f "$model" ] || { echo "FAIL: training made no model: $(cat "$tmp/err")" >&2; exit 1; }

# verification (default): the table with intervals, the model's stored threshold
expect 0 "$cli" eval "$model" "$data" --bootstrap 200
for row in "ROC AUC" "EER" "TAR @ FAR 1%" "TAR @ FAR 0.1%" "accuracy, best threshold" "accuracy, model thresh."; do
    grep -q "$row" "$tmp/out" || fail "verification table lacks '$row': $(cat "$tmp/out")"
done
grep -q "verification: 160 pairs (80 similar, 80 dissimilar)" "$tmp/out" || fail "pair counts: $(cat "$tmp/out")"
grep -qE "80 images embedded, 8 classes, 0 skipped" "$tmp/out" || fail "image counts: $(cat "$tmp/out")"

# under another metric the model's threshold does not apply, and the table says why
expect 0 "$cli" eval "$model" "$data" --bootstrap 0 --metric cosine
grep -q "accuracy, model thresh." "$tmp/out" && fail "a euclidean threshold scored cosine distances"
grep -q "(the model's threshold is for euclidean distances, not cosine)" "$tmp/out" ||
    fail "no reason for the missing model row: $(cat "$tmp/out")"

# the same seed gives the same numbers; --json is one object with the same AUC
expect 0 "$cli" eval "$model" "$data" --bootstrap 200 --json
json '.verification.pairs == 160 and .verification.auc.value > 0.5 and .verification.auc.low <= .verification.auc.value and .verification.auc.value <= .verification.auc.high'
json '.verification.model_threshold > 0 and (.verification.accuracy_model.value | type) == "number"'
auc1=$(jq .verification.auc.value "$tmp/out")
expect 0 "$cli" eval "$model" "$data" --bootstrap 200 --json
[ "$(jq .verification.auc.value "$tmp/out")" = "$auc1" ] || fail "two runs differ"
expect 0 "$cli" eval "$model" "$data" --all-pairs --bootstrap 0 --json
json '.verification.similar == 360 and .verification.dissimilar == 360 and .verification.auc.low == null'

# all protocols on one set of embeddings, pictures
expect 0 "$cli" eval "$model" "$data" --protocol all --way 4 --episodes 200 --bootstrap 100 --json --png-dir pics
json '.fewshot.way == 4 and .fewshot.episodes == 200 and .fewshot.queries == 800 and .fewshot.accuracy.value > 0.25'
json '.retrieval.queries == 80 and .retrieval.recall_at_1.value >= .retrieval.map_at_r.value'
json '.retrieval.recall_at_10.value >= .retrieval.recall_at_5.value and .retrieval.recall_at_5.value >= .retrieval.recall_at_1.value'
for f in roc det distances; do is_png "pics/$f.png" || fail "pics/$f.png is not a PNG"; done
# retrieval of separate queries: faces 8-10 of each class against faces 1-7 (classes by name)
for c in 1 2 3 4 8 9 10 11; do
    mkdir -p gallery/s$c queries/s$c
    for i in 1 2 3 4 5 6 7; do ln -s "$att/s$c/$i.pgm" gallery/s$c/; done
    for i in 8 9 10; do ln -s "$att/s$c/$i.pgm" queries/s$c/; done
done
mkdir -p queries/s99 && ln -s "$att/s12/1.pgm" queries/s99/ # a class the gallery lacks
expect 0 "$cli" eval "$model" gallery --protocol retrieval --queries queries --bootstrap 0 --json
json '.retrieval.queries == 24 and .retrieval.queries_skipped == 1 and .retrieval.query_data == "queries"'
json '.retrieval.recall_at_10.value >= .retrieval.recall_at_1.value and .retrieval.recall_at_1.value > 0.2'
expect 2 "$cli" eval "$model" gallery --queries queries
grep_err "--queries applies to --protocol retrieval"
expect 0 "$cli" eval "$model" "$data" --protocol fewshot --way 3 --shot 2 --episodes 50
grep -q "3-way 2-shot: 50 episodes, 150 queries, 8 classes" "$tmp/out" || fail "fewshot table: $(cat "$tmp/out")"

# a pairs manifest as it is; a file that does not decode is skipped, counted, its pairs dropped
printf 'not an image' >"$data/s1/broken.pgm"
"$cli" pairs "$data" -o pairs.tsv >/dev/null 2>&1 || fail "siamese pairs failed"
printf '%s\t%s\t0\n' "$data/s1/broken.pgm" "$data/s1/1.pgm" >>pairs.tsv
expect 0 "$cli" eval "$model" pairs.tsv --bootstrap 0
grep -q "broken.pgm" "$tmp/err" || fail "no warning for the broken file: $(cat "$tmp/err")"
grep -q "1 skipped" "$tmp/out" || fail "skipped file not counted: $(cat "$tmp/out")"
grep -q "1 dropped" "$tmp/out" || fail "dropped pair not counted: $(cat "$tmp/out")"
rm "$data/s1/broken.pgm"

# training marks its threshold's source in the model file
head -c 4000 "$model" | grep -aq '"threshold_source":"training: best accuracy on the run' ||
    fail "the trained model does not say where its threshold came from"

# calibrate: the threshold eval reports for the target, the weights untouched, atomic output
expect 0 "$cli" eval "$model" "$data" --bootstrap 0 --json
auc0=$(jq .verification.auc.value "$tmp/out")
eer_t=$(jq .verification.eer_threshold "$tmp/out")
far_t=$(jq '.["verification"]["tar_at_far_1e-2_threshold"]' "$tmp/out")
expect 0 "$cli" calibrate "$model" "$data" -o cal.safetensors --target eer -q
grep -q "^threshold .*equal error rate" "$tmp/out" || fail "calibrate summary: $(cat "$tmp/out")"
head -c 4000 cal.safetensors | grep -aq '"threshold_source":"calibrate: eer on ' || fail "no calibrate source in cal.safetensors"
expect 0 "$cli" eval cal.safetensors "$data" --bootstrap 0 --json
[ "$(jq .verification.auc.value "$tmp/out")" = "$auc0" ] || fail "calibration changed the weights"
jq -e --argjson t "$eer_t" '(.verification.model_threshold - $t) | fabs < 1e-6' "$tmp/out" >/dev/null ||
    fail "calibrated threshold $(jq .verification.model_threshold "$tmp/out") is not the EER threshold $eer_t"
expect 0 "$cli" calibrate "$model" "$data" -o cal.safetensors --target far=0.01 -q
expect 0 "$cli" eval cal.safetensors "$data" --bootstrap 0 --json
jq -e --argjson t "$far_t" '(.verification.model_threshold - $t) | fabs < 1e-6' "$tmp/out" >/dev/null ||
    fail "far=0.01 threshold is not eval's TAR@FAR 1% threshold $far_t"
expect 0 "$cli" calibrate "$model" "$data" -o cal.safetensors -q
grep -q "best accuracy" "$tmp/out" || fail "best-accuracy is not the default target"
cp cal.safetensors keep.safetensors
expect 2 "$cli" calibrate "$model" "$data" -o cal.safetensors --target far=2
grep_err "--target must be"
expect 2 "$cli" calibrate "$model" "$data"
grep_err "-o MODEL2"
expect 2 "$cli" calibrate "$model" "$data" -o /proc/none/cal.safetensors -q
grep_err "/proc/none"
cmp -s cal.safetensors keep.safetensors || fail "a failed calibration touched the existing file"

# an output that is an input is refused before any work, the input untouched (MODEL2 may be MODEL)
cp pairs.tsv keep.tsv
cp "$model" keep_model.safetensors
expect 2 "$cli" calibrate "$model" pairs.tsv -o pairs.tsv -q
grep_err "pairs.tsv: the output is also an input; it would be overwritten"
expect 2 "$cli" eval "$model" pairs.tsv --report pairs.tsv -q
grep_err "pairs.tsv: the output is also an input"
expect 2 "$cli" eval "$model" pairs.tsv --report "$tmp/$model" -q
grep_err "the output is the input $model"
cmp -s pairs.tsv keep.tsv || fail "calibrate or eval --report overwrote the pair list"
cmp -s "$model" keep_model.safetensors || fail "eval --report overwrote the model"

# bad inputs: a clear message and exit 1 (data) or 2 (usage)
: >empty.tsv
expect 1 "$cli" calibrate "$model" empty.tsv -o cal.safetensors
grep_err "empty.tsv"
mkdir -p tiny/a tiny/b tiny/c && cp "$att/s1/1.pgm" "$att/s1/2.pgm" tiny/a/ && cp "$att/s2/1.pgm" "$att/s2/2.pgm" tiny/b/ && cp "$att/s3/1.pgm" tiny/c/
expect 1 "$cli" eval "$model" tiny --protocol fewshot --way 3
grep_err "3-way 1-shot needs 3 classes with at least 2 images"
grep_err "only 2 of the 3 classes"
expect 1 "$cli" eval "$model" "$data" --protocol fewshot --way 9
grep_err "9-way 1-shot needs 9 classes"
: >empty.tsv
expect 1 "$cli" eval "$model" empty.tsv
grep_err "empty.tsv"
expect 1 "$cli" eval "$model" pairs.tsv --protocol fewshot
grep_err "needs a dataset with classes"
expect 1 "$cli" eval missing.safetensors "$data"
grep_err "missing.safetensors"
expect 2 "$cli" eval "$model" "$data" --png-dir /proc/none/pics
grep_err "/proc/none/pics"
expect 2 "$cli" eval "$model" "$data" --protocol nonsense
grep_err "unknown --protocol 'nonsense'"
expect 2 "$cli" eval "$model" "$data" --way 1
grep_err "--way must be at least 2"
expect 2 "$cli" eval "$model"
expect 0 "$cli" eval --help
grep -q "MAP@R" "$tmp/out" || fail "eval --help does not name the metrics"

# --held-out SPLIT: only the images a run held out (its split.json), pairs drawn among them
expect 0 "$cli" train "$data" -o run_images --arch mnist --epochs 1 --per-class 10 --split images -q
held=$(jq '.test_images | length' run_images/split.json)
[ "$held" = 16 ] || fail "the images split held out $held images, not 2 of each of the 8 classes"
expect 0 "$cli" eval "$model" "$data" --held-out run_images/split.json --all-pairs --json -q
json '.images == 16 and .classes == 8 and .held_out == "run_images/split.json"'
json '.verification.similar == 8 and .verification.dissimilar == 8'
expect 0 "$cli" eval "$model" "$data" --held-out run_images/split.json -q
grep -q "the 16 images held out by run_images/split.json, 8 classes" "$tmp/out" ||
    fail "held-out table line: $(head -3 "$tmp/out")"
expect 0 "$cli" calibrate "$model" "$data" --held-out run_images/split.json -o held.safetensors -q
grep -q "held out by run_images/split.json" held.safetensors ||
    fail "the threshold source does not say the images were held out"
# a classes split holds out whole classes
expect 0 "$cli" train "$data" -o run_classes --arch mnist --epochs 1 --per-class 10 --split classes \
    --train-fraction 0.75 -q
expect 0 "$cli" eval "$model" "$data" --held-out run_classes/split.json --json -q
json '.classes == 2 and .images == 20'
# refusals: a split of pairs holds out no images; another dataset's split; a missing file
expect 1 "$cli" eval "$model" "$data" --held-out run/split.json
grep_err "splits pairs, so it holds out no images"
mkdir -p other/s1 other/s2 && cp "$data"/s1/1.pgm "$data"/s1/2.pgm other/s1/ &&
    cp "$data"/s2/1.pgm "$data"/s2/2.pgm other/s2/
expect 1 "$cli" calibrate "$model" other --held-out run_images/split.json -o never.safetensors
grep_err "it must be the split of a run trained on other"
[ -e never.safetensors ] && fail "a refused calibrate wrote its output"
expect 1 "$cli" eval "$model" "$data" --held-out missing.json
grep_err "missing.json: cannot open: No such file or directory"
printf '{"format": ' >broken.json
expect 1 "$cli" eval "$model" "$data" --held-out broken.json
grep_err "broken.json:1: "

finish test_cli_eval
