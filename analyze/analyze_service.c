#include "analyze_service.h"

#include "analyze.h"
#include "runstats.h"
#include "sd_clock.h"
#include "sd_signal.h"
#include "sd_fs.h"
#include "sd_log.h"
#include "sd_msg.h"
#include "sd_recording.h"
#include "sd_secure.h"
#include "sd_wire.h"
#include "statspub.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define JOURNAL_KIND_SNAPSHOT 16u
#define RUN_ID_MAX 4096

struct analyze_service {
    sd_config_t cfg;
    dict_t *dict;
    runstats_t *rs;
    void *zctx, *in;
    sd_secure_t *sec; /* CURVE authenticator, NULL without keys */
    statspub_t *pub;
    int journal_fd;
    char dir[1024], journal[1100], state_path[1100];
    long long frames, rejected, duplicates;
    char session[SD_MSG_ID_MAX + 1];
    int64_t last_state_write_ns;
};

/* Analyses one decoded snapshot; returns frames analysed (0 for a duplicate). */
static int process(analyze_service_t *s, const sd_msg_snapshot_t *m, double target_ns,
                   sd_err_t *e)
{
    return runstats_push(s->rs, m->frame_index, m->time_fs * 1e-6, target_ns, m->ns_per_day,
                         m->n_atoms, m->pos, e);
}

static int replay_journal(analyze_service_t *s, sd_err_t *e)
{
    struct stat st;
    if (stat(s->journal, &st) != 0)
        return SD_OK;
    sd_rec_scan_info_t info;
    int rc = sd_rec_recover(s->journal, &info, e);
    if (rc)
        return sd_err_prefix(e, "analyze journal"), rc;
    sd_rec_reader_t *r = sd_rec_reader_open(s->journal, e);
    if (!r)
        return e->code;
    uint64_t n = sd_rec_reader_count(r);
    for (uint64_t i = 0; i < n; i++) {
        sd_rec_record_t rec;
        if ((rc = sd_rec_reader_read(r, i, &rec, e)))
            break;
        sd_parts_t parts = {.n = (int)rec.n_parts};
        for (uint32_t p = 0; p < rec.n_parts && p < SD_PARTS_CAP; p++) {
            parts.data[p] = rec.parts[p];
            parts.len[p] = rec.lens[p];
        }
        sd_msg_t m;
        if ((rc = sd_msg_decode_as(&parts, SD_MSG_SNAPSHOT, &m, 0, e)))
            break;
        rc = process(s, &m.u.snapshot, s->cfg.md.production_ns, e);
        sd_msg_free(&m);
        if (rc < 0)
            break;
        s->frames += rc;
        rc = SD_OK;
    }
    sd_rec_reader_destroy(&r);
    if (rc)
        return sd_err_prefix(e, "replaying %s", s->journal), rc;
    if (n)
        sd_log(SD_LOG_INFO, "analyze", "replayed %llu journaled snapshots (%lld frames analysed)",
               (unsigned long long)n, s->frames);
    return SD_OK;
}

static int journal_open(analyze_service_t *s, sd_err_t *e)
{
    s->journal_fd = open(s->journal, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (s->journal_fd < 0)
        return sd_err_set(e, SD_EIO, "cannot open %s: %s", s->journal, strerror(errno));
    struct stat st;
    if (fstat(s->journal_fd, &st) == 0 && st.st_size == 0) {
        uint8_t h[SD_REC_HEADER_BYTES];
        sd_rec_header_encode(sd_clock_wall_ns(), h);
        if (write(s->journal_fd, h, sizeof h) != (ssize_t)sizeof h || fdatasync(s->journal_fd))
            return sd_err_set(e, SD_EIO, "cannot write %s: %s", s->journal, strerror(errno));
    }
    return SD_OK;
}

/* Appends the snapshot's parts verbatim and makes them durable before the ack. */
static int journal_append(analyze_service_t *s, const sd_parts_t *parts, int64_t key, sd_err_t *e)
{
    const void *pp[SD_PARTS_CAP];
    size_t lens[SD_PARTS_CAP];
    for (int i = 0; i < parts->n; i++) {
        pp[i] = parts->data[i];
        lens[i] = parts->len[i];
    }
    uint64_t size = sd_rec_record_size((uint32_t)parts->n, lens);
    if (!size)
        return sd_err_set(e, SD_EINVAL, "snapshot too large to journal");
    uint8_t *buf = malloc(size);
    if (!buf)
        return sd_err_set(e, SD_ENOMEM, "out of memory");
    size_t w = 0;
    int rc = sd_rec_record_encode(buf, size, sd_clock_wall_ns(), JOURNAL_KIND_SNAPSHOT, key,
                                  (uint32_t)parts->n, pp, lens, &w, e);
    if (!rc) {
        ssize_t k = write(s->journal_fd, buf, w);
        if (k != (ssize_t)w || fdatasync(s->journal_fd))
            rc = sd_err_set(e, SD_EIO, "journal %s: %s", s->journal,
                            k < 0 ? strerror(errno) : "short write (disk full?)");
    }
    free(buf);
    return rc;
}

static int write_state(analyze_service_t *s, sd_err_t *e)
{
    char *js = NULL;
    size_t len = 0;
    int rc = runstats_json(s->rs, s->session, &js, &len, e);
    if (rc)
        return rc;
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->state_path);
    FILE *f = fopen(tmp, "w");
    if (!f || fwrite(js, 1, len, f) != len || fclose(f) != 0 || rename(tmp, s->state_path)) {
        free(js);
        return sd_err_set(e, SD_EIO, "cannot write %s", s->state_path);
    }
    free(js);
    s->last_state_write_ns = sd_clock_mono_ns();
    return SD_OK;
}

