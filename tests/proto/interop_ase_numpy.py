#!/usr/bin/env python3
"""Interop of stemdyn's extxyz and .npy files with ASE and numpy.

usage: interop_ase_numpy.py HELPER TMPDIR
HELPER is tests/proto/interop_helper.c built.  Steps:
  1. HELPER write TMPDIR: we write ours.extxyz + ours_<dtype>.npy; ASE and numpy
     read them and compare with the same patterns computed here (exactly).
  2. ASE writes ase.extxyz (and numpy np_*.npy of every dtype, C/Fortran order,
     format 2.0, big-endian); the arrays ASE reads back from its own file are
     saved as reference .npy; HELPER read TMPDIR compares bit for bit.
Exit 77 (ctest skip) when numpy or ASE is missing."""
import os
import shutil
import subprocess
import sys

try:
    import numpy as np
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import read, write
except ImportError as exc:  # pragma: no cover
    print(f"SKIP: {exc}")
    sys.exit(77)

failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def pattern(dtype, n=60):
    i = np.arange(n)
    if dtype == "f8":
        return np.array([float(k) * 0.1 - 7.0 / 3.0 for k in range(n)], dtype="<f8")
    if dtype == "f4":
        return np.array([float(k) * 0.1 - 7.0 / 3.0 for k in range(n)], dtype="<f8").astype("<f4")
    if dtype == "i8":
        return (i.astype("<i8") * 1000000007 - (1 << 40)).astype("<i8")
    if dtype == "i4":
        return (i * 7 - 50).astype("<i4")
    if dtype == "u1":
        return ((i * 37) % 256).astype("|u1")
    raise ValueError(dtype)


def img_pattern(name, f):
    k = np.arange(35, dtype=np.int64) + 35 * f
    if name == "u16":
        v = (k * 997) % 65536
    elif name == "f32":
        v = k * 0.25 - 3.0
    elif name == "i32":
        v = k * 100003.0 - 1000000.0
    else:
        v = k % 256
    return np.asarray(v, dtype=np.float64).reshape(5, 7)


def per_atom(atoms, name):
    if name in atoms.arrays:
        return atoms.arrays[name]
    if atoms.calc is not None and name in atoms.calc.results:
        return atoms.calc.results[name]
    return None


