/* ingest_receiver — the `stemdyn ingest` service object (see ingest.h).
 *
 * One thread, one loop: poll the console PULL socket; drain everything that is
 * there (validate → record → account), then forward recorded messages to recon
 * while its PUSH socket takes them without waiting, then housekeeping.  The
 * console is never slowed: the loop never blocks on recon (DONTWAIT sends, the
 * recording absorbs the lag) nor on the disk (the recorder is asynchronous and
 * bounded; what it refuses is counted and alerted, never silently lost). */
#include "ingest.h"

#include "sd_clock.h"
#include "sd_log.h"
#include "sd_msg.h"
#include "sd_wire.h"

#include <czmq.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DRAIN_MAX = 256, FORWARD_MAX = 256 };

struct ingest_receiver {
    ingest_receiver_opts_t o;
    zsock_t *pull, *push, *reply, *mon;
    zactor_t *auth;
    ingest_recorder_t *rec;
    ingest_receiver_stats_t st;
    sd_wire_limits_t lim;

    /* the active series */
    int active;
    char series_id[SD_MSG_ID_MAX + 1];
    int32_t width, height;
    sd_dtype_t dtype;
    int have_seq;
    uint64_t last_seq;
    int64_t next_frame;
    uint64_t frames_in_series;
    int64_t last_msg_ns;

    uint64_t cursor;          /* next record to forward */
    uint64_t cursor_saved;
    int64_t cursor_saved_ns;
    int64_t last_refusal_log_ns;
    uint64_t refusals_since_log;

    /* An accepted message the recorder had no memory for yet (disk slower
     * than the input, for a moment): kept here, and the console socket is
     * not read until it is recorded, so a burst waits in ZeroMQ's bounded
     * queue instead of being lost. */
    int pending;
    sd_parts_t pending_parts;
    uint32_t pending_kind;
    int64_t pending_key;
    char pending_sid[SD_MSG_ID_MAX + 1];
    int64_t pending_since_ns, pending_warned_ns;
};

void ingest_receiver_opts_default(ingest_receiver_opts_t *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->bind, sizeof o->bind, "tcp://*:5555");
    snprintf(o->recon, sizeof o->recon, "tcp://127.0.0.1:5557");
    snprintf(o->reply_to, sizeof o->reply_to, "tcp://127.0.0.1:5556");
    snprintf(o->recording, sizeof o->recording, "stemdyn-data/recording.sdrec");
    snprintf(o->origin, sizeof o->origin, "ingest");
    ingest_recorder_opts_default(&o->rec);
    o->hwm = 64;
    o->idle_timeout_s = 30.0;
    o->max_message_bytes = 0;
}

/* ---- error replies --------------------------------------------------------- */

static void reply_error(ingest_receiver_t *r, int code, const char *series_id,
                        int64_t frame_index, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void reply_error(ingest_receiver_t *r, int code, const char *series_id,
                        int64_t frame_index, const char *fmt, ...)
{
    sd_msg_t m;
    sd_msg_init(&m, SD_MSG_ERROR);
    sd_msg_error_t *x = &m.u.error;
    x->code = code;
    snprintf(x->origin, sizeof x->origin, "%s", r->o.origin);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->message, sizeof x->message, fmt, ap);
    va_end(ap);
    snprintf(x->series_id, sizeof x->series_id, "%s", series_id ? series_id : "");
    x->frame_index = frame_index;
    sd_log(SD_LOG_WARN, "ingest", "%s", x->message);
    if (!r->reply) {
        r->st.errors_unsent++;
        return;
    }
    sd_err_t e;
    /* DONTWAIT: a console that does not read its return channel must not
     * stall acquisition; the reply is counted as unsent instead. */
    if (sd_wire_send_msg(r->reply, &m, SD_WIRE_DONTWAIT, &e) == SD_OK) r->st.errors_sent++;
    else r->st.errors_unsent++;
}

