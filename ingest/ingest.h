/* ingest — public API of the ingest stage (the only header other stages and the
 * stemdyn binary include).  See README.md and ../shared/DESIGN.md.
 *
 * The stage has three objects:
 *   - the recorder: appends wire messages verbatim to a recording
 *     (proto/sd_recording.h) through io_uring (registered buffers, write +
 *     linked fdatasync) or, where io_uring is unavailable, a pwrite thread;
 *     bounded memory; never blocks its caller on the disk;
 *   - the receiver (`stemdyn ingest`): PULL from the console, validate,
 *     record, forward recorded messages to recon, detect gaps; (below)
 *   - the clients `stemdyn replay` and `stemdyn console`. */
#ifndef INGEST_H
#define INGEST_H

#include "sd_cli.h"
#include "sd_recording.h"

#include <stddef.h>
#include <stdint.h>

/* Subcommands this stage contributes to `stemdyn`, NULL-terminated. */
extern const sd_cli_cmd_t ingest_commands[];

/* ======================================================================
 * Recorder
 * ====================================================================== */

typedef struct ingest_recorder ingest_recorder_t;

enum ingest_backend {
    INGEST_BACKEND_AUTO = 0,   /* io_uring, else pwrite (logged) */
    INGEST_BACKEND_URING = 1,  /* io_uring only: open fails if unavailable */
    INGEST_BACKEND_PWRITE = 2, /* writer thread with pwrite + fdatasync */
};

/* Called (on the caller's thread, from append/poll) when recording fails or
 * recovers: code is an sd_status (SD_EIO disk error/full, SD_ENOMEM budget
 * or memory full, SD_OK recovered); msg says what, where and what was lost. */
typedef void (*ingest_alert_fn)(void *ud, int code, const char *msg);

typedef struct ingest_recorder_opts {
    int backend;               /* enum ingest_backend */
    uint32_t sync_every;       /* fdatasync after this many records (default 32) */
    double sync_interval_s;    /* … or this long after the first unsynced one (1.0) */
    size_t arena_bytes;        /* in-flight memory, also the largest record (64 MiB) */
    uint32_t max_inflight;     /* records written but not yet completed (256) */
    uint64_t max_bytes;        /* disk budget for the recording file, 0 = none */
    double retry_s;            /* after a write failure, pause this long (1.0) */
    uint64_t min_free_bytes;   /* alert when the filesystem has less free (256 MiB; 0 = off) */
    ingest_alert_fn alert;     /* may be NULL (failures are logged anyway) */
    void *alert_ud;
} ingest_recorder_opts_t;

void ingest_recorder_opts_default(ingest_recorder_opts_t *o);

/* Opens PATH for appending: creates it (header + PATH.idx) or, if it exists,
 * recovers it (sd_rec_recover: torn tail truncated) and appends after the
 * last valid record.  o may be NULL (defaults).  NULL + *e on failure. */
ingest_recorder_t *ingest_recorder_open(const char *path, const ingest_recorder_opts_t *o,
                                        sd_err_t *e);

/* Flushes (waits for every write and a final fdatasync), then closes. */
void ingest_recorder_destroy(ingest_recorder_t **r);

/* Queues one record (copied; the caller's buffers are free on return) and
 * returns at once.  *rec_no (may be NULL) = its record number in the file.
 * SD_EAGAIN: in-flight memory or slots full (disk slower than input);
 * SD_EIO: recording is failing or paused after a failure (disk full …);
 * SD_ENOMEM: disk budget exhausted;  SD_EINVAL: record too large.
 * On any failure the record is NOT recorded: the caller must count it. */
int ingest_recorder_append(ingest_recorder_t *r, int64_t t_ns, uint32_t kind, int64_t key,
                           uint32_t n_parts, const void *const *parts /* [n_parts] */,
                           const size_t *lens /* [n_parts] */, uint64_t *rec_no, sd_err_t *e);

