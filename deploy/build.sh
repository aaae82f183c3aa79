#!/usr/bin/env bash
# Configures and builds stemdyn into build/ (Release, native) — incremental when nothing changed.
# Usage: deploy/build.sh [BUILD_DIR] [extra cmake -D options …]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}; shift || true
if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
fi
cmake --build "$dir" -j"$(nproc)"
