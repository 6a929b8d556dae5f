#!/usr/bin/env bash
# 'siamese train --init ALIGNED' (issue 13): fine-tuning face-api's network from a model made with
# 'import face-api --align' keeps its face aligner: the log says the faces are aligned, the
# aligner's tensors come out of training, its checkpoint and a resumed run byte for byte unchanged
# while the network moved, and 'siamese eval' runs on the trained model; the imported and the
# fine-tuned network join into an ensemble that keeps their aligner once. Skips without AT&T's
# faces or face-api's package (scripts/deps.sh --face-api).
# ctest-label: slow
faceapi=${SIAMESE_FACEAPI_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/siamese/npm/face-api}
set -u
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh"

require_data faces att_faces/training
if [ ! -f "$faceapi/face_landmark_68_model-weights_manifest.json" ] ||
    [ ! -f "$faceapi/face_recognition_model-weights_manifest.json" ]; then
    echo "SKIP: no face-api package in $faceapi (scripts/deps.sh --face-api)"
    exit 77
fi

# header FILE: the safetensors JSON header
header() {
    local n
    n=$(od -An -t u8 -N 8 "$1" | tr -d ' ')
    tail -c +9 "$1" | head -c "$n"
}
# tensor_table FILE: one line "NAME START END" per tensor, START and END counted from the file's
# first byte (one pass over the header: the checks below compare dozens of tensors)
tensor_table() {
    local n
    n=$(od -An -t u8 -N 8 "$1" | tr -d ' ')
    header "$1" | grep -o '"[^"]*":{[^}]*"data_offsets":\[[0-9]*,[0-9]*\][^}]*}' |
        sed 's/^"\([^"]*\)".*"data_offsets":\[\([0-9]*\),\([0-9]*\)\].*/\1 \2 \3/' |
        awk -v base=$((8 + n)) '{ print $1, base + $2, base + $3 }'
}
# span NAME: "START END" of tensor NAME in a tensor_table read from stdin (nothing when absent)
span() { awk -v n="$1" '$1 == n { print $2, $3 }'; }
# same_bytes A A0 A1 B B0 B1: bytes [A0, A1) of file A equal bytes [B0, B1) of file B
same_bytes() {
    [ -n "$2" ] && [ -n "$5" ] && [ $(($3 - $2)) -eq $(($6 - $5)) ] &&
        cmp -s -n $(($3 - $2)) -i "$2:$5" "$1" "$4"
}
# same_tensors A B PATTERN: every tensor of A whose name matches the grep PATTERN is in B with the
# same bytes; sets same_count to how many were compared (0 when A has none). Runs in this shell,
# not in $(...), so that its failures count.
same_tensors() {
    local name a0 a1 b0 b1
    same_count=0
    tensor_table "$2" >"$tmp/table_b"
    while read -r name a0 a1; do
        read -r b0 b1 < <(span "$name" <"$tmp/table_b")
        same_bytes "$1" "$a0" "$a1" "$2" "$b0" "$b1" ||
            fail "$2: tensor $name differs from $1's (or is missing)"
        same_count=$((same_count + 1))
    done < <(tensor_table "$1" | grep -- "^$3 ")
}
# same_tensor A B NAME: tensor NAME holds the same bytes in files A and B (no failure reported)
same_tensor() {
    local a0 a1 b0 b1
    read -r a0 a1 < <(tensor_table "$1" | span "$3")
    read -r b0 b1 < <(tensor_table "$2" | span "$3")
    same_bytes "$1" "$a0" "$a1" "$2" "$b0" "$b1"
}
# same_aligner A B: every align.* tensor of A is in B with the same bytes (same_count: how many)
same_aligner() {
    same_tensors "$1" "$2" 'align\.[^ ]*'
    [ "$same_count" -gt 0 ] || fail "$1 has no align.* tensors"
}

