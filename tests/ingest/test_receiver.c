/* The ingest receiver with real ZeroMQ sockets (ipc on the local machine):
 * a console PUSH → receiver → a recon PULL and the console's return PULL.
 * Checks: every accepted message is recorded and forwarded verbatim and in
 * order; malformed and foreign messages are rejected with an error reply and
 * counted while the series goes on; seq / frame-index gaps and a missing
 * series_end (idle timeout) are detected; with recon absent, frames wait on
 * disk and all arrive later; a restarted receiver recovers the recording and
 * resumes forwarding exactly where it stopped; CURVE refuses clients without
 * an allowed certificate. */
#include "ingest.h"
#include "sd_clock.h"
#include "sd_msg.h"
#include "sd_wire.h"
#include "sdtest.h"

#include <czmq.h>
#include <unistd.h>

enum { W = 32, H = 24 };

typedef struct rig {
    char dir[200], in[240], recon[240], ret[240], recording[240];
    ingest_receiver_opts_t o;
    ingest_receiver_t *r;
    zsock_t *console, *recon_pull, *ret_pull;
} rig_t;

static void rig_paths(rig_t *g, const char *tag)
{
    snprintf(g->dir, sizeof g->dir, "/tmp/sd_ingest_test_%d_%s", (int)getpid(), tag);
    zsys_dir_create("%s", g->dir);
    snprintf(g->in, sizeof g->in, "ipc://%s/in", g->dir);
    snprintf(g->recon, sizeof g->recon, "ipc://%s/recon", g->dir);
    snprintf(g->ret, sizeof g->ret, "ipc://%s/ret", g->dir);
    snprintf(g->recording, sizeof g->recording, "%s/rec.sdrec", g->dir);
    ingest_receiver_opts_default(&g->o);
    snprintf(g->o.bind, sizeof g->o.bind, "%s", g->in);
    snprintf(g->o.recon, sizeof g->o.recon, "%s", g->recon);
    snprintf(g->o.reply_to, sizeof g->o.reply_to, "%s", g->ret);
    snprintf(g->o.recording, sizeof g->o.recording, "%s", g->recording);
    g->o.rec.arena_bytes = 4 << 20;
    g->o.rec.min_free_bytes = 0; /* no low-space alert replies, whatever the disk */
    g->o.hwm = 8;
}

static int rig_start(rig_t *g, int with_recon)
{
    sd_err_t e;
    if (!g->ret_pull) {
        g->ret_pull = zsock_new(ZMQ_PULL);
        zsock_bind(g->ret_pull, "%s", g->ret);
    }
    g->r = ingest_receiver_new(&g->o, &e);
    if (!g->r) {
        fprintf(stderr, "receiver: %s\n", e.msg);
        return 0;
    }
    if (!g->console) {
        g->console = zsock_new(ZMQ_PUSH);
        zsock_set_linger(g->console, 1000);
        zsock_connect(g->console, "%s", g->in);
    }
    if (with_recon && !g->recon_pull) {
        g->recon_pull = zsock_new(ZMQ_PULL);
        zsock_set_rcvhwm(g->recon_pull, 4);
        zsock_connect(g->recon_pull, "%s", g->recon);
    }
    return 1;
}

static void rig_stop(rig_t *g, int remove)
{
    ingest_receiver_destroy(&g->r);
    if (remove) {
        zsock_destroy(&g->console);
        zsock_destroy(&g->recon_pull);
        zsock_destroy(&g->ret_pull);
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g->dir);
        if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", g->dir);
    }
}

/* Steps the receiver until cond holds or ~5 s pass. */
#define STEP_UNTIL(g, s, cond)                                                                   \
    do {                                                                                         \
        for (int k_ = 0; k_ < 1000; k_++) {                                                      \
            ingest_receiver_step((g)->r, 5, NULL);                                               \
            ingest_receiver_stats((g)->r, &(s));                                                 \
            if (cond) break;                                                                     \
        }                                                                                        \
    } while (0)

static void send_msg(rig_t *g, sd_msg_t *m)
{
    sd_err_t e;
    if (sd_wire_send_msg(g->console, m, 0, &e) != SD_OK) fprintf(stderr, "send: %s\n", e.msg);
}