/* The recorder's alerts (write failures, disk full, budget, recovery) go to
 * the console as well as to the log: the operator must hear of lost data. */
static void on_recorder_alert(void *ud, int code, const char *msg)
{
    ingest_receiver_t *r = ud;
    if (r->o.rec.alert != on_recorder_alert || !r->reply) return;
    sd_msg_t m;
    sd_msg_init(&m, SD_MSG_ERROR);
    m.u.error.code = code == SD_OK ? 0 : code;
    snprintf(m.u.error.origin, sizeof m.u.error.origin, "%s", r->o.origin);
    snprintf(m.u.error.message, sizeof m.u.error.message, "%s", msg);
    snprintf(m.u.error.series_id, sizeof m.u.error.series_id, "%s", r->active ? r->series_id : "");
    m.u.error.frame_index = -1;
    if (sd_wire_send_msg(r->reply, &m, SD_WIRE_DONTWAIT, NULL) == SD_OK) r->st.errors_sent++;
    else r->st.errors_unsent++;
}

/* ---- series bookkeeping ------------------------------------------------------ */

/* A series closed without its series_end (idle timeout, superseded): ingest
 * records and forwards one in its place, so recon and replay see the series
 * end; it is marked SD_REC_KIND_SYNTH in the recording and says why. */
static void synthesize_end(ingest_receiver_t *r, const char *why)
{
    sd_msg_t m;
    sd_msg_init(&m, SD_MSG_SERIES_END);
    snprintf(m.u.series_end.series_id, sizeof m.u.series_end.series_id, "%s", r->series_id);
    m.u.series_end.frames_sent = r->frames_in_series;
    snprintf(m.u.series_end.reason, sizeof m.u.series_end.reason,
             "written by ingest: %s; the console sent no series_end", why);
    sd_parts_t p;
    sd_err_t e;
    if (sd_msg_encode(&m, &p, &e) != SD_OK) {
        sd_log(SD_LOG_ERROR, "ingest", "series_end for %s: %s", r->series_id, e.msg);
        return;
    }
    const void *parts[SD_MSG_MAX_PARTS];
    size_t lens[SD_MSG_MAX_PARTS];
    for (int i = 0; i < p.n; i++) {
        parts[i] = p.data[i];
        lens[i] = p.len[i];
    }
    if (ingest_recorder_append(r->rec, sd_clock_wall_ns(),
                               SD_REC_KIND_SERIES_END | SD_REC_KIND_SYNTH, -1, (uint32_t)p.n,
                               parts, lens, NULL, &e) == SD_OK)
        r->st.ends_synthesized++;
    else
        sd_log(SD_LOG_ERROR, "ingest", "series_end for %s not recorded: %s", r->series_id,
               e.msg);
    sd_parts_free(&p);
}

static void close_series(ingest_receiver_t *r, const char *why)
{
    if (!r->active) return;
    if (strcmp(why, "series_end") != 0) synthesize_end(r, why);
    if (r->refusals_since_log) { /* the last ones of the series are reported too */
        reply_error(r, SD_EIO, r->series_id, -1,
                    "NOT RECORDED: %llu more message(s) of series %s could not be recorded "
                    "(%llu in all)", (unsigned long long)r->refusals_since_log, r->series_id,
                    (unsigned long long)r->st.unrecorded);
        r->refusals_since_log = 0;
        r->last_refusal_log_ns = sd_clock_mono_ns();
    }
    sd_log(SD_LOG_INFO, "ingest", "series %s closed (%s) after %llu frame(s)", r->series_id, why,
           (unsigned long long)r->frames_in_series);
    r->active = 0;
    r->st.series_active = 0;
    ingest_recorder_request_sync(r->rec);
}

