#!/usr/bin/env bash
# Installs every Debian package the build, tests, benchmarks and demo need (idempotent, quick when present).
#   scripts/deps.sh --browser   also Debian's chromium, which renders the HTML reports in tests
#   scripts/deps.sh --fuzz      also clang and its libFuzzer/sanitizer runtimes (scripts/fuzz.sh)
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang-format
  libdnnl-dev
  libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev libwebp-dev libgif-dev
  libjansson-dev libcairo2-dev zlib1g-dev fonts-dejavu-core
  libcriterion-dev
  python3-torch python3-torchvision python3-pil python3-numpy
  dataset-fashion-mnist
  unzip
)
for arg in "$@"; do
  case "$arg" in
  --browser) packages+=(chromium) ;;
  --fuzz) packages+=(clang libclang-rt-14-dev libomp-14-dev) ;;
  *)
    echo "usage: scripts/deps.sh [--browser] [--fuzz]" >&2
    exit 2
    ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps.sh: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