static void send_start(rig_t *g, const char *sid)
{
    sd_msg_t m;
    sd_msg_init(&m, SD_MSG_SERIES_START);
    sd_msg_series_start_t *s = &m.u.series_start;
    snprintf(s->series_id, sizeof s->series_id, "%s", sid);
    s->width = W;
    s->height = H;
    s->dtype = SD_DTYPE_U16;
    s->pixel_size_A = 0.2;
    s->dwell_time_s = 1e-6;
    s->frame_interval_s = 0.6;
    s->beam_energy_keV = 300;
    send_msg(g, &m);
}

static void fill_pixels(uint16_t *px, int64_t fi)
{
    for (int i = 0; i < W * H; i++) px[i] = (uint16_t)(fi * 131 + i);
}

static void send_frame(rig_t *g, const char *sid, int64_t fi, uint64_t seq)
{
    uint16_t px[W * H];
    fill_pixels(px, fi);
    sd_msg_t m;
    sd_msg_init(&m, SD_MSG_FRAME);
    sd_msg_frame_t *f = &m.u.frame;
    snprintf(f->series_id, sizeof f->series_id, "%s", sid);
    f->frame_index = fi;
    f->seq = seq;
    f->t_acq_ns = f->t_send_ns = sd_clock_wall_ns();
    f->width = W;
    f->height = H;
    f->dtype = SD_DTYPE_U16;
    f->pixels = px;
    f->pixels_len = sizeof px;
    send_msg(g, &m);
}

static void send_end(rig_t *g, const char *sid, uint64_t n)
{
    sd_msg_t m;
    sd_msg_init(&m, SD_MSG_SERIES_END);
    snprintf(m.u.series_end.series_id, sizeof m.u.series_end.series_id, "%s", sid);
    m.u.series_end.frames_sent = n;
    send_msg(g, &m);
}

/* Receives forwarded messages from recon_pull; checks type order and frame
 * pixels; returns how many arrived within the time limit. */
static int drain_recon(rig_t *g, int want, int64_t *frame_idx, int *bad)
{
    int got = 0;
    zsock_set_rcvtimeo(g->recon_pull, 20);
    for (int tries = 0; got < want && tries < 500; tries++) {
        if (g->r) ingest_receiver_step(g->r, 1, NULL);
        sd_msg_t m;
        sd_err_t e;
        int rc = sd_wire_recv_msg(g->recon_pull, &m, NULL, 0, &e);
        if (rc == SD_EAGAIN) continue;
        if (rc != SD_OK) {
            (*bad)++;
            continue;
        }
        if (m.type == SD_MSG_FRAME) {
            uint16_t px[W * H];
            fill_pixels(px, m.u.frame.frame_index);
            if (m.u.frame.pixels_len != sizeof px || memcmp(m.u.frame.pixels, px, sizeof px))
                (*bad)++;
            frame_idx[got] = m.u.frame.frame_index;
        } else {
            frame_idx[got] = m.type == SD_MSG_SERIES_START ? -1 : -2;
        }
        got++;
        sd_msg_free(&m);
    }
    return got;
}

static int recv_error(rig_t *g, sd_msg_error_t *out)
{
    zsock_set_rcvtimeo(g->ret_pull, 1000);
    sd_msg_t m;
    sd_err_t e;
    if (sd_wire_recv_msg(g->ret_pull, &m, NULL, 0, &e) != SD_OK) return 0;
    int ok = m.type == SD_MSG_ERROR;
    if (ok) *out = m.u.error;
    sd_msg_free(&m);
    return ok;
}

