/* statspub/statsclient: the Clone pattern over real ZeroMQ sockets — a late
 * monitor gets the full state, deltas apply in order, a gap forces a resync,
 * and the client always converges to the publisher's counts. */
#include "sdtest.h"
#include "statspub.h"

#include <unistd.h>
#include <zmq.h>

enum { K = 3 };

typedef struct fake_run {
    int64_t id;
    int64_t counts[K * K], pop[K];
    double mean[K], sd[K];
} fake_run_t;

static void make_msg(sd_msg_t *m, fake_run_t *r, int64_t frames)
{
    sd_msg_init(m, SD_MSG_STATS);
    sd_msg_stats_t *s = &m->u.stats;
    s->run_id = r->id;
    s->k = K;
    const char *lab[K] = {"b", "s", "v"};
    for (int g = 0; g < K; g++)
        snprintf(s->labels[g], sizeof s->labels[g], "%s", lab[g]);
    s->frames = frames;
    s->counts = r->counts;
    s->populations = r->pop;
    s->pop_mean = r->mean;
    s->pop_std = r->sd;
    s->has_lens = 1;
    s->lens_fractions[0] = 1;
    s->sim_ns = (double)frames;
    s->target_ns = 100;
    s->ns_per_day = 50;
}

static void step(fake_run_t *runs, int nr, int t)
{
    for (int r = 0; r < nr; r++) {
        for (int q = 0; q < K * K; q++)
            runs[r].counts[q] += (q * 7 + t + r) % 5;
        for (int g = 0; g < K; g++) {
            runs[r].pop[g] = 10 + (t + g) % 3;
            runs[r].mean[g] = 1.0 / K;
        }
    }
}

static int converge(statsclient_t *c, fake_run_t *runs, int nr, sd_err_t *e)
{
    for (int spin = 0; spin < 200; spin++) {
        statsclient_poll(c, 20, e);
        int same = statsclient_synced(c);
        for (int r = 0; r < nr && same; r++) {
            const stats_run_t *got = statsclient_run(c, runs[r].id);
            same = got && !memcmp(got->counts, runs[r].counts, sizeof runs[r].counts);
        }
        if (same)
            return 1;
    }
    return 0;
}

static void test_late_join_and_deltas(sdt_t *t)
{
    void *ctx = zmq_ctx_new();
    sd_err_t e;
    char pub[64], snap[64];
    snprintf(pub, sizeof pub, "inproc://pub-%d", (int)getpid());
    snprintf(snap, sizeof snap, "inproc://snap-%d", (int)getpid());
    statspub_t *p = statspub_new(ctx, pub, snap, NULL, &e);
    CHECK_MSG(t, p != NULL, "%s", e.msg);
    if (!p)
        return;
    fake_run_t runs[2] = {{.id = 0}, {.id = 1}};
    sd_msg_t msgs[2];
    for (int it = 0; it < 5; it++) { /* history before any monitor exists */
        step(runs, 2, it);
        make_msg(&msgs[0], &runs[0], it + 1);
        make_msg(&msgs[1], &runs[1], it + 1);
        CHECK(t, statspub_update(p, msgs, 2, &e) > 0);
    }
    statsclient_t *c = statsclient_new(ctx, pub, snap, &e);
    CHECK_MSG(t, c != NULL, "%s", e.msg);
    for (int spin = 0; spin < 100 && !statsclient_synced(c); spin++) {
        statspub_serve(p, &e);
        statsclient_poll(c, 10, &e);
    }
    CHECK(t, statsclient_synced(c));
    CHECK_EQ_INT(t, statsclient_seq(c), 10);
    CHECK(t, converge(c, runs, 2, &e));
    usleep(100000); /* let the SUB connection settle before live deltas */
    for (int it = 5; it < 25; it++) {
        step(runs, 2, it);
        make_msg(&msgs[0], &runs[0], it + 1);
        make_msg(&msgs[1], &runs[1], it + 1);
        statspub_update(p, msgs, 2, &e);
        statspub_serve(p, &e);
    }
    for (int spin = 0; spin < 50; spin++) {
        statspub_serve(p, &e);
        if (converge(c, runs, 2, &e))
            break;
    }
    CHECK(t, converge(c, runs, 2, &e));
    const stats_run_t *r1 = statsclient_run(c, 1);
    CHECK(t, r1 && r1->frames == 25 && r1->k == K && !strcmp(r1->labels[2], "v"));
    CHECK_EQ_INT(t, statsclient_rejected(c), 0);
    statsclient_destroy(&c);
    statspub_destroy(&p);
    zmq_ctx_term(ctx);
}

