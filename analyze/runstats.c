#include "runstats.h"

#include "cluster.h"
#include "lens.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LENS_HISTORY_MAX 100000
#define KDE_POINTS 96

typedef struct pending {
    int64_t k;
    double t_ns;
    double *pos; /* [n][3], owned */
} pending_t;

typedef struct run {
    int64_t id;
    int64_t n;
    int64_t next_k;          /* next frame index to analyse */
    unsigned char *mask;     /* [n] 1 = counted */
    int64_t n_kept;
    classify_t *cls;
    lens_state_t *lens;
    int64_t *group, *prev;   /* [n] */
    int64_t *counts;         /* [k][k] */
    int64_t *pop_now;        /* [k] latest frame */
    double *pop_sum, *pop_sq;/* [k] sums of fractions over frames */
    double *pop_mean, *pop_std, *P, *tau; /* [k] / [k][k], filled on demand */
    int64_t frames;
    double sim_ns, target_ns, ns_per_day;
    double *lens_win;        /* [window][n] ring of recent LENS values */
    int64_t lens_frames;     /* LENS frames stored (frame 0 excluded) */
    double lens_frac[3];
    double *lens_hist;       /* [hist][4] (t, f0, f1, f2) */
    int64_t lens_nhist, lens_cap;
    double *last_pos;        /* [n][3] of the last analysed frame */
    double last_t_ns;
    int npending;
    pending_t pending[RUNSTATS_REORDER];
} run_t;

struct runstats {
    const dict_t *d;
    runstats_opts_t o;
    int k;
    int nruns;
    run_t *runs[RUNSTATS_MAX_RUNS];
    int64_t last_run;        /* run of the most recent analysed frame */
    /* merged scratch */
    int64_t *m_counts, *m_pop;
    double *m_mean, *m_std, *m_P, *m_tau, *m_sum, *m_sq;
    int64_t m_frames;
    const char *labels[SD_STATS_MAX_K];
};

static void run_free(run_t *r)
{
    if (!r)
        return;
    classify_destroy(&r->cls);
    lens_state_destroy(&r->lens);
    free(r->mask);
    free(r->group);
    free(r->prev);
    free(r->counts);
    free(r->pop_now);
    free(r->pop_sum);
    free(r->pop_sq);
    free(r->pop_mean);
    free(r->pop_std);
    free(r->P);
    free(r->tau);
    free(r->lens_win);
    free(r->lens_hist);
    free(r->last_pos);
    for (int i = 0; i < r->npending; i++)
        free(r->pending[i].pos);
    free(r);
}

runstats_t *runstats_new(const dict_t *d, const runstats_opts_t *o, sd_err_t *e)
{
    if (!d || d->n_groups < 1 || d->n_groups > SD_STATS_MAX_K) {
        sd_err_set(e, SD_EINVAL, "dictionary must have 1..%d groups", SD_STATS_MAX_K);
        return NULL;
    }
    if (!(o->dt_ns > 0) || !(o->lens_rcut_A > 0) || !isfinite(o->t_first_ns)) {
        sd_err_set(e, SD_EINVAL, "runstats: dt_ns and lens_rcut_A must be > 0, t_first_ns finite");
        return NULL;
    }
    runstats_t *s = calloc(1, sizeof *s);
    if (!s) {
        sd_err_set(e, SD_ENOMEM, "out of memory");
        return NULL;
    }
    s->d = d;
    s->o = *o;
    if (s->o.lens_window <= 0)
        s->o.lens_window = 20;
    s->k = d->n_groups;
    s->last_run = -1;
    size_t k = (size_t)s->k;
    s->m_counts = calloc(k * k, sizeof *s->m_counts);
    s->m_pop = calloc(k, sizeof *s->m_pop);
    s->m_mean = calloc(k, sizeof(double));
    s->m_std = calloc(k, sizeof(double));
    s->m_sum = calloc(k, sizeof(double));
    s->m_sq = calloc(k, sizeof(double));
    s->m_P = calloc(k * k, sizeof(double));
    s->m_tau = calloc(k * k, sizeof(double));
    if (!s->m_counts || !s->m_pop || !s->m_mean || !s->m_std || !s->m_P || !s->m_tau ||
        !s->m_sum || !s->m_sq) {
        runstats_destroy(&s);
        sd_err_set(e, SD_ENOMEM, "out of memory");
        return NULL;
    }
    for (int g = 0; g < s->k; g++)
        s->labels[g] = d->group_label[g];
    return s;
}

