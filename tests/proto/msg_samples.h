/* Valid sample messages of every type for the wire-protocol tests and the
 * fuzz corpus generator (arrays in static storage: one message at a time). */
#ifndef MSG_SAMPLES_H
#define MSG_SAMPLES_H

#include "sd_msg.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---------- valid messages of every type (arrays in static storage) ---------- */

enum { W = 5, H = 3, NA = 4, NC = 3, K = 3 };
static uint16_t g_pix[W * H];
static double g_pos[NA * 3];
static int32_t g_colid[NA] = {0, 0, 1, -1};
static double g_cx[NC] = {1.5, 4.25, 7}, g_cy[NC] = {2, 3, 4}, g_eta[NC] = {10, 11, 12},
              g_rho[NC] = {0.5, 0.6, 0.7}, g_scs[NC] = {1.1, 2.2, 3.3}, g_prob[NC] = {0.9, 1, 0};
static int32_t g_count[NC] = {3, 4, -1};
static int64_t g_counts[K * K] = {5, 1, 0, 2, 7, 1, 0, 0, 9};
static int64_t g_pops[K] = {10, 20, 30};
static double g_pm[K] = {0.2, 0.3, 0.5}, g_ps[K] = {0.01, 0.02, 0.03};
static double g_P[K * K] = {5 / 6., 1 / 6., 0, 0.2, 0.7, 0.1, 0, 0, 1};
static double g_tau[K * K] = {1.5, -1, -1, -1, 2.5, -1, -1, -1, 0};
static const char g_ckpt[] = "checkpoint-bytes";

