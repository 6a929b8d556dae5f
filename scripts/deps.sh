#!/usr/bin/env bash
# Installs every Debian package the build, tests, benchmarks and demo need (idempotent, quick when present).
#   scripts/deps.sh --browser   also Debian's chromium, which renders the HTML reports in tests
#   scripts/deps.sh --fuzz      also clang and its libFuzzer/sanitizer runtimes (scripts/fuzz.sh)
#   scripts/deps.sh --face-api  also face-api's face recognition and 68-landmark models (npm pack
#                               @vladmandic/face-api, MIT; Debian's npm if none) into
#                               ${XDG_CACHE_HOME:-~/.cache}/siamese/npm/face-api (never committed)
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang-format
  libdnnl-dev
  libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev libwebp-dev libgif-dev
  libjansson-dev libcairo2-dev zlib1g-dev fonts-dejavu-core
  libcriterion-dev
  libopenmpi-dev openmpi-bin
  python3-torch python3-torchvision python3-pil python3-numpy
  dataset-fashion-mnist
  unzip
)
face_api=0
for arg in "$@"; do
  case "$arg" in
  --browser) packages+=(chromium) ;;
  --fuzz) packages+=(clang libclang-rt-14-dev libomp-14-dev) ;;
  --face-api) face_api=1 ;;
  *)
    echo "usage: scripts/deps.sh [--browser] [--fuzz] [--face-api]" >&2
    exit 2
    ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
  fi
fi

# face-api's model files (the version the test fixture was made from), unpacked once.
fetch_face_api() {
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/siamese/npm" version=1.7.15 tgz
  local dir="$cache/face-api"
  if [ -s "$dir/face_recognition_model.bin" ] &&
    [ -s "$dir/face_recognition_model-weights_manifest.json" ] &&
    [ -s "$dir/face_landmark_68_model.bin" ] &&
    [ -s "$dir/face_landmark_68_model-weights_manifest.json" ]; then
    return 0
  fi
  mkdir -p "$cache"
  tgz="$cache/vladmandic-face-api-$version.tgz"
  if [ ! -s "$tgz" ]; then
    if ! command -v npm >/dev/null; then
      ${SUDO:-} apt-get install -y --no-install-recommends npm
    fi
    (cd "$cache" && npm pack --silent "@vladmandic/face-api@$version" >/dev/null)
  fi
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  tar -xzf "$tgz" -C "$dir.tmp" --strip-components=2 \
    package/model/face_recognition_model.bin \
    package/model/face_recognition_model-weights_manifest.json \
    package/model/face_landmark_68_model.bin \
    package/model/face_landmark_68_model-weights_manifest.json
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
  echo "deps.sh: face-api's face recognition and landmark models in $dir" >&2
}

if [ "$face_api" -eq 1 ]; then fetch_face_api; fi
