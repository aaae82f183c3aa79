/* runstats — the live analysis state of a session: for every MD run, each
 * snapshot is classified against the environment dictionary, LENS is updated,
 * and transition counts, populations and LENS class fractions accumulate;
 * the runs merge by adding counts.  Pure computation: the analyze process owns
 * the sockets and feeds snapshots in.
 *
 * Snapshots of a run are identified by their index k = round((t - t_first)/δt)
 * and must be analysed in order (a transition pairs frame k-1 with frame k):
 * out-of-order snapshots wait in a bounded reorder buffer, and a snapshot
 * whose index was already analysed is ignored.  Together with bitwise
 * reproducible MD this makes the state independent of resends, worker
 * restarts and duplicates ("no duplicate counted"). */
#ifndef RUNSTATS_H
#define RUNSTATS_H

#include "analyze.h"
#include "sd_msg.h"

#include <stddef.h>
#include <stdint.h>

#define RUNSTATS_MAX_RUNS 4096
#define RUNSTATS_REORDER 64 /* snapshots buffered per run while one is missing */

typedef struct runstats runstats_t;

typedef struct runstats_opts {
    double dt_ns;          /* snapshot interval = transition lag δt (> 0) */
    double t_first_ns;     /* simulated time of a run's first analysed snapshot */
    double lens_rcut_A;    /* LENS cut-off (> 0) */
    double mask_z_below_A; /* exclude atoms with z below this in a run's first frame; NaN = off */
    int lens_window;       /* frames of LENS pooled for the class fractions (default 20) */
} runstats_opts_t;

/* d (borrowed, must outlive the state) gives the groups and SOAP parameters.
 * NULL with *e on bad options. */
runstats_t *runstats_new(const dict_t *d, const runstats_opts_t *o, sd_err_t *e);
void runstats_destroy(runstats_t **p);

/* Feeds one snapshot of run `run_id` (>= 0) at simulated time t_ns with n
 * atoms pos [n][3] (borrowed).  target_ns and ns_per_day update the run's
 * progress.  Returns the number of frames analysed by this call (0 when the
 * snapshot was buffered, ignored as a duplicate or before t_first_ns; more
 * than 1 when it released buffered ones), < 0 on error (atom count differs
 * from the run's first frame, non-finite coordinates, reorder buffer full …). */
int runstats_push(runstats_t *s, int64_t run_id, double t_ns, double target_ns,
                  double ns_per_day, int64_t n, const double *pos, sd_err_t *e);

/* Number of runs seen; ids [max] gets their run ids in first-seen order. */
int runstats_runs(const runstats_t *s, int64_t *ids, int max);

/* Total frames analysed over all runs (for progress/sequence decisions). */
int64_t runstats_frames_total(const runstats_t *s);

/* Fills *out (type SD_MSG_STATS) for one run, or for the merge over runs when
 * run_id == -1.  Arrays point into *s and stay valid until the next push;
 * seq and is_delta are left for the publisher to set. */
int runstats_message(runstats_t *s, int64_t run_id, sd_msg_t *out, sd_err_t *e);

/* The paper's average of the runs' row-normalised matrices, p [k][k]. */
void runstats_mean_p(const runstats_t *s, double *p);

/* The whole state as the JSON document the web page renders (see README
 * "Web dashboard").  *json is malloc'd, NUL-terminated; caller frees. */
int runstats_json(const runstats_t *s, const char *session, char **json, size_t *len,
                  sd_err_t *e);

#endif
