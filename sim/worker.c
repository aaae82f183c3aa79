#include "worker.h"

#include "sd_clock.h"
#include "sd_signal.h"
#include "sd_log.h"
#include "sd_msg.h"
#include "sd_secure.h"
#include "sd_wire.h"
#include "sim.h"
#include "sim_run.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_UNACKED 64
#define RESEND_NS 3000000000LL
#define CHUNK_STEPS 200

typedef struct unacked {
    int64_t step;
    int64_t sent_ns;
    sd_msg_t msg;  /* snapshot; pos points to `pos` */
    double *pos;
} unacked_t;

struct worker {
    sd_config_t cfg;
    char id[SD_MSG_ID_MAX + 1];
    void *zctx, *broker, *analyze;
    int sfd;
    int stop;
    int64_t last_hb_ns;
    int nun;
    unacked_t un[MAX_UNACKED];
    long long jobs_done, snapshots;
};

worker_t *worker_new(const sd_config_t *cfg, const char *id, const char *broker_ep, sd_err_t *e)
{
    worker_t *w = calloc(1, sizeof *w);
    if (!w) {
        sd_err_set(e, SD_ENOMEM, "out of memory");
        return NULL;
    }
    w->cfg = *cfg;
    w->sfd = -1;
    if (id) {
        snprintf(w->id, sizeof w->id, "%s", id);
    } else {
        char host[64] = "host";
        gethostname(host, sizeof host - 1);
        for (char *p = host; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                  *p == '.' || *p == '-'))
                *p = '-';
        snprintf(w->id, sizeof w->id, "%s-%d", host, (int)getpid());
    }
    w->zctx = zmq_ctx_new();
    w->broker = zmq_socket(w->zctx, ZMQ_DEALER);
    w->analyze = zmq_socket(w->zctx, ZMQ_DEALER);
    /* sends are bounded by the protocol (MAX_UNACKED snapshots, one job and
     * its heartbeats); the HWMs are the backstop */
    int linger = 2000, hwm = 1000;
    zmq_setsockopt(w->broker, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(w->analyze, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(w->broker, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(w->broker, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(w->analyze, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(w->analyze, ZMQ_RCVHWM, &hwm, sizeof hwm);
    const char *bep = broker_ep ? broker_ep : cfg->ep.broker_back;
    if (sd_secure_client(w->broker, &cfg->security, e) ||
        sd_secure_client(w->analyze, &cfg->security, e)) {
        worker_destroy(&w);
        return NULL;
    }
    if (zmq_connect(w->broker, bep) || zmq_connect(w->analyze, cfg->ep.analyze_in)) {
        sd_err_set(e, SD_EIO, "cannot connect %s / %s: %s", bep, cfg->ep.analyze_in,
                   zmq_strerror(zmq_errno()));
        worker_destroy(&w);
        return NULL;
    }
    return w;
}

void worker_destroy(worker_t **p)
{
    if (!p || !*p)
        return;
    worker_t *w = *p;
    for (int i = 0; i < w->nun; i++)
        free(w->un[i].pos);
    if (w->broker)
        zmq_close(w->broker);
    if (w->analyze)
        zmq_close(w->analyze);
    if (w->zctx)
        zmq_ctx_term(w->zctx);
    free(w);
    *p = NULL;
}

static void heartbeat(worker_t *w, const char *state, double load)
{
    sd_msg_t m;
    sd_msg_init(&m, SD_MSG_HEARTBEAT);
    snprintf(m.u.heartbeat.sender, sizeof m.u.heartbeat.sender, "%s", w->id);
    snprintf(m.u.heartbeat.role, sizeof m.u.heartbeat.role, "worker");
    snprintf(m.u.heartbeat.state, sizeof m.u.heartbeat.state, "%s", state);
    m.u.heartbeat.t_ns = sd_clock_wall_ns();
    m.u.heartbeat.load = load;
    sd_wire_send_msg(w->broker, &m, SD_WIRE_DONTWAIT, NULL);
    w->last_hb_ns = sd_clock_mono_ns();
}

static void check_signal(worker_t *w)
{
    if (sd_signal_stop_requested(w->sfd))
        w->stop = 1;
}

/* Reads acknowledgements, resends what is overdue; never blocks longer
 * than wait_ms. */
static void pump_acks(worker_t *w, int wait_ms)
{
    zmq_pollitem_t it = {w->analyze, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, wait_ms) > 0)
        for (;;) {
            sd_msg_t m;
            if (sd_wire_recv_msg(w->analyze, &m, NULL, SD_WIRE_DONTWAIT, NULL))
                break;
            if (m.type == SD_MSG_HEARTBEAT && !strcmp(m.u.heartbeat.state, "ack"))
                for (int i = 0; i < w->nun; i++)
                    if (w->un[i].step == (int64_t)m.u.heartbeat.load &&
                        !strcmp(w->un[i].msg.u.snapshot.job_id, m.u.heartbeat.sender)) {
                        free(w->un[i].pos);
                        w->un[i] = w->un[--w->nun];
                        break;
                    }
            sd_msg_free(&m);
        }
    int64_t now = sd_clock_mono_ns();
    for (int i = 0; i < w->nun; i++)
        if (now - w->un[i].sent_ns > RESEND_NS) {
            sd_wire_send_msg(w->analyze, &w->un[i].msg, SD_WIRE_DONTWAIT, NULL);
            w->un[i].sent_ns = now;
        }
    if (now - w->last_hb_ns > (int64_t)(w->cfg.limits.heartbeat_s * 1e9))
        heartbeat(w, "busy", w->nun);
    check_signal(w);
}

/* Waits (heartbeating) until every snapshot is acknowledged or timeout_s. */
static int drain_acks(worker_t *w, double timeout_s)
{
    int64_t end = sd_clock_mono_ns() + (int64_t)(timeout_s * 1e9);
    while (w->nun > 0 && sd_clock_mono_ns() < end && (timeout_s > 0 || !w->stop))
        pump_acks(w, 50);
    return w->nun == 0;
}

static void send_snapshot(worker_t *w, sim_run_t *r, const sd_msg_sim_job_t *job, double ns_day)
{
    while (w->nun >= MAX_UNACKED && !w->stop)
        pump_acks(w, 100); /* analyze is behind: wait, do not grow */
    if (w->nun >= MAX_UNACKED)
        return;
    int64_t n = sim_run_natoms(r);
    unacked_t *u = &w->un[w->nun];
    u->pos = malloc((size_t)(3 * n) * sizeof *u->pos);
    if (!u->pos)
        return;
    memcpy(u->pos, sim_run_positions(r), (size_t)(3 * n) * sizeof *u->pos);
    sd_msg_init(&u->msg, SD_MSG_SNAPSHOT);
    sd_msg_snapshot_t *s = &u->msg.u.snapshot;
    snprintf(s->job_id, sizeof s->job_id, "%s", job->job_id);
    snprintf(s->element, sizeof s->element, "%s", job->element);
    s->frame_index = job->frame_index;
    s->step = sim_run_step(r);
    s->time_fs = sim_run_production_fs(r);
    s->n_atoms = n;
    s->pos = u->pos;
    s->temperature_K = sim_run_temperature(r);
    s->epot_eV = sim_run_epot(r);
    s->ns_per_day = ns_day;
    u->step = s->step;
    u->sent_ns = sd_clock_mono_ns();
    w->nun++;
    w->snapshots++;
    sd_err_t e;
    if (sd_wire_send_msg(w->analyze, &u->msg, SD_WIRE_DONTWAIT, &e) && e.code != SD_EAGAIN)
        sd_log(SD_LOG_WARN, "worker", "snapshot: %s", e.msg);
}

static void upload_checkpoint(worker_t *w, sim_run_t *r, const sd_msg_t *job)
{
    void *blob = NULL;
    size_t len = 0;
    sd_err_t e;
    if (sim_run_checkpoint(r, &blob, &len, &e)) {
        sd_log(SD_LOG_WARN, "worker", "checkpoint: %s", e.msg);
        return;
    }
    sd_msg_t m = *job;
    m.u.sim_job.checkpoint = blob;
    m.u.sim_job.checkpoint_len = len;
    if (sd_wire_send_msg(w->broker, &m, 0, &e))
        sd_log(SD_LOG_WARN, "worker", "checkpoint upload: %s", e.msg);
    free(blob);
}

static int run_job(worker_t *w, const sd_msg_t *jm, sd_err_t *e)
{
    const sd_msg_sim_job_t *j = &jm->u.sim_job;
    sim_potential_t *p = sim_potential_new(strcmp(j->element, "Au") ? j->element : w->cfg.md.potential, e);
    if (!p)
        return e->code;
    sim_run_config_t rc = {.temp_K = j->temperature_K, .dt_fs = j->dt_fs,
                           .thermalize_steps = j->thermalize_steps,
                           .thermalize_dt_fs = j->thermalize_dt_fs,
                           .production_fs = j->production_time_fs, .dump_every_fs = j->dump_every_fs,
                           .damp_ps = j->damp_ps, .seed = j->seed, .minimize = 1};
    sim_run_t *r = j->checkpoint_len
                       ? sim_run_restore(p, j->checkpoint, j->checkpoint_len, &rc, e)
                       : sim_run_new(p, j->n_atoms, j->pos, &rc, e);
    if (!r) {
        sim_potential_destroy(&p);
        return e->code;
    }
    sd_log(SD_LOG_INFO, "worker", "%s: job %s (frame %lld) %s at step %lld", w->id, j->job_id,
           (long long)j->frame_index, j->checkpoint_len ? "resumed" : "started",
           (long long)sim_run_step(r));
    double ckpt_every_fs = w->cfg.md.checkpoint_every_ns * 1e6;
    double last_ckpt_fs = sim_run_production_fs(r);
    int64_t t0 = sd_clock_mono_ns();
    double prod0 = sim_run_production_fs(r);
    int status = SD_OK;
    /* production starts on dump point 0 (at once without thermalisation); a
     * resumed run re-sends the dump point it stands on (analyze ignores repeats) */
    int at_dump = sim_run_production_fs(r) >= 0;
    for (;;) {
        if (at_dump) {
            double el = (double)(sd_clock_mono_ns() - t0) * 1e-9;
            double ns_day = el > 0 ? (sim_run_production_fs(r) - prod0) * 1e-6 / el * 86400 : 0;
            send_snapshot(w, r, j, ns_day > 0 ? ns_day : 0);
            if (sim_run_production_fs(r) - last_ckpt_fs >= ckpt_every_fs - 1e-9 && !sim_run_done(r)) {
                if (drain_acks(w, 0))
                    upload_checkpoint(w, r, jm);
                last_ckpt_fs = sim_run_production_fs(r);
            }
        }
        if (sim_run_done(r) || w->stop)
            break;
        if ((status = sim_run_advance(r, CHUNK_STEPS, &at_dump, e)))
            break;
        pump_acks(w, 0);
    }
    if (w->stop && !sim_run_done(r)) {
        drain_acks(w, 5.0);
        upload_checkpoint(w, r, jm); /* graceful stop: the job continues elsewhere */
        sd_log(SD_LOG_INFO, "worker", "stopped: job %s checkpointed at step %lld", j->job_id,
               (long long)sim_run_step(r));
    } else if (!status) {
        drain_acks(w, 0);
        if (!w->stop) {
            heartbeat(w, "done", 0);
            w->jobs_done++;
            sd_log(SD_LOG_INFO, "worker", "job %s done (%lld snapshots)", j->job_id, w->snapshots);
        }
    }
    sim_run_destroy(&r);
    sim_potential_destroy(&p);
    return status;
}

int worker_run(worker_t *w, double max_seconds, int max_jobs, sd_err_t *e)
{
    w->sfd = sd_signal_stop_fd();
    int64_t end = max_seconds > 0 ? sd_clock_mono_ns() + (int64_t)(max_seconds * 1e9) : 0;
    heartbeat(w, "ready", 0);
    while (!w->stop && (!end || sd_clock_mono_ns() < end) && (max_jobs <= 0 || w->jobs_done < max_jobs)) {
        zmq_pollitem_t it = {w->broker, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 200) > 0) {
            sd_msg_t m;
            sd_err_t re;
            int rc = sd_wire_recv_msg(w->broker, &m, NULL, SD_WIRE_DONTWAIT, &re);
            if (rc == SD_OK && m.type == SD_MSG_SIM_JOB) {
                rc = run_job(w, &m, &re);
                if (rc) {
                    sd_log(SD_LOG_ERROR, "worker", "job %s failed: %s", m.u.sim_job.job_id, re.msg);
                    heartbeat(w, "done", 0); /* do not hand it to us again */
                }
                if (!w->stop)
                    heartbeat(w, "ready", 0);
            } else if (rc && rc != SD_EAGAIN) {
                sd_log(SD_LOG_WARN, "worker", "bad message from the broker: %s", re.msg);
            }
            if (rc == SD_OK)
                sd_msg_free(&m);
        }
        if (sd_clock_mono_ns() - w->last_hb_ns > (int64_t)(w->cfg.limits.heartbeat_s * 1e9))
            heartbeat(w, "ready", 0);
        check_signal(w);
    }
    if (w->sfd >= 0)
        close(w->sfd);
    (void)e;
    return SD_OK;
}
