/* sd_lmpdata — LAMMPS data files, atom_style atomic (id type x y z, optional
 * image flags).  Species come from the Masses section (mass → element by the
 * periodic table; type i → element) or from `# Au` style comments. Atoms are
 * returned sorted by id (atom index = id - 1 where ids are 1..N). */
#ifndef SD_LMPDATA_H
#define SD_LMPDATA_H

#include "sd_atoms.h"

int sd_lmpdata_read(const char *path, sd_atoms_t **out, sd_err_t *e);
/* Writes an atomic-style data file; the box is a->cell when it is orthogonal,
 * else a box padded by `pad` Å around the atoms. */
int sd_lmpdata_write(const char *path, const sd_atoms_t *a, double pad, sd_err_t *e);

#endif
