#!/usr/bin/env python3
"""LAMMPS reads the data file stemdyn writes (atom_style atomic, two species,
velocities, padded box, fixed boundaries) and writes it back with write_data;
stemdyn reads that and compares positions, species and velocities bit for bit.

usage: interop_lammps.py HELPER TMPDIR   (exit 77 when `lmp` is not installed)"""
import os
import shutil
import subprocess
import sys


def main():
    helper, tmp = sys.argv[1], sys.argv[2]
    lmp = shutil.which("lmp") or shutil.which("lmp_serial")
    if not lmp:
        print("SKIP: no lmp")
        return 77
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    subprocess.run([helper, "write_lmp", tmp], check=True)
    with open(os.path.join(tmp, "in.rt"), "w") as f:
        f.write("units metal\natom_style atomic\nboundary f f f\nread_data ours.data\n"
                "write_data lammps_out.data nocoeff\n")
    r = subprocess.run([lmp, "-in", "in.rt", "-log", "none", "-screen", "none"], cwd=tmp)
    if r.returncode != 0:
        print(f"FAIL: lmp exit {r.returncode} reading our data file")
        return 1
    r = subprocess.run([helper, "read_lmp", tmp])
    if r.returncode != 0:
        print("FAIL: LAMMPS round trip differs")
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print("lammps interop ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
