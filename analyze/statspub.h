/* statspub — publishes the analysis statistics (the zguide "Clone" pattern)
 * and statsclient, its subscriber side.
 *
 * Publisher: every update goes out on PUB as `stats` messages with a global
 * sequence number, counts as increments (is_delta = 1) and everything else as
 * current values, one message per changed run plus the merge (run_id -1).  A
 * ROUTER answers a snapshot request (a `heartbeat` with role "monitor", state
 * "snapshot") with the full state of every run and the merge (is_delta = 0,
 * seq = the last published) followed by a `heartbeat` with state
 * "snapshot-end" whose load is that sequence number.  An optional PUSH
 * forwards the full (non-delta) stats to the console's return endpoint; it
 * never blocks (a console that does not read loses updates, not the pipeline).
 *
 * Client: subscribes first, then asks for the snapshot, drops PUB messages it
 * already has (seq <= snapshot), applies the rest, and asks for a new
 * snapshot when it sees a sequence gap (a slow subscriber whose PUB queue
 * overflowed).  So a late or lagging monitor always converges to the
 * publisher's state. */
#ifndef STATSPUB_H
#define STATSPUB_H

#include "sd_err.h"
#include "sd_msg.h"
#include "sd_secure.h"

#include <stdint.h>

#define STATS_MAX_RUNS 4096

typedef struct statspub statspub_t;

/* Binds PUB at pub_ep and ROUTER at snap_ep; connects PUSH to console_ep
 * unless NULL/empty.  zctx-free: uses the given libzmq context. */
statspub_t *statspub_new(void *zmq_ctx, const char *pub_ep, const char *snap_ep,
                         const char *console_ep, sd_err_t *e);
/* The same with the PUB and the ROUTER made CURVE servers by sec (NULL: no
 * security; sec belongs to zmq_ctx and must outlive the publisher).  The PUSH
 * to the console stays plain: the console's return endpoint has no keys. */
statspub_t *statspub_new_secure(void *zmq_ctx, sd_secure_t *sec, const char *pub_ep,
                                const char *snap_ep, const char *console_ep, sd_err_t *e);
void statspub_destroy(statspub_t **p);

/* Publishes the current full state of run messages msgs[0..n) (each a stats
 * message with is_delta = 0 and cumulative counts; the merged one has run_id
 * -1): the publisher turns counts into increments against what it sent
 * before, stamps sequence numbers, sends on PUB and PUSH, and keeps a copy for
 * snapshots.  Returns the last sequence number used (> 0) or < 0. */
int64_t statspub_update(statspub_t *p, const sd_msg_t *msgs, int n, sd_err_t *e);

/* Answers pending snapshot requests (call when the ROUTER is readable, or
 * periodically); never blocks. */
int statspub_serve(statspub_t *p, sd_err_t *e);

/* Publishes a heartbeat carrying the last sequence number on PUB (call about
 * once a second): a subscriber whose queue dropped the latest updates learns
 * it is behind even when no further update comes. */
int statspub_heartbeat(statspub_t *p, sd_err_t *e);

/* The ROUTER socket (for a poller) and the last sequence number. */
void *statspub_router(statspub_t *p);
uint64_t statspub_seq(const statspub_t *p);

/* ---- client ---- */

/* One run's statistics as the client holds them (owned copies). */
typedef struct stats_run {
    int64_t run_id;
    int32_t k;
    char labels[SD_STATS_MAX_K][SD_MSG_NAME_MAX + 1];
    int64_t frames;
    int64_t counts[SD_STATS_MAX_K * SD_STATS_MAX_K];
    int64_t populations[SD_STATS_MAX_K];
    double pop_mean[SD_STATS_MAX_K], pop_std[SD_STATS_MAX_K];
    int has_lens;
    double lens_fractions[3];
    double sim_ns, target_ns, ns_per_day;
    int n_latency;
    sd_msg_latency_t latency[SD_STATS_MAX_LATENCY];
} stats_run_t;

typedef struct statsclient statsclient_t;

/* Connects SUB to pub_ep and DEALER to snap_ep and requests the snapshot. */
statsclient_t *statsclient_new(void *zmq_ctx, const char *pub_ep, const char *snap_ep,
                               sd_err_t *e);
/* The same as a CURVE client with sec's client_cert and server_public (none
 * set: plain, as statsclient_new). */
statsclient_t *statsclient_new_secure(void *zmq_ctx, const sd_config_security_t *sec,
                                      const char *pub_ep, const char *snap_ep, sd_err_t *e);
void statsclient_destroy(statsclient_t **c);

/* Processes what has arrived, waiting up to timeout_ms for the first message
 * (0: do not wait).  Returns the number of stats messages applied (0 when
 * nothing changed), < 0 on error.  Malformed messages are counted and
 * skipped, never applied. */
int statsclient_poll(statsclient_t *c, int timeout_ms, sd_err_t *e);

/* 1 once the snapshot has been received. */
int statsclient_synced(const statsclient_t *c);
uint64_t statsclient_seq(const statsclient_t *c);
/* Runs known (the merge, run_id -1, included when published); borrowed,
 * valid until the next poll. */
int statsclient_runs(const statsclient_t *c, const stats_run_t **runs);
/* The run with this id, or NULL. */
const stats_run_t *statsclient_run(const statsclient_t *c, int64_t run_id);
/* Counters for tests and the UI: snapshots requested, messages rejected. */
int64_t statsclient_resyncs(const statsclient_t *c);
int64_t statsclient_rejected(const statsclient_t *c);

#endif
