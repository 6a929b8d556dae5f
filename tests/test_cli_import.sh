#!/usr/bin/env bash
# siamese import face-api: --help's layout, usage errors exit 2, a folder with a missing shard
# exits 1 naming it and leaves an existing output file intact, and (when scripts/deps.sh
# --face-api has fetched the package) the import writes a model that verify reads.
faceapi=${SIAMESE_FACEAPI_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/siamese/npm/face-api}
source "$(dirname "$0")/cli_lib.sh"

# --help: --align's second line continues under its first (the option column is 31 wide)
expect 0 "$cli" import --help
grep -A1 -- "--align  " "$tmp/out" | tail -n 1 | grep -q "^ \{31\}every command then aligns" ||
    fail "import --help: --align's second line is not indented: $(cat "$tmp/out")"

expect 2 "$cli" import face-api "$faceapi"
grep_err "-o FILE"
expect 2 "$cli" import onnx "$faceapi" -o "$tmp/x.safetensors"
grep_err "unknown format 'onnx'"

mkdir -p "$tmp/broken"
cat >"$tmp/broken/face_recognition_model-weights_manifest.json" <<'JSON'
[{"paths": ["face_recognition_model.bin"], "weights": [{"name": "fc", "shape": [256, 128],
  "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.001, "min": -0.1}}]}]
JSON
echo keep >"$tmp/kept.safetensors"
expect 1 "$cli" import face-api "$tmp/broken" -o "$tmp/kept.safetensors"
grep_err "face_recognition_model.bin"
[ "$(cat "$tmp/kept.safetensors")" = keep ] || fail "the existing output file was changed"
head -c 100 /dev/zero >"$tmp/broken/face_recognition_model.bin"
expect 1 "$cli" import face-api "$tmp/broken" -o "$tmp/kept.safetensors"
grep_err "weights_manifest.json: the weights do not add up"

if [ -s "$faceapi/face_recognition_model.bin" ]; then
    expect 0 "$cli" import face-api "$faceapi" -o "$tmp/face.safetensors"
    grep -q "wrote $tmp/face.safetensors" "$tmp/out" || fail "no 'wrote' line: $(cat "$tmp/out")"
    # the same picture twice: distance 0, same by face-api's threshold 0.6
    img="$tmp/face.pgm"
    { printf 'P5\n92 112\n255\n'; head -c 10304 /dev/zero | tr '\0' '\200'; } >"$img"
    expect 0 "$cli" verify "$tmp/face.safetensors" "$img" "$img" \
        --precision fp32
    grep -q "threshold: *0.600000" "$tmp/out" || fail "not face-api's threshold: $(cat "$tmp/out")"
    # --align also imports the landmark network: named when it is missing, noted when written
    mkdir -p "$tmp/recognition_only"
    ln -s "$faceapi"/face_recognition_model* "$tmp/recognition_only/"
    expect 1 "$cli" import face-api "$tmp/recognition_only" --align -o "$tmp/aligned.safetensors"
    grep_err "face_landmark_68_model-weights_manifest.json"
    [ ! -e "$tmp/aligned.safetensors" ] || fail "a failed import wrote its output"
    if [ -s "$faceapi/face_landmark_68_model.bin" ]; then
        expect 0 "$cli" import face-api "$faceapi" --align -o "$tmp/aligned.safetensors"
        grep -q "faces aligned on face-api's 68 landmarks" "$tmp/out" ||
            fail "no alignment in the 'wrote' line: $(cat "$tmp/out")"
    fi
else
    echo "note: no face-api package at $faceapi (scripts/deps.sh --face-api); import of it not run"
fi
finish test_cli_import