static int append_parts(ingest_receiver_t *r, const sd_parts_t *p, uint32_t kind, int64_t key,
                        sd_err_t *e)
{
    const void *parts[SD_MSG_MAX_PARTS];
    size_t lens[SD_MSG_MAX_PARTS];
    for (int i = 0; i < p->n; i++) {
        parts[i] = p->data[i];
        lens[i] = p->len[i];
    }
    int rc = ingest_recorder_append(r->rec, sd_clock_wall_ns(), kind, key, (uint32_t)p->n, parts,
                                    lens, NULL, e);
    if (rc == SD_OK && (kind & 0xff) == SD_REC_KIND_SERIES_END)
        ingest_recorder_request_sync(r->rec);
    return rc;
}

static void count_refusal(ingest_receiver_t *r, int rc, const char *series_id, int64_t key,
                          const sd_err_t *e)
{
    /* Never silent: every refusal is counted; the log and the console hear
     * about it at most once a second (with the count since the last time). */
    r->st.unrecorded++;
    r->refusals_since_log++;
    int64_t now = sd_clock_mono_ns();
    if (now - r->last_refusal_log_ns >= 1000000000) {
        reply_error(r, rc, series_id, key,
                    "NOT RECORDED: %llu message(s) in the last second could not be "
                    "recorded (%llu in all): %s", (unsigned long long)r->refusals_since_log,
                    (unsigned long long)r->st.unrecorded, e->msg);
        r->last_refusal_log_ns = now;
        r->refusals_since_log = 0;
    }
}

/* Records an accepted message; on a momentary lack of memory it takes the
 * parts over (*p is left empty) and holds them as the pending message. */
static void record(ingest_receiver_t *r, sd_parts_t *p, uint32_t kind, int64_t key,
                   const char *series_id)
{
    sd_err_t e;
    int rc = append_parts(r, p, kind, key, &e);
    if (rc == SD_OK) {
        r->st.recorded++;
        return;
    }
    if (rc == SD_EAGAIN && !r->pending) {
        r->pending = 1;
        r->pending_parts = *p;
        memset(p, 0, sizeof *p);
        r->pending_kind = kind;
        r->pending_key = key;
        snprintf(r->pending_sid, sizeof r->pending_sid, "%s", series_id ? series_id : "");
        r->pending_since_ns = r->pending_warned_ns = sd_clock_mono_ns();
        return;
    }
    count_refusal(r, rc, series_id, key, &e);
}

/* Retries the pending message; 1 when the console socket may be read again. */
static int retry_pending(ingest_receiver_t *r)
{
    if (!r->pending) return 1;
    sd_err_t e;
    int rc = append_parts(r, &r->pending_parts, r->pending_kind, r->pending_key, &e);
    if (rc == SD_EAGAIN) {
        int64_t now = sd_clock_mono_ns();
        if (now - r->pending_warned_ns >= 1000000000) {
            sd_log(SD_LOG_WARN, "ingest", "recording has been %.1f s behind the input (the "
                   "disk is slower): messages wait in the socket queue",
                   (double)(now - r->pending_since_ns) * 1e-9);
            r->pending_warned_ns = now;
        }
        return 0;
    }
    if (rc == SD_OK) r->st.recorded++;
    else count_refusal(r, rc, r->pending_sid, r->pending_key, &e);
    sd_parts_free(&r->pending_parts);
    r->pending = 0;
    return 1;
}

static void on_series_start(ingest_receiver_t *r, sd_parts_t *p,
                            const sd_msg_series_start_t *s)
{
    if (r->active) {
        r->st.series_unterminated++;
        reply_error(r, SD_ESTATE, r->series_id, -1,
                    "series %s had no series_end before series %s started (%llu frame(s))",
                    r->series_id, s->series_id, (unsigned long long)r->frames_in_series);
        close_series(r, "superseded");
    }
    r->active = 1;
    snprintf(r->series_id, sizeof r->series_id, "%s", s->series_id);
    r->width = s->width;
    r->height = s->height;
    r->dtype = s->dtype;
    r->have_seq = 0;
    r->next_frame = 0;
    r->frames_in_series = 0;
    r->st.series_started++;
    r->st.series_active = 1;
    snprintf(r->st.series_id, sizeof r->st.series_id, "%s", s->series_id);
    sd_log(SD_LOG_INFO, "ingest", "series %s started: %dx%d %s", s->series_id, s->width,
           s->height, sd_dtype_name(s->dtype));
    r->st.accepted++;
    record(r, p, SD_REC_KIND_SERIES_START, -1, s->series_id);
}

