/* stemsim — internals of the synthetic microscope shared inside recon/
 * (random numbers for noise, zone-axis search).  Public API: recon.h. */
#ifndef RECON_STEMSIM_H
#define RECON_STEMSIM_H

#include "sd_err.h"

#include <stdint.h>

typedef struct recon_rng {
    uint64_t s[4];
} recon_rng_t;
void recon_rng_seed(recon_rng_t *r, uint64_t seed);
uint64_t recon_rng_next(recon_rng_t *r);
double recon_rng_uniform(recon_rng_t *r); /* [0, 1) */
double recon_rng_normal(recon_rng_t *r);
int64_t recon_rng_poisson(recon_rng_t *r, double lam);

/* Beam direction (unit; its largest component positive) of the FCC zone axis
 * `zone` (110 or 100) found from nearest-/second-neighbour bonds of pos[n][3];
 * among equally populated directions the one nearest a box axis.  zone 0 gives z. */
int recon_stemsim_zone_axis(const double *pos, int64_t n, int zone, double axis[3], sd_err_t *e);

#endif
