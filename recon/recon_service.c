#include "recon_service.h"

#include "recon.h"
#include "recon_latest.h"
#include "sd_atoms.h"
#include "sd_clock.h"
#include "sd_signal.h"
#include "sd_fs.h"
#include "sd_log.h"
#include "sd_msg.h"
#include "sd_recording.h"
#include "sd_secure.h"
#include "sd_wire.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_UNACKED 16
#define RESEND_NS 3000000000LL

typedef struct pending_model {
    int64_t frame_index;
    char model_id[SD_MSG_ID_MAX + 1];
    sd_parts_t parts; /* encoded model (owns its bytes: positions copied) */
    int64_t sent_ns;
} pending_model_t;

struct recon_service {
    sd_config_t cfg;
    void *zctx, *in, *broker;
    int sfd, stop;
    char dir[1024], done_path[1100], lat_path[1100], recording[1100];
    /* series state */
    int have_series;
    sd_msg_series_start_t series;
    int64_t done_frame;      /* last frame acknowledged by the broker, -1 none */
    int64_t last_started;    /* last frame processed (acknowledged or not) */
    int64_t hmm_frame;       /* last frame the series-aware counting has seen */
    recon_series_t *hmm;
    int npending;
    pending_model_t pending[MAX_UNACKED];
    long long frames, models, skipped, rejected;
    FILE *lat;
};

static void load_done(recon_service_t *s)
{
    s->done_frame = -1;
    FILE *f = fopen(s->done_path, "r");
    if (!f)
        return;
    char sid[SD_MSG_ID_MAX + 1];
    long long k;
    if (fscanf(f, "%128s %lld", sid, &k) == 2) {
        snprintf(s->series.series_id, sizeof s->series.series_id, "%s", sid);
        s->done_frame = k;
    }
    fclose(f);
}

static void save_done(recon_service_t *s)
{
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->done_path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "%s %lld\n", s->series.series_id, (long long)s->done_frame);
    if (fflush(f) == 0 && fdatasync(fileno(f)) == 0 && fclose(f) == 0)
        rename(tmp, s->done_path);
    else
        fclose(f);
}

