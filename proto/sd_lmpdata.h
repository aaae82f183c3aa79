/* sd_lmpdata — LAMMPS data files, atom_style atomic (id type x y z, optional
 * image flags).  Species come from the Masses section (mass → element by the
 * periodic table; type i → element) or from `# Au` style comments. Atoms are
 * returned sorted by id (atom index = id - 1 where ids are 1..N). */
#ifndef SD_LMPDATA_H
#define SD_LMPDATA_H

#include "sd_atoms.h"

#include <stddef.h>

/* Reading details: header keywords atoms, atom types, {x,y,z}lo/hi, xy xz yz
 * (others, e.g. "0 bonds", ignored; non-zero bonds/angles… rejected); sections
 * Masses, Atoms (5 columns, or 8 with image flags: positions are unwrapped by
 * them), Velocities (→ property "velo" R:3, file units, metal: Å/ps); other
 * sections (Pair Coeffs …) skipped.  Types without a recognisable mass or
 * "# El" comment get species "X<type>".  The box becomes a->cell (rows
 * (lx,0,0), (xy,ly,0), (xz,yz,lz)) with has_cell = 1 but pbc = 0 0 0: stemdyn
 * treats nanoparticle boxes as non-periodic; the box origin (xlo ylo zlo) is
 * kept as info "Origin" (OVITO's key).  Non-contiguous ids add an "id" I:1
 * property.  Messages name the file and line. */
int sd_lmpdata_read(const char *path, sd_atoms_t **out, sd_err_t *e);
/* Same over buf[0..len) (borrowed); `name` (may be NULL) prefixes messages. */
int sd_lmpdata_read_mem(const void *buf, size_t len, const char *name, sd_atoms_t **out, sd_err_t *e);
/* Writes an atomic-style data file (atomically: temporary file + rename); the
 * box is a->cell (at info "Origin", else 0) when it is orthogonal and holds
 * every atom, else a box padded by `pad` Å (>= 0) around the atoms.  Types are
 * species indices + 1, masses from the periodic table (unknown species →
 * SD_ENOTFOUND); a "velo" R:3 property is written as a Velocities section. */
int sd_lmpdata_write(const char *path, const sd_atoms_t *a, double pad, sd_err_t *e);

#endif
