# Sourced by the web tests: a live pipeline on loopback with private ports,
# fed by a replay of a small recording (the approach of tests/deploy/pipeline.sh).
# Needs B (stemdyn binary), N (frames), T (scratch dir), SRC (source root); defines fail(),
# $T/conf, $base (first port), RUN (the `stemdyn run` pid), PER_RUN, WANT.
# start_session records N frames, starts `stemdyn run` and the replay.
PY=/usr/bin/python3
[ -x $PY ] || PY=python3
fail() { echo "FAIL: $*"; for f in run.log web.log; do [ -f "$T/$f" ] && { echo "--- $f (tail)"; tail -n 30 "$T/$f"; }; done; echo "0 passed, 1 failed"; exit 1; }
base=$(( 20000 + ($$ * 17 + 7) % 20000 ))
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
  cat > "$T/conf" <<CONF
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
CONF
  local models i=0
  models=$(ls "$SRC"/deploy/data/paper_nps/*.data | head -n "$N")
  mkdir -p "$T/frames"
  for m in $models; do
    i=$((i+1))
    "$B" stem-sim "$m" -o "$T/frames/f_$(printf %02d $i).tif" --zone 110 --dose 1e4 --size 512 \
         --seed $i >/dev/null || fail "stem-sim $m"
  done
  "$B" ingest --config "$T/conf" --no-recon --no-reply --recording "$T/rec.sdrec" \
       --exit-after-series 1 --stats-every 0 > "$T/ingest.json" 2> "$T/ingest.log" &
  local ING=$!
  sleep 0.5
  "$B" console --config "$T/conf" --images "$T/frames" --interval 0 --pixel-size 0.12 \
       --series-id web-test --no-return --wait 0 > /dev/null 2>&1 || fail "console"
  wait $ING || fail "ingest (recording)"
  "$B" run --config "$T/conf" > "$T/run.log" 2>&1 &
  RUN=$!
  sleep 1
  "$B" replay "$T/rec.sdrec" --config "$T/conf" --speed 0 > "$T/replay.log" 2>&1 || fail "replay"
}
