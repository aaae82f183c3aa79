#!/usr/bin/env bash
# The live service end to end, with real processes on loopback:
#   1. a recording of N synthetic frames (stem-sim of the paper models → console → ingest);
#   2. the reference: `stemdyn offline` on that recording;
#   3. the live pipeline (`stemdyn run`) fed by `stemdyn replay`, with a stalled
#      monitor attached, and (KILL=1) kill -9 of recon, the sim worker and analyze
#      while it runs (the supervisor restarts them);
#   4. the final statistics must equal the reference: every run's transition
#      counts and the merged counts, snapshot for snapshot.
# Usage: pipeline.sh STEMDYN_BIN FRAMES KILL
set -u
B=$1
N=${2:-10}
KILL=${3:-0}
T=$(mktemp -d /tmp/stemdyn-pipeline-XXXXXX)
trap 'kill -TERM $(jobs -p) 2>/dev/null; sleep 1; kill -9 $(jobs -p) 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
PY=/usr/bin/python3
[ -x $PY ] || PY=python3
fail() { echo "FAIL: $*"; echo "--- run.log (tail)"; grep -v "ingest: received" "$T/run.log" 2>/dev/null | tail -n 60
         echo "--- monitor"; sed 's/\x1b\[[0-9;]*[HJ]//g' "$T/monitor.txt" 2>/dev/null | tail -n 20; echo "0 passed, 1 failed"; exit 1; }

. "$(dirname "$0")/../lib/stemdyn_test.sh"
base=$(sdt_base_port 13)
{ echo "data_dir = \"$T/session\"; workers = 1;"; sdt_endpoints $base; sdt_short_md 500 0.006; } > "$T/conf"
per_run=7
want=$((N * per_run))

# 1. the recording
sdt_frames "$B" "$N" 512 "$T/frames" || fail "stem-sim"
sdt_record "$B" "$T/conf" "$T/frames" "$T/rec.sdrec" pipeline-test || fail "recording"

# 2. the reference
"$B" offline "$T/rec.sdrec" --config "$T/conf" -o "$T/offline" 2> "$T/offline.log" || fail "offline: $(tail -3 $T/offline.log)"

# 3. live
"$B" run --config "$T/conf" > "$T/run.log" 2>&1 &
RUN=$!
sleep 1
# a monitor that connects and never reads: must not slow anything down
$PY - "$base" > /dev/null 2>&1 <<'EOF' &
import sys, time
import zmq
c = zmq.Context()
s = c.socket(zmq.SUB)
s.setsockopt(zmq.RCVHWM, 1)
s.setsockopt(zmq.RCVBUF, 4096)
s.setsockopt_string(zmq.SUBSCRIBE, "")
s.connect("tcp://127.0.0.1:%d" % (int(sys.argv[1]) + 6))
time.sleep(600)  # subscribed, never reads
EOF
"$B" replay "$T/rec.sdrec" --config "$T/conf" --speed "$([ "$KILL" = 1 ] && echo 1 || echo 0)" \
     > "$T/replay.log" 2>&1 &
REP=$!
if [ "$KILL" = 1 ]; then
  killed=0
  for target in "stemdyn recon" "stemdyn sim worker" "stemdyn analyze"; do
    # wait until the pipeline is busy, then kill -9 the stage mid-work
    for _ in $(seq 1 100); do
      grep -q "job .* → worker" "$T/run.log" 2>/dev/null && break; sleep 0.1
    done
    sleep 1
    pid=$(pgrep -f "$target --config $T/conf" | head -n 1)
    [ -n "$pid" ] && kill -9 "$pid" && killed=$((killed+1)) && echo "killed $target ($pid)"
  done
  [ $killed -eq 3 ] || fail "could not kill the three stages ($killed)"
fi
wait $REP || fail "replay"
"$B" monitor --config "$T/conf" --until-frames $want --timeout 240 > "$T/monitor.txt" 2>&1 \
  || fail "live analysis did not reach $want frames"
sleep 1
kill -TERM $RUN; wait $RUN

# 4. compare
$PY - "$T/offline/state.json" "$T/session/analyze/state.json" "$N" "$per_run" <<'EOF'
import json, sys
ref, live = (json.load(open(p))["stats"] for p in sys.argv[1:3])
n, per = int(sys.argv[3]), int(sys.argv[4])
ok = fail = 0
def check(c, what):
    global ok, fail
    if c: ok += 1
    else: fail += 1; print("FAIL:", what)
rr = {r["run_id"]: r for r in ref["runs"]}
lr = {r["run_id"]: r for r in live["runs"]}
check(len(rr) == n, f"offline has {len(rr)} runs, want {n}")
check(sorted(rr) == sorted(lr), f"runs differ: offline {sorted(rr)} live {sorted(lr)}")
for k in rr:
    if k in lr:
        check(rr[k]["frames"] == per and lr[k]["frames"] == per, f"run {k}: frames {rr[k]['frames']} / {lr[k]['frames']}")
        check(rr[k]["counts"] == lr[k]["counts"], f"run {k}: transition counts differ")
check(ref["merged"]["counts"] == live["merged"]["counts"], "merged counts differ")
check(ref["merged"]["frames"] == live["merged"]["frames"] == n * per, "merged frames")
tot = sum(map(sum, live["merged"]["counts"]))
print(f"merged transitions counted: {tot}")
print(f"{ok} passed, {fail} failed")
sys.exit(1 if fail else 0)
EOF
rc=$?
if [ "$KILL" = 1 ]; then
  restarts=$(grep -c "killed by signal 9; restarting" "$T/run.log")
  echo "stages restarted after kill -9: $restarts"
  [ "$restarts" -ge 3 ] || { echo "FAIL: expected 3 restarts"; rc=1; }
fi
exit $rc
