#!/usr/bin/env bash
# The demo: installs dependencies, builds, and trains a Siamese network.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"
./build/siamese smoke
