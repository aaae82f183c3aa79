/* analyze_service — the `stemdyn analyze` process: receives MD snapshots from
 * the sim workers, analyses them (runstats), and publishes statistics
 * (statspub).
 *
 * Delivery is at-least-once with idempotent processing: a worker sends each
 * snapshot on a DEALER to this process's ROUTER and keeps it until the
 * acknowledgement (a `heartbeat` with state "ack", sender = job id, load =
 * step) comes back; this process appends the snapshot to its journal
 * (DATA_DIR/analyze/snapshots.sdrec, fdatasync'ed) before acknowledging, and
 * replays the journal at start.  runstats ignores snapshots it has already
 * analysed, so a restart of this process or of a worker changes nothing in
 * the statistics.  (DESIGN.md sketches PUSH→PULL for this link; PUSH cannot
 * tell a sender that a killed receiver lost what was in flight.) */
#ifndef ANALYZE_SERVICE_H
#define ANALYZE_SERVICE_H

#include "sd_config.h"
#include "sd_err.h"

typedef struct analyze_service analyze_service_t;

/* Opens the journal (recovering a torn tail), replays it, binds the sockets.
 * NULL with *e on failure. */
analyze_service_t *analyze_service_new(const sd_config_t *cfg, sd_err_t *e);
void analyze_service_destroy(analyze_service_t **p);

/* Serves until SIGINT/SIGTERM (blocked in the calling thread) or until
 * max_seconds > 0 elapse; writes the final state (state.json, stats.csv)
 * before returning. */
int analyze_service_run(analyze_service_t *s, double max_seconds, sd_err_t *e);

/* Frames analysed so far (all runs). */
long long analyze_service_frames(const analyze_service_t *s);

#endif
