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

# ports unique to this run, so tests and a demo can run side by side
base=$(( 20000 + ($$ * 13) % 20000 ))
cat > "$T/conf" <<EOF
data_dir = "$T/session";
workers = 1;
endpoints = {
  console_in = "tcp://127.0.0.1:$((base))";
  console_return = "tcp://127.0.0.1:$((base+1))";
  recon_in = "tcp://127.0.0.1:$((base+2))";
  broker_front = "tcp://127.0.0.1:$((base+3))";
  broker_back = "tcp://127.0.0.1:$((base+4))";
  analyze_in = "tcp://127.0.0.1:$((base+5))";
  stats_pub = "tcp://127.0.0.1:$((base+6))";
  stats_snapshot = "tcp://127.0.0.1:$((base+7))";
};
md = { thermalize_steps = 500L; production_ns = 0.006; analyse_from_ns = 0.0;
       dump_every_ns = 0.001; checkpoint_every_ns = 0.002; seed = 4242L; };
limits = { heartbeat_s = 0.2; heartbeat_liveness = 5; };
EOF
per_run=7
want=$((N * per_run))
models=$(ls "$(dirname "$0")"/../../deploy/data/paper_nps/*.data | head -n "$N")

# 1. the recording
mkdir -p "$T/frames"
i=0
for m in $models; do
  i=$((i+1))
  "$B" stem-sim "$m" -o "$T/frames/f_$(printf %02d $i).tif" --zone 110 --dose 1e4 --size 512 \
       --seed $i >/dev/null || fail "stem-sim $m"
done
"$B" ingest --config "$T/conf" --no-recon --no-reply --recording "$T/rec.sdrec" \
     --exit-after-series 1 --stats-every 0 > "$T/ingest.json" 2> "$T/ingest.log" &
ING=$!
sleep 0.5
"$B" console --config "$T/conf" --images "$T/frames" --interval 0 --pixel-size 0.12 \
     --series-id pipeline-test --no-return --wait 0 > /dev/null 2>&1 || fail "console"
wait $ING || fail "ingest (recording)"

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