void runstats_destroy(runstats_t **p)
{
    if (!p || !*p)
        return;
    runstats_t *s = *p;
    for (int i = 0; i < s->nruns; i++)
        run_free(s->runs[i]);
    free(s->m_counts);
    free(s->m_pop);
    free(s->m_mean);
    free(s->m_std);
    free(s->m_sum);
    free(s->m_sq);
    free(s->m_P);
    free(s->m_tau);
    free(s);
    *p = NULL;
}

static run_t *find_run(const runstats_t *s, int64_t id)
{
    for (int i = 0; i < s->nruns; i++)
        if (s->runs[i]->id == id)
            return s->runs[i];
    return NULL;
}

static run_t *new_run(runstats_t *s, int64_t id, int64_t n, const double *pos0, sd_err_t *e)
{
    if (s->nruns >= RUNSTATS_MAX_RUNS) {
        sd_err_set(e, SD_ENOMEM, "more than %d runs in one session", RUNSTATS_MAX_RUNS);
        return NULL;
    }
    run_t *r = calloc(1, sizeof *r);
    if (!r) {
        sd_err_set(e, SD_ENOMEM, "out of memory");
        return NULL;
    }
    size_t k = (size_t)s->k, nn = (size_t)n;
    r->id = id;
    r->n = n;
    r->mask = malloc(nn);
    r->group = malloc(nn * sizeof *r->group);
    r->prev = malloc(nn * sizeof *r->prev);
    r->counts = calloc(k * k, sizeof *r->counts);
    r->pop_now = calloc(k, sizeof *r->pop_now);
    r->pop_sum = calloc(k, sizeof(double));
    r->pop_sq = calloc(k, sizeof(double));
    r->pop_mean = calloc(k, sizeof(double));
    r->pop_std = calloc(k, sizeof(double));
    r->P = calloc(k * k, sizeof(double));
    r->tau = calloc(k * k, sizeof(double));
    r->lens_win = calloc((size_t)s->o.lens_window * nn, sizeof(double));
    r->last_pos = malloc(3 * nn * sizeof(double));
    if (!r->mask || !r->group || !r->prev || !r->counts || !r->pop_now || !r->pop_sum ||
        !r->pop_sq || !r->pop_mean || !r->pop_std || !r->P || !r->tau || !r->lens_win ||
        !r->last_pos) {
        run_free(r);
        sd_err_set(e, SD_ENOMEM, "out of memory for run %lld (%lld atoms)", (long long)id,
                   (long long)n);
        return NULL;
    }
    r->cls = classify_new(s->d, e);
    r->lens = r->cls ? lens_state_new(n, s->o.lens_rcut_A, e) : NULL;
    if (!r->lens) {
        run_free(r);
        return NULL;
    }
    if (isnan(s->o.mask_z_below_A))
        memset(r->mask, 1, nn);
    else
        trans_mask_z_below(n, pos0, s->o.mask_z_below_A, r->mask);
    for (size_t i = 0; i < nn; i++)
        r->n_kept += r->mask[i];
    s->runs[s->nruns++] = r;
    return r;
}

/* Pools the last `window` LENS frames, splits them in three classes by 1-D
 * k-means (ordered by centre: static, intermediate, dynamic) and returns the
 * latest frame's class fractions. */
static void lens_fractions(const runstats_t *s, run_t *r, const double *lens_now)
{
    int64_t w = r->lens_frames < s->o.lens_window ? r->lens_frames : s->o.lens_window;
    int64_t m = w * r->n;
    r->lens_frac[0] = 1;
    r->lens_frac[1] = r->lens_frac[2] = 0;
    if (w < 1)
        return;
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < m; i++) {
        lo = fmin(lo, r->lens_win[i]);
        hi = fmax(hi, r->lens_win[i]);
    }
    if (!(hi > lo))
        return;
    int32_t *lab = malloc((size_t)m * sizeof *lab);
    if (!lab)
        return;
    double c[3];
    if (cluster_kmeans_1d(r->lens_win, m, 3, 3, 1234u, lab, c, NULL, NULL) == SD_OK) {
        /* thresholds halfway between sorted centres */
        double sc[3] = {c[0], c[1], c[2]};
        for (int a = 0; a < 3; a++)
            for (int b = a + 1; b < 3; b++)
                if (sc[b] < sc[a]) {
                    double t = sc[a];
                    sc[a] = sc[b];
                    sc[b] = t;
                }
        double t1 = 0.5 * (sc[0] + sc[1]), t2 = 0.5 * (sc[1] + sc[2]);
        int64_t cnt[3] = {0, 0, 0}, tot = 0;
        for (int64_t i = 0; i < r->n; i++) {
            if (!r->mask[i])
                continue;
            cnt[lens_now[i] < t1 ? 0 : lens_now[i] < t2 ? 1 : 2]++;
            tot++;
        }
        for (int q = 0; q < 3; q++)
            r->lens_frac[q] = tot ? (double)cnt[q] / (double)tot : 0;
    }
    free(lab);
}

