/* supervisor — starts the stage processes of one machine, restarts a crashed
 * one (with back-off), and stops them all gracefully on SIGINT/SIGTERM.
 *
 * The supervisor owns its children: each is a fork/exec of an argv the caller
 * describes.  Graceful stop sends SIGTERM in the reverse start order (so the
 * acquisition-facing ingest flushes first and the analysis last), waits up to
 * the grace period, then SIGKILLs what is left. */
#ifndef SUPERVISOR_H
#define SUPERVISOR_H

#include "sd_err.h"

#define SUPERVISOR_MAX_CHILDREN 80
#define SUPERVISOR_MAX_ARGS 16

typedef struct supervisor supervisor_t;

typedef struct supervisor_opts {
    double grace_s;        /* time children get to exit after SIGTERM */
    double backoff_min_s;  /* first restart delay; doubles up to backoff_max_s */
    double backoff_max_s;
    double stable_s;       /* a child alive this long resets its back-off */
} supervisor_opts_t;

/* NULL on allocation failure.  opts may be NULL (defaults: 10 s grace,
 * 0.5 s → 30 s back-off, 60 s stable). */
supervisor_t *supervisor_new(const supervisor_opts_t *opts);
void supervisor_destroy(supervisor_t **p);

/* Adds a child: `name` for logs, argv NULL-terminated (copied).  Children
 * start in the order added. */
int supervisor_add(supervisor_t *s, const char *name, char *const argv[], sd_err_t *e);

/* Starts every child and supervises until SIGINT/SIGTERM (or until
 * `max_seconds` > 0 elapses, for tests).  Blocks those signals in the calling
 * thread.  Returns SD_OK after a graceful stop. */
int supervisor_run(supervisor_t *s, double max_seconds, sd_err_t *e);

/* Restarts performed so far for child i (for tests and the summary). */
int supervisor_restarts(const supervisor_t *s, int i);

#endif
