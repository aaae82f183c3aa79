/* sd_atoms — one frame of atoms as it crosses a file or process boundary:
 * positions, species, optional cell, extra per-atom properties and per-frame
 * info (key=value), as in extended XYZ.
 *
 * Ownership: an sd_atoms_t owns every array it points to; sd_atoms_destroy()
 * frees them all and NULLs the caller's pointer.  Arrays are flat, row-major:
 * pos[3*i + k].  Numerical code takes the flat arrays directly. */
#ifndef SD_ATOMS_H
#define SD_ATOMS_H

#include "sd_err.h"

#include <stdint.h>

#define SD_ATOMS_MAX_SPECIES 16
#define SD_ATOMS_MAX_PROPS 32
#define SD_ATOMS_MAX_INFO 64
#define SD_ATOMS_MAX_N 100000000LL /* refuse larger frames: bounded memory on hostile input */

typedef enum sd_prop_kind {
    SD_PROP_REAL = 'R', /* double */
    SD_PROP_INT = 'I',  /* int64_t */
} sd_prop_kind_t;

typedef struct sd_prop {
    char name[64];
    sd_prop_kind_t kind;
    int ncols;     /* values per atom (1..9) */
    double *real;  /* [n][ncols] when kind == SD_PROP_REAL, else NULL */
    int64_t *ints; /* [n][ncols] when kind == SD_PROP_INT, else NULL */
} sd_prop_t;

typedef struct sd_atoms {
    int64_t n;
    double *pos;  /* [n][3], Å */
    int32_t *type; /* [n], index into species[] */
    int nspecies;
    char species[SD_ATOMS_MAX_SPECIES][8]; /* element symbols, e.g. "Au" */
    int has_cell;
    double cell[9]; /* rows are lattice vectors a, b, c (Å), as extxyz Lattice="…" */
    int pbc[3];
    int nprops;
    sd_prop_t props[SD_ATOMS_MAX_PROPS];
    int ninfo;
    char info_key[SD_ATOMS_MAX_INFO][64];
    char *info_val[SD_ATOMS_MAX_INFO]; /* owned strings */
} sd_atoms_t;

/* A frame of n atoms (n may be 0), all of species `element` (may be NULL:
 * no species yet), positions zeroed.  NULL on allocation failure or bad n. */
sd_atoms_t *sd_atoms_new(int64_t n, const char *element);
void sd_atoms_destroy(sd_atoms_t **p);
/* Deep copy; NULL on allocation failure. */
sd_atoms_t *sd_atoms_clone(const sd_atoms_t *a);

/* Index of `element` in a->species, adding it if new; < 0 when full. */
int sd_atoms_species_index(sd_atoms_t *a, const char *element);

/* Adds (or replaces) a per-atom property of `ncols` columns, zero-filled, and
 * returns it (owned by a); NULL on bad arguments or allocation failure.
 * "pos" and "species" are reserved. */
sd_prop_t *sd_atoms_add_prop(sd_atoms_t *a, const char *name, sd_prop_kind_t kind, int ncols);
/* The property called `name`, or NULL. */
const sd_prop_t *sd_atoms_get_prop(const sd_atoms_t *a, const char *name);

/* Sets per-frame info key=value (copied; replaces an existing key). */
int sd_atoms_set_info(sd_atoms_t *a, const char *key, const char *value, sd_err_t *e);
/* The value of info `key`, or NULL (borrowed). */
const char *sd_atoms_get_info(const sd_atoms_t *a, const char *key);

/* Checks every coordinate is finite and n >= 0; SD_ERANGE names the atom. */
int sd_atoms_validate(const sd_atoms_t *a, sd_err_t *e);

/* Reads the first frame of an extxyz/xyz (.xyz, .extxyz) or LAMMPS data file
 * (.data, .lmp, or content sniffing) into *out (caller destroys). */
int sd_atoms_read_any(const char *path, sd_atoms_t **out, sd_err_t *e);

/* Periodic table (Z = 1..96, IUPAC standard atomic weights in u). */
/* Standard atomic weight of `symbol` ("Au"), 0 when unknown. */
double sd_element_mass(const char *symbol);
/* Atomic number of `symbol`, 0 when unknown. */
int sd_element_number(const char *symbol);
/* Symbol of atomic number z (static string), NULL when out of 1..96. */
const char *sd_element_symbol(int z);
/* Element whose standard weight is within 0.05 u of `mass` (nearest), else NULL. */
const char *sd_element_by_mass(double mass);

#endif