static int analyse_frame(runstats_t *s, run_t *r, double t_ns, const double *pos, sd_err_t *e)
{
    int64_t n = r->n;
    int rc = classify_frame(r->cls, n, pos, r->group, NULL, NULL, NULL, NULL, e);
    if (rc)
        return rc;
    double *lv = r->lens_win + (size_t)(r->lens_frames % s->o.lens_window) * (size_t)n;
    double *lens_now = malloc((size_t)n * sizeof *lens_now);
    if (!lens_now)
        return sd_err_set(e, SD_ENOMEM, "out of memory");
    rc = lens_state_push(r->lens, n, pos, lens_now, NULL, NULL, NULL, e);
    if (rc) {
        free(lens_now);
        return rc;
    }
    int k = s->k;
    if (r->frames > 0)
        for (int64_t i = 0; i < n; i++)
            if (r->mask[i])
                r->counts[r->prev[i] * k + r->group[i]]++;
    memset(r->pop_now, 0, (size_t)k * sizeof *r->pop_now);
    for (int64_t i = 0; i < n; i++)
        if (r->mask[i])
            r->pop_now[r->group[i]]++;
    for (int g = 0; g < k; g++) {
        double f = r->n_kept ? (double)r->pop_now[g] / (double)r->n_kept : 0;
        r->pop_sum[g] += f;
        r->pop_sq[g] += f * f;
        s->m_sum[g] += f;
        s->m_sq[g] += f * f;
    }
    s->m_frames++;
    if (r->frames > 0) { /* LENS of a run's first frame is 0 by definition: not a sample */
        memcpy(lv, lens_now, (size_t)n * sizeof *lv);
        r->lens_frames++;
        lens_fractions(s, r, lens_now);
        if (r->lens_nhist == r->lens_cap && r->lens_cap < LENS_HISTORY_MAX) {
            int64_t cap = r->lens_cap ? 2 * r->lens_cap : 64;
            double *h = realloc(r->lens_hist, (size_t)cap * 4 * sizeof *h);
            if (h) {
                r->lens_hist = h;
                r->lens_cap = cap;
            }
        }
        if (r->lens_nhist < r->lens_cap) {
            double *h = r->lens_hist + 4 * r->lens_nhist++;
            h[0] = t_ns;
            h[1] = r->lens_frac[0];
            h[2] = r->lens_frac[1];
            h[3] = r->lens_frac[2];
        }
    }
    free(lens_now);
    memcpy(r->prev, r->group, (size_t)n * sizeof *r->prev);
    memcpy(r->last_pos, pos, (size_t)(3 * n) * sizeof *pos);
    r->last_t_ns = t_ns;
    r->frames++;
    r->next_k++;
    s->last_run = r->id;
    return SD_OK;
}

