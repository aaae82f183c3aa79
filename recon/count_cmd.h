/* count_cmd — the counting work's commands (`count`, `stem-sim`) and its SVG
 * overlay writer, shared with recon_cli.c. */
#ifndef RECON_COUNT_CMD_H
#define RECON_COUNT_CMD_H

#include "recon.h"

int recon_cmd_count(int argc, char **argv);
int recon_cmd_stemsim(int argc, char **argv);
/* Grey image img[h][w] (block-averaged to ≤ 200² cells) with a circle and the
 * count at every column (positions in Å, c->dx Å/px). */
int recon_write_svg(const char *path, const double *img, int64_t h, int64_t w, const recon_columns_t *c, sd_err_t *e);

#endif
