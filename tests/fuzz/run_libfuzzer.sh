#!/bin/bash
# Builds the libFuzzer harnesses with clang and runs each for a while.
#   tests/fuzz/run_libfuzzer.sh [SECONDS_PER_HARNESS=60] [NAME_REGEX=.] [BUILD_DIR=build-fuzz]
# Seeds come from tests/fuzz/corpus/<name>/ (copied: new inputs stay out of the
# source tree); crashes are written to $BUILD_DIR/fuzz-artifacts/<name>/ and make
# the script exit 1.  Needs clang and libclang-rt-dev (libFuzzer runtime).
set -u
secs=${1:-60}
pat=${2:-.}
root=$(cd "$(dirname "$0")/../.." && pwd)
bdir=${3:-$root/build-fuzz}
command -v clang >/dev/null || { echo "clang not found" >&2; exit 2; }
CC=clang cmake -S "$root" -B "$bdir" -DSTEMDYN_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 2
targets=()
for src in "$root"/tests/fuzz/fuzz_*.c; do
  base=$(basename "$src" .c)
  [ "$base" = fuzz_driver ] && continue
  echo "$base" | grep -Eq "$pat" || continue
  targets+=("${base}_libfuzzer")
done
[ ${#targets[@]} -gt 0 ] || { echo "no harness matches $pat" >&2; exit 2; }
cmake --build "$bdir" -j2 --target "${targets[@]}" >/dev/null || exit 2
fail=0
for t in "${targets[@]}"; do
  name=${t#fuzz_}; name=${name%_libfuzzer}
  work=$(mktemp -d); art="$bdir/fuzz-artifacts/$name"; mkdir -p "$art"
  [ -d "$root/tests/fuzz/corpus/$name" ] && cp "$root/tests/fuzz/corpus/$name"/* "$work"/ 2>/dev/null
  dict=(); [ -f "$root/tests/fuzz/${name%%_*}.dict" ] && dict=(-dict="$root/tests/fuzz/${name%%_*}.dict")
  "$bdir/bin/$t" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$art/" "${dict[@]}" "$work" > "$bdir/fuzz-artifacts/$name.log" 2>&1
  rc=$?
  runs=$(grep -m1 'stat::number_of_executed_units' "$bdir/fuzz-artifacts/$name.log" | awk '{print $2}')
  cov=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$bdir/fuzz-artifacts/$name.log" | grep -oE 'cov: [0-9]+')
  if [ $rc -ne 0 ]; then
    echo "$name: CRASH (rc $rc), see $bdir/fuzz-artifacts/$name.log and $art/"; fail=1
  else
    echo "$name: ok, ${runs:-?} runs in ${secs}s, ${cov:-cov ?}"
  fi
  rm -rf "$work"
done
exit $fail
