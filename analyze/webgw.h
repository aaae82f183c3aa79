/* webgw — the dashboard's HTTP side: serves the embedded page and pushes the
 * newest analysis state to every browser over Server-Sent Events.
 *
 * The gateway holds one JSON document (the whole state the page renders);
 * webgw_publish() replaces it.  Each SSE client gets at most `max_rate_hz`
 * updates per second and always the newest state: intermediate states are
 * skipped, never queued, so a slow browser cannot make memory grow or slow the
 * publisher.  Threads: libmicrohttpd runs a thread per connection; publish is
 * safe from any thread. */
#ifndef WEBGW_H
#define WEBGW_H

#include "sd_err.h"

#include <stddef.h>

typedef struct webgw webgw_t;

typedef struct webgw_opts {
    const char *host;     /* listen address, e.g. "127.0.0.1" */
    int port;             /* 0 = any free port (see webgw_port) */
    double max_rate_hz;   /* per-client update cap (default 10) */
    int max_clients;      /* concurrent connections (default 64) */
} webgw_opts_t;

/* Starts listening; NULL with *e filled when the address is bad or taken. */
webgw_t *webgw_new(const webgw_opts_t *o, sd_err_t *e);
/* Stops the server and closes every connection. */
void webgw_destroy(webgw_t **p);

/* Replaces the state with a copy of json[0..len). */
int webgw_publish(webgw_t *g, const char *json, size_t len, sd_err_t *e);

/* Parts: named top-level members that change at their own pace (the frame
 * thumbnail, the 3D model) so a client is sent them only when they change,
 * not with every statistics update.  Sets part `name` ([a-z0-9_], at most
 * WEBGW_PART_NAME_MAX chars) to a copy of the JSON value json[0..len).  An
 * SSE update carries the base state (if newer) and each newer part as
 * `{"name": value}`, all in one burst under the same rate cap; /state
 * returns the base object with every part merged in as a member. */
#define WEBGW_MAX_PARTS 8
#define WEBGW_PART_NAME_MAX 23
int webgw_publish_part(webgw_t *g, const char *name, const char *json, size_t len, sd_err_t *e);

/* The bound TCP port. */
int webgw_port(const webgw_t *g);

/* Writes a self-contained HTML report: the page, its script and style
 * inlined, and `json` embedded as the initial state (no server needed). */
int webgw_write_report(const char *path, const char *json, size_t len, sd_err_t *e);

#endif