int runstats_push(runstats_t *s, int64_t run_id, double t_ns, double target_ns,
                  double ns_per_day, int64_t n, const double *pos, sd_err_t *e)
{
    if (run_id < 0)
        return sd_err_set(e, SD_EINVAL, "run id %lld < 0", (long long)run_id);
    if (!isfinite(t_ns) || n < 1)
        return sd_err_set(e, SD_EINVAL, "run %lld: bad snapshot (t = %g ns, %lld atoms)",
                          (long long)run_id, t_ns, (long long)n);
    double kf = (t_ns - s->o.t_first_ns) / s->o.dt_ns;
    if (kf < -1e-6)
        return 0; /* before the analysed window */
    int64_t kidx = (int64_t)llround(kf);
    if (fabs(kf - (double)kidx) > 1e-3)
        return sd_err_set(e, SD_EINVAL,
                          "run %lld: snapshot at %.6f ns is not on the %.6g ns analysis grid",
                          (long long)run_id, t_ns, s->o.dt_ns);
    run_t *r = find_run(s, run_id);
    if (!r) {
        r = new_run(s, run_id, n, pos, e);
        if (!r)
            return e ? e->code : SD_ENOMEM;
    }
    if (n != r->n)
        return sd_err_set(e, SD_EINVAL, "run %lld: snapshot has %lld atoms, the run has %lld",
                          (long long)run_id, (long long)n, (long long)r->n);
    if (target_ns > 0)
        r->target_ns = target_ns;
    if (ns_per_day > 0)
        r->ns_per_day = ns_per_day;
    if (t_ns > r->sim_ns)
        r->sim_ns = t_ns;
    if (kidx < r->next_k)
        return 0; /* already analysed: a resend or a resumed worker's repeat */
    if (kidx > r->next_k) {
        for (int i = 0; i < r->npending; i++)
            if (r->pending[i].k == kidx)
                return 0;
        if (r->npending >= RUNSTATS_REORDER)
            return sd_err_set(e, SD_ENOMEM,
                              "run %lld: %d snapshots wait for frame %lld (reorder buffer full)",
                              (long long)run_id, r->npending, (long long)r->next_k);
        double *copy = malloc((size_t)(3 * n) * sizeof *copy);
        if (!copy)
            return sd_err_set(e, SD_ENOMEM, "out of memory");
        memcpy(copy, pos, (size_t)(3 * n) * sizeof *copy);
        r->pending[r->npending++] = (pending_t){kidx, t_ns, copy};
        return 0;
    }
    int rc = analyse_frame(s, r, t_ns, pos, e);
    if (rc)
        return rc;
    int done = 1;
    for (int found = 1; found;) { /* release buffered successors */
        found = 0;
        for (int i = 0; i < r->npending; i++)
            if (r->pending[i].k == r->next_k) {
                pending_t p = r->pending[i];
                r->pending[i] = r->pending[--r->npending];
                rc = analyse_frame(s, r, p.t_ns, p.pos, e);
                free(p.pos);
                if (rc)
                    return rc;
                done++;
                found = 1;
                break;
            }
    }
    return done;
}

int runstats_runs(const runstats_t *s, int64_t *ids, int max)
{
    for (int i = 0; i < s->nruns && i < max; i++)
        ids[i] = s->runs[i]->id;
    return s->nruns;
}

int64_t runstats_frames_total(const runstats_t *s)
{
    return s->m_frames;
}

static void fill_derived(int k, const int64_t *counts, double frames, const double *sum,
                         const double *sq, double dt, double *mean, double *sd, double *P,
                         double *tau)
{
    double c[SD_STATS_MAX_K * SD_STATS_MAX_K];
    for (int i = 0; i < k * k; i++)
        c[i] = (double)counts[i];
    trans_rownorm(k, c, P);
    trans_tau(k, P, dt, tau);
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
            if (i == j || !(P[i * k + j] > 0))
                tau[i * k + j] = -1; /* undefined on the wire (PROTOCOL.md) */
    for (int g = 0; g < k; g++) {
        mean[g] = frames > 0 ? sum[g] / frames : 0;
        double v = frames > 1 ? (sq[g] - frames * mean[g] * mean[g]) / (frames - 1) : 0;
        sd[g] = v > 0 ? sqrt(v) : 0;
        if (mean[g] > 1)
            mean[g] = 1;
    }
}

void runstats_mean_p(const runstats_t *s, double *p)
{
    int k = s->k;
    memset(p, 0, (size_t)(k * k) * sizeof *p);
    if (!s->nruns)
        return;
    double *all = calloc((size_t)s->nruns * (size_t)(k * k), sizeof *all);
    if (!all)
        return;
    for (int r = 0; r < s->nruns; r++)
        for (int i = 0; i < k * k; i++)
            all[(size_t)r * (size_t)(k * k) + (size_t)i] = (double)s->runs[r]->counts[i];
    trans_mean_rownorm(k, s->nruns, all, p);
    free(all);
}

/* Points the message's arrays at one run's (or the merge's) state. */
static void set_arrays(sd_msg_stats_t *m, int64_t frames, const int64_t *counts,
                       const int64_t *pops, const double *mean, const double *sd, const double *P,
                       const double *tau)
{
    m->frames = frames;
    m->counts = counts;
    m->populations = pops;
    m->pop_mean = mean;
    m->pop_std = sd;
    m->P = P;
    m->tau_ns = tau;
}

