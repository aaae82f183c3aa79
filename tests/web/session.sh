# Sourced by the web tests: a live pipeline on loopback with private ports,
# fed by a replay of a small recording (the approach of tests/deploy/pipeline.sh).
# Needs B (stemdyn binary), N (frames), T (scratch dir), SRC (source root); defines fail(),
# $T/conf, $base (first port), RUN (the `stemdyn run` pid), PER_RUN, WANT.
# start_session records N frames, starts `stemdyn run` and the replay.
PY=/usr/bin/python3
[ -x $PY ] || PY=python3
fail() { echo "FAIL: $*"; for f in run.log web.log; do [ -f "$T/$f" ] && { echo "--- $f (tail)"; tail -n 30 "$T/$f"; }; done; echo "0 passed, 1 failed"; exit 1; }
. "$(dirname "${BASH_SOURCE[0]}")/../lib/stemdyn_test.sh"
base=$(sdt_base_port 7)
RUN=
# On any exit: `stemdyn run` gets SIGTERM and stops its stages (a SIGKILL
# would orphan them), then whatever else is left is killed.
cleanup() {
  if [ -n "$RUN" ] && kill -0 "$RUN" 2>/dev/null; then
    kill -TERM "$RUN"
    for _ in $(seq 1 100); do kill -0 "$RUN" 2>/dev/null || break; sleep 0.1; done
  fi
  kill -9 $(jobs -p) 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
PER_RUN=7
WANT=$((N * PER_RUN))
start_session() {
  { echo "data_dir = \"$T/session\"; workers = 1;"; sdt_endpoints $base; sdt_short_md 500 0.006; } > "$T/conf"
  sdt_frames "$B" "$N" 512 "$T/frames" || fail "stem-sim"
  sdt_record "$B" "$T/conf" "$T/frames" "$T/rec.sdrec" web-test || fail "recording"
  "$B" run --config "$T/conf" > "$T/run.log" 2>&1 &
  RUN=$!
  sleep 1
  "$B" replay "$T/rec.sdrec" --config "$T/conf" --speed 0 > "$T/replay.log" 2>&1 || fail "replay"
}