static inline void make(sd_msg_t *m, sd_msg_type_t type)
{
    sd_msg_init(m, type);
    m->ts_ns = 1700000000123456789LL;
    for (int i = 0; i < W * H; i++)
        g_pix[i] = (uint16_t)(i * 1000 + 7);
    for (int i = 0; i < NA * 3; i++)
        g_pos[i] = 0.5 * i - 1.25;
    switch (type) {
    case SD_MSG_SERIES_START: {
        sd_msg_series_start_t *s = &m->u.series_start;
        strcpy(s->series_id, "run-2026.11_a");
        s->width = W;
        s->height = H;
        s->dtype = SD_DTYPE_U16;
        s->pixel_size_A = 0.12;
        s->dwell_time_s = 2e-6;
        s->frame_interval_s = 0.5;
        s->beam_energy_keV = 300;
        s->has_zone_axis = 1;
        s->zone_axis[0] = 1;
        s->zone_axis[1] = 1;
        s->zone_axis[2] = 0;
        s->expected_frames = 100;
        strcpy(s->sample, "Au nanoparticle on C, 3 nm \xc3\x85");
        strcpy(s->element, "Au");
        break;
    }
    case SD_MSG_FRAME: {
        sd_msg_frame_t *f = &m->u.frame;
        strcpy(f->series_id, "s1");
        f->frame_index = 42;
        f->seq = 1234567890123ull;
        f->t_acq_ns = 1700000000000000000LL;
        f->t_send_ns = 1700000000000100000LL;
        f->width = W;
        f->height = H;
        f->dtype = SD_DTYPE_U16;
        f->pixels = g_pix;
        f->pixels_len = sizeof g_pix;
        break;
    }
    case SD_MSG_SERIES_END: {
        sd_msg_series_end_t *s = &m->u.series_end;
        strcpy(s->series_id, "s1");
        s->frames_sent = 99;
        s->frames_dropped = 1;
        strcpy(s->reason, "acquisition finished");
        break;
    }
    case SD_MSG_COLUMNS: {
        sd_msg_columns_t *c = &m->u.columns;
        strcpy(c->series_id, "s1");
        c->frame_index = 3;
        c->dx_A = 0.1;
        c->n = NC;
        c->x = g_cx;
        c->y = g_cy;
        c->eta = g_eta;
        c->rho = g_rho;
        c->scs = g_scs;
        c->count = g_count;
        c->prob = g_prob;
        break;
    }
    case SD_MSG_MODEL: {
        sd_msg_model_t *d = &m->u.model;
        strcpy(d->series_id, "s1");
        d->frame_index = 3;
        strcpy(d->model_id, "s1.f3.m0");
        strcpy(d->element, "Au");
        d->n_atoms = NA;
        d->pos = g_pos;
        d->column_id = g_colid;
        d->energy_eV = -15.2;
        d->energy_per_atom_eV = -15.2 / NA;
        strcpy(d->prov.method, "mc-column-model");
        d->prov.iterations = 5000;
        d->prov.seed = 0xFFFFFFFFFFFFFFFFull;
        strcpy(d->prov.software, "stemdyn 0.1.0");
        break;
    }
    case SD_MSG_SIM_JOB: {
        sd_msg_sim_job_t *j = &m->u.sim_job;
        strcpy(j->job_id, "job-7");
        strcpy(j->model_id, "s1.f3.m0");
        strcpy(j->series_id, "s1");
        j->frame_index = 3;
        strcpy(j->element, "Au");
        j->temperature_K = 300;
        j->dt_fs = 5;
        j->thermalize_steps = 1000;
        j->thermalize_dt_fs = 1;
        j->production_time_fs = 1e6;
        j->dump_every_fs = 1e3;
        j->seed = 77;
        j->damp_ps = 0.1;
        j->n_atoms = NA;
        j->pos = g_pos;
        j->checkpoint = g_ckpt;
        j->checkpoint_len = sizeof g_ckpt;
        break;
    }
    case SD_MSG_SNAPSHOT: {
        sd_msg_snapshot_t *s = &m->u.snapshot;
        strcpy(s->job_id, "job-7");
        s->frame_index = 3;
        s->step = 200000;
        s->time_fs = 1e6;
        strcpy(s->element, "Au");
        s->n_atoms = NA;
        s->pos = g_pos;
        s->temperature_K = 301.5;
        s->epot_eV = -14.9;
        s->ns_per_day = 250;
        break;
    }
    case SD_MSG_STATS: {
        sd_msg_stats_t *s = &m->u.stats;
        s->seq = 17;
        s->run_id = -1;
        s->is_delta = 1;
        s->k = K;
        strcpy(s->labels[0], "fcc");
        strcpy(s->labels[1], "surface (111)");
        strcpy(s->labels[2], "vertex");
        s->frames = 1000;
        s->counts = g_counts;
        s->populations = g_pops;
        s->pop_mean = g_pm;
        s->pop_std = g_ps;
        s->P = g_P;
        s->tau_ns = g_tau;
        s->has_lens = 1;
        s->lens_fractions[0] = 0.5;
        s->lens_fractions[1] = 0.3;
        s->lens_fractions[2] = 0.2;
        s->sim_ns = 12.5;
        s->target_ns = 100;
        s->ns_per_day = 300;
        s->n_latency = 2;
        strcpy(s->latency[0].name, "frame_to_model");
        s->latency[0].p50_s = 0.2;
        s->latency[0].p99_s = 0.9;
        strcpy(s->latency[1].name, "model_to_stats");
        s->latency[1].p50_s = 1;
        s->latency[1].p99_s = 1;
        strcpy(m->topic_suffix, "all");
        break;
    }
    case SD_MSG_ERROR: {
        sd_msg_error_t *r = &m->u.error;
        r->code = SD_EFORMAT;
        strcpy(r->origin, "ingest-1");
        strcpy(r->message, "frame 7: pixel CRC32C mismatch");
        strcpy(r->series_id, "s1");
        r->frame_index = 7;
        break;
    }
    case SD_MSG_HEARTBEAT: {
        sd_msg_heartbeat_t *h = &m->u.heartbeat;
        strcpy(h->sender, "worker-3");
        strcpy(h->role, "worker");
        strcpy(h->state, "busy");
        h->t_ns = 1700000000000000001LL;
        h->load = 0.75;
        break;
    }
    default: break;
    }
}

#endif