static void on_frame(ingest_receiver_t *r, sd_parts_t *p, const sd_msg_frame_t *f)
{
    if (!r->active || strcmp(f->series_id, r->series_id) != 0) {
        r->st.foreign++;
        reply_error(r, SD_ESTATE, f->series_id, f->frame_index,
                    "frame %lld of series %s rejected: %s%s", (long long)f->frame_index,
                    f->series_id, r->active ? "the active series is " : "no series is active",
                    r->active ? r->series_id : " (series_start missing or timed out)");
        return;
    }
    if (f->width != r->width || f->height != r->height || f->dtype != r->dtype) {
        r->st.malformed++;
        reply_error(r, SD_EFORMAT, f->series_id, f->frame_index,
                    "frame %lld of series %s rejected: %dx%d %s, but series_start said %dx%d %s",
                    (long long)f->frame_index, f->series_id, f->width, f->height,
                    sd_dtype_name(f->dtype), r->width, r->height, sd_dtype_name(r->dtype));
        return;
    }
    /* Gaps are detected and reported, the frame is still accepted: the
     * acquisition decides what a series is, not us. */
    if (r->have_seq && f->seq != r->last_seq + 1) {
        if (f->seq > r->last_seq) {
            r->st.seq_missing += f->seq - r->last_seq - 1;
            sd_log(SD_LOG_WARN, "ingest", "series %s: seq jumped %llu -> %llu (%llu message(s) "
                   "lost upstream)", r->series_id, (unsigned long long)r->last_seq,
                   (unsigned long long)f->seq, (unsigned long long)(f->seq - r->last_seq - 1));
        } else {
            r->st.seq_backwards++;
            sd_log(SD_LOG_WARN, "ingest", "series %s: seq went back %llu -> %llu", r->series_id,
                   (unsigned long long)r->last_seq, (unsigned long long)f->seq);
        }
    }
    r->have_seq = 1;
    r->last_seq = f->seq;
    if (f->frame_index > r->next_frame) {
        r->st.frames_missing += (uint64_t)(f->frame_index - r->next_frame);
        sd_log(SD_LOG_WARN, "ingest", "series %s: frame(s) %lld..%lld missing", r->series_id,
               (long long)r->next_frame, (long long)f->frame_index - 1);
    } else if (f->frame_index < r->next_frame) {
        r->st.frames_repeated++;
        sd_log(SD_LOG_WARN, "ingest", "series %s: frame %lld after frame %lld", r->series_id,
               (long long)f->frame_index, (long long)r->next_frame - 1);
    }
    if (f->frame_index + 1 > r->next_frame) r->next_frame = f->frame_index + 1;
    r->frames_in_series++;
    r->st.accepted++;
    record(r, p, SD_REC_KIND_FRAME, f->frame_index, f->series_id);
}

static void on_series_end(ingest_receiver_t *r, sd_parts_t *p,
                          const sd_msg_series_end_t *s)
{
    if (!r->active || strcmp(s->series_id, r->series_id) != 0) {
        r->st.foreign++;
        reply_error(r, SD_ESTATE, s->series_id, -1, "series_end of series %s rejected: %s%s",
                    s->series_id, r->active ? "the active series is " : "no series is active",
                    r->active ? r->series_id : "");
        return;
    }
    r->st.accepted++;
    record(r, p, SD_REC_KIND_SERIES_END, -1, s->series_id);
    if (s->frames_sent != r->frames_in_series)
        sd_log(SD_LOG_WARN, "ingest", "series %s: console sent %llu frame(s) (%llu dropped at "
               "the console), %llu accepted here", s->series_id,
               (unsigned long long)s->frames_sent, (unsigned long long)s->frames_dropped,
               (unsigned long long)r->frames_in_series);
    r->st.series_ended++;
    close_series(r, "series_end");
}

