/* recon — public API of the recon stage (the only header other stages and the
 * stemdyn binary include).  See README.md and ../shared/DESIGN.md. */
#ifndef RECON_H
#define RECON_H

#include "sd_cli.h"
#include "sd_err.h"

#include <stdint.h>

/* Subcommands this stage contributes to `stemdyn`, NULL-terminated. */
extern const sd_cli_cmd_t recon_commands[];

/* ---- atomic columns: the result of counting, the input of 3D reconstruction ---- */
/* One frame's columns as flat arrays of length n (owned by the struct; free
 * with recon_columns_free).  Positions in Å in the image frame (x = col·dx,
 * y = row·dx).  count < 0 means "not counted". */
typedef struct recon_columns {
    int64_t n;
    double *x, *y;       /* [n] Å */
    double *eta;         /* [n] fitted Gaussian height (image units) */
    double *rho;         /* [n] Gaussian width (Å) */
    double *scs;         /* [n] scattering cross-section 2π η ρ² (image units · Å²) */
    int32_t *count;      /* [n] atoms in the column */
    double *prob;        /* [n] posterior probability of that count, 0..1 */
    double dx;           /* Å per pixel of the source image */
} recon_columns_t;

/* Allocates arrays for n columns (zeroed, count = -1); SD_ENOMEM on failure. */
int recon_columns_alloc(recon_columns_t *c, int64_t n, sd_err_t *e);
void recon_columns_free(recon_columns_t *c);
/* columns.csv: header "x,y,eta,rho,scs,count,probability" (Å, %.10g).  The
 * reader accepts any column order by header name and needs at least x,y,count. */
int recon_columns_write_csv(const char *path, const recon_columns_t *c, sd_err_t *e);
int recon_columns_read_csv(const char *path, recon_columns_t *c, sd_err_t *e);

/* ---- synthetic microscope, column finding, Gaussian fit, counting ---- */
/* (section owned by the counting work: recon/stemsim.c, columns.c, fit.c, count.c) */

/* ---- 3D reconstruction (FCC column model, Monte-Carlo minima search) ---- */
/* (section owned by the 3D work: recon/model3d.c) */

#endif
