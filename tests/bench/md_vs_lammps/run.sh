#!/bin/sh
# md_vs_lammps — stemdyn MD vs LAMMPS on the same state, same protocol
# (np1038 at 673 K, Langevin damp 100 ps, zero yes, dt 5 fs, skin 0.5).
#
# usage: run.sh BENCH_BINARY [NSTEPS] [REPEATS]
#   env STEMDYN_SHARED_DIR (default ../shared), LMP (default lmp),
#       NVE_STEPS (default 20000 = 0.1 ns at 5 fs)
#
# Times are CPU times per step: this host is shared, and wall time would
# measure the other tenants.  LAMMPS prints "Loop time" (wall) and "% CPU
# use"; its CPU time is their product.  Medians over REPEATS runs.
set -eu
BENCH=${1:?usage: run.sh BENCH_BINARY [NSTEPS] [REPEATS]}
N=${2:-3000}
R=${3:-3}
NVE=${NVE_STEPS:-20000}
SHARED=${STEMDYN_SHARED_DIR:-../shared}
LMP=${LMP:-lmp}
ORA="$SHARED/oracle/lammps"
[ -f "$ORA/np1038_673K.data" ] || { echo "SKIP: $ORA/np1038_673K.data not found"; exit 77; }
command -v "$LMP" >/dev/null 2>&1 || { echo "SKIP: $LMP (LAMMPS) not installed"; exit 77; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
ln -s "$(cd "$ORA" && pwd)"/* "$W"/
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
kv() { sed -n "s/^$1=//p"; }

lmp_cpu_us() { # $1 = nsteps; prints CPU µs/step of the timed run (the 2nd "Loop time")
    ( cd "$W" && "$LMP" -in in.bench -var pstyle eam/alloy/opt -var skin 0.5 -var nsteps "$1" \
        -var bnd s -log lmp.log -screen none ) || return 1
    awk -v n="$1" '/^Loop time/ {t=$4} /% CPU use/ {c=$1} END {printf "%.3f\n", t*c/100/n*1e6}' "$W/lmp.log"
}

echo "md_vs_lammps: $N steps, $R repeats, np1038 673 K, Langevin 100 ps, dt 5 fs (load: $(cut -d' ' -f1-3 /proc/loadavg))"
: > "$W/lmp.txt"; : > "$W/sd.txt"
i=0
while [ $i -lt "$R" ]; do
    lmp_cpu_us "$N" >> "$W/lmp.txt"
    "$BENCH" "$ORA/np1038_673K.data" --steps "$N" | kv us_per_step_cpu >> "$W/sd.txt"
    i=$((i + 1))
done
L=$(median < "$W/lmp.txt")
S=$(median < "$W/sd.txt")
echo "LAMMPS eam/alloy/opt : $(tr '\n' ' ' < "$W/lmp.txt")-> median $L us/step (CPU)"
echo "stemdyn md           : $(tr '\n' ' ' < "$W/sd.txt")-> median $S us/step (CPU)"
awk -v l="$L" -v s="$S" 'BEGIN {
    printf "ratio LAMMPS/stemdyn : %.2fx\n", l / s
    printf "ns/day (one core)    : stemdyn %.1f, LAMMPS %.1f\n", 5e-6 * 86400 / (s * 1e-6), 5e-6 * 86400 / (l * 1e-6) }'

# NVE drift, same start (the data file's positions and velocities), 5 fs
cat > "$W/in.nve" <<EOF2
units metal
atom_style atomic
boundary s s s
read_data np1038_673K.data
pair_style eam/alloy/opt
pair_coeff * * Au_smatb_N2000.eam.alloy Au
neighbor 0.5 bin
neigh_modify delay 0 every 1 check yes
timestep 0.005
fix fNVE all nve
thermo_style custom step etotal
thermo_modify format float %.10f
thermo 100
run $NVE
EOF2
( cd "$W" && "$LMP" -in in.nve -log nve.log -screen none )
awk -v n=1038 -v dt=0.005 '
    /^ *Step/ {on=1; next} /^Loop time/ {on=0}
    on && NF == 2 && $1 ~ /^[0-9]+$/ { t=$1*dt*1e-3; sx+=t; sy+=$2; sxx+=t*t; sxy+=t*$2; k++;
        if (k == 1) e0=$2; d=$2-e0; if (d<0) d=-d; if (d>m) m=d }
    END { printf "LAMMPS  NVE drift    : %.3g eV/atom/ns (max |E-E0| %.3g eV/atom)\n", (k*sxy-sx*sy)/(k*sxx-sx*sx)/n, m/n }' "$W/nve.log"
"$BENCH" "$ORA/np1038_673K.data" --nve --steps "$NVE" > "$W/nve.txt"
echo "stemdyn NVE drift    : $(kv nve_drift_eV_per_atom_per_ns < "$W/nve.txt") eV/atom/ns (max |E-E0| $(kv nve_max_dev_eV_per_atom < "$W/nve.txt") eV/atom)"

# two independent runs at once (threads in one process): wall throughput
# (needs two idle cores to mean anything) and the CPU cost per step of each
# run (shows whether the two runs slow each other down through shared caches)
"$BENCH" "$ORA/np1038_673K.data" --steps "$N" --threads 1 > "$W/t1.txt"
"$BENCH" "$ORA/np1038_673K.data" --steps "$N" --threads 2 > "$W/t2.txt"
T1=$(kv throughput_steps_per_wall_s < "$W/t1.txt")
T2=$(kv throughput_steps_per_wall_s < "$W/t2.txt")
C1=$(kv us_per_step_cpu < "$W/t1.txt")
C2=$(kv us_per_step_cpu < "$W/t2.txt")
awk -v a="$T1" -v b="$T2" -v c1="$C1" -v c2="$C2" 'BEGIN {
    printf "two runs at once     : wall %.0f vs %.0f steps/s -> %.2fx one run (load: see above)\n", b, a, b / a
    printf "                       CPU per step per run %.1f vs %.1f us -> %.2fx throughput on two free cores\n", c2, c1, 2 * c1 / c2 }'
