/* worker — an MD worker (`stemdyn sim worker`): asks the broker for a job,
 * runs the paper's protocol (sim_run), streams a `snapshot` to analyze at
 * every dump point, checkpoints regularly to the broker, heartbeats, and asks
 * for the next job when done.  May run on another host (tcp, CURVE).
 *
 * Snapshots are sent on a DEALER and kept until analyze acknowledges them
 * (resent every few seconds otherwise, bounded); a checkpoint is uploaded
 * only when every earlier snapshot is acknowledged, so a job resumed from it
 * elsewhere never leaves a hole in the statistics.  SIGTERM: checkpoint,
 * upload, exit. */
#ifndef WORKER_H
#define WORKER_H

#include "sd_config.h"
#include "sd_err.h"

typedef struct worker worker_t;

/* id NULL: hostname-pid.  broker_ep NULL: cfg->ep.broker_back. */
worker_t *worker_new(const sd_config_t *cfg, const char *id, const char *broker_ep, sd_err_t *e);
void worker_destroy(worker_t **p);
/* Works until SIGINT/SIGTERM, max_seconds (> 0), or max_jobs (> 0) done. */
int worker_run(worker_t *w, double max_seconds, int max_jobs, sd_err_t *e);

#endif
