#!/usr/bin/env bash
# End to end in a real browser: a live pipeline on loopback (4 frames replayed),
# `stemdyn web --listen 127.0.0.1:0`, headless Chromium driven over WebDriver
# (browser_check.py): the heatmap must have 10×10 cells and the chord diagram
# 10 group arcs, every panel drawn, the health bar live; a screenshot is saved
# (SHOT, default ./web_dashboard.png).  Then `stemdyn report` on the finished
# session must load in the browser too (report_dashboard.png) and write the
# tables.  Skips (77) without chromium/chromedriver.
# Usage: web_browser.sh STEMDYN_BIN [SHOT_DIR]
set -u
B=$1
SHOTS=${2:-$PWD}
N=4
SRC=$(cd "$(dirname "$0")/../.." && pwd)
command -v chromium >/dev/null && command -v chromedriver >/dev/null \
  || { echo "SKIP: chromium/chromedriver not installed"; exit 77; }
T=$(mktemp -d /tmp/stemdyn-web-XXXXXX)
source "$SRC/tests/web/session.sh"
start_session
"$B" web --config "$T/conf" --listen 127.0.0.1:0 --for 300 > "$T/web.out" 2> "$T/web.log" &
WEB=$!
for _ in $(seq 1 50); do grep -q "http://" "$T/web.out" && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*/' "$T/web.out") || fail "stemdyn web printed no URL"
echo "dashboard at $URL"
"$B" monitor --config "$T/conf" --until-frames $WANT --timeout 60 > "$T/monitor.txt" 2>&1 \
  || fail "live analysis did not reach $WANT frames"
$PY "$SRC/tests/web/browser_check.py" "$URL" "$SHOTS/web_dashboard.png" --envs 10 --frames $WANT --timeout 60
rc=$?
[ $rc = 77 ] && exit 77
# what the gateway serves (/state) is what analyze wrote: counts, model, frame, health
sleep 1.5
$PY - "${URL}state" "$T/session" "$N" <<'PYEOF' || rc=1
import json, sys, urllib.request
live = json.load(urllib.request.urlopen(sys.argv[1], timeout=10))
disk = json.load(open(sys.argv[2] + "/analyze/state.json"))
latest = json.load(open(sys.argv[2] + "/recon/latest.json"))
fails = []
if live["stats"]["merged"]["counts"] != disk["stats"]["merged"]["counts"]: fails.append("merged counts differ from state.json")
if {r["run_id"]: r["counts"] for r in live["stats"]["runs"]} != {r["run_id"]: r["counts"] for r in disk["stats"]["runs"]}: fails.append("run counts differ")
if live["model"] != disk["model"]: fails.append("model differs from state.json")
if live["frame"]["index"] != latest["index"] or live["frame"]["columns"] != latest["columns"]: fails.append("frame differs from latest.json")
if live["health"]["frames_received"] != int(sys.argv[3]) or live["health"]["gaps"] != 0: fails.append(f"health {live['health']}")
if abs(live["stats"]["dt_ns"] - disk["stats"]["dt_ns"]) > 1e-12: fails.append("dt_ns differs")
for f in fails: print("FAIL: /state:", f)
print(f"/state equals the session files: {not fails}")
sys.exit(1 if fails else 0)
PYEOF
kill -TERM $WEB; wait $WEB || fail "stemdyn web exited with status $? (web.log: $(tail -3 $T/web.log))"
kill -TERM $RUN; wait $RUN
# the static report of the finished session, in the same browser checks
"$B" report "$T/session" -o "$T/report.html" > "$T/report.out" 2>&1 || fail "report: $(cat $T/report.out)"
cat "$T/report.out"
for t in runs counts_merged P_merged P_mean_runs tau_merged lens_fractions_t lens_kde; do
  [ -s "$T/report_tables/$t.csv" ] && [ -s "$T/report_tables/$t.npy" ] || { echo "FAIL: table $t missing"; rc=1; }
done
for t in populations.csv populations_mean.npy populations_std.npy counts_runs.npy; do
  [ -s "$T/report_tables/$t" ] || { echo "FAIL: table $t missing"; rc=1; }
done
$PY "$SRC/tests/web/browser_check.py" "file://$T/report.html" "$SHOTS/report_dashboard.png" --envs 10 --frames $WANT --timeout 30 --report || rc=1
exit $rc
