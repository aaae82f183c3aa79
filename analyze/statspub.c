#include "statspub.h"

#include "sd_log.h"
#include "sd_secure.h"
#include "sd_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define CLIENT_PENDING_MAX 1024

/* ---- shared: message <-> stats_run_t ---- */

static void run_from_msg(stats_run_t *r, const sd_msg_stats_t *m)
{
    int k = m->k;
    r->run_id = m->run_id;
    r->k = k;
    memcpy(r->labels, m->labels, sizeof r->labels);
    r->frames = m->frames;
    memcpy(r->counts, m->counts, (size_t)(k * k) * sizeof *r->counts);
    memcpy(r->populations, m->populations, (size_t)k * sizeof *r->populations);
    memcpy(r->pop_mean, m->pop_mean, (size_t)k * sizeof(double));
    memcpy(r->pop_std, m->pop_std, (size_t)k * sizeof(double));
    r->has_lens = m->has_lens;
    memcpy(r->lens_fractions, m->lens_fractions, sizeof r->lens_fractions);
    r->sim_ns = m->sim_ns;
    r->target_ns = m->target_ns;
    r->ns_per_day = m->ns_per_day;
    r->n_latency = m->n_latency;
    memcpy(r->latency, m->latency, sizeof r->latency);
}

/* A stats message whose arrays point into r (and counts into `counts`). */
static void msg_from_run(sd_msg_t *out, const stats_run_t *r, const int64_t *counts, uint64_t seq,
                         int is_delta)
{
    sd_msg_init(out, SD_MSG_STATS);
    sd_msg_stats_t *m = &out->u.stats;
    m->seq = seq;
    m->run_id = r->run_id;
    m->is_delta = is_delta;
    m->k = r->k;
    memcpy(m->labels, r->labels, sizeof m->labels);
    m->frames = r->frames;
    m->counts = counts;
    m->populations = r->populations;
    m->pop_mean = r->pop_mean;
    m->pop_std = r->pop_std;
    m->has_lens = r->has_lens;
    memcpy(m->lens_fractions, r->lens_fractions, sizeof m->lens_fractions);
    m->sim_ns = r->sim_ns;
    m->target_ns = r->target_ns;
    m->ns_per_day = r->ns_per_day;
    m->n_latency = r->n_latency;
    memcpy(m->latency, r->latency, sizeof m->latency);
    if (r->run_id < 0)
        snprintf(out->topic_suffix, sizeof out->topic_suffix, "all");
    else
        snprintf(out->topic_suffix, sizeof out->topic_suffix, "%lld", (long long)r->run_id);
}

static stats_run_t *find_or_add(stats_run_t **runs, int *n, int64_t id, int *added)
{
    for (int i = 0; i < *n; i++)
        if ((*runs)[i].run_id == id)
            return &(*runs)[i];
    if (*n >= STATS_MAX_RUNS)
        return NULL;
    if (added)
        *added = 1;
    stats_run_t *r = &(*runs)[(*n)++];
    memset(r, 0, sizeof *r);
    r->run_id = id;
    return r;
}

/* ---- publisher ---- */

struct statspub {
    char id[64];        /* instance: a restarted publisher has a new one */
    void *pub, *router, *push;
    uint64_t seq;
    int nruns;
    stats_run_t *runs; /* [STATS_MAX_RUNS] last full state */
    int64_t push_dropped;
};

/* Queues per peer: a subscriber or snapshot requester that does not read
 * loses messages beyond this (and resynchronises), the publisher never waits. */
#define STATS_HWM 1000