recon_service_t *recon_service_new(const sd_config_t *cfg, sd_err_t *e)
{
    recon_service_t *s = calloc(1, sizeof *s);
    if (!s) {
        sd_err_set(e, SD_ENOMEM, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    s->sfd = -1;
    s->last_started = -1;
    s->hmm_frame = -1;
    snprintf(s->dir, sizeof s->dir, "%s/recon", cfg->data_dir);
    snprintf(s->done_path, sizeof s->done_path, "%s/done", s->dir);
    snprintf(s->lat_path, sizeof s->lat_path, "%s/latency.csv", s->dir);
    snprintf(s->recording, sizeof s->recording, "%s/recording.sdrec", cfg->data_dir);
    if (sd_fs_mkdir_p(s->dir, e)) {
        free(s);
        return NULL;
    }
    load_done(s);
    s->lat = fopen(s->lat_path, "a");
    if (s->lat && ftell(s->lat) == 0)
        fprintf(s->lat, "series_id,frame_index,t_acq_ns,t_recv_ns,t_model_ns,columns,atoms,"
                        "t_count_s,t_model3d_s\n");
    s->hmm = cfg->recon.series_aware ? recon_series_new(0.9) : NULL;
    s->zctx = zmq_ctx_new();
    s->in = zmq_socket(s->zctx, ZMQ_PULL);
    s->broker = zmq_socket(s->zctx, ZMQ_DEALER);
    int linger = 1000, hwm = (int)cfg->limits.queue_frames;
    zmq_setsockopt(s->in, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s->in, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s->broker, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s->broker, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s->broker, ZMQ_RCVHWM, &hwm, sizeof hwm);
    /* with keys, ingest's PUSH (recon_in) and the broker are CURVE servers */
    if (sd_secure_client(s->in, &cfg->security, e) || sd_secure_client(s->broker, &cfg->security, e)) {
        recon_service_destroy(&s);
        return NULL;
    }
    if (zmq_connect(s->in, cfg->ep.recon_in) || zmq_connect(s->broker, cfg->ep.broker_front)) {
        sd_err_set(e, SD_EIO, "cannot connect %s / %s: %s", cfg->ep.recon_in, cfg->ep.broker_front,
                   zmq_strerror(zmq_errno()));
        recon_service_destroy(&s);
        return NULL;
    }
    return s;
}

void recon_service_destroy(recon_service_t **p)
{
    if (!p || !*p)
        return;
    recon_service_t *s = *p;
    for (int i = 0; i < s->npending; i++)
        sd_parts_free(&s->pending[i].parts);
    if (s->in)
        zmq_close(s->in);
    if (s->broker)
        zmq_close(s->broker);
    if (s->zctx)
        zmq_ctx_term(s->zctx);
    recon_series_destroy(&s->hmm);
    if (s->lat)
        fclose(s->lat);
    free(s);
    *p = NULL;
}

/* Reads acknowledgements from the broker and resends what is overdue. */
static void pump_acks(recon_service_t *s, int wait_ms)
{
    zmq_pollitem_t it = {s->broker, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, wait_ms) > 0)
        for (;;) {
            sd_msg_t m;
            if (sd_wire_recv_msg(s->broker, &m, NULL, SD_WIRE_DONTWAIT, NULL))
                break;
            if (m.type == SD_MSG_HEARTBEAT && !strcmp(m.u.heartbeat.state, "ack"))
                for (int i = 0; i < s->npending; i++)
                    if (!strcmp(s->pending[i].model_id, m.u.heartbeat.sender)) {
                        if (s->pending[i].frame_index > s->done_frame) {
                            s->done_frame = s->pending[i].frame_index;
                            save_done(s);
                        }
                        sd_parts_free(&s->pending[i].parts);
                        s->pending[i] = s->pending[--s->npending];
                        break;
                    }
            sd_msg_free(&m);
        }
    int64_t now = sd_clock_mono_ns();
    for (int i = 0; i < s->npending; i++)
        if (now - s->pending[i].sent_ns > RESEND_NS) {
            sd_wire_send(s->broker, &s->pending[i].parts, SD_WIRE_DONTWAIT, NULL);
            s->pending[i].sent_ns = now;
        }
}

static void check_signal(recon_service_t *s)
{
    if (sd_signal_stop_requested(s->sfd))
        s->stop = 1;
}

int recon_service_frame_model(const sd_config_t *cfg, recon_series_t *hmm, double dx,
                              const double *img, long long h, long long w, long long frame_index,
                              sd_atoms_t **model, recon_model3d_opts_t *mo_out,
                              recon_frame_result_t *res, sd_err_t *e)
{
    recon_count_opts_t co;
    recon_count_opts_default(&co);
    co.lib_scale = RECON_AU_OVER_PT; /* gold frames: the Pt library scaled for Au */
    recon_columns_t cols;
    memset(&cols, 0, sizeof cols);
    recon_count_info_t ci;
    int64_t t0 = sd_clock_mono_ns();
    int rc = recon_count_image(img, h, w, dx, &co, &cols, &ci, e);
    if (!rc && hmm && cols.n > 0) {
        co.skip_fit = 1;
        rc = recon_series_count(hmm, &cols, &co, 1.0, &ci, e);
    }
    int64_t t1 = sd_clock_mono_ns();
    if (rc) {
        recon_columns_free(&cols);
        return rc;
    }
    recon_model3d_opts_t mo;
    recon_model3d_opts_default(&mo);
    mo.temp_K = cfg->recon.temperature_K;
    mo.iterations = cfg->recon.iterations;
    mo.alpha = cfg->recon.alpha;
    mo.seed = cfg->md.seed + (uint64_t)frame_index;
    rc = recon_model3d_build(&cols, &mo, model, NULL, e);
    int64_t t2 = sd_clock_mono_ns();
    res->columns = cols.n;
    res->t_count_s = (double)(t1 - t0) * 1e-9;
    res->t_model_s = (double)(t2 - t1) * 1e-9;
    if (mo_out)
        *mo_out = mo;
    recon_columns_free(&cols);
    return rc;
}

/* Counts, reconstructs and sends the model of one frame. */
static int process_frame(recon_service_t *s, const sd_msg_frame_t *f, int64_t t_recv_ns,
                         sd_err_t *e)
{
    double dx = s->series.pixel_size_A > 0 ? s->series.pixel_size_A : s->cfg.recon.dx_A;
    if (!(dx > 0))
        return sd_err_set(e, SD_EINVAL, "frame %lld: pixel size unknown (no series_start, recon.dx_A = 0)",
                          (long long)f->frame_index);
    int64_t n = (int64_t)f->width * f->height;
    double *img = malloc((size_t)n * sizeof *img);
    if (!img)
        return sd_err_set(e, SD_ENOMEM, "out of memory for a %dx%d frame", f->width, f->height);
    sd_dtype_to_f64(f->dtype, f->pixels, (size_t)f->width * (size_t)f->height, img);
    recon_model3d_opts_t mo;
    recon_frame_result_t fr;
    sd_atoms_t *model = NULL;
    int64_t t0 = sd_clock_mono_ns();
    int rc = recon_service_frame_model(&s->cfg, s->hmm, dx, img, f->height, f->width,
                                       f->frame_index, &model, &mo, &fr, e);
    free(img);
    if (rc)
        return rc;
    int64_t ncols = fr.columns;
    int64_t t1 = t0 + (int64_t)(fr.t_count_s * 1e9), t2 = t1 + (int64_t)(fr.t_model_s * 1e9);
    if (!model || model->n == 0) {
        sd_log(SD_LOG_WARN, "recon", "frame %lld: no particle found (%lld columns): skipped",
               (long long)f->frame_index, (long long)ncols);
        sd_atoms_destroy(&model);
        s->skipped++;
        if (f->frame_index > s->done_frame) { /* nothing to wait for */
            s->done_frame = f->frame_index;
            save_done(s);
        }
        return SD_OK;
    }
    sd_msg_t m;
    sd_msg_init(&m, SD_MSG_MODEL);
    char mid[SD_MSG_ID_MAX + 1];
    snprintf(mid, sizeof mid, "%.100s-f%06lld", f->series_id, (long long)f->frame_index);
    int32_t *colid = NULL;
    rc = recon_model3d_to_msg(model, &mo, f->series_id, f->frame_index, mid, &m.u.model, &colid, e);
    while (!rc && s->npending >= MAX_UNACKED && !s->stop) {
        pump_acks(s, 100); /* the broker is behind: wait rather than grow */
        check_signal(s);
    }
    pending_model_t *p = &s->pending[s->npending];
    if (!rc && !(rc = sd_msg_encode(&m, &p->parts, e))) {
        /* the encoded parts point into the model: make them self-contained */
        sd_parts_t owned = {0};
        size_t total = 0;
        for (int i = 0; i < p->parts.n; i++)
            total += p->parts.len[i];
        uint8_t *buf = malloc(total ? total : 1);
        if (!buf) {
            rc = sd_err_set(e, SD_ENOMEM, "out of memory");
        } else {
            size_t off = 0;
            owned.n = p->parts.n;
            for (int i = 0; i < p->parts.n; i++) {
                memcpy(buf + off, p->parts.data[i], p->parts.len[i]);
                owned.data[i] = buf + off;
                owned.len[i] = p->parts.len[i];
                off += p->parts.len[i];
            }
            owned.priv_ = buf;
            owned.free_ = free;
            sd_parts_free(&p->parts);
            p->parts = owned;
            p->frame_index = f->frame_index;
            snprintf(p->model_id, sizeof p->model_id, "%s", mid);
            p->sent_ns = sd_clock_mono_ns();
            s->npending++;
            sd_wire_send(s->broker, &p->parts, SD_WIRE_DONTWAIT, NULL);
            s->models++;
        }
    }
    int64_t t3 = sd_clock_wall_ns();
    if (!rc && s->lat) {
        fprintf(s->lat, "%s,%lld,%lld,%lld,%lld,%lld,%lld,%.4f,%.4f\n", f->series_id,
                (long long)f->frame_index, (long long)f->t_acq_ns, (long long)t_recv_ns,
                (long long)t3, (long long)ncols, (long long)model->n, (double)(t1 - t0) * 1e-9,
                (double)(t2 - t1) * 1e-9);
        fflush(s->lat);
    }
    if (!rc)
        sd_log(SD_LOG_INFO, "recon", "frame %lld: %lld columns, %lld atoms, E/atom %.4f eV (count %.3f s, model %.3f s)",
               (long long)f->frame_index, (long long)ncols, (long long)model->n,
               m.u.model.energy_per_atom_eV, (double)(t1 - t0) * 1e-9, (double)(t2 - t1) * 1e-9);
    if (!rc) /* the dashboard's view of this frame; a failure only costs the picture */
        recon_latest_write(s->dir, f, dx, model, colid, NULL);
    free(colid);
    sd_atoms_destroy(&model);
    return rc;
}

/* Brings the series-aware counting state up to frame f without making a
 * model (a restarted recon re-counts the frames it had finished). */
static void replay_counting(recon_service_t *s, const sd_msg_frame_t *f)
{
    double dx = s->series.pixel_size_A > 0 ? s->series.pixel_size_A : s->cfg.recon.dx_A;
    double *img = malloc((size_t)f->width * (size_t)f->height * sizeof *img);
    if (!img || !(dx > 0)) {
        free(img);
        return;
    }
    sd_dtype_to_f64(f->dtype, f->pixels, (size_t)f->width * (size_t)f->height, img);
    recon_count_opts_t co;
    recon_count_opts_default(&co);
    co.lib_scale = RECON_AU_OVER_PT; /* gold frames: the Pt library scaled for Au */
    recon_columns_t cols;
    memset(&cols, 0, sizeof cols);
    recon_count_info_t ci;
    sd_err_t e;
    if (recon_count_image(img, f->height, f->width, dx, &co, &cols, &ci, &e) == SD_OK && cols.n > 0) {
        co.skip_fit = 1;
        recon_series_count(s->hmm, &cols, &co, 1.0, &ci, &e);
    }
    recon_columns_free(&cols);
    free(img);
    s->hmm_frame = f->frame_index;
}

/* Handles one series_start / frame / series_end (from the socket or the
 * recording); duplicates of finished frames are skipped. */
static void handle(recon_service_t *s, const sd_msg_t *m, int64_t t_recv_ns)
{
    sd_err_t e;
    if (m->type == SD_MSG_SERIES_START) {
        int same = !strcmp(m->u.series_start.series_id, s->series.series_id);
        s->series = m->u.series_start;
        s->have_series = 1;
        if (!same) {
            s->done_frame = -1;
            s->last_started = -1;
            s->hmm_frame = -1;
            recon_series_destroy(&s->hmm);
            s->hmm = s->cfg.recon.series_aware ? recon_series_new(0.9) : NULL;
            sd_log(SD_LOG_INFO, "recon", "series %s: %dx%d, %.4f Å/pixel", s->series.series_id,
                   s->series.width, s->series.height, s->series.pixel_size_A);
        }
        return;
    }
    if (m->type != SD_MSG_FRAME)
        return;
    const sd_msg_frame_t *f = &m->u.frame;
    if (strcmp(f->series_id, s->series.series_id)) {
        s->rejected++;
        sd_log(SD_LOG_WARN, "recon", "frame %lld of series %s without its series_start: skipped",
               (long long)f->frame_index, f->series_id);
        return;
    }
    if (f->frame_index <= s->done_frame || f->frame_index <= s->last_started) {
        if (s->hmm && f->frame_index > s->hmm_frame)
            replay_counting(s, f); /* restarted: the counts of later frames depend on it */
        return;
    }
    s->last_started = f->frame_index;
    s->hmm_frame = f->frame_index;
    s->frames++;
    if (process_frame(s, f, t_recv_ns, &e)) {
        s->rejected++;
        sd_log(SD_LOG_WARN, "recon", "frame %lld: %s", (long long)f->frame_index, e.msg);
    }
}

/* Processes recorded messages this recon has not finished (all of them
 * after a restart; the missing ones after a jump in frame index). */
static void catch_up(recon_service_t *s, int64_t upto_frame)
{
    sd_err_t e;
    sd_rec_reader_t *r = sd_rec_reader_open(s->recording, &e);
    if (!r)
        return;
    uint64_t n = sd_rec_reader_count(r);
    for (uint64_t i = 0; i < n && !s->stop; i++) {
        const sd_rec_idx_entry_t *x = sd_rec_reader_entry(r, i);
        int finished = x->key <= s->done_frame || x->key <= s->last_started;
        if (x->kind == SD_REC_KIND_FRAME &&
            ((finished && (!s->hmm || x->key <= s->hmm_frame)) ||
             (upto_frame >= 0 && x->key >= upto_frame)))
            continue;
        sd_rec_record_t rec;
        if (sd_rec_reader_read(r, i, &rec, &e))
            continue;
        sd_parts_t parts = {.n = (int)rec.n_parts};
        for (uint32_t p = 0; p < rec.n_parts && p < SD_PARTS_CAP; p++) {
            parts.data[p] = rec.parts[p];
            parts.len[p] = rec.lens[p];
        }
        sd_msg_t m;
        if (sd_msg_decode(&parts, &m, 0, &e) == SD_OK) {
            if (m.type == SD_MSG_SERIES_START || m.type == SD_MSG_FRAME) {
                if (m.type == SD_MSG_FRAME && m.u.frame.frame_index > s->last_started)
                    sd_log(SD_LOG_INFO, "recon", "frame %lld from the recording",
                           (long long)m.u.frame.frame_index);
                handle(s, &m, rec.t_ns);
            }
            sd_msg_free(&m);
        }
        pump_acks(s, 0);
        check_signal(s);
    }
    sd_rec_reader_destroy(&r);
}

int recon_service_run(recon_service_t *s, double max_seconds, sd_err_t *e)
{
    s->sfd = sd_signal_stop_fd();
    int64_t end = max_seconds > 0 ? sd_clock_mono_ns() + (int64_t)(max_seconds * 1e9) : 0;
    sd_log(SD_LOG_INFO, "recon", "frames from %s, models to %s (done up to frame %lld)",
           s->cfg.ep.recon_in, s->cfg.ep.broker_front, (long long)s->done_frame);
    catch_up(s, -1);
    while (!s->stop && (!end || sd_clock_mono_ns() < end)) {
        zmq_pollitem_t it[2] = {{s->in, 0, ZMQ_POLLIN, 0}, {NULL, s->sfd, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(it, s->sfd >= 0 ? 2 : 1, 100);
        if (rc < 0 && zmq_errno() != EINTR)
            return sd_err_set(e, SD_EIO, "zmq_poll: %s", zmq_strerror(zmq_errno()));
        if (rc > 0 && (it[0].revents & ZMQ_POLLIN)) {
            sd_msg_t m;
            sd_err_t de;
            int drc = sd_wire_recv_msg(s->in, &m, NULL, SD_WIRE_DONTWAIT, &de);
            if (drc == SD_OK) {
                if (m.type == SD_MSG_FRAME && !strcmp(m.u.frame.series_id, s->series.series_id) &&
                    m.u.frame.frame_index > s->last_started + 1)
                    catch_up(s, m.u.frame.frame_index); /* frames this recon never saw */
                handle(s, &m, sd_clock_wall_ns());
                sd_msg_free(&m);
            } else if (drc != SD_EAGAIN) {
                s->rejected++;
                sd_log(SD_LOG_WARN, "recon", "rejected a message: %s", de.msg);
            }
        }
        pump_acks(s, 0);
        check_signal(s);
    }
    /* graceful stop: give the broker a moment to acknowledge what is in flight */
    for (int i = 0; i < 20 && s->npending; i++)
        pump_acks(s, 100);
    if (s->sfd >= 0)
        close(s->sfd);
    sd_log(SD_LOG_INFO, "recon", "stopping: %lld frames, %lld models, %lld skipped, %lld rejected",
           s->frames, s->models, s->skipped, s->rejected);
    return SD_OK;
}
