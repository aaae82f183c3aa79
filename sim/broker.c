#include "broker.h"

#include "sd_clock.h"
#include "sd_signal.h"
#include "sd_fs.h"
#include "sd_log.h"
#include "sd_msg.h"
#include "sd_recording.h"
#include "sd_secure.h"
#include "sd_wire.h"
#include "sim_run.h"

#include <dirent.h>
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

#define MAX_JOBS 4096
#define MAX_WORKERS 1024

typedef enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE } job_state_t;

typedef struct job {
    char id[SD_MSG_ID_MAX + 1];
    job_state_t state;
    sd_msg_t msg;         /* the sim_job as it goes out (decoded copy owns its arrays) */
    void *ckpt;           /* latest checkpoint blob (owned) */
    size_t ckpt_len;
    char worker[SD_MSG_ID_MAX + 1];
    int64_t order;        /* frame order: older frames first */
} job_t;

typedef struct worker {
    char id[SD_MSG_ID_MAX + 1];
    uint8_t route[256];   /* ROUTER identity */
    size_t route_len;
    int64_t last_seen_ns;
    int idle;             /* asked for work and has none */
    int alive;
} worker_t;

struct broker {
    sd_config_t cfg;
    void *zctx, *front, *back;
    sd_secure_t *sec; /* CURVE authenticator, NULL without keys */
    char dir[1024];
    int njobs, nworkers;
    job_t *jobs;
    worker_t *workers;
    long long resumed, dead_workers;
};

/* Writes parts as a one-record recording file, atomically. */
static int save_parts(const char *path, const sd_parts_t *parts, sd_err_t *e)
{
    const void *pp[SD_PARTS_CAP];
    size_t lens[SD_PARTS_CAP];
    for (int i = 0; i < parts->n; i++) {
        pp[i] = parts->data[i];
        lens[i] = parts->len[i];
    }
    uint64_t size = sd_rec_record_size((uint32_t)parts->n, lens);
    uint8_t *buf = size ? malloc(SD_REC_HEADER_BYTES + size) : NULL;
    if (!buf)
        return sd_err_set(e, SD_ENOMEM, "cannot store job %s", path);
    sd_rec_header_encode(sd_clock_wall_ns(), buf);
    size_t w = 0;
    int rc = sd_rec_record_encode(buf + SD_REC_HEADER_BYTES, size, sd_clock_wall_ns(), 0, 0,
                                  (uint32_t)parts->n, pp, lens, &w, e);
    char tmp[1400];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = rc ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (!rc && (fd < 0 || write(fd, buf, SD_REC_HEADER_BYTES + w) != (ssize_t)(SD_REC_HEADER_BYTES + w) ||
                fdatasync(fd) || close(fd) || rename(tmp, path)))
        rc = sd_err_set(e, SD_EIO, "cannot write %s: %s", path, strerror(errno));
    free(buf);
    return rc;
}

static job_t *find_job(broker_t *b, const char *id)
{
    for (int i = 0; i < b->njobs; i++)
        if (!strcmp(b->jobs[i].id, id))
            return &b->jobs[i];
    return NULL;
}

static worker_t *find_worker(broker_t *b, const char *id)
{
    for (int i = 0; i < b->nworkers; i++)
        if (!strcmp(b->workers[i].id, id))
            return &b->workers[i];
    return NULL;
}

