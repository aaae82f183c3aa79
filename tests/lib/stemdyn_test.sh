# Shared pieces of the shell tests that run stemdyn processes on loopback
# (sourced; needs nothing but bash and the stemdyn binary).

# The directory of the bundled paper models.
SDT_MODELS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../deploy/data/paper_nps" && pwd)

# sdt_base_port SALT: the first of 8 ports unique to this process, so tests and
# a demo can run side by side.
sdt_base_port() { echo $(( 20000 + ($$ * 17 + ${1:-7}) % 20000 )); }

# sdt_endpoints BASE [WORKER_HOST]: the endpoints block; with WORKER_HOST the
# two endpoints workers connect to (broker_back, analyze_in) bind on that address.
sdt_endpoints() {
  local b=$1 w=${2:-127.0.0.1}
  cat <<CONF
endpoints = {
  console_in = "tcp://127.0.0.1:$((b))";
  console_return = "tcp://127.0.0.1:$((b+1))";
  recon_in = "tcp://127.0.0.1:$((b+2))";
  broker_front = "tcp://127.0.0.1:$((b+3))";
  broker_back = "tcp://$w:$((b+4))";
  analyze_in = "tcp://$w:$((b+5))";
  stats_pub = "tcp://127.0.0.1:$((b+6))";
  stats_snapshot = "tcp://127.0.0.1:$((b+7))";
};
CONF
}

# sdt_short_md THERMALIZE_STEPS PRODUCTION_NS: MD a test can wait for (a snapshot
# every ps from t = 0), with quick heartbeats.
sdt_short_md() {
  cat <<CONF
md = { thermalize_steps = ${1}L; production_ns = $2; analyse_from_ns = 0.0;
       dump_every_ns = 0.001; checkpoint_every_ns = 0.002; seed = 4242L; };
limits = { heartbeat_s = 0.2; heartbeat_liveness = 5; };
CONF
}

# sdt_frames BIN N SIZE DIR: stem-sim frames ([110], 10^4 e/Å²) of the first N
# paper models into DIR/f_NN.tif; non-zero if one fails.
sdt_frames() {
  local bin=$1 n=$2 size=$3 dir=$4 i=0 m
  mkdir -p "$dir"
  for m in $(ls "$SDT_MODELS"/*.data | head -n "$n"); do
    i=$((i+1))
    "$bin" stem-sim "$m" -o "$dir/f_$(printf %02d $i).tif" --zone 110 --dose 1e4 --size "$size" \
           --seed $i > /dev/null || return 1
  done
}

# sdt_record BIN CONF FRAMES_DIR RECORDING SERIES: a recording of the frames as
# ingest writes it live (console → ingest, no recon); non-zero on failure.
sdt_record() {
  local bin=$1 conf=$2 frames=$3 rec=$4 series=$5 ing
  "$bin" ingest --config "$conf" --no-recon --no-reply --recording "$rec" \
         --exit-after-series 1 --stats-every 0 > "$rec.ingest.json" 2> "$rec.ingest.log" &
  ing=$!
  sleep 0.5
  "$bin" console --config "$conf" --images "$frames" --interval 0 --pixel-size 0.12 \
         --series-id "$series" --no-return --wait 0 > /dev/null 2>&1 || { kill $ing; return 1; }
  wait $ing
}