static void handle(ingest_receiver_t *r, sd_parts_t *p)
{
    sd_msg_t m;
    sd_err_t e;
    r->last_msg_ns = sd_clock_mono_ns();
    int rc = sd_msg_decode(p, &m, SD_DECODE_BORROW, &e);
    if (rc != SD_OK) {
        r->st.malformed++;
        reply_error(r, rc, r->active ? r->series_id : "", -1, "message rejected: %s", e.msg);
        return;
    }
    switch (m.type) {
    case SD_MSG_SERIES_START: on_series_start(r, p, &m.u.series_start); break;
    case SD_MSG_FRAME: on_frame(r, p, &m.u.frame); break;
    case SD_MSG_SERIES_END: on_series_end(r, p, &m.u.series_end); break;
    default:
        r->st.unexpected++;
        reply_error(r, SD_EINVAL, "", -1, "message of type '%s' rejected: ingest takes "
                    "series_start, frame and series_end", sd_msg_type_name(m.type));
        break;
    }
    sd_msg_free(&m);
}

/* ---- forwarding (frames wait on disk) ---------------------------------------- */

static int forward(ingest_receiver_t *r)
{
    if (!r->push) return 0;
    ingest_recorder_stats_t rs;
    ingest_recorder_stats(r->rec, &rs);
    int n = 0;
    /* bounded work per turn so the console socket is drained again soon */
    int64_t until = sd_clock_mono_ns() + 5000000;
    while (r->cursor < rs.written && n < FORWARD_MAX && sd_clock_mono_ns() < until) {
        if (!(zsock_events(r->push) & ZMQ_POLLOUT)) break; /* recon is full: wait on disk */
        sd_rec_record_t rec;
        sd_err_t e;
        if (ingest_recorder_read(r->rec, r->cursor, &rec, &e) != SD_OK) {
            sd_log(SD_LOG_ERROR, "ingest", "forwarding: %s (record skipped)", e.msg);
            r->cursor++;
            continue;
        }
        sd_parts_t p = {0};
        p.n = (int)rec.n_parts;
        for (uint32_t i = 0; i < rec.n_parts && i < SD_MSG_MAX_PARTS; i++) {
            p.data[i] = rec.parts[i];
            p.len[i] = rec.lens[i];
        }
        if (sd_wire_send(r->push, &p, SD_WIRE_DONTWAIT, &e) != SD_OK) break;
        r->cursor++;
        r->st.forwarded++;
        n++;
    }
    return n;
}

static void save_cursor(ingest_receiver_t *r)
{
    if (r->cursor == r->cursor_saved) return;
    sd_err_t e;
    if (sd_rec_cursor_save(r->o.recording, r->cursor, &e) == SD_OK) r->cursor_saved = r->cursor;
    else sd_log(SD_LOG_WARN, "ingest", "%s", e.msg);
    r->cursor_saved_ns = sd_clock_mono_ns();
}

/* ---- CURVE ------------------------------------------------------------------ */