static void *bind_socket(void *ctx, sd_secure_t *sec, int type, const char *ep, sd_err_t *e)
{
    void *s = zmq_socket(ctx, type);
    if (!s) {
        sd_err_set(e, SD_EIO, "zmq_socket: %s", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int linger = 0, hwm = STATS_HWM;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (sd_secure_serve(sec, s, ep, e)) {
        zmq_close(s);
        return NULL;
    }
    if (zmq_bind(s, ep) != 0) {
        sd_err_set(e, SD_EIO, "cannot bind %s: %s", ep, zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    return s;
}

statspub_t *statspub_new(void *ctx, const char *pub_ep, const char *snap_ep,
                         const char *console_ep, sd_err_t *e)
{
    return statspub_new_secure(ctx, NULL, pub_ep, snap_ep, console_ep, e);
}

statspub_t *statspub_new_secure(void *ctx, sd_secure_t *sec, const char *pub_ep,
                                const char *snap_ep, const char *console_ep, sd_err_t *e)
{
    statspub_t *p = calloc(1, sizeof *p);
    if (!p || !(p->runs = calloc(STATS_MAX_RUNS, sizeof *p->runs))) {
        free(p);
        sd_err_set(e, SD_ENOMEM, "out of memory");
        return NULL;
    }
    /* sequence numbers restart with the process: clients resync on a new id */
    snprintf(p->id, sizeof p->id, "analyze-%d-%lld", (int)getpid(), (long long)time(NULL));
    p->pub = bind_socket(ctx, sec, ZMQ_PUB, pub_ep, e);
    p->router = p->pub ? bind_socket(ctx, sec, ZMQ_ROUTER, snap_ep, e) : NULL;
    if (!p->router) {
        statspub_destroy(&p);
        return NULL;
    }
    if (console_ep && *console_ep) {
        p->push = zmq_socket(ctx, ZMQ_PUSH);
        int linger = 0, hwm = 100;
        zmq_setsockopt(p->push, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(p->push, ZMQ_SNDHWM, &hwm, sizeof hwm);
        if (zmq_connect(p->push, console_ep) != 0) {
            sd_err_set(e, SD_EIO, "cannot connect %s: %s", console_ep, zmq_strerror(zmq_errno()));
            statspub_destroy(&p);
            return NULL;
        }
    }
    return p;
}

void statspub_destroy(statspub_t **pp)
{
    if (!pp || !*pp)
        return;
    statspub_t *p = *pp;
    if (p->pub)
        zmq_close(p->pub);
    if (p->router)
        zmq_close(p->router);
    if (p->push)
        zmq_close(p->push);
    free(p->runs);
    free(p);
    *pp = NULL;
}

int64_t statspub_update(statspub_t *p, const sd_msg_t *msgs, int n, sd_err_t *e)
{
    for (int i = 0; i < n; i++) {
        const sd_msg_stats_t *m = &msgs[i].u.stats;
        if (msgs[i].type != SD_MSG_STATS || m->is_delta || m->k < 1 || m->k > SD_STATS_MAX_K)
            return sd_err_set(e, SD_EINVAL, "statspub_update wants full stats messages");
        int added = 0;
        stats_run_t *r = find_or_add(&p->runs, &p->nruns, m->run_id, &added);
        if (!r)
            return sd_err_set(e, SD_ENOMEM, "more than %d runs", STATS_MAX_RUNS);
        int64_t delta[SD_STATS_MAX_K * SD_STATS_MAX_K];
        int k = m->k;
        for (int q = 0; q < k * k; q++) {
            delta[q] = m->counts[q] - (added || r->k != k ? 0 : r->counts[q]);
            if (delta[q] < 0)
                return sd_err_set(e, SD_EINVAL, "run %lld: counts went down", (long long)m->run_id);
        }
        run_from_msg(r, m);
        sd_msg_t out;
        msg_from_run(&out, r, delta, ++p->seq, 1);
        int rc = sd_wire_send_msg(p->pub, &out, SD_WIRE_DONTWAIT, e);
        if (rc && rc != SD_EAGAIN)
            return rc;
        if (p->push) {
            msg_from_run(&out, r, r->counts, p->seq, 0);
            sd_err_t pe;
            if (sd_wire_send_msg(p->push, &out, SD_WIRE_DONTWAIT, &pe) == SD_EAGAIN &&
                (p->push_dropped++ % 100) == 0)
                sd_log(SD_LOG_WARN, "analyze", "console return channel full: %lld updates dropped",
                       (long long)p->push_dropped);
        }
    }
    return (int64_t)p->seq;
}

static void seq_heartbeat(sd_msg_t *m, const char *id, const char *state, uint64_t seq)
{
    sd_msg_init(m, SD_MSG_HEARTBEAT);
    snprintf(m->u.heartbeat.sender, sizeof m->u.heartbeat.sender, "%s", id);
    snprintf(m->u.heartbeat.role, sizeof m->u.heartbeat.role, "analyze");
    snprintf(m->u.heartbeat.state, sizeof m->u.heartbeat.state, "%s", state);
    m->u.heartbeat.load = (double)seq;
}

int statspub_serve(statspub_t *p, sd_err_t *e)
{
    for (;;) {
        sd_parts_t in, view;
        int rc = sd_wire_recv(p->router, &in, NULL, SD_WIRE_DONTWAIT, e);
        if (rc == SD_EAGAIN)
            return SD_OK;
        if (rc)
            return rc;
        sd_msg_t req;
        sd_err_t re;
        int ok = in.n >= 2 && sd_parts_view(&in, 1, &view, &re) == SD_OK &&
                 sd_msg_decode_as(&view, SD_MSG_HEARTBEAT, &req, 0, &re) == SD_OK &&
                 !strcmp(req.u.heartbeat.state, "snapshot");
        if (!ok) {
            sd_log(SD_LOG_WARN, "analyze", "snapshot endpoint: ignoring a bad request (%s)",
                   in.n >= 2 ? re.msg : "no identity frame");
            sd_parts_free(&in);
            continue;
        }
        sd_msg_free(&req);
        for (int i = 0; i < p->nruns; i++) {
            sd_msg_t out;
            msg_from_run(&out, &p->runs[i], p->runs[i].counts, p->seq, 0);
            sd_parts_t parts;
            if (sd_msg_encode(&out, &parts, e) == SD_OK) {
                sd_wire_send_routed(p->router, in.data[0], in.len[0], &parts, SD_WIRE_DONTWAIT, NULL);
                sd_parts_free(&parts);
            }
        }
        sd_msg_t end;
        seq_heartbeat(&end, p->id, "snapshot-end", p->seq);
        sd_parts_t parts;
        if (sd_msg_encode(&end, &parts, e) == SD_OK) {
            sd_wire_send_routed(p->router, in.data[0], in.len[0], &parts, SD_WIRE_DONTWAIT, NULL);
            sd_parts_free(&parts);
        }
        sd_parts_free(&in);
    }
}

int statspub_heartbeat(statspub_t *p, sd_err_t *e)
{
    sd_msg_t m;
    seq_heartbeat(&m, p->id, "publishing", p->seq);
    snprintf(m.topic_suffix, sizeof m.topic_suffix, "stats");
    int rc = sd_wire_send_msg(p->pub, &m, SD_WIRE_DONTWAIT, e);
    return rc == SD_EAGAIN ? SD_OK : rc;
}

void *statspub_router(statspub_t *p)
{
    return p->router;
}

uint64_t statspub_seq(const statspub_t *p)
{
    return p->seq;
}

/* ---- client ---- */

typedef struct pending_upd {
    uint64_t seq;
    int is_delta;
    stats_run_t run;
} pending_upd_t;

struct statsclient {
    char pub_id[SD_MSG_ID_MAX + 1]; /* publisher instance of the current snapshot */
    void *sub, *dealer;
    int synced;
    uint64_t seq;
    int nruns;
    stats_run_t *runs;
    int npending;
    pending_upd_t *pending;
    int64_t resyncs, rejected;
};

static int request_snapshot(statsclient_t *c, sd_err_t *e)
{
    sd_msg_t m;
    sd_msg_init(&m, SD_MSG_HEARTBEAT);
    snprintf(m.u.heartbeat.sender, sizeof m.u.heartbeat.sender, "monitor");
    snprintf(m.u.heartbeat.role, sizeof m.u.heartbeat.role, "monitor");
    snprintf(m.u.heartbeat.state, sizeof m.u.heartbeat.state, "snapshot");
    c->synced = 0;
    c->npending = 0;
    c->resyncs++;
    int rc = sd_wire_send_msg(c->dealer, &m, SD_WIRE_DONTWAIT, e);
    return rc == SD_EAGAIN ? SD_OK : rc;
}

statsclient_t *statsclient_new(void *ctx, const char *pub_ep, const char *snap_ep, sd_err_t *e)
{
    return statsclient_new_secure(ctx, NULL, pub_ep, snap_ep, e);
}

statsclient_t *statsclient_new_secure(void *ctx, const sd_config_security_t *sec,
                                      const char *pub_ep, const char *snap_ep, sd_err_t *e)
{
    statsclient_t *c = calloc(1, sizeof *c);
    if (!c || !(c->runs = calloc(STATS_MAX_RUNS, sizeof *c->runs)) ||
        !(c->pending = calloc(CLIENT_PENDING_MAX, sizeof *c->pending))) {
        if (c)
            free(c->runs);
        free(c);
        sd_err_set(e, SD_ENOMEM, "out of memory");
        return NULL;
    }
    c->sub = zmq_socket(ctx, ZMQ_SUB);
    c->dealer = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, hwm = STATS_HWM;
    zmq_setsockopt(c->sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(c->dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(c->sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(c->dealer, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(c->dealer, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(c->sub, ZMQ_SUBSCRIBE, "stats", 5);
    zmq_setsockopt(c->sub, ZMQ_SUBSCRIBE, "heartbeat.stats", 15);
    if (sd_secure_client(c->sub, sec, e) || sd_secure_client(c->dealer, sec, e)) {
        statsclient_destroy(&c);
        return NULL;
    }
    if (zmq_connect(c->sub, pub_ep) != 0 || zmq_connect(c->dealer, snap_ep) != 0) {
        sd_err_set(e, SD_EIO, "cannot connect %s / %s: %s", pub_ep, snap_ep,
                   zmq_strerror(zmq_errno()));
        statsclient_destroy(&c);
        return NULL;
    }
    if (request_snapshot(c, e)) {
        statsclient_destroy(&c);
        return NULL;
    }
    c->resyncs = 0; /* the first request is not a resync */
    return c;
}

void statsclient_destroy(statsclient_t **pc)
{
    if (!pc || !*pc)
        return;
    statsclient_t *c = *pc;
    if (c->sub)
        zmq_close(c->sub);
    if (c->dealer)
        zmq_close(c->dealer);
    free(c->runs);
    free(c->pending);
    free(c);
    *pc = NULL;
}

static int apply(statsclient_t *c, const stats_run_t *u, int is_delta)
{
    stats_run_t *r = find_or_add(&c->runs, &c->nruns, u->run_id, NULL);
    if (!r)
        return -1;
    if (!is_delta || r->k != u->k) {
        *r = *u;
        return 1;
    }
    int64_t counts[SD_STATS_MAX_K * SD_STATS_MAX_K];
    for (int q = 0; q < u->k * u->k; q++)
        counts[q] = r->counts[q] + u->counts[q];
    *r = *u;
    memcpy(r->counts, counts, (size_t)(u->k * u->k) * sizeof *counts);
    return 1;
}

static int on_sub(statsclient_t *c, const sd_msg_t *m, sd_err_t *e)
{
    stats_run_t u;
    run_from_msg(&u, &m->u.stats);
    uint64_t seq = m->u.stats.seq;
    if (!c->synced) {
        if (c->npending >= CLIENT_PENDING_MAX)
            return request_snapshot(c, e);
        c->pending[c->npending++] = (pending_upd_t){seq, m->u.stats.is_delta, u};
        return 0;
    }
    if (seq <= c->seq)
        return 0;
    if (seq != c->seq + 1) {
        sd_log(SD_LOG_WARN, "monitor", "stats sequence gap (%llu after %llu): resyncing",
               (unsigned long long)seq, (unsigned long long)c->seq);
        int rc = request_snapshot(c, e);
        if (!rc && c->npending < CLIENT_PENDING_MAX)
            c->pending[c->npending++] = (pending_upd_t){seq, m->u.stats.is_delta, u};
        return rc;
    }
    c->seq = seq;
    return apply(c, &u, m->u.stats.is_delta);
}

static int on_dealer(statsclient_t *c, const sd_msg_t *m)
{
    if (m->type == SD_MSG_STATS) {
        stats_run_t u;
        run_from_msg(&u, &m->u.stats);
        return apply(c, &u, 0);
    }
    if (m->type == SD_MSG_HEARTBEAT && !strcmp(m->u.heartbeat.state, "snapshot-end")) {
        snprintf(c->pub_id, sizeof c->pub_id, "%s", m->u.heartbeat.sender);
        c->seq = (uint64_t)m->u.heartbeat.load;
        c->synced = 1;
        int applied = 0;
        for (uint64_t want = c->seq + 1;; want++) { /* queued PUB updates newer than the snapshot */
            int found = 0;
            for (int i = 0; i < c->npending; i++)
                if (c->pending[i].seq == want) {
                    apply(c, &c->pending[i].run, c->pending[i].is_delta);
                    c->seq = want;
                    applied++;
                    found = 1;
                    break;
                }
            if (!found)
                break;
        }
        c->npending = 0;
        return applied;
    }
    return 0;
}

int statsclient_poll(statsclient_t *c, int timeout_ms, sd_err_t *e)
{
    int applied = 0;
    zmq_pollitem_t items[2] = {{c->sub, 0, ZMQ_POLLIN, 0}, {c->dealer, 0, ZMQ_POLLIN, 0}};
    int first = 1;
    for (;;) {
        int rc = zmq_poll(items, 2, first ? timeout_ms : 0);
        first = 0;
        if (rc < 0)
            return sd_err_set(e, SD_EIO, "zmq_poll: %s", zmq_strerror(zmq_errno()));
        if (rc == 0)
            return applied;
        for (int s = 0; s < 2; s++) {
            if (!(items[s].revents & ZMQ_POLLIN))
                continue;
            sd_msg_t m;
            sd_err_t de;
            int drc = sd_wire_recv_msg(items[s].socket, &m, NULL, SD_WIRE_DONTWAIT, &de);
            if (drc == SD_EAGAIN)
                continue;
            if (drc) {
                c->rejected++;
                sd_log(SD_LOG_WARN, "monitor", "rejected a message: %s", de.msg);
                continue;
            }
            int k = 0;
            if (s == 0 && m.type == SD_MSG_STATS)
                k = on_sub(c, &m, e);
            else if (s == 0 && m.type == SD_MSG_HEARTBEAT && c->synced &&
                     strcmp(m.u.heartbeat.sender, c->pub_id)) {
                sd_log(SD_LOG_WARN, "monitor", "the publisher restarted (%s): resyncing",
                       m.u.heartbeat.sender);
                k = request_snapshot(c, e);
            } else if (s == 0 && m.type == SD_MSG_HEARTBEAT && c->synced &&
                       (uint64_t)m.u.heartbeat.load > c->seq) {
                sd_log(SD_LOG_WARN, "monitor", "behind the publisher (%llu < %llu): resyncing",
                       (unsigned long long)c->seq, (unsigned long long)m.u.heartbeat.load);
                k = request_snapshot(c, e);
            }
            else if (s == 1)
                k = on_dealer(c, &m);
            sd_msg_free(&m);
            if (k < 0)
                return k;
            applied += k;
        }
    }
}

int statsclient_synced(const statsclient_t *c)
{
    return c->synced;
}

uint64_t statsclient_seq(const statsclient_t *c)
{
    return c->seq;
}

int statsclient_runs(const statsclient_t *c, const stats_run_t **runs)
{
    *runs = c->runs;
    return c->nruns;
}

const stats_run_t *statsclient_run(const statsclient_t *c, int64_t run_id)
{
    for (int i = 0; i < c->nruns; i++)
        if (c->runs[i].run_id == run_id)
            return &c->runs[i];
    return NULL;
}

int64_t statsclient_resyncs(const statsclient_t *c)
{
    return c->resyncs;
}

int64_t statsclient_rejected(const statsclient_t *c)
{
    return c->rejected;
}
