/* lens — LENS (Local Environments and Neighbors Shuffling, Crippa et al.
 * PNAS 2023) per atom per frame, as SOAPify 0.1.1 / dynsight compute it.
 *
 * Definition (../shared/oracle/README.md §4): S_i(t) = atoms within distance
 * <= rcut (inclusive) of atom i, i itself included; N_i = S_i \ {i};
 *   LENS_i(t) = |N_i(t) xor N_i(t-1)| / (|N_i(t)| + |N_i(t-1)|)
 * (0 when both sets are empty), LENS_i(0) = 0.  Non-periodic.
 *
 * Neighbour sets come from a cell list (O(N) per frame) and are kept as
 * sorted index lists, so the symmetric difference is a merge.  The state
 * object is incremental: the live analyze process pushes one frame at a time;
 * lens_compute() runs a whole trajectory.  No allocation per frame once the
 * buffers have grown to the trajectory's neighbour count. */
#ifndef LENS_H
#define LENS_H

#include "sd_err.h"

#include <stdint.h>

typedef struct lens_state lens_state_t;

/* New state for frames of n >= 1 atoms and cut-off rcut (finite, > 0, Å).
 * NULL with *e filled on bad arguments or allocation failure. */
lens_state_t *lens_state_new(int64_t n, double rcut, sd_err_t *e);
void lens_state_destroy(lens_state_t **s);
/* Forgets the previous frame: the next push is frame 0 again. */
void lens_state_reset(lens_state_t *s);
/* Frames pushed so far. */
int64_t lens_state_frames(const lens_state_t *s);

/* Pushes the next frame of n atoms (n must equal the state's atom count:
 * SD_EINVAL names both counts otherwise).  Fills, for each atom, LENS
 * (lens_out [n]), |N_i(t)| (nneigh_out [n]), the numerator |N(t) xor N(t-1)|
 * (num_out [n]) and denominator |N(t)| + |N(t-1)| (den_out [n]); any output may
 * be NULL.  On frame 0 lens, num and den are 0.
 * Rejects non-finite coordinates (SD_ERANGE) and two atoms at identical
 * positions (SD_EPHYS), naming the atoms; on error the state is unchanged.
 * pos is borrowed; outputs are caller-owned. */
int lens_state_push(lens_state_t *s, int64_t n, const double *pos /* [n][3] */,
                    double *lens_out /* [n] */, int32_t *nneigh_out /* [n] */,
                    int32_t *num_out /* [n] */, int32_t *den_out /* [n] */, sd_err_t *e);

/* The sorted neighbour list (self excluded) of atom i in the last pushed
 * frame: returns its length and sets *idx (borrowed until the next push);
 * -1 when no frame has been pushed or i is out of range. */
int32_t lens_state_neighbours(const lens_state_t *s, int64_t i, const int32_t **idx);

/* Whole trajectory: nframes >= 1 frames of n atoms, positions [nframes][n][3].
 * Outputs [nframes][n] (frame-major, as `stemdyn lens` writes them); nneigh,
 * num, den may be NULL. */
int lens_compute(int64_t nframes, int64_t n, const double *pos /* [nframes][n][3] */,
                 double rcut, double *lens /* [nframes][n] */,
                 int32_t *nneigh /* [nframes][n] or NULL */, int32_t *num, int32_t *den,
                 sd_err_t *e);

#endif
