/* broker — the sim broker (`stemdyn sim broker`): turns each `model` from
 * recon into an MD job and hands jobs to idle workers (load balancing: a
 * worker asks for work), watches worker heartbeats, and gives the job of a
 * dead worker to another one, resuming from the job's last checkpoint.
 *
 * Sockets: a ROUTER at endpoints.broker_front where recon's DEALER sends
 * models (each acknowledged with a `heartbeat` state "ack", sender = model id,
 * once the job is queued and written to DATA_DIR/sim/jobs/, so a restarted
 * recon can resend without loss and duplicates are recognised by model id);
 * a ROUTER at endpoints.broker_back for the workers' DEALERs.
 *
 * Worker protocol (all `heartbeat` messages from the worker, sender = worker
 * id): state "ready" asks for a job; "busy" every heartbeat interval while
 * running; "done" when the job finished.  The broker answers "ready" with a
 * `sim_job` (with the last checkpoint blob when resuming).  A worker uploads
 * checkpoints as a `sim_job` carrying the blob (same job id), which the broker
 * keeps (in memory and DATA_DIR/sim/jobs/<job>.ckpt). */
#ifndef BROKER_H
#define BROKER_H

#include "sd_config.h"
#include "sd_err.h"

typedef struct broker broker_t;

broker_t *broker_new(const sd_config_t *cfg, sd_err_t *e);
void broker_destroy(broker_t **p);
/* Serves until SIGINT/SIGTERM or max_seconds (> 0). */
int broker_run(broker_t *b, double max_seconds, sd_err_t *e);

#endif
