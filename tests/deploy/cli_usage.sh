#!/usr/bin/env bash
# The dispatcher: --help lists commands, --version, unknown commands and bad options fail clearly.
set -u
bin=$1
pass=0; fail=0
check() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi; }
out=$("$bin" --help); rc=$?
check "--help exits 0" "[ $rc -eq 0 ]"
check "--help lists run" "grep -q '^  run ' <<<\"\$out\""
check "--help lists config" "grep -q '^  config ' <<<\"\$out\""
out=$("$bin" --version); rc=$?
check "--version" "[ $rc -eq 0 ] && grep -Eq '^stemdyn [0-9]+\.[0-9]+\.[0-9]+' <<<\"\$out\""
err=$("$bin" frobnicate 2>&1 >/dev/null); rc=$?
check "unknown command exits 2" "[ $rc -eq 2 ]"
check "unknown command message" "grep -q \"unknown command 'frobnicate'\" <<<\"\$err\""
err=$("$bin" 2>&1 >/dev/null); rc=$?
check "no command exits 2" "[ $rc -eq 2 ]"
# every command answers --help with exit 0 and rejects an unknown option with exit 2
for cmd in $("$bin" --help | awk '/^commands:/{on=1;next} on && /^  [a-z]/{print $1}'); do
  "$bin" "$cmd" --help >/dev/null 2>&1; rc=$?
  check "$cmd --help exits 0" "[ $rc -eq 0 ]"
  err=$("$bin" "$cmd" --no-such-option 2>&1 >/dev/null); rc=$?
  check "$cmd rejects unknown option (exit 2)" "[ $rc -eq 2 ]"
  check "$cmd explains the bad option" "[ -n \"\$err\" ]"
done
err=$("$bin" config --check /nonexistent.conf 2>&1); rc=$?
check "config --check missing file exits 1" "[ $rc -eq 1 ] && grep -q 'cannot read config file' <<<\"\$err\""
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