static void test_series_recorded_and_forwarded(sdt_t *t)
{
    rig_t g = {0};
    rig_paths(&g, "basic");
    CHECK(t, rig_start(&g, 1));
    if (!g.r) return;
    send_start(&g, "s1");
    for (int i = 0; i < 20; i++) send_frame(&g, "s1", i, 100 + (uint64_t)i);
    send_end(&g, "s1", 20);
    int64_t idx[64];
    int bad = 0;
    int got = drain_recon(&g, 22, idx, &bad);
    ingest_receiver_stats_t s;
    STEP_UNTIL(&g, s, s.forwarded == 22);
    CHECK_EQ_INT(t, got, 22);
    CHECK_EQ_INT(t, bad, 0);
    int order = idx[0] == -1 && idx[21] == -2;
    for (int i = 0; i < 20; i++) order &= idx[1 + i] == i;
    CHECK_MSG(t, order, "forwarded out of order");
    CHECK_EQ_INT(t, s.received, 22);
    CHECK_EQ_INT(t, s.accepted, 22);
    CHECK_EQ_INT(t, s.recorded, 22);
    CHECK_EQ_INT(t, s.malformed + s.foreign + s.unexpected, 0);
    CHECK_EQ_INT(t, s.seq_missing + s.frames_missing + s.frames_repeated, 0);
    CHECK_EQ_INT(t, s.series_started, 1);
    CHECK_EQ_INT(t, s.series_ended, 1);
    CHECK_EQ_INT(t, s.series_active, 0);
    rig_stop(&g, 0);
    /* the recording holds the 22 messages verbatim, durable */
    sd_rec_reader_t *rd = sd_rec_reader_open(g.recording, NULL);
    CHECK(t, rd && sd_rec_reader_count(rd) == 22);
    if (rd) {
        sd_rec_record_t rec;
        CHECK_EQ_INT(t, sd_rec_reader_read(rd, 5, &rec, NULL), SD_OK);
        CHECK_EQ_INT(t, rec.kind, SD_REC_KIND_FRAME);
        CHECK_EQ_INT(t, rec.key, 4);
        sd_parts_t p = {0};
        p.n = (int)rec.n_parts;
        for (uint32_t k = 0; k < rec.n_parts; k++) {
            p.data[k] = rec.parts[k];
            p.len[k] = rec.lens[k];
        }
        sd_msg_t m;
        CHECK_EQ_INT(t, sd_msg_decode(&p, &m, 0, NULL), SD_OK);
        CHECK(t, m.type == SD_MSG_FRAME && m.u.frame.frame_index == 4 && m.u.frame.seq == 104);
        sd_msg_free(&m);
        CHECK_EQ_INT(t, sd_rec_reader_find(rd, SD_REC_KIND_FRAME, 19, 0), 20);
    }
    sd_rec_reader_destroy(&rd);
    rig_stop(&g, 1);
}

static void test_malformed_and_foreign(sdt_t *t)
{
    rig_t g = {0};
    rig_paths(&g, "bad");
    CHECK(t, rig_start(&g, 1));
    if (!g.r) return;
    send_start(&g, "s2");
    send_frame(&g, "s2", 0, 1);
    /* a frame whose pixels were damaged in transit: CRC32C mismatch */
    {
        uint16_t px[W * H];
        fill_pixels(px, 1);
        sd_msg_t m;
        sd_msg_init(&m, SD_MSG_FRAME);
        sd_msg_frame_t *f = &m.u.frame;
        snprintf(f->series_id, sizeof f->series_id, "s2");
        f->frame_index = 1;
        f->seq = 2;
        f->width = W;
        f->height = H;
        f->dtype = SD_DTYPE_U16;
        f->pixels = px;
        f->pixels_len = sizeof px;
        sd_parts_t p;
        CHECK_EQ_INT(t, sd_msg_encode(&m, &p, NULL), SD_OK);
        px[7] ^= 1; /* after the CRC was computed */
        sd_wire_send(g.console, &p, 0, NULL);
        sd_parts_free(&p);
    }
    zstr_send(g.console, "garbage"); /* not a stemdyn message at all */
    send_frame(&g, "other", 0, 3);   /* a foreign series */
    send_frame(&g, "s2", 2, 4);      /* the series goes on */
    send_end(&g, "s2", 3);
    ingest_receiver_stats_t s;
    STEP_UNTIL(&g, s, s.received == 7 && s.series_ended == 1);
    CHECK_EQ_INT(t, s.received, 7);
    CHECK_EQ_INT(t, s.malformed, 2);
    CHECK_EQ_INT(t, s.foreign, 1);
    CHECK_EQ_INT(t, s.accepted, 4); /* start, frames 0 and 2, end */
    CHECK_EQ_INT(t, s.recorded, 4);
    CHECK_EQ_INT(t, s.series_ended, 1);
    CHECK_EQ_INT(t, s.errors_sent, 3);
    sd_msg_error_t er;
    int n_err = 0, crc_seen = 0, foreign_seen = 0;
    while (n_err < 3 && recv_error(&g, &er)) {
        n_err++;
        CHECK_STR_CONTAINS(t, er.origin, "ingest");
        if (strstr(er.message, "CRC") || strstr(er.message, "crc")) crc_seen = !strcmp(er.series_id, "s2");
        if (strstr(er.message, "active series is s2")) foreign_seen = !strcmp(er.series_id, "other");
    }
    CHECK_EQ_INT(t, n_err, 3);
    CHECK_MSG(t, crc_seen, "no CRC error reply for series s2");
    CHECK_MSG(t, foreign_seen, "no foreign-series error reply");
    /* a frame of 1 missing: the gap is noticed (frame 2 after frame 0) */
    CHECK_EQ_INT(t, s.frames_missing, 1);
    rig_stop(&g, 1);
}

