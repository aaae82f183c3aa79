#!/usr/bin/env bash
# deploy/examples/monitor.py (pyzmq + msgpack) against a live pipeline fed by a
# replay: --once --until-frames prints the merged statistics, --plot writes a
# PNG (matplotlib; PLOT_DIR/python_monitor.png), and the StatsClient class
# (the notebook API) must hold exactly the counts analyze wrote to state.json.
# Skips (77) without python3-zmq / python3-msgpack / numpy.
# Usage: python_monitor.sh STEMDYN_BIN [PLOT_DIR]
set -u
B=$1
OUTDIR=${2:-$PWD}
N=4
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
[ -x $PY ] || PY=python3
$PY -c "import zmq, msgpack, numpy" 2>/dev/null || { echo "SKIP: python3-zmq/python3-msgpack/numpy missing"; exit 77; }
T=$(mktemp -d /tmp/stemdyn-pymon-XXXXXX)
source "$SRC/tests/web/session.sh"
start_session
PUB="tcp://127.0.0.1:$((base+6))"
$PY "$SRC/deploy/examples/monitor.py" "$PUB" --once --until-frames $WANT --timeout 60 > "$T/once.txt" 2>&1 \
  || fail "monitor.py --once: $(tail -3 $T/once.txt)"
cat "$T/once.txt"
rc=0
grep -q "frames $WANT\$" "$T/once.txt" || { echo "FAIL: monitor.py did not report $WANT frames"; rc=1; }
[ "$(grep -c '^run [0-9]*:' "$T/once.txt")" = "$N" ] || { echo "FAIL: want $N runs listed"; rc=1; }
if $PY -c "import matplotlib" 2>/dev/null; then
  rm -f "$OUTDIR/python_monitor.png"
  $PY "$SRC/deploy/examples/monitor.py" "$PUB" --once --plot "$OUTDIR/python_monitor.png" --timeout 60 > "$T/plot.txt" 2>&1 \
    || { echo "FAIL: monitor.py --plot: $(tail -3 $T/plot.txt)"; rc=1; }
  [ "$(head -c 8 "$OUTDIR/python_monitor.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] \
    || { echo "FAIL: --plot wrote no PNG"; rc=1; }
  echo "plot: $OUTDIR/python_monitor.png"
else
  echo "(matplotlib missing: --plot not checked)"
fi
# the notebook API against what analyze wrote (state.json is rewritten every second)
sleep 1.5
$PY - "$SRC/deploy/examples" "$PUB" "tcp://127.0.0.1:$((base+7))" "$T/session/analyze/state.json" <<'PYEOF' || rc=1
import json, sys
sys.path.insert(0, sys.argv[1])
from monitor import StatsClient
c = StatsClient(sys.argv[2], sys.argv[3])
for _ in range(20):
    c.poll(0.5)
    if c.synced and c.merged() is not None:
        break
st = json.load(open(sys.argv[4]))["stats"]
m = c.merged()
ok = m is not None and m["counts"].tolist() == st["merged"]["counts"] and m["labels"] == st["labels"]
runs = {r["run_id"]: r["counts"] for r in st["runs"]}
ok = ok and all(c.runs[k]["counts"].tolist() == v for k, v in runs.items())
print("StatsClient counts equal state.json:", ok)
sys.exit(0 if ok else 1)
PYEOF
kill -TERM $RUN; wait $RUN
[ $rc = 0 ] && echo "python monitor: all checks passed"
exit $rc