def main():
    helper, tmp = sys.argv[1], sys.argv[2]
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)

    # 1. ours → numpy / ASE
    subprocess.run([helper, "write", tmp], check=True)
    for dt in ("f8", "f4", "i8", "i4", "u1"):
        a = np.load(os.path.join(tmp, f"ours_{dt}.npy"))
        want = pattern(dt).reshape(3, 4, 5)
        expect(a.dtype == want.dtype and a.shape == (3, 4, 5), f"ours_{dt}: dtype {a.dtype} shape {a.shape}")
        expect(np.array_equal(a, want), f"ours_{dt}: values")
    s = np.load(os.path.join(tmp, "ours_0d.npy"))
    expect(s.shape == () and float(s) == 2.5, "ours_0d")
    z = np.load(os.path.join(tmp, "ours_empty.npy"))
    expect(z.shape == (0, 3) and z.dtype == np.float64, "ours_empty")

    frames = read(os.path.join(tmp, "ours.extxyz"), index=":", format="extxyz")
    expect(len(frames) == 2, f"ASE read {len(frames)} frames")
    a = frames[0]
    n = 5
    pos = np.array([[0.1 * i + k + 1.0 / 3.0 for k in range(3)] for i in range(n)])
    forces = np.array([[-0.01 * i + 0.001 * k for k in range(3)] for i in range(n)])
    energies = np.array([-3.81 + 0.001 * i for i in range(n)])
    expect(np.array_equal(a.get_positions(), pos), "ASE positions of ours.extxyz differ (not bit-exact)")
    expect(a.get_chemical_symbols() == ["Au", "Pt", "Au", "Pt", "Au"], f"symbols {a.get_chemical_symbols()}")
    expect(np.array_equal(a.cell[:], np.array([[20, 0, 0], [0.5, 21, 0], [0, 0, 22]])), f"cell {a.cell[:]}")
    expect(list(a.pbc) == [True, True, False], f"pbc {a.pbc}")
    f = per_atom(a, "forces")
    expect(f is not None and np.array_equal(f, forces), "forces")
    e = per_atom(a, "energies")
    expect(e is not None and np.array_equal(np.ravel(e), energies), "per-atom energies")
    t = per_atom(a, "tags")
    expect(t is not None and list(np.ravel(t)) == [0, 10, 20, 30, 40], "tags")
    expect(a.info.get("step") == 42, f"info step {a.info.get('step')!r}")
    expect(a.info.get("label") == "two words", f"info label {a.info.get('label')!r}")
    b = frames[1]
    expect(len(b) == 3 and b.get_chemical_symbols() == ["Cu"] * 3, "frame 2 symbols")
    expect(np.array_equal(b.get_positions().ravel(), np.array([1e-7 * i - 12345.678 for i in range(9)])),
           "frame 2 positions")
    expect(not b.pbc.any(), "frame 2 pbc")

    # TIFF: PIL reads ours (every page), then writes its own multi-page files for us
    try:
        from PIL import Image
    except ImportError:
        Image = None
    tiffs = {"u8": ("L", np.uint8), "u16": ("I;16", np.uint16), "i32": ("I", np.int32), "f32": ("F", np.float32)}
    if Image is not None:
        for name, (mode, dt) in tiffs.items():
            im = Image.open(os.path.join(tmp, f"ours_{name}.tif"))
            expect(getattr(im, "n_frames", 1) == 3, f"PIL sees {getattr(im, 'n_frames', 1)} pages in ours_{name}.tif")
            pages = []
            for f in range(3):
                im.seek(f)
                pages.append(np.array(im))
                expect(np.array_equal(pages[-1].astype(np.float64), img_pattern(name, f)),
                       f"ours_{name}.tif page {f}: PIL mode {im.mode} values {pages[-1].ravel()[:4]}")
            frames_pil = [Image.fromarray(img_pattern(name, f).astype(dt), mode=mode) for f in range(3)]
            frames_pil[0].save(os.path.join(tmp, f"pil_{name}.tif"), format="TIFF", save_all=True,
                               append_images=frames_pil[1:])
    else:
        print("note: PIL missing, TIFF interop not checked")

    # 2. numpy / ASE → ours
    for dt in ("f8", "f4", "i8", "i4", "u1"):
        np.save(os.path.join(tmp, f"np_{dt}.npy"), pattern(dt).reshape(3, 4, 5))
    np.save(os.path.join(tmp, "np_f8_fortran.npy"), np.asfortranarray(pattern("f8").reshape(3, 4, 5)))
    np.save(os.path.join(tmp, "np_i4_fortran.npy"), np.asfortranarray(pattern("i4").reshape(3, 4, 5)))
    with open(os.path.join(tmp, "np_f8_v2.npy"), "wb") as fh:
        np.lib.format.write_array(fh, pattern("f8").reshape(3, 4, 5), version=(2, 0))
    np.save(os.path.join(tmp, "np_f8_be.npy"), pattern("f8").reshape(3, 4, 5).astype(">f8"))
    np.save(os.path.join(tmp, "np_bool.npy"), np.array([True, False, False, True]))
    expect(np.load(os.path.join(tmp, "np_f8_fortran.npy")).flags.f_contiguous, "fortran file is fortran")

    rng = np.random.default_rng(1)
    n = 7
    at = Atoms(symbols=["Au", "Pt", "Ir", "Au", "Au", "Pt", "Au"], positions=rng.normal(scale=5.0, size=(n, 3)),
               cell=[[30.1, 0, 0], [0.3, 29.7, 0], [0.1, 0.2, 31.3]], pbc=[True, False, True])
    at.info["label"] = "hello world"
    at.info["step"] = 7
    at.calc = SinglePointCalculator(at, energy=-21.5, forces=rng.normal(size=(n, 3)),
                                    energies=rng.normal(scale=0.1, size=n) - 3.8)
    at2 = Atoms("Au2", positions=[[0, 0, 0], [0, 0, 2.88]])
    write(os.path.join(tmp, "ase.extxyz"), [at, at2], format="extxyz")
    back = read(os.path.join(tmp, "ase.extxyz"), index=0, format="extxyz")
    np.save(os.path.join(tmp, "ase_pos.npy"), back.get_positions())
    np.save(os.path.join(tmp, "ase_forces.npy"), np.asarray(per_atom(back, "forces"), dtype=float))
    np.save(os.path.join(tmp, "ase_energies.npy"), np.asarray(per_atom(back, "energies"), dtype=float))
    np.save(os.path.join(tmp, "ase_cell.npy"), np.ascontiguousarray(back.cell[:]))
    np.save(os.path.join(tmp, "ase_pbc.npy"), back.pbc.astype("|u1"))
    np.save(os.path.join(tmp, "ase_numbers.npy"), back.numbers.astype("<i8"))
    r = subprocess.run([helper, "read", tmp])
    expect(r.returncode == 0, f"helper read exit {r.returncode}")

    if failures:
        print(f"{len(failures)} failures")
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    print("interop ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
