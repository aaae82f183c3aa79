/* sim_run — the paper's MD protocol as a resumable job: minimise (CG, etol
 * 1e-6, ftol 1e-8), velocities at T with zero linear and angular momentum,
 * thermalise (thermalize_steps at thermalize_dt with Langevin), then
 * production at dt with the same thermostat, stopping at every dump point
 * (production time a multiple of dump_every).  Used by the sim worker and by
 * `stemdyn md --protocol`, so that offline and live runs are the same
 * computation (bitwise: the MD is a pure function of its inputs). */
#ifndef SIM_RUN_H
#define SIM_RUN_H

#include "sim.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sim_run_config {
    double temp_K;
    double dt_fs;
    int64_t thermalize_steps;
    double thermalize_dt_fs;
    double production_fs;
    double dump_every_fs;  /* a whole number of dt steps */
    double damp_ps;
    uint64_t seed;
    int minimize;          /* 1: minimise the start first (the paper) */
    sim_wall_t wall;
} sim_run_config_t;

typedef struct sim_run sim_run_t;

struct sd_config_md;
/* The run of frame `frame_index` under the service configuration: the one
 * place that says how a configuration becomes a job (the broker's jobs and
 * `stemdyn offline` both use it, so their runs are identical).  The seed is
 * md->seed·1000003 + frame_index. */
void sim_run_config_from_md(const struct sd_config_md *md, int64_t frame_index,
                            sim_run_config_t *out);

/* Starts a run from pos [n][3] (copied).  NULL with *e on bad input. */
sim_run_t *sim_run_new(const sim_potential_t *p, int64_t n, const double *pos,
                       const sim_run_config_t *c, sd_err_t *e);
/* Resumes from a checkpoint blob made by sim_run_checkpoint. */
sim_run_t *sim_run_restore(const sim_potential_t *p, const void *blob, size_t len,
                           const sim_run_config_t *c, sd_err_t *e);
void sim_run_destroy(sim_run_t **r);

/* Advances at most max_steps, stopping early at the next dump point or at the
 * end.  *at_dump = 1 when the run now sits on a dump point (production time
 * k·dump_every, k >= 0; the start of production is dump point 0). */
int sim_run_advance(sim_run_t *r, int64_t max_steps, int *at_dump, sd_err_t *e);
int sim_run_done(const sim_run_t *r);
/* Production time so far (fs; negative while thermalising). */
double sim_run_production_fs(const sim_run_t *r);
int64_t sim_run_step(const sim_run_t *r);
int64_t sim_run_natoms(const sim_run_t *r);
const double *sim_run_positions(sim_run_t *r);
double sim_run_temperature(const sim_run_t *r);
double sim_run_epot(const sim_run_t *r);

/* The complete state as a malloc'd blob (caller frees). */
int sim_run_checkpoint(const sim_run_t *r, void **blob, size_t *len, sd_err_t *e);

#endif
