/* recon_latest — what the dashboard shows of the newest counted frame:
 * DATA_DIR/recon/latest.json, rewritten atomically (temporary file + rename)
 * after each frame recon turned into a model.  A reader (`stemdyn web`,
 * `stemdyn report`) therefore always sees a whole document.
 *
 * Format (JSON object):
 *   series_id   string
 *   index       frame index
 *   t_acq_ns    acquisition time (Unix epoch ns)
 *   dx_A        Å per pixel of the source frame
 *   width_A, height_A   field of view, Å (x = column·dx, y = row·dx)
 *   thumb       {"w", "h", "lo", "hi", "u8"}: the frame box-averaged to at most
 *               RECON_LATEST_THUMB pixels a side, mapped linearly [lo, hi] →
 *               [0, 255] (lo/hi: 0.5 and 99.5 percentiles, source units), row-major
 *               8-bit grey, base64 ("u8")
 *   columns     [[x_A, y_A, count], …]: the columns of the 3D model (atoms
 *               grouped by column id; x, y the mean of their atoms)
 *   atoms       atoms in the model */
#ifndef RECON_LATEST_H
#define RECON_LATEST_H

#include "sd_err.h"

#include <stdint.h>

#define RECON_LATEST_THUMB 256

struct sd_msg_frame;
struct sd_atoms;

/* Writes dir/latest.json for frame f (pixel size dx_A > 0) and its model
 * (model->n atoms, colid [model->n] column of each atom, both borrowed; model
 * may be NULL or empty: no columns).  Everything is borrowed. */
int recon_latest_write(const char *dir, const struct sd_msg_frame *f, double dx_A,
                       const struct sd_atoms *model, const int32_t *colid, sd_err_t *e);

/* The 8-bit thumbnail alone (for tests): img [h][w] doubles → out [th][tw]
 * with th, tw <= max_side, returned in *th, *tw; lo/hi as in the file.
 * out must hold max_side² bytes. */
void recon_latest_thumb(const double *img, int h, int w, int max_side, uint8_t *out, int *th,
                        int *tw, double *lo, double *hi);

#endif
