/* fit — internals of the Gaussian model fit shared inside recon/ (public API:
 * recon_fit_gaussians in recon.h). */
#ifndef RECON_FIT_H
#define RECON_FIT_H

#include <stdint.h>

/* Renders the fitted model ζ + Σ η_c exp(-|r-r_c|²/2ρ²) (boxes ±3ρ, as the fit)
 * into model[h][w] (caller-owned).  xy[n][2] and rho in Å. */
void recon_fit_render(const double *xy, const double *eta, int64_t n, double rho, double zeta, double dx,
                      int64_t h, int64_t w, double *model);

#endif
