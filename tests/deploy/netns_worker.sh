#!/usr/bin/env bash
# A sim worker on "another host" joins over tcp with CURVE: the host runs the pipeline
# (`stemdyn run`, no local worker) with the broker's worker endpoint and analyze's input
# bound on one end of a veth pair; the worker runs in a network namespace on the other
# end.  Checks that an unkeyed worker from the namespace is refused, that the keyed one
# gets the job and that its snapshots are analysed.  Addresses are TEST-NET-1
# (192.0.2.0/24) on our own veth pair only; the namespace is removed on exit.
# Exit 77 (skipped) when network namespaces cannot be made (not root, no CAP_NET_ADMIN).
# Usage: netns_worker.sh STEMDYN_BIN
set -u
B=$(readlink -f "$1")
T=$(mktemp -d /tmp/stemdyn-netns-XXXXXX)
NS=sdsec$$
VH=sdh$$
VN=sdn$$
RUN=
cleanup() {
  # the supervisor first, by SIGTERM: it stops its stages (SIGKILL would orphan them)
  [ -n "$RUN" ] && kill -TERM $RUN 2>/dev/null && wait $RUN
  kill -9 $(jobs -p) 2>/dev/null
  ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  ip link del "$VH" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
if ! ip netns add "$NS" 2>/dev/null; then
  echo "SKIP: cannot create a network namespace (ip netns add: not permitted?)"
  exit 77
fi
pass=0
failn=0
ok() { pass=$((pass+1)); echo "ok: $*"; }
bad() { failn=$((failn+1)); echo "FAIL: $*"; }
die() { echo "FAIL: $*"; echo "--- run.log (tail)"; tail -n 30 "$T/run.log" 2>/dev/null;
        echo "--- worker.log (tail)"; tail -n 10 "$T/worker.log" 2>/dev/null;
        echo "--- links"; ip -br addr show dev "$VH"; ip netns exec "$NS" ip -br addr;
        ip netns exec "$NS" ss -tn 2>/dev/null | tail -n 5;
        echo "$pass passed, $((failn+1)) failed"; exit 1; }

# one /30 of TEST-NET-1 per run
k=$(( $$ % 63 ))
H=192.0.2.$((4 * k + 1))
W=192.0.2.$((4 * k + 2))
ip link add "$VH" type veth peer name "$VN" || die "ip link add veth"
ip link set "$VN" netns "$NS" || die "move veth into $NS"
ip addr add "$H/30" dev "$VH" && ip link set "$VH" up || die "host side of the veth"
ip netns exec "$NS" ip addr add "$W/30" dev "$VN" || die "namespace side of the veth"
ip netns exec "$NS" ip link set "$VN" up || die "veth up in $NS"
ip netns exec "$NS" ip link set lo up
# both ends up (carrier) before any process connects
for _ in $(seq 1 100); do
  [ "$(cat /sys/class/net/$VH/operstate 2>/dev/null)" = up ] &&
    [ "$(ip netns exec "$NS" cat /sys/class/net/$VN/operstate 2>/dev/null)" = up ] && break
  sleep 0.1
done

mkdir -p "$T/keys/allowed"
"$B" keygen "$T/keys/server" > /dev/null || die "keygen"
"$B" keygen "$T/keys/client" > /dev/null || die "keygen"
cp "$T/keys/client" "$T/keys/allowed/"
. "$(dirname "$0")/../lib/stemdyn_test.sh"
base=$(sdt_base_port 3)
common() { sdt_endpoints $base "$H"; sdt_short_md 200 0.004; }
{ echo "data_dir = \"$T/session\"; workers = 0;"; common
  echo "security = { server_cert = \"$T/keys/server\"; client_certs = \"$T/keys/allowed\";"
  echo "             client_cert = \"$T/keys/client\"; server_public = \"$T/keys/server\"; };"
} > "$T/host.conf"
# the worker's host has only the client certificate and the server's public one
mkdir -p "$T/wkeys"
cp "$T/keys/client" "$T/keys/client_secret" "$T/wkeys/"
cp "$T/keys/server" "$T/wkeys/server.pub"
{ echo "data_dir = \"$T/wdata\";"; common
  echo "security = { client_cert = \"$T/wkeys/client\"; server_public = \"$T/wkeys/server.pub\"; };"
} > "$T/worker.conf"
{ echo "data_dir = \"$T/wdata2\";"; common; } > "$T/nokeys.conf"
per_run=5

sdt_frames "$B" 1 256 "$T/frames" || die "stem-sim"

"$B" run --config "$T/host.conf" > "$T/run.log" 2>&1 &
RUN=$!
for _ in $(seq 1 100); do grep -q "models on" "$T/run.log" 2>/dev/null && break; sleep 0.1; done
grep -q "broker: models on .*workers on tcp://$H" "$T/run.log" || die "broker did not bind $H"

# an unkeyed worker in the namespace: refused, never joins
ip netns exec "$NS" "$B" sim worker --config "$T/nokeys.conf" --id nskeyless --for 3 \
   > "$T/worker-nokeys.log" 2>&1
grep -q "worker nskeyless joined" "$T/run.log" && bad "an unkeyed worker joined" \
  || ok "unkeyed worker from $W did not join"
grep -q "broker.*refused a peer on tcp://$H:$((base+4))" "$T/run.log" \
  && ok "broker logged the refused worker" || bad "broker did not log the refused worker"

# the keyed worker in the namespace
ip netns exec "$NS" "$B" sim worker --config "$T/worker.conf" --id nsworker --jobs 1 --for 300 \
   > "$T/worker.log" 2>&1 &
WK=$!
for _ in $(seq 1 100); do grep -q "worker nsworker joined" "$T/run.log" && break; sleep 0.1; done
grep -q "worker nsworker joined" "$T/run.log" && ok "keyed worker from $W joined over CURVE" \
  || die "keyed worker did not join"
"$B" replay "$T/frames" --config "$T/host.conf" --speed 0 --series-id netns > "$T/replay.log" 2>&1 \
  || bad "replay: $(tail -2 "$T/replay.log")"
"$B" monitor --config "$T/host.conf" --until-frames $per_run --timeout 240 > "$T/monitor.txt" 2>&1 \
  && ok "the namespace worker's $per_run snapshots were analysed" \
  || die "snapshots from the namespace worker were not analysed ($(tail -1 "$T/monitor.txt"))"
grep -q "job .* → worker nsworker" "$T/run.log" && ok "the job went to the namespace worker" \
  || bad "the job did not go to nsworker"
wait $WK && ok "namespace worker finished its job" || bad "namespace worker exit status"
kill -TERM $RUN; wait $RUN; RUN=
if grep -lE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T"/*.log 2>/dev/null; then
  bad "sanitizer reports (files above)"
fi
echo "$pass passed, $failn failed"
[ $failn -eq 0 ]
