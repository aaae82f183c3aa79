/* model3d — internals of the 3D reconstruction (FCC column model and the
 * paper's Monte-Carlo local-minima search), exposed for tests and benches.
 * The stage's public entry points are in recon.h ("3D reconstruction").
 *
 * Geometry: the beam is the model's z axis; a column c sits at (x_c, y_c) and
 * holds n_c atoms on FCC sites along z spaced by one repeat `c` (a0/√2 for a
 * [110] zone axis).  Site heights are kept as integers in half repeats
 * ("levels"): atom k of column c is at z = (bottom_c + 2k)·c/2, so the two
 * sublattices of the projected [110] cell (offset by half a repeat along the
 * beam) have bottoms of different parity. */
#ifndef RECON_MODEL3D_H
#define RECON_MODEL3D_H

#include "recon.h"
#include "sim.h"

#include <stdint.h>

/* Sublattice (0 or 1) of each projected column of an FCC [110] image, from
 * column positions alone: finds the in-plane repeat direction u (the
 * same-sublattice neighbour direction, nearest-neighbour directions at 0 and
 * ±54.74°), then propagates parity along nearest-neighbour pairs by their
 * component perpendicular to u in units of half the cell (a0/2).  The column
 * nearest the centroid of each connected group is sublattice 0.  Columns
 * with no neighbour within 1.3× the median nearest distance form their own
 * group.  x, y [n] Å; sub [n] output (caller-owned).  Returns the number of
 * connected groups (>= 0) or a negative status. */
int recon_m3_sublattice(int64_t n, const double *x, const double *y, int32_t *sub, sd_err_t *e);

/* StatSTEM's start heights: bottom level (half repeats) of each column for
 * counts n_c (n_c <= 0: no atoms, bottom 0) and sublattices sub_c:
 * z_k = (k - ceil((n+1)/2) + s·zinfo)·c, k = 1..n, zinfo = 0 for sublattice 0
 * and zinfo_b (±0.5) for sublattice 1, s = -1 if max n is odd else +1. */
void recon_m3_start_levels(int64_t n, const int32_t *count, const int32_t *sub, double zinfo_b,
                           int32_t *bottom /* [n] */);

/* Monte-Carlo state on the column lattice: per-column neighbour tables of the
 * SMATB pair functions (alpha, Xi²) at every level difference, per-atom
 * density rho; a move shifts one column by ±1 repeat, which for identical
 * atoms is "remove the bottom atom, add one above the top" (or the reverse),
 * so the energy change only involves atoms within Rc of those two sites. */
typedef struct recon_m3_mc recon_m3_mc_t;

/* Builds the state for ncol columns (x, y Å; count; bottom levels) with the
 * repeat c (Å).  Columns with count <= 0 hold no atoms.  Two columns with
 * atoms closer than 0.5·c in projection are SD_EPHYS (duplicate detection).
 * Copies everything; p must outlive the state.  NULL on failure. */
recon_m3_mc_t *recon_m3_mc_new(const sim_potential_t *p, int64_t ncol, const double *x,
                               const double *y, const int32_t *count, const int32_t *bottom,
                               double c, sd_err_t *e);
void recon_m3_mc_destroy(recon_m3_mc_t **m);
/* Total SMATB energy of the current state (kept incrementally). */
double recon_m3_mc_energy(const recon_m3_mc_t *m);
/* Recomputes the energy from scratch (for checks of the incremental sum). */
double recon_m3_mc_energy_full(const recon_m3_mc_t *m);
/* Energy change of moving column col by dir = +1 or -1 repeats; applies the
 * move when apply != 0 (else the state is unchanged). */
double recon_m3_mc_move(recon_m3_mc_t *m, int64_t col, int dir, int apply);
/* Current bottom levels [ncol] (borrowed). */
const int32_t *recon_m3_mc_bottoms(const recon_m3_mc_t *m);
/* Replaces the bottoms (e.g. to re-evaluate a stored minimum). */
void recon_m3_mc_set_bottoms(recon_m3_mc_t *m, const int32_t *bottom);

/* Positions [natoms][3] and column ids [natoms] of a column state
 * (atoms in column order, bottom to top). */
void recon_m3_positions(int64_t ncol, const double *x, const double *y, const int32_t *count,
                        const int32_t *bottom, double c, double *pos, int64_t *colid);

/* FCC lattice constant (Å) of a pair-functional potential, by a golden-section
 * search of the bulk energy per atom (lattice sums within Rc); *ecoh (may be
 * NULL) gets the energy per atom there. */
double recon_m3_fcc_a0(const sim_potential_t *p, double *ecoh);

/* `stemdyn reconstruct` (model3d_cmd.c; also listed in recon_commands). */
int recon_cmd_reconstruct(int argc, char **argv);

#endif