static void test_gap_forces_resync(sdt_t *t)
{
    void *ctx = zmq_ctx_new();
    sd_err_t e;
    statspub_t *p = statspub_new(ctx, "inproc://pub-gap", "inproc://snap-gap", NULL, &e);
    statsclient_t *c = statsclient_new(ctx, "inproc://pub-gap", "inproc://snap-gap", &e);
    fake_run_t run = {.id = 3};
    sd_msg_t m;
    for (int spin = 0; spin < 100 && !statsclient_synced(c); spin++) {
        statspub_serve(p, &e);
        statsclient_poll(c, 10, &e);
    }
    CHECK(t, statsclient_synced(c));
    /* 3000 updates while the client does not read: the PUB queue (HWM 1000)
     * drops some, so the client must notice the gap and resync */
    for (int it = 0; it < 3000; it++) {
        step(&run, 1, it);
        make_msg(&m, &run, it + 1);
        statspub_update(p, &m, 1, &e);
    }
    int ok = 0;
    for (int spin = 0; spin < 300 && !ok; spin++) {
        if (spin % 20 == 10)
            statspub_heartbeat(p, &e);
        statspub_serve(p, &e);
        statsclient_poll(c, 5, &e);
        const stats_run_t *g = statsclient_run(c, 3);
        ok = statsclient_synced(c) && g && !memcmp(g->counts, run.counts, sizeof run.counts);
    }
    CHECK(t, ok);
    CHECK_MSG(t, statsclient_resyncs(c) >= 1, "resyncs %lld", (long long)statsclient_resyncs(c));
    statsclient_destroy(&c);
    statspub_destroy(&p);
    zmq_ctx_term(ctx);
}

static void test_rejects_bad_updates(sdt_t *t)
{
    void *ctx = zmq_ctx_new();
    sd_err_t e;
    statspub_t *p = statspub_new(ctx, "inproc://pub-bad", "inproc://snap-bad", NULL, &e);
    fake_run_t run = {.id = 0};
    sd_msg_t m;
    step(&run, 1, 0);
    make_msg(&m, &run, 1);
    CHECK(t, statspub_update(p, &m, 1, &e) == 1);
    run.counts[0] -= 1; /* counts never go down */
    make_msg(&m, &run, 2);
    CHECK(t, statspub_update(p, &m, 1, &e) < 0);
    CHECK_STR_CONTAINS(t, e.msg, "went down");
    m.u.stats.is_delta = 1;
    CHECK(t, statspub_update(p, &m, 1, &e) < 0);
    CHECK(t, statspub_new(ctx, "inproc://pub-bad", "inproc://other", NULL, &e) == NULL);
    CHECK_STR_CONTAINS(t, e.msg, "cannot bind");
    statspub_destroy(&p);
    zmq_ctx_term(ctx);
}

/* A restarted publisher counts its sequence from 1 again: the client must
 * notice the new instance (heartbeat sender) and take a fresh snapshot. */
static void test_publisher_restart(sdt_t *t)
{
    void *ctx = zmq_ctx_new();
    sd_err_t e;
    /* tcp: inproc connections do not come back after the binder closes */
    char pub[64], snap[64];
    int port = 40000 + (int)(getpid() % 10000) * 2;
    snprintf(pub, sizeof pub, "tcp://127.0.0.1:%d", port);
    snprintf(snap, sizeof snap, "tcp://127.0.0.1:%d", port + 1);
    statspub_t *p = statspub_new(ctx, pub, snap, NULL, &e);
    statsclient_t *c = statsclient_new(ctx, pub, snap, &e);
    fake_run_t run = {.id = 5};
    sd_msg_t m;
    for (int it = 0; it < 30; it++) {
        step(&run, 1, it);
        make_msg(&m, &run, it + 1);
        statspub_update(p, &m, 1, &e);
    }
    for (int spin = 0; spin < 100 && !converge(c, &run, 1, &e); spin++)
        statspub_serve(p, &e);
    CHECK(t, converge(c, &run, 1, &e));
    statspub_destroy(&p);
    sleep(1); /* distinct instance id (pid + second) */
    fake_run_t run2 = {.id = 5};
    p = statspub_new(ctx, pub, snap, NULL, &e);
    CHECK_MSG(t, p != NULL, "%s", e.msg);
    if (!p)
        return;
    for (int it = 0; it < 3; it++) { /* a smaller state with smaller sequence numbers */
        step(&run2, 1, it);
        make_msg(&m, &run2, it + 1);
        statspub_update(p, &m, 1, &e);
    }
    int ok = 0;
    for (int spin = 0; spin < 200 && !ok; spin++) {
        if (spin % 10 == 0)
            statspub_heartbeat(p, &e);
        statspub_serve(p, &e);
        statsclient_poll(c, 10, &e);
        const stats_run_t *g = statsclient_run(c, 5);
        ok = statsclient_synced(c) && g && !memcmp(g->counts, run2.counts, sizeof run2.counts);
    }
    CHECK(t, ok);
    statsclient_destroy(&c);
    statspub_destroy(&p);
    zmq_ctx_term(ctx);
}

SDT_MAIN(SDT_CASE(test_late_join_and_deltas), SDT_CASE(test_gap_forces_resync),
         SDT_CASE(test_publisher_restart),
         SDT_CASE(test_rejects_bad_updates))
