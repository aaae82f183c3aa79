#!/usr/bin/env bash
# CURVE on the live pipeline (real processes on loopback, `stemdyn run` with keys):
#   1. a console without keys cannot push frames: ingest records nothing, logs the refusal;
#   2. a console with a key that is not allowed: likewise;
#   3. the keyed console's frames go all the way (recon → broker → worker → analyze, every
#      link CURVE) and a keyed monitor sees every snapshot analysed;
#   4. a monitor without keys, and one with a foreign key, get no statistics; analyze logs
#      the refusals.
# Usage: secure.sh STEMDYN_BIN [FRAMES]
set -u
B=$1
N=${2:-2}
T=$(mktemp -d /tmp/stemdyn-secure-XXXXXX)
RUN=
# the supervisor first, by SIGTERM: it stops its stages (SIGKILL would orphan them)
trap '[ -n "$RUN" ] && kill -TERM $RUN 2>/dev/null && wait $RUN; kill -9 $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
pass=0
failn=0
ok() { pass=$((pass+1)); echo "ok: $*"; }
bad() { failn=$((failn+1)); echo "FAIL: $*"; }
die() { echo "FAIL: $*"; echo "--- run.log (tail)"; tail -n 30 "$T/run.log" 2>/dev/null; echo "$pass passed, $((failn+1)) failed"; exit 1; }

mkdir -p "$T/keys/allowed"
"$B" keygen "$T/keys/server" > /dev/null || die "keygen server"
"$B" keygen "$T/keys/client" > /dev/null || die "keygen client"
"$B" keygen "$T/keys/rogue" > /dev/null || die "keygen rogue"
cp "$T/keys/client" "$T/keys/allowed/client"

. "$(dirname "$0")/../lib/stemdyn_test.sh"
base=$(sdt_base_port 7)
endpoints() { sdt_endpoints $base; }
{ echo "data_dir = \"$T/session\"; workers = 1;"; endpoints; sdt_short_md 200 0.004
  cat <<EOF
security = { server_cert = "$T/keys/server"; client_certs = "$T/keys/allowed";
             client_cert = "$T/keys/client"; server_public = "$T/keys/server"; };
EOF
} > "$T/conf"
{ echo "data_dir = \"$T/other\";"; endpoints; } > "$T/nokeys.conf"
{ echo "data_dir = \"$T/other\";"; endpoints
  echo "security = { client_cert = \"$T/keys/rogue\"; server_public = \"$T/keys/server\"; };"
} > "$T/rogue.conf"
per_run=5
want=$((N * per_run))

# frames of the paper models
sdt_frames "$B" "$N" 256 "$T/frames" || die "stem-sim"

"$B" run --config "$T/conf" > "$T/run.log" 2>&1 &
RUN=$!
# every stage up: ingest and analyze listening, the broker bound
for _ in $(seq 1 300); do
  [ "$(grep -c "ingest: listening on\|analyze: listening on\|broker: models on" "$T/run.log" 2>/dev/null)" -ge 3 ] && break
  sleep 0.1
done
sleep 0.5
rec="$T/session/recording.sdrec"
size0=$(stat -c %s "$rec" 2>/dev/null || echo 0)

# 1-2. consoles without keys / with a foreign key: nothing gets in
"$B" replay "$T/frames" --config "$T/nokeys.conf" --speed 0 --series-id nokeys --linger 2 \
     > "$T/replay-nokeys.log" 2>&1
"$B" replay "$T/frames" --config "$T/rogue.conf" --speed 0 --series-id rogue --linger 2 \
     > "$T/replay-rogue.log" 2>&1
sleep 0.5
size1=$(stat -c %s "$rec" 2>/dev/null || echo 0)
[ "$size1" = "$size0" ] && ok "ingest recorded nothing from unkeyed consoles ($size1 bytes)" \
  || bad "recording grew from $size0 to $size1 bytes with unkeyed consoles"
grep -q "ingest.*refused a peer on .*no CURVE keys" "$T/run.log" \
  && ok "ingest logged the keyless console" || bad "no refusal of the keyless console in the log"
grep -qi "ingest.*refused.*not among the allowed" "$T/run.log" \
  && ok "ingest logged the foreign key" || bad "no refusal of the foreign key in the log"
grep -q "nokeys\|series rogue\|rogue" "$T/session/recon/latency.csv" 2>/dev/null \
  && bad "recon saw an unkeyed series" || ok "recon saw no unkeyed series"

# 3. the keyed console, end to end
"$B" replay "$T/frames" --config "$T/conf" --speed 0 --series-id keyed > "$T/replay.log" 2>&1 \
  || bad "keyed replay: $(tail -2 "$T/replay.log")"
"$B" monitor --config "$T/conf" --until-frames $want --timeout 300 > "$T/monitor.txt" 2>&1 \
  && ok "keyed monitor: $want snapshots analysed over CURVE links" \
  || die "keyed pipeline did not reach $want analysed snapshots ($(tail -1 "$T/monitor.txt"))"
grep -q "job .* → worker" "$T/run.log" && ok "broker handed a job to a keyed worker" \
  || bad "no job dispatched"

# 4. monitors without keys / with a foreign key get nothing
if "$B" monitor "tcp://127.0.0.1:$((base+6))" --snapshot "tcp://127.0.0.1:$((base+7))" --once \
     --timeout 3 > "$T/mon-nokeys.txt" 2>&1; then
  bad "a monitor without keys got statistics"
else
  grep -q "no statistics" "$T/mon-nokeys.txt" && ok "monitor without keys: no statistics" \
    || bad "monitor without keys failed otherwise: $(tail -1 "$T/mon-nokeys.txt")"
fi
if "$B" monitor --config "$T/rogue.conf" --once --timeout 3 > "$T/mon-rogue.txt" 2>&1; then
  bad "a monitor with a foreign key got statistics"
else
  grep -q "no statistics" "$T/mon-rogue.txt" && ok "monitor with a foreign key: no statistics" \
    || bad "monitor with a foreign key failed otherwise: $(tail -1 "$T/mon-rogue.txt")"
fi
grep -q "analyze.*refused a peer on tcp://127.0.0.1:$((base+6))" "$T/run.log" \
  && ok "analyze logged the keyless subscriber" || bad "analyze did not log the keyless subscriber"
grep -q "analyze.*refused a client .*not among the allowed" "$T/run.log" \
  && ok "analyze logged the foreign key" || bad "analyze did not log the foreign key"
# a keyed monitor still works after the refusals
"$B" monitor --config "$T/conf" --once --timeout 10 > /dev/null 2>&1 \
  && ok "keyed monitor after the refusals" || bad "keyed monitor after the refusals"

[ $failn -eq 0 ] || { echo "--- refusals in run.log"; grep -i "refused\|CURVE" "$T/run.log" | head -20; }
kill -TERM $RUN; wait $RUN; RUN=
# sanitizer builds: every process (services, consoles, monitors) exits clean
if grep -lE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T"/*.log "$T"/*.txt 2>/dev/null; then
  bad "sanitizer reports (files above)"
  grep -hE -A12 "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T"/*.log "$T"/*.txt | head -40
else
  ok "no sanitizer reports in the logs"
fi
echo "$pass passed, $failn failed"
[ $failn -eq 0 ]