int runstats_message(runstats_t *s, int64_t run_id, sd_msg_t *out, sd_err_t *e)
{
    sd_msg_init(out, SD_MSG_STATS);
    sd_msg_stats_t *m = &out->u.stats;
    int k = s->k;
    m->run_id = run_id;
    m->k = k;
    for (int g = 0; g < k; g++)
        snprintf(m->labels[g], sizeof m->labels[g], "%s", s->labels[g]);
    if (run_id < 0) {
        memset(s->m_counts, 0, (size_t)(k * k) * sizeof *s->m_counts);
        memset(s->m_pop, 0, (size_t)k * sizeof *s->m_pop);
        double sim = 0, target = 0, speed = 0, lf[3] = {0, 0, 0};
        for (int r = 0; r < s->nruns; r++) {
            run_t *q = s->runs[r];
            for (int i = 0; i < k * k; i++)
                s->m_counts[i] += q->counts[i];
            for (int g = 0; g < k; g++)
                s->m_pop[g] += q->pop_now[g];
            sim += q->sim_ns;
            target += q->target_ns;
            speed += q->ns_per_day;
            for (int c = 0; c < 3; c++)
                lf[c] += q->lens_frac[c] / s->nruns;
        }
        fill_derived(k, s->m_counts, (double)s->m_frames, s->m_sum, s->m_sq, s->o.dt_ns, s->m_mean,
                     s->m_std, s->m_P, s->m_tau);
        set_arrays(m, s->m_frames, s->m_counts, s->m_pop, s->m_mean, s->m_std, s->m_P, s->m_tau);
        m->has_lens = s->nruns > 0;
        memcpy(m->lens_fractions, lf, sizeof lf);
        m->sim_ns = sim;
        m->target_ns = target;
        m->ns_per_day = speed;
        return SD_OK;
    }
    run_t *r = find_run(s, run_id);
    if (!r)
        return sd_err_set(e, SD_ENOTFOUND, "no run %lld", (long long)run_id);
    fill_derived(k, r->counts, (double)r->frames, r->pop_sum, r->pop_sq, s->o.dt_ns, r->pop_mean,
                 r->pop_std, r->P, r->tau);
    set_arrays(m, r->frames, r->counts, r->pop_now, r->pop_mean, r->pop_std, r->P, r->tau);
    m->has_lens = 1;
    memcpy(m->lens_fractions, r->lens_frac, sizeof r->lens_frac);
    m->sim_ns = r->sim_ns;
    m->target_ns = r->target_ns;
    m->ns_per_day = r->ns_per_day;
    return SD_OK;
}

/* ---- JSON ---- */

typedef struct sb {
    char *p;
    size_t len, cap;
    int oom;
} sb_t;

static void sb_printf(sb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb_t *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)k < b->cap - b->len) {
            b->len += (size_t)k;
            return;
        }
        size_t cap = 2 * b->cap + (size_t)k + 1;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

static void sb_num(sb_t *b, double v)
{
    if (isfinite(v))
        sb_printf(b, "%.6g", v);
    else
        sb_printf(b, "null");
}

static void sb_str(sb_t *b, const char *s)
{
    sb_printf(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            sb_printf(b, "\\%c", c);
        else if (c < 0x20)
            sb_printf(b, "\\u%04x", c);
        else
            sb_printf(b, "%c", c);
    }
    sb_printf(b, "\"");
}

static void sb_matrix_i(sb_t *b, int k, const int64_t *m)
{
    sb_printf(b, "[");
    for (int i = 0; i < k; i++) {
        sb_printf(b, "%s[", i ? "," : "");
        for (int j = 0; j < k; j++)
            sb_printf(b, "%s%lld", j ? "," : "", (long long)m[i * k + j]);
        sb_printf(b, "]");
    }
    sb_printf(b, "]");
}

static void sb_vec(sb_t *b, int k, const double *v)
{
    sb_printf(b, "[");
    for (int i = 0; i < k; i++) {
        sb_printf(b, "%s", i ? "," : "");
        sb_num(b, v[i]);
    }
    sb_printf(b, "]");
}