static void test_gaps_and_idle_timeout(sdt_t *t)
{
    rig_t g = {0};
    rig_paths(&g, "gaps");
    g.o.idle_timeout_s = 0.2;
    CHECK(t, rig_start(&g, 1));
    if (!g.r) return;
    send_start(&g, "s3");
    send_frame(&g, "s3", 0, 10);
    send_frame(&g, "s3", 1, 11);
    send_frame(&g, "s3", 4, 14); /* frames 2,3 and seq 12,13 lost upstream */
    send_frame(&g, "s3", 3, 15); /* late / reordered */
    send_frame(&g, "s3", 5, 12); /* seq going back */
    ingest_receiver_stats_t s;
    STEP_UNTIL(&g, s, s.received == 6);
    CHECK_EQ_INT(t, s.frames_missing, 2);
    CHECK_EQ_INT(t, s.frames_repeated, 1);
    CHECK_EQ_INT(t, s.seq_missing, 2);
    CHECK_EQ_INT(t, s.seq_backwards, 1);
    CHECK_EQ_INT(t, s.accepted, 6);
    CHECK_EQ_INT(t, s.series_active, 1);
    /* no series_end: closed after the idle timeout, the console is told */
    int64_t t0 = sd_clock_mono_ns();
    STEP_UNTIL(&g, s, s.series_timed_out == 1);
    double waited = (double)(sd_clock_mono_ns() - t0) * 1e-9;
    CHECK_EQ_INT(t, s.series_timed_out, 1);
    CHECK_EQ_INT(t, s.series_active, 0);
    CHECK_MSG(t, waited > 0.1 && waited < 3, "timed out after %.2f s (idle timeout 0.2 s)", waited);
    sd_msg_error_t er;
    int found = 0;
    while (recv_error(&g, &er))
        if (strstr(er.message, "no series_end")) found = 1;
    CHECK_MSG(t, found, "no idle-timeout error reply");
    /* a frame after the timeout belongs to no active series: foreign */
    send_frame(&g, "s3", 6, 16);
    STEP_UNTIL(&g, s, s.received == 7);
    CHECK_EQ_INT(t, s.foreign, 1);
    /* a new series_start while one is active is reported (missing end) */
    send_start(&g, "s4");
    send_start(&g, "s5");
    STEP_UNTIL(&g, s, s.received == 9);
    CHECK_EQ_INT(t, s.series_unterminated, 1);
    CHECK_EQ_INT(t, s.series_started, 3);
    /* ingest wrote a series_end for each of the two series that had none */
    CHECK_EQ_INT(t, s.ends_synthesized, 2);
    rig_stop(&g, 0);
    sd_rec_reader_t *rd = sd_rec_reader_open(g.recording, NULL);
    int64_t k = rd ? sd_rec_reader_find(rd, SD_REC_KIND_SERIES_END | SD_REC_KIND_SYNTH, -1, 0)
                   : -1;
    CHECK_EQ_INT(t, k, 6); /* after s3's start and its 5 frames */
    if (rd && k >= 0) {
        sd_rec_record_t rec;
        sd_parts_t p = {0};
        CHECK_EQ_INT(t, sd_rec_reader_read(rd, (uint64_t)k, &rec, NULL), SD_OK);
        p.n = (int)rec.n_parts;
        for (uint32_t i = 0; i < rec.n_parts; i++) {
            p.data[i] = rec.parts[i];
            p.len[i] = rec.lens[i];
        }
        sd_msg_t m;
        CHECK_EQ_INT(t, sd_msg_decode(&p, &m, 0, NULL), SD_OK);
        CHECK(t, m.type == SD_MSG_SERIES_END && !strcmp(m.u.series_end.series_id, "s3") &&
                     m.u.series_end.frames_sent == 5);
        CHECK_STR_CONTAINS(t, m.u.series_end.reason, "idle timeout");
        sd_msg_free(&m);
    }
    sd_rec_reader_destroy(&rd);
    rig_stop(&g, 1);
}