static int setup_curve(ingest_receiver_t *r, sd_err_t *e)
{
    if (!r->o.server_cert[0] && !r->o.client_certs[0]) return SD_OK;
    if (!r->o.server_cert[0] || !r->o.client_certs[0])
        return sd_err_set(e, SD_EINVAL, "CURVE needs both a server certificate and a client "
                          "certificate directory");
    if (!zsys_has_curve())
        return sd_err_set(e, SD_EINVAL, "this libzmq was built without CURVE support");
    zcert_t *cert = zcert_load(r->o.server_cert);
    if (!cert)
        return sd_err_set(e, SD_ENOTFOUND, "server certificate %s: cannot load (make one with "
                          "`stemdyn keygen`)", r->o.server_cert);
    if (!zsys_file_exists(r->o.client_certs)) {
        zcert_destroy(&cert);
        return sd_err_set(e, SD_ENOTFOUND, "client certificate directory %s does not exist",
                          r->o.client_certs);
    }
    r->auth = zactor_new(zauth, NULL);
    if (!r->auth) {
        zcert_destroy(&cert);
        return sd_err_set(e, SD_EIO, "cannot start the zauth authenticator");
    }
    zstr_sendx(r->auth, "CURVE", r->o.client_certs, NULL);
    zsock_wait(r->auth);
    zcert_apply(cert, r->pull);
    zcert_destroy(&cert);
    zsock_set_curve_server(r->pull, 1);
    zsock_set_zap_domain(r->pull, "stemdyn");
    /* Refused handshakes are logged and counted through a socket monitor. */
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://ingest-monitor-%p", (void *)r);
    if (zmq_socket_monitor(zsock_resolve(r->pull), ep,
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) == 0) {
        r->mon = zsock_new(ZMQ_PAIR);
        if (r->mon && zsock_connect(r->mon, "%s", ep) != 0) zsock_destroy(&r->mon);
    }
    sd_log(SD_LOG_INFO, "ingest", "CURVE on %s: clients must hold a certificate in %s",
           r->o.bind, r->o.client_certs);
    return SD_OK;
}

static void drain_monitor(ingest_receiver_t *r)
{
    if (!r->mon) return;
    while (zsock_events(r->mon) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv(r->mon);
        if (!msg) break;
        zframe_t *f = zmsg_first(msg);
        uint16_t ev = 0;
        int32_t val = 0;
        if (f && zframe_size(f) >= 6) {
            memcpy(&ev, zframe_data(f), 2);
            memcpy(&val, zframe_data(f) + 2, 4);
        }
        r->st.auth_failures++;
        const char *why = ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                              ? "its CURVE key is not among the allowed client certificates"
                          : val == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
                              ? "it offered no CURVE keys (security mechanism mismatch)"
                              : "the security handshake failed";
        sd_log(SD_LOG_WARN, "ingest", "refused a peer on %s: %s (event %u, code %d)", r->o.bind,
               why, (unsigned)ev, (int)val);
        zmsg_destroy(&msg);
    }
}

/* ---- life cycle ----------------------------------------------------------------- */