/* Non-blocking housekeeping: reaps completions, issues the time-based
 * fdatasync, updates the index, handles failures (alerts).  Call often. */
int ingest_recorder_poll(ingest_recorder_t *r, sd_err_t *e);

/* Asks for an fdatasync of everything appended so far (series end); does
 * not wait.  Completion shows in stats.durable. */
void ingest_recorder_request_sync(ingest_recorder_t *r);

/* Blocks until every queued record is written and synced (or failed). */
int ingest_recorder_flush(ingest_recorder_t *r, sd_err_t *e);

typedef struct ingest_recorder_stats {
    int backend;              /* INGEST_BACKEND_URING or _PWRITE in use */
    int registered_buffers;   /* 1: io_uring fixed buffers in use */
    uint64_t appended;        /* records accepted by append (incl. lost later) */
    uint64_t written;         /* records 0..written-1 are in the file */
    uint64_t durable;         /* records 0..durable-1 are fdatasync'ed */
    uint64_t lost;            /* accepted, then lost to a write failure */
    uint64_t refused;         /* append calls that returned an error */
    uint64_t syncs;           /* completed fdatasyncs */
    uint64_t bytes;           /* file size implied by written records */
    size_t inflight_bytes;    /* arena bytes in use now */
    int failing;              /* 1 while paused after a failure */
} ingest_recorder_stats_t;

void ingest_recorder_stats(const ingest_recorder_t *r, ingest_recorder_stats_t *s);

/* Reads written record rec_no (< stats.written) back from the file and
 * verifies its CRC; out's parts stay valid until the next read on r. */
int ingest_recorder_read(ingest_recorder_t *r, uint64_t rec_no, sd_rec_record_t *out,
                         sd_err_t *e);

/* ======================================================================
 * Receiver (`stemdyn ingest`)
 *
 * PULL binds `bind` (the console PUSHes series_start, frame…, series_end).
 * Every message is validated (sd_msg_decode, frame CRC32C, geometry against
 * its series_start); an accepted one is appended verbatim to the recording;
 * recorded messages are forwarded, in recording order, to recon over a PUSH
 * socket that binds `recon`.  When recon lags, nothing is dropped: the
 * forward cursor simply trails and frames wait on disk (PATH.cursor keeps it
 * across restarts).  A rejected message (malformed, foreign series, wrong
 * type) is counted and answered with an `error` message PUSHed to the
 * console's return endpoint `reply_to` (the console binds PULL there; see
 * sd_config console_return), and the series goes on.  Sends never wait.
 * ====================================================================== */

typedef struct ingest_receiver ingest_receiver_t;

typedef struct ingest_receiver_opts {
    char bind[256];          /* console_in: the PULL socket binds here */
    char recon[256];         /* recon_in, PUSH binds; "" = no forwarding */
    char reply_to[256];      /* console_return, PUSH connects; "" = no replies */
    char recording[1024];    /* recording path (required) */
    ingest_recorder_opts_t rec;
    int hwm;                 /* ZeroMQ high-water marks, messages (64) */
    double idle_timeout_s;   /* an active series silent this long is closed (30) */
    size_t max_message_bytes;/* larger messages are rejected (recorder arena − 4 KiB) */
    char origin[64];         /* sender id in error replies ("ingest") */
    /* CURVE (tcp only): server secret cert and the directory of allowed
     * client public certs (zcert files); both "" = no security. */
    char server_cert[256];
    char client_certs[256];
} ingest_receiver_opts_t;

void ingest_receiver_opts_default(ingest_receiver_opts_t *o);

