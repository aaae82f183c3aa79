#!/usr/bin/env bash
# Live-pipeline latency on this machine (issue #6 targets):
#   frame arrival → model published   p50, p99 over the frames   target p99 ≤ 0.4 s
#   first frame → first statistics at the console                  target ≤ 30 s
# `stemdyn run` (deploy/demo.conf MD and recon settings, 1 worker) fed by the reference
# console: the ten paper particles as 1024×1024 stem-sim frames ([110], 10⁴ e/Å²), one every
# 0.6 s (the acquisition pace; `replay --speed 1` of such a recording is the same stream).
#   frame arrival   = t_acq_ns, the console's acquisition stamp in the frame (so ingest,
#                     recording and transport are inside the figure); recon's own share
#                     (t_recv → t_model) is printed too.  Both from DATA_DIR/recon/latency.csv.
#   first statistics = wall time at which the console printed the first stats pushed back
#                     by analyze, minus t_acq of frame 0.
# Usage: run.sh STEMDYN_BIN [FRAME_CACHE_DIR]     SECURE=1: every link with CURVE keys.
# Exit status 1 when a target is missed (the figures are printed either way).
set -u
B=$(readlink -f "$1")
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
CACHE=${2:-/tmp/stemdyn-bench-latency-frames}
T=$(mktemp -d /tmp/stemdyn-latency-XXXXXX)
RUN=
# the supervisor first, by SIGTERM: it stops its stages (SIGKILL would orphan them)
trap '[ -n "$RUN" ] && kill -TERM $RUN 2>/dev/null && wait $RUN; kill -9 $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
PY=/usr/bin/python3
[ -x $PY ] || PY=python3

mkdir -p "$CACHE"
for i in 01 02 03 04 05 06 07 08 09 10; do
  f=$CACHE/frame_$i.tif
  [ -s "$f" ] || "$B" stem-sim "$ROOT/deploy/data/paper_nps/$i.data" -o "$f" --zone 110 \
                   --dose 1e4 --size 1024 --dx 0.12 --seed "$((10#$i))" > /dev/null \
    || { echo "stem-sim failed"; exit 1; }
done

base=$(( 20000 + ($$ * 23 + 11) % 20000 ))
sed -e "s|^data_dir = .*|data_dir = \"$T/session\";|" \
    -e "s|tcp://127.0.0.1:55\([0-9][0-9]\)|tcp://127.0.0.1:PORT\1|" "$ROOT/deploy/demo.conf" \
  | $PY -c "
import re, sys
base = int(sys.argv[1])
print(re.sub(r'PORT(\d\d)', lambda m: str(base + int(m.group(1)) - 55), sys.stdin.read()), end='')
" "$base" > "$T/conf"
if [ "${SECURE:-0}" = 1 ]; then
  mkdir -p "$T/keys/allowed"
  "$B" keygen "$T/keys/server" > /dev/null && "$B" keygen "$T/keys/client" > /dev/null \
    && cp "$T/keys/client" "$T/keys/allowed/" || { echo "keygen failed"; exit 1; }
  echo "security = { server_cert = \"$T/keys/server\"; client_certs = \"$T/keys/allowed\";
  client_cert = \"$T/keys/client\"; server_public = \"$T/keys/server\"; };" >> "$T/conf"
fi

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; CURVE ${SECURE:-0}"
"$B" run --config "$T/conf" > "$T/run.log" 2>&1 &
RUN=$!
for _ in $(seq 1 100); do grep -q "listening on" "$T/run.log" 2>/dev/null && \
  grep -q "models on" "$T/run.log" && break; sleep 0.1; done
sleep 1
# the console, its output lines stamped with the wall clock as they arrive
$PY - "$B" "$CACHE" "$T/conf" "$T/console.stamped" <<'EOF'
import subprocess, sys, time
b, frames, conf, out = sys.argv[1:5]
p = subprocess.Popen([b, "console", "--images", frames, "--interval", "0.6", "--pixel-size", "0.12",
                      "--series-id", "latency", "--config", conf, "--wait", "40"],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
with open(out, "w") as f:
    for line in p.stdout:
        f.write("%d %s" % (time.time_ns(), line))
        f.flush()
sys.exit(p.wait())
EOF
crc=$?
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
kill -TERM $RUN; wait $RUN; RUN=
[ $crc = 0 ] || echo "console exit status $crc"
$PY - "$T/session/recon/latency.csv" "$T/console.stamped" <<'EOF'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["series_id"] == "latency"]
def pct(v, q):
    v = sorted(v)
    k = (len(v) - 1) * q
    i = int(k)
    return v[i] + (v[min(i + 1, len(v) - 1)] - v[i]) * (k - i)
ok = True
if not rows:
    print("no frame reached recon"); sys.exit(1)
e2e = [(int(r["t_model_ns"]) - int(r["t_acq_ns"])) * 1e-9 for r in rows]
own = [(int(r["t_model_ns"]) - int(r["t_recv_ns"])) * 1e-9 for r in rows]
print(f"frames modelled: {len(rows)} of 10")
p50, p99 = pct(e2e, 0.5), pct(e2e, 0.99)
print(f"frame arrival -> model published: p50 {p50:.3f} s  p99 {p99:.3f} s  max {max(e2e):.3f} s"
      f"  (target p99 <= 0.4 s: {'met' if p99 <= 0.4 else 'MISSED'})")
print(f"  of which in recon (t_recv -> t_model): p50 {pct(own, 0.5):.3f} s  p99 {pct(own, 0.99):.3f} s")
print("  count / model3d per frame (s): " + " ".join(f"{float(r['t_count_s']):.2f}/{float(r['t_model3d_s']):.2f}" for r in rows))
ok &= p99 <= 0.4 and len(rows) == 10
t0 = min(int(r["t_acq_ns"]) for r in rows if int(r["frame_index"]) == min(int(x["frame_index"]) for x in rows))
first = None
for line in open(sys.argv[2]):
    ts, _, text = line.partition(" ")
    if text.startswith("stats #"):
        first = int(ts); break
if first is None:
    print("first frame -> first statistics at the console: none arrived (target <= 30 s: MISSED)")
    ok = False
else:
    d = (first - t0) * 1e-9
    print(f"first frame -> first statistics at the console: {d:.2f} s (target <= 30 s: {'met' if d <= 30 else 'MISSED'})")
    ok &= d <= 30
sys.exit(0 if ok else 1)
EOF
