#!/usr/bin/env bash
# bf16 training keeps the quality: bench/bf16_quality.sh --fashion (300 steps on Fashion-MNIST in
# fp32 and in bf16) meets the issue's targets, final loss within 3% and test ROC AUC within 0.01.
# ctest-label: quality
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

bench=${SIAMESE_SOURCE_DIR:?SIAMESE_SOURCE_DIR must name the source tree}/bench/bf16_quality.sh
require_data fashion fashion_mnist

expect 0 bash "$bench" --fashion -j 2 --seed 1 --keep "$tmp/runs" "$fashion" "$cli"
[ "$(grep -c 'within 3%: met\|within 0.01: met' "$tmp/out")" -eq 2 ] ||
    fail "bf16 missed a quality target: $(cat "$tmp/out")"
grep -q "NOT met" "$tmp/out" && fail "a target reported NOT met: $(cat "$tmp/out")"
grep -q "^| 1 | 0\.[0-9]* | 0\.[0-9]* | 0\.9[0-9]* | 0\.9[0-9]* |$" "$tmp/out" ||
    fail "the network did not learn (want test ROC AUC >= 0.9): $(cat "$tmp/out")"
grep -q '"precision": *"bf16"' "$tmp/runs/bf16/config.json" || fail "the bf16 run was not bf16"

# the report mode prints the same tables again; usage errors exit 2
expect 0 bash "$bench" --report "$tmp/runs"
grep -q "within 0.01: met" "$tmp/out" || fail "--report lost the AUC line: $(cat "$tmp/out")"
expect 2 bash "$bench" --fashion
expect 2 bash "$bench" --report "$tmp/no-such-runs"
grep_err "metrics.jsonl: missing"

finish test_bf16_quality