typedef struct ingest_receiver_stats {
    uint64_t received;        /* messages read from the socket */
    uint64_t accepted;        /* passed validation */
    uint64_t malformed;       /* failed decoding / validation / geometry */
    uint64_t foreign;         /* frame or series_end of a series that is not active */
    uint64_t unexpected;      /* valid message of a type the console does not send */
    uint64_t recorded;        /* accepted and queued to the recording */
    uint64_t unrecorded;      /* accepted but the recorder refused (disk full …) */
    uint64_t forwarded;       /* sent to recon */
    uint64_t seq_missing;     /* seq numbers skipped (messages lost upstream) */
    uint64_t seq_backwards;   /* seq not increasing (duplicate / reordered / restart) */
    uint64_t frames_missing;  /* frame indices skipped */
    uint64_t frames_repeated; /* frame index not above the previous */
    uint64_t series_started, series_ended, series_timed_out, series_unterminated;
    uint64_t ends_synthesized; /* series_end written by ingest for those without one */
    uint64_t errors_sent, errors_unsent;
    uint64_t auth_failures;   /* CURVE handshakes refused */
    int series_active;
    char series_id[129];
    ingest_recorder_stats_t rec;
} ingest_receiver_stats_t;

/* Binds/connects everything and opens (or recovers) the recording. */
ingest_receiver_t *ingest_receiver_new(const ingest_receiver_opts_t *o, sd_err_t *e);
/* Flushes the recording, saves the cursor, closes the sockets. */
void ingest_receiver_destroy(ingest_receiver_t **r);

/* One turn of the service loop: waits up to timeout_ms for input, drains
 * what is there, forwards what recon can take, does timed housekeeping
 * (idle timeout, syncs, cursor).  SD_OK, or an error that stops the service
 * (socket failure); rejected messages are not errors. */
int ingest_receiver_step(ingest_receiver_t *r, int timeout_ms, sd_err_t *e);

void ingest_receiver_stats(const ingest_receiver_t *r, ingest_receiver_stats_t *s);

/* Waits until everything recorded so far is written and fdatasync'ed,
 * forwards what recon takes now, saves the cursor (before a final stats). */
int ingest_receiver_flush(ingest_receiver_t *r, sd_err_t *e);

/* Makes a czmq socket (zsock_t *) a CURVE client: its own certificate
 * (zcert file pair, client_cert + client_cert_secret) and the server's public
 * certificate.  Both NULL/"" = no security (SD_OK); one alone = SD_EINVAL. */
int ingest_curve_client(void *sock, const char *client_cert, const char *server_public,
                        sd_err_t *e);

/* ======================================================================
 * Reference console (`stemdyn console`, and `stemdyn replay IMAGE_DIR`)
 * ====================================================================== */

typedef struct ingest_console_opts {
    const char *to;            /* ingest's PULL endpoint (connect) */
    const char *return_ep;     /* bind a PULL here and print what arrives; NULL = none */
    const char *series_id;     /* 1..128 of [A-Za-z0-9._-] */
    const char *images_dir;    /* NULL: synthetic frames */
    int64_t n_synthetic, width, height;
    double dx_A;               /* pixel size when the images do not give one */
    uint64_t seed;
    double interval_s;         /* between frames; 0 = as fast as possible */
    double wait_s;             /* listen this long after series_end */
    double linger_s;           /* deliver queued messages at most this long at exit */
    const char *client_cert, *server_public; /* CURVE, both or neither */
    int quiet;
} ingest_console_opts_t;

typedef struct ingest_console_result {
    int64_t frames_sent, frames_dropped, stats_seen, errors_seen;
} ingest_console_result_t;

void ingest_console_opts_default(ingest_console_opts_t *o);

/* Streams one series (series_start, frames, series_end) as f32 frames.
 * Frames that cannot be queued at once are dropped and counted, never
 * waited for.  res (may be NULL) is filled even on failure. */
int ingest_console_stream(const ingest_console_opts_t *o, ingest_console_result_t *res,
                          sd_err_t *e);

/* 1 when id is a valid series identifier. */
int ingest_series_id_ok(const char *id);

/* `stemdyn console` (ingest_console.c), run() of its command-table entry. */
int ingest_console_main(int argc, char **argv);

#endif
