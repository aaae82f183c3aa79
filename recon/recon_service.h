/* recon_service — the `stemdyn recon` process: takes frames in order, counts
 * the atoms of every column, reconstructs a 3D model and sends it to the sim
 * broker.
 *
 * Frames arrive from ingest (PULL at endpoints.recon_in).  The recording
 * (DATA_DIR/recording.sdrec) is the source of truth: when it is readable
 * (one machine), a restarted recon first catches up on every recorded frame
 * it has not finished, and a frame index that jumps ahead is filled in from
 * the recording, so no frame is lost whatever recon missed while it was
 * down.  A model counts as finished only when the broker acknowledged it
 * (models go on a DEALER and are resent until then); DATA_DIR/recon/done
 * keeps the last finished frame of the series across restarts.  The work is
 * deterministic (seeded), so a frame done twice yields the same model, which
 * the broker recognises by its id and ignores.  Per-frame timings go to
 * DATA_DIR/recon/latency.csv. */
#ifndef RECON_SERVICE_H
#define RECON_SERVICE_H

#include "sd_config.h"
#include "sd_err.h"

typedef struct recon_service recon_service_t;

struct sd_atoms;
struct recon_series;
struct recon_model3d_opts;

typedef struct recon_frame_result {
    long long columns;
    double t_count_s, t_model_s;
} recon_frame_result_t;

/* Counts and reconstructs one frame img [h][w] (pixel size dx Å) exactly as
 * the service does (same options, seed = md.seed + frame_index); `hmm` (may
 * be NULL) carries the series-aware counting state across frames.  *model is
 * the caller's (sd_atoms_destroy); it has no atoms when no particle was
 * found.  *mo (may be NULL) gets the reconstruction options used. */
int recon_service_frame_model(const sd_config_t *cfg, struct recon_series *hmm, double dx,
                              const double *img, long long h, long long w, long long frame_index,
                              struct sd_atoms **model, struct recon_model3d_opts *mo,
                              recon_frame_result_t *res, sd_err_t *e);

recon_service_t *recon_service_new(const sd_config_t *cfg, sd_err_t *e);
void recon_service_destroy(recon_service_t **p);
/* Serves until SIGINT/SIGTERM or max_seconds (> 0). */
int recon_service_run(recon_service_t *s, double max_seconds, sd_err_t *e);

#endif
