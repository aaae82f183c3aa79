/* detect — internals of column detection shared inside recon/ (public API:
 * recon_detect_columns in recon.h). */
#ifndef RECON_DETECT_H
#define RECON_DETECT_H

#include "sd_err.h"

#include <stdint.h>

/* Gaussian low-passes of img[h][w] by FFTW (one forward transform, nout
 * inverse ones): out[q] (caller-owned [h][w]) gets σ = sig_rel[q] × the
 * lattice spacing found (× 2.25 Å without a lattice).  *spacing gets the
 * strongest lattice spacing (Å) and *peak_ratio its power over the median
 * power at frequencies between 1/5 and 1/1.5 Å⁻¹ (> 50: a lattice). */
int recon_detect_filter(const double *img, int64_t h, int64_t w, double dx, const double *sig_rel, int nout,
                        double *const *out, double *spacing, double *peak_ratio, sd_err_t *e);

#endif
