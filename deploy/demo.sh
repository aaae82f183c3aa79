#!/usr/bin/env bash
# The main job: a replay of a recorded STEM session through the whole live
# pipeline.  Ten synthetic ADF-STEM frames made from the paper's ten
# reconstructed nanoparticles (stem-sim, [110], 10^4 e/Å^2) are streamed by the
# reference console every 0.6 s into `stemdyn run` (ingest → recon → sim broker
# + worker → analyze); the console prints the statistics pushed back, the
# monitor shows the final state, and the session ends with an HTML report.
#   PAPER=1 ./deploy/demo.sh   uses the paper's MD lengths (days of compute).
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/deps.sh
./deploy/build.sh build >/dev/null
B=$PWD/build/bin/stemdyn
D=build/demo
CONF=deploy/demo.conf
if [ "${PAPER:-0}" = 1 ]; then
  CONF=$D/paper.conf
  sed -e 's/production_ns = 0.5;/production_ns = 2000.0;/' -e 's/analyse_from_ns = 0.0;/analyse_from_ns = 1000.0;/' \
      -e 's/dump_every_ns = 0.01;/dump_every_ns = 1.0;/' -e 's/checkpoint_every_ns = 0.1;/checkpoint_every_ns = 1.0;/' \
      deploy/demo.conf > "$CONF"
fi
mkdir -p "$D/frames"

echo "== 1/4 frames: stem-sim of the ten paper models (cached in $D/frames)"
for i in 01 02 03 04 05 06 07 08 09 10; do
  f=$D/frames/frame_$i.tif
  [ -s "$f" ] || "$B" stem-sim deploy/data/paper_nps/$i.data -o "$f" --zone 110 --dose 1e4 \
                   --size 1024 --dx 0.12 --seed "$((10#$i))" --truth "$D/frames/truth_$i.csv" >/dev/null
done

echo "== 2/4 the pipeline: stemdyn run --config $CONF"
rm -rf "$D/session"
"$B" run --config "$CONF" > "$D/run.log" 2>&1 &
RUN=$!
cleanup() { kill -TERM "$RUN" 2>/dev/null && wait "$RUN" 2>/dev/null || true; }
trap cleanup EXIT
sleep 1

echo "== 3/4 the console streams 10 frames, 0.6 s apart, and prints what comes back"
"$B" console --images "$D/frames" --interval 0.6 --pixel-size 0.12 --series-id demo \
     --config "$CONF" --wait 1 | tail -n 12 || true

runs=10
per_run=$(awk -F'[=;]' '/production_ns/{p=$2} /analyse_from_ns/{a=$2} /dump_every_ns/{d=$2} END{printf "%d", (p-a)/d + 1.5}' "$CONF")
want=$((runs * per_run))
echo "   waiting for the MD and its analysis: $want snapshots ($runs runs × $per_run)"
"$B" monitor --config "$CONF" --until-frames "$want" --timeout "${DEMO_TIMEOUT:-900}" > "$D/monitor.txt" || {
  echo "demo: the analysis did not finish in time; last state:"; cat "$D/monitor.txt"; tail -20 "$D/run.log"; exit 1; }

echo "== 4/4 summary"
sed 's/\x1b\[[0-9;]*[HJ]//g' "$D/monitor.txt" | awk '/^stemdyn monitor/{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}'
cleanup
trap - EXIT
"$B" report "$D/session" -o "$D/report.html"
grep -h "frame .*columns" "$D/run.log" | sed 's/^[^ ]* //' | head -n 10
echo "report: $D/report.html   logs: $D/run.log   recording: $D/session/recording.sdrec"
