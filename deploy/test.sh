#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds with -Werror, runs ctest,
# then builds with ASan+UBSan and runs the tests again.  Labels "long" and "bench"
# are excluded here (run them with: ctest --test-dir build -L long).
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/deps.sh
echo "== Release build (-Werror) =="
./deploy/build.sh build -DSTEMDYN_WERROR=ON
ctest --test-dir build --output-on-failure -j2 -LE 'long|bench'
echo "== ASan + UBSan build =="
./deploy/build.sh build-asan -DSTEMDYN_WERROR=ON -DSTEMDYN_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTEMDYN_NATIVE=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j2 -LE 'long|bench|nosan'