/* Adds a job from a decoded sim_job (takes ownership of *m). */
static job_t *add_job(broker_t *b, sd_msg_t *m, sd_err_t *e)
{
    job_t *j = NULL;
    if (b->njobs < MAX_JOBS) {
        j = &b->jobs[b->njobs++];
    } else {
        /* a long session: reuse the oldest finished job's slot (its .done file
         * keeps a resent model from running again) */
        for (int i = 0; i < b->njobs; i++)
            if (b->jobs[i].state == JOB_DONE && (!j || b->jobs[i].order < j->order))
                j = &b->jobs[i];
        if (!j) {
            sd_err_set(e, SD_ENOMEM, "job table full (%d jobs queued or running)", MAX_JOBS);
            return NULL;
        }
        sd_msg_free(&j->msg);
        free(j->ckpt);
    }
    memset(j, 0, sizeof *j);
    snprintf(j->id, sizeof j->id, "%s", m->u.sim_job.job_id);
    j->msg = *m;
    j->order = m->u.sim_job.frame_index;
    j->state = JOB_QUEUED;
    memset(m, 0, sizeof *m);
    return j;
}

static void job_paths(const broker_t *b, const char *id, char *job, char *ckpt, char *done,
                      size_t cap)
{
    snprintf(job, cap, "%s/%s.job", b->dir, id);
    snprintf(ckpt, cap, "%s/%s.ckpt", b->dir, id);
    snprintf(done, cap, "%s/%s.done", b->dir, id);
}

static void *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = n > 0 ? malloc((size_t)n) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = p ? (size_t)n : 0;
    return p;
}

/* Reloads the job table of a previous broker (jobs, checkpoints, done marks). */
static void load_jobs(broker_t *b)
{
    DIR *d = opendir(b->dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t L = strlen(de->d_name);
        if (L < 5 || strcmp(de->d_name + L - 4, ".job"))
            continue;
        char path[1400], done[1400];
        snprintf(path, sizeof path, "%s/%s", b->dir, de->d_name);
        snprintf(done, sizeof done, "%s/%.*s.done", b->dir, (int)(L - 4), de->d_name);
        if (access(done, F_OK) == 0)
            continue; /* finished: its .done file answers a resent model */
        sd_err_t e;
        sd_rec_reader_t *r = sd_rec_reader_open(path, &e);
        sd_rec_record_t rec;
        if (!r || sd_rec_reader_count(r) != 1 || sd_rec_reader_read(r, 0, &rec, &e)) {
            sd_log(SD_LOG_WARN, "broker", "skipping damaged job file %s", path);
            sd_rec_reader_destroy(&r);
            continue;
        }
        sd_parts_t parts = {.n = (int)rec.n_parts};
        for (uint32_t i = 0; i < rec.n_parts && i < SD_PARTS_CAP; i++) {
            parts.data[i] = rec.parts[i];
            parts.len[i] = rec.lens[i];
        }
        sd_msg_t m;
        if (sd_msg_decode_as(&parts, SD_MSG_SIM_JOB, &m, 0, &e) == SD_OK) {
            job_t *j = add_job(b, &m, &e);
            if (j) {
                char jp[1300], cp[1300], dp[1300];
                job_paths(b, j->id, jp, cp, dp, sizeof jp);
                j->ckpt = read_file(cp, &j->ckpt_len);
            }
        }
        sd_rec_reader_destroy(&r);
    }
    closedir(d);
    if (b->njobs)
        sd_log(SD_LOG_INFO, "broker", "reloaded %d jobs from %s", b->njobs, b->dir);
}