int runstats_json(const runstats_t *cs, const char *session, char **json, size_t *len, sd_err_t *e)
{
    runstats_t *s = (runstats_t *)cs; /* derived arrays are scratch, not state */
    sb_t b = {0};
    int k = s->k;
    sd_msg_t m;
    runstats_message(s, -1, &m, NULL);
    sb_printf(&b, "{\"stats\":{\"session\":");
    sb_str(&b, session ? session : "");
    sb_printf(&b, ",\"dt_ns\":");
    sb_num(&b, s->o.dt_ns);
    sb_printf(&b, ",\"labels\":[");
    for (int g = 0; g < k; g++) {
        sb_printf(&b, "%s", g ? "," : "");
        sb_str(&b, s->labels[g]);
    }
    sb_printf(&b, "],\"merged\":{\"frames\":%lld,\"counts\":", (long long)s->m_frames);
    sb_matrix_i(&b, k, s->m_counts);
    sb_printf(&b, ",\"populations_mean\":");
    sb_vec(&b, k, s->m_mean);
    sb_printf(&b, ",\"populations_std\":");
    sb_vec(&b, k, s->m_std);
    double mp[SD_STATS_MAX_K * SD_STATS_MAX_K];
    runstats_mean_p(s, mp);
    sb_printf(&b, "},\"mean_P\":[");
    for (int i = 0; i < k; i++) {
        sb_printf(&b, "%s", i ? "," : "");
        sb_vec(&b, k, mp + i * k);
    }
    sb_printf(&b, "],\"runs\":[");
    for (int r = 0; r < s->nruns; r++) {
        run_t *q = s->runs[r];
        runstats_message(s, q->id, &m, NULL);
        sb_printf(&b, "%s{\"run_id\":%lld,\"frames\":%lld,\"sim_ns\":", r ? "," : "",
                  (long long)q->id, (long long)q->frames);
        sb_num(&b, q->sim_ns);
        sb_printf(&b, ",\"target_ns\":");
        sb_num(&b, q->target_ns);
        sb_printf(&b, ",\"ns_per_day\":");
        sb_num(&b, q->ns_per_day);
        sb_printf(&b, ",\"counts\":");
        sb_matrix_i(&b, k, q->counts);
        sb_printf(&b, ",\"populations_mean\":");
        sb_vec(&b, k, q->pop_mean);
        sb_printf(&b, ",\"populations_std\":");
        sb_vec(&b, k, q->pop_std);
        sb_printf(&b, ",\"lens_fractions\":");
        sb_vec(&b, 3, q->lens_frac);
        sb_printf(&b, "}");
    }
    sb_printf(&b, "]");
    run_t *last = s->last_run >= 0 ? find_run(s, s->last_run) : NULL;
    if (last && last->lens_nhist > 0) {
        sb_printf(&b, ",\"lens\":{\"run_id\":%lld,\"class_names\":[\"static\",\"intermediate\",\"dynamic\"],\"fractions_t\":[",
                  (long long)last->id);
        int64_t from = last->lens_nhist > 2000 ? last->lens_nhist - 2000 : 0;
        for (int64_t i = from; i < last->lens_nhist; i++) {
            sb_printf(&b, "%s", i > from ? "," : "");
            sb_vec(&b, 4, last->lens_hist + 4 * i);
        }
        sb_printf(&b, "]");
        int64_t w = last->lens_frames < s->o.lens_window ? last->lens_frames : s->o.lens_window;
        double grid[KDE_POINTS], dens[KDE_POINTS];
        sd_err_t ke;
        if (cluster_kde_gauss(last->lens_win, w * last->n, 0, KDE_POINTS, grid, dens, NULL, &ke) ==
            SD_OK) {
            sb_printf(&b, ",\"kde\":{\"x\":");
            sb_vec(&b, KDE_POINTS, grid);
            sb_printf(&b, ",\"y\":");
            sb_vec(&b, KDE_POINTS, dens);
            sb_printf(&b, "}");
        }
        sb_printf(&b, "}");
    }
    sb_printf(&b, "}");
    if (last) {
        sb_printf(&b, ",\"model\":{\"run_id\":%lld,\"t_ns\":", (long long)last->id);
        sb_num(&b, last->last_t_ns);
        sb_printf(&b, ",\"atoms\":[");
        for (int64_t i = 0; i < last->n; i++) {
            const double *p = last->last_pos + 3 * i;
            sb_printf(&b, "%s[%.3f,%.3f,%.3f,%lld]", i ? "," : "", p[0], p[1], p[2],
                      (long long)(last->mask[i] ? last->group[i] : -1));
        }
        sb_printf(&b, "]}");
    }
    sb_printf(&b, "}");
    if (b.oom) {
        free(b.p);
        return sd_err_set(e, SD_ENOMEM, "out of memory building the state JSON");
    }
    *json = b.p;
    *len = b.len;
    return SD_OK;
}
