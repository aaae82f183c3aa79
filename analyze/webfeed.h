/* webfeed — what the dashboard needs beyond the stats messages, read from a
 * session directory (DATA_DIR of the pipeline, on the gateway's machine):
 *
 *   part "model"  ← DATA_DIR/analyze/state.json .model (latest MD snapshot,
 *                   atoms [x, y, z, environment]; analyze rewrites it each second)
 *   part "lens"   ← state.json .stats.lens (class fractions over time, KDE)
 *   part "frame"  ← DATA_DIR/recon/latest.json (recon_latest.h: thumbnail and
 *                   counted columns of the newest frame)
 *   part "health" ← DATA_DIR/recording.sdrec (read-only, incrementally):
 *                   frames_received, gaps (frame indices missing within a
 *                   series), frames_dropped (at the console, from series_end)
 *
 * A file is re-read only when its size or mtime changed, and published only
 * when it parses (a half-written file never reaches a browser; state.json and
 * latest.json are written atomically anyway). */
#ifndef WEBFEED_H
#define WEBFEED_H

#include "sd_err.h"
#include "webgw.h"

#include <stddef.h>
#include <stdint.h>

typedef struct webfeed webfeed_t;

/* dir: the session directory (borrowed string copied).  The files need not
 * exist yet.  NULL only on allocation failure. */
webfeed_t *webfeed_new(const char *dir, sd_err_t *e);
void webfeed_destroy(webfeed_t **p);

/* Checks the files and publishes changed parts to g; returns the number of
 * parts published (>= 0).  Unreadable or malformed files are skipped (the
 * newest good version stays on the page); *e says why when that happened. */
int webfeed_poll(webfeed_t *f, webgw_t *g, sd_err_t *e);

/* The statistics part of state.json (.stats, raw JSON) once it was read;
 * NULL before.  Borrowed until the next poll.  *version counts its changes.
 * The gateway shows it until the live statistics arrive (a finished session,
 * analyze not running). */
const char *webfeed_stats(const webfeed_t *f, size_t *len, uint64_t *version);
/* stats.dt_ns of the newest state.json (the transition lag, ns); 0 before. */
double webfeed_dt_ns(const webfeed_t *f);

/* The report document of a session: DATA_DIR/analyze/state.json (or
 * DIR/state.json, the layout of `stemdyn offline -o DIR`) with "frame" and
 * "health" added when available.  *json malloc'd, NUL-terminated. */
int webfeed_session_json(const char *dir, char **json, size_t *len, sd_err_t *e);

#endif