/* Recon absent: everything is recorded; later all of it is forwarded, in
 * order; a restart in the middle resumes where forwarding stopped. */
static void test_frames_wait_on_disk_and_restart(sdt_t *t)
{
    rig_t g = {0};
    rig_paths(&g, "wait");
    g.o.hwm = 2;
    CHECK(t, rig_start(&g, 0));
    if (!g.r) return;
    enum { N = 200 };
    send_start(&g, "s6");
    for (int i = 0; i < N; i++) send_frame(&g, "s6", i, (uint64_t)i);
    ingest_receiver_stats_t s;
    STEP_UNTIL(&g, s, s.received == N + 1 && s.rec.written == N + 1);
    CHECK_EQ_INT(t, s.recorded, N + 1);
    CHECK_MSG(t, s.forwarded <= 8, "forwarded %llu with nobody listening (hwm 2)",
              (unsigned long long)s.forwarded);
    uint64_t fwd_before = s.forwarded;
    /* restart (the recording gets a torn tail as if it crashed mid-append) */
    rig_stop(&g, 0);
    FILE *f = fopen(g.recording, "ab");
    fwrite("\x53\x44\x52\x31\x00\x10\x00\x00torn", 1, 12, f);
    fclose(f);
    CHECK(t, rig_start(&g, 0));
    if (!g.r) {
        rig_stop(&g, 1);
        return;
    }
    send_frame(&g, "s6", N, N); /* the restarted receiver has no active series */
    send_start(&g, "s7");
    send_frame(&g, "s7", 0, N + 1);
    send_end(&g, "s7", 1);
    STEP_UNTIL(&g, s, s.received == 4);
    CHECK_EQ_INT(t, s.foreign, 1);
    CHECK_EQ_INT(t, s.recorded, 3);
    /* recon connects now: it gets everything not yet forwarded, in order */
    g.recon_pull = zsock_new(ZMQ_PULL);
    zsock_connect(g.recon_pull, "%s", g.recon);
    int want = (int)(N + 1 + 3 - fwd_before);
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)(want + 8));
    int bad = 0;
    int got = drain_recon(&g, want, idx, &bad);
    CHECK_EQ_INT(t, got, want);
    CHECK_EQ_INT(t, bad, 0);
    /* the ones before the restart continue exactly after fwd_before */
    int ok = 1;
    for (int i = 0; i < got - 3; i++) {
        int64_t expect = (int64_t)fwd_before + i - 1; /* record 0 is series_start (-1) */
        ok &= idx[i] == expect;
    }
    CHECK_MSG(t, ok, "forwarding did not resume at record %llu", (unsigned long long)fwd_before);
    CHECK(t, got >= 3 && idx[got - 3] == -1 && idx[got - 2] == 0 && idx[got - 1] == -2);
    free(idx);
    rig_stop(&g, 1);
}

/* A burst faster than the recorder can take (one write in flight, 16 KiB of
 * memory): nothing is lost, messages wait in the socket queue instead. */