aligned=$tmp/face_aligned.safetensors
expect 0 "$cli" import face-api "$faceapi" --align -o "$aligned"
arch=$(header "$aligned" | grep -o '"arch":"[^"]*"' | sed 's/"arch":"\(.*\)"/\1/')
[ -n "$arch" ] || fail "no arch in $aligned's metadata"

# 8 subjects: 6 train, 2 held out for the per-epoch test pairs
mkdir -p "$tmp/faces"
for s in s1 s2 s3 s4 s8 s9 s10 s11; do ln -s "$faces/$s" "$tmp/faces/$s"; done
frozen=input,conv64_down.pool,conv128_down.pool,conv256_down.pool,conv256_down_out.pool
run=$tmp/run
expect 0 "$cli" train "$tmp/faces" -o "$run" --arch "$arch" --input 3x150x150 --sampler pk \
    --pk 4x4 --mining semihard --split classes --train-fraction 0.75 --lr 1e-4 --margin 1 \
    --epochs 1 --seed 1 -j 1 --init "$aligned" --freeze "$frozen" --lr-backbone 1e-5
grep -q "its face aligner comes too" "$tmp/err" "$tmp/out" ||
    fail "no word of the face aligner: $(cat "$tmp/err")"
grep -q "aligned [0-9]* faces in" "$tmp/err" "$tmp/out" ||
    fail "no line about aligning the faces: $(cat "$tmp/err")"

same_aligner "$aligned" "$run/model.safetensors"
[ "$same_count" -gt 40 ] || fail "only $same_count aligner tensors compared"
same_aligner "$aligned" "$run/checkpoint.safetensors"
same_tensor "$aligned" "$run/model.safetensors" fc.weight &&
    fail "the head did not train (fc.weight unchanged)"
same_tensor "$aligned" "$run/model.safetensors" conv32_1.conv1.conv.weight &&
    fail "the backbone did not train"

# a resumed run still aligns and still keeps the aligner as it came
expect 0 "$cli" train --resume "$run" --epochs 2 -j 1
grep -q "aligned [0-9]* faces in" "$tmp/err" "$tmp/out" ||
    fail "the resumed run did not align its faces: $(cat "$tmp/err")"
same_aligner "$aligned" "$run/model.safetensors"

mkdir -p "$tmp/test"
ln -s "$faces/s8" "$tmp/test/s8"
ln -s "$faces/s9" "$tmp/test/s9"
expect 0 "$cli" eval "$run/model.safetensors" "$tmp/test" --all-pairs --precision fp32 -j 1 \
    --seed 0 --bootstrap 0
grep -q "ROC AUC" "$tmp/out" || fail "eval printed no ROC AUC: $(cat "$tmp/out")"

# the imported and the fine-tuned network, one aligner between them, join into an ensemble that
# keeps that aligner once, at its top level, and scores aligned faces
ens=$tmp/ensemble.safetensors
expect 0 "$cli" ensemble "$aligned" "$run/model.safetensors" -o "$ens"
grep -q "face aligner" "$tmp/err" || fail "the summary does not mention the aligner: $(cat "$tmp/err")"
same_aligner "$aligned" "$ens"
[ "$same_count" -gt 40 ] || fail "only $same_count aligner tensors in the ensemble's file"
header "$ens" | grep -q '"members\.[0-9]*\.align' && fail "a member of $ens kept its own aligner"
expect 0 "$cli" eval "$ens" "$tmp/test" --all-pairs --precision fp32 -j 1 --seed 0 --bootstrap 0
grep -q "ROC AUC" "$tmp/out" || fail "eval of the ensemble printed no ROC AUC: $(cat "$tmp/out")"
# a network without the aligner does not join them, and names the file
plain=$tmp/face_plain.safetensors
expect 0 "$cli" import face-api "$faceapi" -o "$plain"
expect 1 "$cli" ensemble "$aligned" "$plain" -o "$tmp/never.safetensors"
grep_err "$plain: ensemble: member 1 has no face aligner while member 0 has one"
[ -e "$tmp/never.safetensors" ] && fail "a refused ensemble wrote its output"

finish test_cli_finetune_align