ingest_receiver_t *ingest_receiver_new(const ingest_receiver_opts_t *o, sd_err_t *e)
{
    ingest_receiver_t *r = calloc(1, sizeof *r);
    if (!r) {
        sd_err_set(e, SD_ENOMEM, "out of memory");
        return NULL;
    }
    r->o = *o;
    if (r->o.hwm < 1) r->o.hwm = 1;
    if (!r->o.origin[0]) snprintf(r->o.origin, sizeof r->o.origin, "ingest");
    size_t cap = r->o.rec.arena_bytes ? r->o.rec.arena_bytes : ((size_t)64 << 20);
    if (!r->o.max_message_bytes || r->o.max_message_bytes > cap - 4096)
        r->o.max_message_bytes = cap - 4096;
    r->lim.max_part_bytes = r->o.max_message_bytes;
    r->lim.max_total_bytes = r->o.max_message_bytes;
    r->lim.max_parts = SD_MSG_MAX_PARTS;
    zsys_init();
    zsys_set_logstream(NULL); /* keep czmq quiet on stdout */
    if (!r->o.rec.alert) { /* the caller's own alert callback wins */
        r->o.rec.alert = on_recorder_alert;
        r->o.rec.alert_ud = r;
    }

    r->rec = ingest_recorder_open(r->o.recording, &r->o.rec, e);
    if (!r->rec) goto fail;
    ingest_recorder_stats_t rs;
    ingest_recorder_stats(r->rec, &rs);
    sd_err_t ce;
    uint64_t cur = 0;
    int have_cursor = sd_rec_cursor_load(r->o.recording, &cur, &ce) == SD_OK;
    if (have_cursor && cur <= rs.written) {
        r->cursor = cur;
    } else {
        /* no (usable) cursor: a fresh recording starts at 0; an old one whose
         * cursor is lost is not re-sent wholesale (replay exists for that) */
        r->cursor = rs.written;
        if (rs.written)
            sd_log(SD_LOG_WARN, "ingest", "%s: no forwarding cursor; forwarding new records "
                   "only (%llu old ones: use `stemdyn replay`)", r->o.recording,
                   (unsigned long long)rs.written);
    }
    if (rs.written && r->cursor < rs.written)
        sd_log(SD_LOG_INFO, "ingest", "%s: %llu recorded message(s) still to forward to recon",
               r->o.recording, (unsigned long long)(rs.written - r->cursor));
    r->cursor_saved = have_cursor ? r->cursor : UINT64_MAX; /* write one soon */

    r->pull = zsock_new(ZMQ_PULL);
    if (!r->pull) {
        sd_err_set(e, SD_EIO, "cannot create the PULL socket");
        goto fail;
    }
    zsock_set_rcvhwm(r->pull, r->o.hwm);
    if (setup_curve(r, e)) goto fail;
    if (zsock_bind(r->pull, "%s", r->o.bind) < 0) {
        sd_err_set(e, SD_EIO, "cannot bind %s: %s", r->o.bind, zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (r->o.recon[0]) {
        r->push = zsock_new(ZMQ_PUSH);
        if (!r->push) goto sockfail;
        zsock_set_sndhwm(r->push, r->o.hwm);
        zsock_set_linger(r->push, 1000);
        if (r->auth) { /* with keys, recon must authenticate too (same zauth, same cert) */
            zcert_t *cert = zcert_load(r->o.server_cert);
            if (!cert) {
                sd_err_set(e, SD_ENOTFOUND, "server certificate %s: cannot load", r->o.server_cert);
                goto fail;
            }
            zcert_apply(cert, r->push);
            zcert_destroy(&cert);
            zsock_set_curve_server(r->push, 1);
            zsock_set_zap_domain(r->push, "stemdyn");
        }
        if (zsock_bind(r->push, "%s", r->o.recon) < 0) {
            sd_err_set(e, SD_EIO, "cannot bind %s (recon): %s", r->o.recon,
                       zmq_strerror(zmq_errno()));
            goto fail;
        }
    }
    if (r->o.reply_to[0]) {
        r->reply = zsock_new(ZMQ_PUSH);
        if (!r->reply) goto sockfail;
        zsock_set_sndhwm(r->reply, 100);
        zsock_set_linger(r->reply, 500);
        if (zsock_connect(r->reply, "%s", r->o.reply_to) < 0) {
            sd_err_set(e, SD_EINVAL, "cannot connect to the console return endpoint %s: %s",
                       r->o.reply_to, zmq_strerror(zmq_errno()));
            goto fail;
        }
    }
    r->last_msg_ns = sd_clock_mono_ns();
    sd_log(SD_LOG_INFO, "ingest", "listening on %s, recording to %s (%s), forwarding to %s",
           r->o.bind, r->o.recording, rs.backend == INGEST_BACKEND_URING ? "io_uring" : "pwrite",
           r->o.recon[0] ? r->o.recon : "nobody");
    return r;
sockfail:
    sd_err_set(e, SD_EIO, "cannot create a ZeroMQ socket");
fail:
    ingest_receiver_destroy(&r);
    return NULL;
}

int ingest_receiver_flush(ingest_receiver_t *r, sd_err_t *e)
{
    while (!retry_pending(r)) { /* shutting down: waiting for the disk is fine now */
        ingest_recorder_poll(r->rec, NULL);
        zclock_sleep(1);
    }
    int rc = ingest_recorder_flush(r->rec, e);
    ingest_recorder_poll(r->rec, NULL);
    forward(r);
    save_cursor(r);
    return rc;
}

void ingest_receiver_destroy(ingest_receiver_t **pr)
{
    if (!pr || !*pr) return;
    ingest_receiver_t *r = *pr;
    if (r->rec) {
        sd_err_t e;
        if (ingest_receiver_flush(r, &e) != SD_OK) sd_log(SD_LOG_ERROR, "ingest", "%s", e.msg);
    }
    sd_parts_free(&r->pending_parts);
    if (r->mon && r->pull) zmq_socket_monitor(zsock_resolve(r->pull), NULL, 0);
    zsock_destroy(&r->mon);
    zsock_destroy(&r->pull);
    zsock_destroy(&r->push);
    zsock_destroy(&r->reply);
    zactor_destroy(&r->auth);
    ingest_recorder_destroy(&r->rec);
    free(r);
    *pr = NULL;
}

int ingest_receiver_step(ingest_receiver_t *r, int timeout_ms, sd_err_t *e)
{
    /* wake up soon when recon can take the backlog */
    ingest_recorder_stats_t rs;
    ingest_recorder_stats(r->rec, &rs);
    if (r->cursor < rs.written || rs.inflight_bytes) timeout_ms = timeout_ms > 5 ? 5 : timeout_ms;
    int can_read = retry_pending(r);
    if (!can_read) { /* wait for the disk, not for the socket */
        ingest_recorder_poll(r->rec, NULL);
        can_read = retry_pending(r);
        if (!can_read && timeout_ms > 1) timeout_ms = 1;
    }
    zmq_pollitem_t items[2];
    int ni = 0;
    if (can_read) items[ni++] = (zmq_pollitem_t){zsock_resolve(r->pull), 0, ZMQ_POLLIN, 0};
    if (r->mon) items[ni++] = (zmq_pollitem_t){zsock_resolve(r->mon), 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(items, ni, timeout_ms); /* no items: just sleeps timeout_ms */
    if (rc < 0 && zmq_errno() != EINTR)
        return sd_err_set(e, SD_EIO, "zmq_poll: %s", zmq_strerror(zmq_errno()));
    for (int n = 0; can_read && !r->pending && n < DRAIN_MAX; n++) {
        sd_parts_t p = {0};
        sd_err_t we;
        int w = sd_wire_recv(r->pull, &p, &r->lim, SD_WIRE_DONTWAIT, &we);
        if (w == SD_EAGAIN) break;
        r->st.received++;
        if (w == SD_OK) {
            handle(r, &p);
        } else if (w == SD_EFORMAT || w == SD_ENOMEM) {
            r->st.malformed++;
            r->last_msg_ns = sd_clock_mono_ns();
            reply_error(r, w, r->active ? r->series_id : "", -1, "message rejected: %s", we.msg);
        } else {
            sd_parts_free(&p);
            if (zsys_interrupted) break;
            return sd_err_set(e, w, "receiving: %s", we.msg);
        }
        sd_parts_free(&p);
    }
    drain_monitor(r);
    ingest_recorder_poll(r->rec, NULL);
    forward(r);
    int64_t now = sd_clock_mono_ns();
    if (r->active && now - r->last_msg_ns > (int64_t)(r->o.idle_timeout_s * 1e9)) {
        r->st.series_timed_out++;
        reply_error(r, SD_ESTATE, r->series_id, r->next_frame - 1,
                    "series %s: no series_end and no message for %.1f s; closed after %llu "
                    "frame(s)", r->series_id, r->o.idle_timeout_s,
                    (unsigned long long)r->frames_in_series);
        close_series(r, "idle timeout");
    }
    if (now - r->cursor_saved_ns > 1000000000) save_cursor(r);
    return SD_OK;
}

void ingest_receiver_stats(const ingest_receiver_t *r, ingest_receiver_stats_t *s)
{
    *s = r->st;
    ingest_recorder_stats(r->rec, &s->rec);
}