static void test_burst_waits_not_lost(sdt_t *t)
{
    rig_t g = {0};
    rig_paths(&g, "burst");
    g.o.rec.max_inflight = 1;
    g.o.rec.arena_bytes = 16 * 1024;
    g.o.rec.sync_every = 1; /* every write waits for an fdatasync: a slow disk */
    g.o.hwm = 1000;
    CHECK(t, rig_start(&g, 0));
    if (!g.r) return;
    enum { N = 300 };
    send_start(&g, "b1");
    for (int i = 0; i < N; i++) send_frame(&g, "b1", i, (uint64_t)i);
    send_end(&g, "b1", N);
    ingest_receiver_stats_t s = {0};
    for (int k = 0; k < 20 && !(s.series_ended == 1 && s.rec.written == N + 2); k++)
        STEP_UNTIL(&g, s, s.series_ended == 1 && s.rec.written == N + 2);
    CHECK_EQ_INT(t, s.accepted, N + 2);
    CHECK_EQ_INT(t, s.recorded, N + 2);
    CHECK_EQ_INT(t, s.unrecorded, 0);
    CHECK_EQ_INT(t, s.rec.written, N + 2);
    CHECK_MSG(t, s.rec.refused > 0, "the recorder never refused: the burst did not test waiting");
    fprintf(stderr, "burst: %llu appends refused for memory, all %d messages recorded\n",
            (unsigned long long)s.rec.refused, N + 2);
    rig_stop(&g, 1);
}

static void test_curve(sdt_t *t)
{
    if (!zsys_has_curve()) {
        fprintf(stderr, "libzmq without CURVE: not run\n");
        return;
    }
    rig_t g = {0};
    rig_paths(&g, "curve");
    char certs[240], server[240], client[240], intruder[240];
    snprintf(certs, sizeof certs, "%s/clients", g.dir);
    snprintf(server, sizeof server, "%s/server", g.dir);
    snprintf(client, sizeof client, "%s/clients/console", g.dir);
    snprintf(intruder, sizeof intruder, "%s/intruder", g.dir);
    zsys_dir_create("%s", certs);
    zcert_t *sc = zcert_new(), *cc = zcert_new(), *ic = zcert_new();
    zcert_save(sc, server);
    zcert_save_public(cc, client);
    char client_full[240];
    snprintf(client_full, sizeof client_full, "%s/console", g.dir);
    zcert_save(cc, client_full);
    zcert_save(ic, intruder);
    snprintf(g.o.server_cert, sizeof g.o.server_cert, "%s", server);
    snprintf(g.o.client_certs, sizeof g.o.client_certs, "%s", certs);
    /* ipc is fine: CURVE is a ZMTP mechanism, whatever the transport */
    CHECK(t, rig_start(&g, 1));
    if (!g.r) return;
    sd_err_t e;
    /* the default console of the rig has no keys: refused */
    send_start(&g, "plain");
    /* an unknown key: refused */
    zsock_t *bad = zsock_new(ZMQ_PUSH);
    zsock_set_linger(bad, 0);
    CHECK_EQ_INT(t, ingest_curve_client(bad, intruder, server, &e), SD_OK);
    zsock_connect(bad, "%s", g.in);
    zstr_send(bad, "hello");
    /* the allowed console */
    zsock_t *good = zsock_new(ZMQ_PUSH);
    zsock_set_linger(good, 1000);
    CHECK_EQ_INT(t, ingest_curve_client(good, client_full, server, &e), SD_OK);
    zsock_connect(good, "%s", g.in);
    zsock_t *keep = g.console;
    g.console = good;
    send_start(&g, "secure");
    send_frame(&g, "secure", 0, 0);
    send_end(&g, "secure", 1);
    g.console = keep;
    ingest_receiver_stats_t s;
    STEP_UNTIL(&g, s, s.series_ended == 1 && s.auth_failures >= 2);
    CHECK_EQ_INT(t, s.received, 3);
    CHECK_EQ_INT(t, s.accepted, 3);
    CHECK_EQ_INT(t, s.series_ended, 1);
    CHECK_MSG(t, s.auth_failures >= 2, "auth failures %llu", (unsigned long long)s.auth_failures);
    /* one of the two alone is a configuration error */
    CHECK_EQ_INT(t, ingest_curve_client(good, client_full, NULL, &e), SD_EINVAL);
    zsock_destroy(&bad);
    zsock_destroy(&good);
    zcert_destroy(&sc);
    zcert_destroy(&cc);
    zcert_destroy(&ic);
    rig_stop(&g, 1);
}

SDT_MAIN(SDT_CASE(test_series_recorded_and_forwarded), SDT_CASE(test_malformed_and_foreign),
         SDT_CASE(test_gaps_and_idle_timeout), SDT_CASE(test_frames_wait_on_disk_and_restart),
         SDT_CASE(test_burst_waits_not_lost), SDT_CASE(test_curve))
