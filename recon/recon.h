/* recon — public API of the recon stage (the only header other stages and the
 * stemdyn binary include).  See README.md and ../shared/DESIGN.md. */
#ifndef RECON_H
#define RECON_H

#include "sd_cli.h"

/* Subcommands this stage contributes to `stemdyn`, NULL-terminated. */
extern const sd_cli_cmd_t recon_commands[];

/* ---- synthetic microscope, column finding, Gaussian fit, counting ---- */
/* (section owned by the counting work: recon/stemsim.c, columns.c, fit.c, count.c) */

/* ---- 3D reconstruction (FCC column model, Monte-Carlo minima search) ---- */
/* (section owned by the 3D work: recon/model3d.c) */

#endif