static int publish(analyze_service_t *s, int64_t run_id, sd_err_t *e)
{
    sd_msg_t msgs[2];
    int rc = runstats_message(s->rs, run_id, &msgs[0], e);
    if (!rc)
        rc = runstats_message(s->rs, -1, &msgs[1], e);
    if (rc)
        return rc;
    int64_t seq = statspub_update(s->pub, msgs, 2, e);
    return seq < 0 ? (int)seq : SD_OK;
}

analyze_service_t *analyze_service_new(const sd_config_t *cfg, sd_err_t *e)
{
    analyze_service_t *s = calloc(1, sizeof *s);
    if (!s) {
        sd_err_set(e, SD_ENOMEM, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->journal_fd = -1;
    snprintf(s->session, sizeof s->session, "session");
    snprintf(s->dir, sizeof s->dir, "%s/analyze", cfg->data_dir);
    snprintf(s->journal, sizeof s->journal, "%s/snapshots.sdrec", s->dir);
    snprintf(s->state_path, sizeof s->state_path, "%s/state.json", s->dir);
    const char *dpath = cfg->analyze.dictionary[0] ? cfg->analyze.dictionary : dict_default_path();
    runstats_opts_t o = {.dt_ns = cfg->md.dump_every_ns, .t_first_ns = cfg->md.analyse_from_ns,
                         .lens_rcut_A = cfg->analyze.lens_rcut_A,
                         .mask_z_below_A = cfg->analyze.mask_z_below_A};
    if (sd_fs_mkdir_p(s->dir, e) || dict_load(dpath, &s->dict, e) ||
        !(s->rs = runstats_new(s->dict, &o, e)) || replay_journal(s, e) || journal_open(s, e)) {
        analyze_service_destroy(&s);
        return NULL;
    }
    s->zctx = zmq_ctx_new();
    if (sd_secure_server_wanted(&cfg->security) &&
        !(s->sec = sd_secure_new(s->zctx, &cfg->security, "analyze", e))) {
        analyze_service_destroy(&s);
        return NULL;
    }
    s->in = zmq_socket(s->zctx, ZMQ_ROUTER);
    /* snapshots are acknowledged: a worker has at most its unacked window in flight */
    int linger = 0, hwm = 1000;
    zmq_setsockopt(s->in, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s->in, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s->in, ZMQ_SNDHWM, &hwm, sizeof hwm);
    /* a snapshot is ≤ 10^6 atoms (24 MB): a peer announcing more is cut off
     * before libzmq allocates it */
    int64_t maxmsg = 64ll << 20;
    zmq_setsockopt(s->in, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (sd_secure_serve(s->sec, s->in, cfg->ep.analyze_in, e)) {
        analyze_service_destroy(&s);
        return NULL;
    }
    if (zmq_bind(s->in, cfg->ep.analyze_in) != 0) {
        sd_err_set(e, SD_EIO, "cannot bind %s: %s", cfg->ep.analyze_in, zmq_strerror(zmq_errno()));
        analyze_service_destroy(&s);
        return NULL;
    }
    s->pub = statspub_new_secure(s->zctx, s->sec, cfg->ep.stats_pub, cfg->ep.stats_snapshot,
                                 cfg->ep.console_return, e);
    if (!s->pub) {
        analyze_service_destroy(&s);
        return NULL;
    }
    /* republish what the journal rebuilt, so monitors see it at once */
    int64_t ids[RUN_ID_MAX];
    int nr = runstats_runs(s->rs, ids, RUN_ID_MAX);
    for (int i = 0; i < nr; i++)
        publish(s, ids[i], NULL);
    return s;
}

void analyze_service_destroy(analyze_service_t **p)
{
    if (!p || !*p)
        return;
    analyze_service_t *s = *p;
    statspub_destroy(&s->pub);
    if (s->in)
        zmq_close(s->in);
    sd_secure_destroy(&s->sec);
    if (s->zctx)
        zmq_ctx_term(s->zctx);
    if (s->journal_fd >= 0)
        close(s->journal_fd);
    runstats_destroy(&s->rs);
    dict_destroy(&s->dict);
    free(s);
    *p = NULL;
}

static void ack(analyze_service_t *s, const sd_parts_t *in, const sd_msg_snapshot_t *m)
{
    sd_msg_t a;
    sd_msg_init(&a, SD_MSG_HEARTBEAT);
    snprintf(a.u.heartbeat.sender, sizeof a.u.heartbeat.sender, "%s", m->job_id);
    snprintf(a.u.heartbeat.role, sizeof a.u.heartbeat.role, "analyze");
    snprintf(a.u.heartbeat.state, sizeof a.u.heartbeat.state, "ack");
    a.u.heartbeat.t_ns = sd_clock_wall_ns();
    a.u.heartbeat.load = (double)m->step;
    sd_parts_t parts;
    if (sd_msg_encode(&a, &parts, NULL) == SD_OK) {
        sd_wire_send_routed(s->in, in->data[0], in->len[0], &parts, SD_WIRE_DONTWAIT, NULL);
        sd_parts_free(&parts);
    }
}

static void on_input(analyze_service_t *s)
{
    sd_parts_t in, view;
    sd_err_t e;
    if (sd_wire_recv(s->in, &in, NULL, SD_WIRE_DONTWAIT, &e) != SD_OK)
        return;
    sd_msg_t m;
    if (in.n < 2 || sd_parts_view(&in, 1, &view, &e) ||
        sd_msg_decode_as(&view, SD_MSG_SNAPSHOT, &m, 0, &e)) {
        s->rejected++;
        sd_log(SD_LOG_WARN, "analyze", "rejected a message from a worker: %s",
               in.n < 2 ? "no identity frame" : e.msg);
        sd_parts_free(&in);
        return;
    }
    const sd_msg_snapshot_t *sn = &m.u.snapshot;
    int rc = journal_append(s, &view, sn->step, &e);
    if (rc) {
        /* no ack: the worker keeps the snapshot and sends it again */
        sd_log(SD_LOG_ERROR, "analyze", "%s", e.msg);
    } else {
        int k = process(s, sn, s->cfg.md.production_ns, &e);
        if (k < 0) {
            s->rejected++;
            sd_log(SD_LOG_WARN, "analyze", "job %s step %lld: %s", sn->job_id,
                   (long long)sn->step, e.msg);
        } else if (k == 0) {
            s->duplicates++;
        } else {
            s->frames += k;
            if (publish(s, sn->frame_index, &e))
                sd_log(SD_LOG_WARN, "analyze", "publish: %s", e.msg);
            if (s->frames % 10 == 1)
                sd_log(SD_LOG_INFO, "analyze", "run %lld at %.3f ns: %lld frames analysed",
                       (long long)sn->frame_index, sn->time_fs * 1e-6, s->frames);
        }
        ack(s, &in, sn);
    }
    sd_msg_free(&m);
    sd_parts_free(&in);
}

int analyze_service_run(analyze_service_t *s, double max_seconds, sd_err_t *e)
{
    int sfd = sd_signal_stop_fd();
    int64_t end = max_seconds > 0 ? sd_clock_mono_ns() + (int64_t)(max_seconds * 1e9) : 0;
    int64_t next_hb = 0;
    sd_log(SD_LOG_INFO, "analyze", "listening on %s, stats on %s (snapshot %s)",
           s->cfg.ep.analyze_in, s->cfg.ep.stats_pub, s->cfg.ep.stats_snapshot);
    for (;;) {
        zmq_pollitem_t it[3] = {{s->in, 0, ZMQ_POLLIN, 0},
                                {statspub_router(s->pub), 0, ZMQ_POLLIN, 0},
                                {NULL, sfd, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(it, sfd >= 0 ? 3 : 2, 200);
        if (rc < 0 && zmq_errno() != EINTR)
            return sd_err_set(e, SD_EIO, "zmq_poll: %s", zmq_strerror(zmq_errno()));
        if (rc > 0 && (it[0].revents & ZMQ_POLLIN))
            for (int burst = 0; burst < 64; burst++) {
                int ev = 0;
                size_t sz = sizeof ev;
                on_input(s);
                zmq_getsockopt(s->in, ZMQ_EVENTS, &ev, &sz);
                if (!(ev & ZMQ_POLLIN))
                    break;
            }
        if (rc > 0 && (it[1].revents & ZMQ_POLLIN))
            statspub_serve(s->pub, NULL);
        int64_t now = sd_clock_mono_ns();
        if (now >= next_hb) {
            statspub_heartbeat(s->pub, NULL);
            next_hb = now + 1000000000LL;
        }
        if (s->frames && now - s->last_state_write_ns > 1000000000LL)
            write_state(s, NULL);
        if ((rc > 0 && sfd >= 0 && (it[2].revents & ZMQ_POLLIN)) || (end && now >= end))
            break;
    }
    if (sfd >= 0)
        close(sfd);
    sd_log(SD_LOG_INFO, "analyze", "stopping: %lld frames analysed, %lld duplicates ignored, %lld rejected",
           s->frames, s->duplicates, s->rejected);
    return write_state(s, e);
}

long long analyze_service_frames(const analyze_service_t *s)
{
    return s->frames;
}