broker_t *broker_new(const sd_config_t *cfg, sd_err_t *e)
{
    broker_t *b = calloc(1, sizeof *b);
    if (!b || !(b->jobs = calloc(MAX_JOBS, sizeof *b->jobs)) ||
        !(b->workers = calloc(MAX_WORKERS, sizeof *b->workers))) {
        if (b)
            free(b->jobs);
        free(b);
        sd_err_set(e, SD_ENOMEM, "out of memory");
        return NULL;
    }
    b->cfg = *cfg;
    snprintf(b->dir, sizeof b->dir, "%s/sim/jobs", cfg->data_dir);
    if (sd_fs_mkdir_p(b->dir, e)) {
        broker_destroy(&b);
        return NULL;
    }
    load_jobs(b);
    b->zctx = zmq_ctx_new();
    if (sd_secure_server_wanted(&cfg->security) &&
        !(b->sec = sd_secure_new(b->zctx, &cfg->security, "broker", e))) {
        broker_destroy(&b);
        return NULL;
    }
    b->front = zmq_socket(b->zctx, ZMQ_ROUTER);
    b->back = zmq_socket(b->zctx, ZMQ_ROUTER);
    /* models are acknowledged (recon keeps ≤ 16 in flight) and jobs go only to
     * idle workers, so these queues stay short; the HWMs are the backstop */
    int linger = 0, on = 1, hwm = (int)cfg->limits.queue_frames;
    zmq_setsockopt(b->front, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(b->back, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(b->front, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(b->front, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(b->back, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(b->back, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(b->back, ZMQ_ROUTER_MANDATORY, &on, sizeof on);
    /* a peer announcing a part larger than the protocol allows (a model of 10^6
     * atoms is 24 MB, a checkpoint ≤ 256 MiB) is cut off before libzmq allocates */
    int64_t max_model = 64ll << 20, max_back = (int64_t)SD_MSG_MAX_CHECKPOINT + (16 << 20);
    zmq_setsockopt(b->front, ZMQ_MAXMSGSIZE, &max_model, sizeof max_model);
    zmq_setsockopt(b->back, ZMQ_MAXMSGSIZE, &max_back, sizeof max_back);
    if (sd_secure_serve(b->sec, b->front, cfg->ep.broker_front, e) ||
        sd_secure_serve(b->sec, b->back, cfg->ep.broker_back, e)) {
        broker_destroy(&b);
        return NULL;
    }
    if (zmq_bind(b->front, cfg->ep.broker_front) || zmq_bind(b->back, cfg->ep.broker_back)) {
        sd_err_set(e, SD_EIO, "cannot bind %s / %s: %s", cfg->ep.broker_front, cfg->ep.broker_back,
                   zmq_strerror(zmq_errno()));
        broker_destroy(&b);
        return NULL;
    }
    return b;
}

void broker_destroy(broker_t **p)
{
    if (!p || !*p)
        return;
    broker_t *b = *p;
    if (b->front)
        zmq_close(b->front);
    if (b->back)
        zmq_close(b->back);
    sd_secure_destroy(&b->sec);
    if (b->zctx)
        zmq_ctx_term(b->zctx);
    for (int i = 0; i < b->njobs; i++) {
        sd_msg_free(&b->jobs[i].msg);
        free(b->jobs[i].ckpt);
    }
    free(b->jobs);
    free(b->workers);
    free(b);
    *p = NULL;
}

static void send_ack(void *sock, const sd_parts_t *in, const char *what)
{
    sd_msg_t a;
    sd_msg_init(&a, SD_MSG_HEARTBEAT);
    snprintf(a.u.heartbeat.sender, sizeof a.u.heartbeat.sender, "%s", what);
    snprintf(a.u.heartbeat.role, sizeof a.u.heartbeat.role, "broker");
    snprintf(a.u.heartbeat.state, sizeof a.u.heartbeat.state, "ack");
    a.u.heartbeat.t_ns = sd_clock_wall_ns();
    sd_parts_t parts;
    if (sd_msg_encode(&a, &parts, NULL) == SD_OK) {
        sd_wire_send_routed(sock, in->data[0], in->len[0], &parts, SD_WIRE_DONTWAIT, NULL);
        sd_parts_free(&parts);
    }
}

/* A finished job keeps only its id and state: positions and checkpoint go
 * (memory stays bounded by the queued and running jobs). */
static void job_finish(broker_t *b, job_t *j)
{
    char jp[1300], cp[1300], dp[1300];
    job_paths(b, j->id, jp, cp, dp, sizeof jp);
    FILE *f = fopen(dp, "w");
    if (f)
        fclose(f);
    unlink(cp);
    j->state = JOB_DONE;
    sd_msg_free(&j->msg);
    free(j->ckpt);
    j->ckpt = NULL;
    j->ckpt_len = 0;
}

/* A model from recon becomes a job (idempotent by model id). */
static void on_front(broker_t *b)
{
    sd_parts_t in, view;
    sd_err_t e;
    if (sd_wire_recv(b->front, &in, NULL, SD_WIRE_DONTWAIT, &e))
        return;
    sd_msg_t m;
    if (in.n < 2 || sd_parts_view(&in, 1, &view, &e) ||
        sd_msg_decode_as(&view, SD_MSG_MODEL, &m, 0, &e)) {
        sd_log(SD_LOG_WARN, "broker", "rejected a message on the model endpoint: %s",
               in.n < 2 ? "no identity" : e.msg);
        sd_parts_free(&in);
        return;
    }
    const sd_msg_model_t *mo = &m.u.model;
    char jp[1300], cp[1300], dp[1300];
    job_paths(b, mo->model_id, jp, cp, dp, sizeof jp);
    if (find_job(b, mo->model_id) || access(dp, F_OK) == 0) {
        send_ack(b->front, &in, mo->model_id); /* a resend after a recon restart */
        sd_msg_free(&m);
        sd_parts_free(&in);
        return;
    }
    sim_run_config_t rc;
    sim_run_config_from_md(&b->cfg.md, mo->frame_index, &rc);
    sd_msg_t jm;
    sd_msg_init(&jm, SD_MSG_SIM_JOB);
    sd_msg_sim_job_t *j = &jm.u.sim_job;
    snprintf(j->job_id, sizeof j->job_id, "%s", mo->model_id);
    snprintf(j->model_id, sizeof j->model_id, "%s", mo->model_id);
    snprintf(j->series_id, sizeof j->series_id, "%s", mo->series_id);
    snprintf(j->element, sizeof j->element, "%s", mo->element);
    j->frame_index = mo->frame_index;
    j->temperature_K = rc.temp_K;
    j->dt_fs = rc.dt_fs;
    j->thermalize_steps = rc.thermalize_steps;
    j->thermalize_dt_fs = rc.thermalize_dt_fs;
    j->production_time_fs = rc.production_fs;
    j->dump_every_fs = rc.dump_every_fs;
    j->seed = rc.seed;
    j->damp_ps = rc.damp_ps;
    j->n_atoms = mo->n_atoms;
    j->pos = mo->pos;
    sd_parts_t parts;
    if (sd_msg_encode(&jm, &parts, &e) || save_parts(jp, &parts, &e)) {
        sd_log(SD_LOG_ERROR, "broker", "model %s: %s (not acknowledged)", mo->model_id, e.msg);
        sd_parts_free(&parts);
        sd_msg_free(&m);
        sd_parts_free(&in);
        return;
    }
    /* keep an owned decoded copy (the model's arrays go away with m) */
    sd_msg_t owned;
    if (sd_msg_decode_as(&parts, SD_MSG_SIM_JOB, &owned, 0, &e) == SD_OK && add_job(b, &owned, &e)) {
        send_ack(b->front, &in, mo->model_id);
        sd_log(SD_LOG_INFO, "broker", "queued job %s (frame %lld, %lld atoms)", j->job_id,
               (long long)j->frame_index, (long long)j->n_atoms);
    } else {
        sd_log(SD_LOG_ERROR, "broker", "model %s: %s", mo->model_id, e.msg);
    }
    sd_parts_free(&parts);
    sd_msg_free(&m);
    sd_parts_free(&in);
}

static job_t *next_queued(broker_t *b)
{
    job_t *best = NULL;
    for (int i = 0; i < b->njobs; i++)
        if (b->jobs[i].state == JOB_QUEUED && (!best || b->jobs[i].order < best->order))
            best = &b->jobs[i];
    return best;
}

static void dispatch(broker_t *b)
{
    for (int w = 0; w < b->nworkers; w++) {
        worker_t *wk = &b->workers[w];
        if (!wk->alive || !wk->idle)
            continue;
        job_t *j = next_queued(b);
        if (!j)
            return;
        sd_msg_t out = j->msg;
        out.u.sim_job.checkpoint = j->ckpt;
        out.u.sim_job.checkpoint_len = j->ckpt_len;
        sd_parts_t parts;
        sd_err_t e;
        if (sd_msg_encode(&out, &parts, &e)) {
            sd_log(SD_LOG_ERROR, "broker", "job %s: %s", j->id, e.msg);
            j->state = JOB_DONE;
            continue;
        }
        int rc = sd_wire_send_routed(b->back, wk->route, wk->route_len, &parts, SD_WIRE_DONTWAIT, &e);
        sd_parts_free(&parts);
        if (rc) {
            wk->alive = 0;
            continue;
        }
        j->state = JOB_RUNNING;
        snprintf(j->worker, sizeof j->worker, "%s", wk->id);
        wk->idle = 0;
        if (j->ckpt)
            b->resumed++;
        sd_log(SD_LOG_INFO, "broker", "job %s → worker %s%s", j->id, wk->id,
               j->ckpt ? " (resuming from its checkpoint)" : "");
    }
}

static void on_back(broker_t *b)
{
    sd_parts_t in, view;
    sd_err_t e;
    if (sd_wire_recv(b->back, &in, NULL, SD_WIRE_DONTWAIT, &e))
        return;
    sd_msg_t m;
    if (in.n < 2 || in.len[0] > sizeof b->workers[0].route || sd_parts_view(&in, 1, &view, &e) ||
        sd_msg_decode(&view, &m, 0, &e)) {
        sd_log(SD_LOG_WARN, "broker", "rejected a worker message: %s", in.n < 2 ? "no identity" : e.msg);
        sd_parts_free(&in);
        return;
    }
    if (m.type == SD_MSG_HEARTBEAT) {
        const sd_msg_heartbeat_t *h = &m.u.heartbeat;
        worker_t *w = find_worker(b, h->sender);
        int fresh = !w;
        if (!w && b->nworkers < MAX_WORKERS) {
            w = &b->workers[b->nworkers++];
        } else if (!w) { /* full: a dead worker's slot (its jobs were requeued by reap_dead) */
            for (int i = 0; i < b->nworkers && !w; i++)
                if (!b->workers[i].alive)
                    w = &b->workers[i];
            if (!w)
                sd_log(SD_LOG_WARN, "broker", "worker %s ignored: %d workers alive", h->sender,
                       MAX_WORKERS);
        }
        if (w && fresh) {
            memset(w, 0, sizeof *w);
            snprintf(w->id, sizeof w->id, "%s", h->sender);
            sd_log(SD_LOG_INFO, "broker", "worker %s joined", w->id);
        }
        if (w) {
            /* a new connection under a known id is a restarted worker */
            int reconnected = w->route_len != in.len[0] || memcmp(w->route, in.data[0], in.len[0]);
            memcpy(w->route, in.data[0], in.len[0]);
            w->route_len = in.len[0];
            w->last_seen_ns = sd_clock_mono_ns();
            w->alive = 1;
            if (!strcmp(h->state, "ready") || !strcmp(h->state, "done")) {
                int in_flight = 0;
                for (int i = 0; i < b->njobs; i++) /* its previous job, if any, is over */
                    if (b->jobs[i].state == JOB_RUNNING && !strcmp(b->jobs[i].worker, w->id)) {
                        if (!strcmp(h->state, "done")) {
                            job_finish(b, &b->jobs[i]);
                            sd_log(SD_LOG_INFO, "broker", "job %s done", b->jobs[i].id);
                        } else if (reconnected) {
                            b->jobs[i].state = JOB_QUEUED; /* worker restarted under the same id */
                        } else {
                            /* a "ready" sent before the job reached the worker (its
                             * ready after done, or a periodic one): the job is in flight */
                            in_flight = 1;
                        }
                    }
                w->idle = !in_flight;
            }
        }
    } else if (m.type == SD_MSG_SIM_JOB && m.u.sim_job.checkpoint_len > 0) {
        job_t *j = find_job(b, m.u.sim_job.job_id);
        if (j && j->state != JOB_DONE) {
            void *c = malloc(m.u.sim_job.checkpoint_len);
            if (c) {
                memcpy(c, m.u.sim_job.checkpoint, m.u.sim_job.checkpoint_len);
                free(j->ckpt);
                j->ckpt = c;
                j->ckpt_len = m.u.sim_job.checkpoint_len;
                char jp[1300], cp[1300], dp[1300], tmp[1400];
                job_paths(b, j->id, jp, cp, dp, sizeof jp);
                snprintf(tmp, sizeof tmp, "%s.tmp", cp);
                FILE *f = fopen(tmp, "wb");
                if (f && fwrite(c, 1, j->ckpt_len, f) == j->ckpt_len && fclose(f) == 0)
                    rename(tmp, cp);
                else if (f)
                    fclose(f);
            }
        }
    }
    sd_msg_free(&m);
    sd_parts_free(&in);
}

static void reap_dead(broker_t *b)
{
    int64_t now = sd_clock_mono_ns();
    int64_t limit = (int64_t)(b->cfg.limits.heartbeat_s * b->cfg.limits.heartbeat_liveness * 1e9);
    for (int w = 0; w < b->nworkers; w++) {
        worker_t *wk = &b->workers[w];
        if (!wk->alive || now - wk->last_seen_ns <= limit)
            continue;
        wk->alive = 0;
        b->dead_workers++;
        for (int i = 0; i < b->njobs; i++)
            if (b->jobs[i].state == JOB_RUNNING && !strcmp(b->jobs[i].worker, wk->id)) {
                b->jobs[i].state = JOB_QUEUED;
                sd_log(SD_LOG_WARN, "broker", "worker %s is silent: job %s goes back to the queue%s",
                       wk->id, b->jobs[i].id, b->jobs[i].ckpt ? " (resumes from its checkpoint)" : "");
            }
    }
}

int broker_run(broker_t *b, double max_seconds, sd_err_t *e)
{
    int sfd = sd_signal_stop_fd();
    int64_t end = max_seconds > 0 ? sd_clock_mono_ns() + (int64_t)(max_seconds * 1e9) : 0;
    sd_log(SD_LOG_INFO, "broker", "models on %s, workers on %s", b->cfg.ep.broker_front,
           b->cfg.ep.broker_back);
    for (;;) {
        zmq_pollitem_t it[3] = {{b->front, 0, ZMQ_POLLIN, 0},
                                {b->back, 0, ZMQ_POLLIN, 0},
                                {NULL, sfd, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(it, sfd >= 0 ? 3 : 2, 100);
        if (rc < 0 && zmq_errno() != EINTR)
            return sd_err_set(e, SD_EIO, "zmq_poll: %s", zmq_strerror(zmq_errno()));
        if (rc > 0 && (it[0].revents & ZMQ_POLLIN))
            on_front(b);
        if (rc > 0 && (it[1].revents & ZMQ_POLLIN))
            on_back(b);
        reap_dead(b);
        dispatch(b);
        if ((rc > 0 && sfd >= 0 && (it[2].revents & ZMQ_POLLIN)) ||
            (end && sd_clock_mono_ns() >= end))
            break;
    }
    if (sfd >= 0)
        close(sfd);
    int done = 0;
    for (int i = 0; i < b->njobs; i++)
        done += b->jobs[i].state == JOB_DONE;
    sd_log(SD_LOG_INFO, "broker", "stopping: %d jobs (%d done), %lld resumed, %lld workers lost",
           b->njobs, done, b->resumed, b->dead_workers);
    return SD_OK;
}
