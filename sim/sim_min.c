/* Energy minimisation: Polak–Ribière conjugate gradient with a backtracking
 * + secant line search, and FIRE 2.0 (Guénolé et al., Comput. Mater. Sci.
 * 173, 109584, 2020), with the stopping rules of LAMMPS `minimize etol ftol
 * maxiter maxeval` (energy: |ΔE| < etol·(|E|+|E_prev|+1e-8)/2; force: 2-norm
 * of the whole force vector < ftol). */
#include "sim_internal.h"

#include <stdlib.h>
#include <string.h>

#define EPS_ENERGY 1e-8
#define MVV2E 1.0364269e-4 /* LAMMPS metal: amu·(Å/ps)² → eV */

void sim_min_opts_default(sim_min_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->style = SIM_MIN_CG;
    o->etol = 1e-6;
    o->ftol = 1e-8;
    o->maxiter = 1000;
    o->maxeval = 10000;
    o->dmax = 0.1;
}

const char *sim_min_stop_name(sim_min_stop_t s)
{
    switch (s) {
    case SIM_STOP_ETOL: return "energy tolerance";
    case SIM_STOP_FTOL: return "force tolerance";
    case SIM_STOP_MAXITER: return "max iterations";
    case SIM_STOP_MAXEVAL: return "max force evaluations";
    case SIM_STOP_LINESEARCH: return "linesearch alpha is zero";
    }
    return "?";
}

typedef struct mctx {
    sim_ws_t *w;
    const sim_wall_t *wall;
    int64_t n, nevals;
} mctx_t;

static int evalf(mctx_t *c, const double *pos, double *E, double *f, sd_err_t *e)
{
    int rc = sim_ws_compute(c->w, pos, E, NULL, f, e);
    if (rc) return rc;
    *E += sim_wall_apply(c->wall, c->n, pos, f);
    c->nevals++;
    if (!isfinite(*E)) return sd_err_set(e, SD_ERANGE, "minimize: energy is not finite");
    return SD_OK;
}

static double dot(int64_t m, const double *a, const double *b)
{
    double s = 0;
    for (int64_t i = 0; i < m; i++) s += a[i] * b[i];
    return s;
}

static double maxabs(int64_t m, const double *a)
{
    double s = 0;
    for (int64_t i = 0; i < m; i++) s = fmax(s, fabs(a[i]));
    return s;
}

static int etol_met(double etol, double ecur, double eprev)
{
    return etol > 0 && fabs(ecur - eprev) < etol * 0.5 * (fabs(ecur) + fabs(eprev) + EPS_ENERGY);
}

/* Line search along h from x0 (energy E0, forces f0); on success x, E, f hold
 * the new point.  Returns 1 when no decrease could be found. */
static int linesearch(mctx_t *c, const sim_min_opts_t *o, int64_t m, const double *x0, double E0,
                      const double *f0, const double *h, double *x, double *E, double *f,
                      sd_err_t *e, int *err)
{
    double fh0 = dot(m, f0, h); /* = -dE/dα at 0 (> 0 for a descent direction) */
    double hmax = maxabs(m, h);
    *err = 0;
    if (!(fh0 > 0) || hmax == 0) return 1;
    double alpha = fmin(1.0, o->dmax / hmax);
    for (int it = 0; it < 60; it++) {
        if (c->nevals >= o->maxeval) return 1;
        for (int64_t i = 0; i < m; i++) x[i] = x0[i] + alpha * h[i];
        int rc = evalf(c, x, E, f, e);
        if (rc) {
            *err = rc;
            return 1;
        }
        double fh = dot(m, f, h);
        /* Armijo, or (at the round-off floor of E) a slope that is still
         * downhill-or-flat and smaller in magnitude: both mean progress. */
        int armijo = *E <= E0 - 0.4 * alpha * fh0;
        int roundoff = fabs(*E - E0) <= 1e-13 * fabs(E0) + 1e-300 && fabs(fh) < fh0;
        if (armijo || roundoff) {
            /* overshoot past the 1-D minimum: try the secant root of the slope */
            if (fh < 0 && c->nevals < o->maxeval) {
                double as = alpha * fh0 / (fh0 - fh);
                double *xs = x + m; /* scratch after x (caller allocated 2m) */
                double *fs = f + m;
                double Es;
                for (int64_t i = 0; i < m; i++) xs[i] = x0[i] + as * h[i];
                rc = evalf(c, xs, &Es, fs, e);
                if (rc) {
                    *err = rc;
                    return 1;
                }
                if (Es < *E || (fabs(Es - *E) <= 1e-13 * fabs(E0) &&
                                fabs(dot(m, fs, h)) < fabs(fh))) {
                    memcpy(x, xs, (size_t)m * sizeof(double));
                    memcpy(f, fs, (size_t)m * sizeof(double));
                    *E = Es;
                }
            }
            return 0;
        }
        alpha *= 0.5;
        if (alpha * hmax < 1e-14) break;
    }
    return 1;
}

static int min_cg(mctx_t *c, const sim_min_opts_t *o, double *pos, sim_min_result_t *r,
                  sd_err_t *e)
{
    const int64_t m = 3 * c->n;
    double *buf = malloc(sizeof(double) * (size_t)m * 8);
    if (!buf) return sd_err_set(e, SD_ENOMEM, "minimize: out of memory");
    double *f = buf, *g = f + m, *h = g + m, *x = h + m, *fn = x + 2 * m; /* x, fn: 2m each */
    double E, En;
    int rc = evalf(c, pos, &E, f, e);
    if (rc) goto out;
    r->energy_start = E;
    memcpy(g, f, (size_t)m * sizeof(double));
    memcpy(h, f, (size_t)m * sizeof(double));
    double gg = dot(m, f, f);
    r->stop = SIM_STOP_MAXITER;
    if (o->ftol > 0 && sqrt(gg) < o->ftol) {
        r->stop = SIM_STOP_FTOL;
        goto done;
    }
    for (r->iterations = 0; r->iterations < o->maxiter;) {
        int err = 0;
        if (linesearch(c, o, m, pos, E, f, h, x, &En, fn, e, &err)) {
            if (err) {
                rc = err;
                goto out;
            }
            if (c->nevals >= o->maxeval) {
                r->stop = SIM_STOP_MAXEVAL;
                goto done;
            }
            /* a failed search along h: restart along the gradient once */
            if (dot(m, f, h) != gg || memcmp(h, f, (size_t)m * sizeof(double))) {
                memcpy(h, f, (size_t)m * sizeof(double));
                continue;
            }
            r->stop = SIM_STOP_LINESEARCH;
            goto done;
        }
        r->iterations++;
        double Eprev = E;
        memcpy(pos, x, (size_t)m * sizeof(double));
        memcpy(f, fn, (size_t)m * sizeof(double));
        E = En;
        if (etol_met(o->etol, E, Eprev)) {
            r->stop = SIM_STOP_ETOL;
            goto done;
        }
        double ff = dot(m, f, f), fg = dot(m, f, g);
        if (o->ftol > 0 && sqrt(ff) < o->ftol) {
            r->stop = SIM_STOP_FTOL;
            goto done;
        }
        if (c->nevals >= o->maxeval) {
            r->stop = SIM_STOP_MAXEVAL;
            goto done;
        }
        double beta = fmax(0.0, (ff - fg) / gg);
        if ((r->iterations + 1) % (m > 0 ? m : 1) == 0) beta = 0;
        gg = ff;
        for (int64_t i = 0; i < m; i++) {
            g[i] = f[i];
            h[i] = g[i] + beta * h[i];
        }
        if (dot(m, g, h) <= 0) memcpy(h, g, (size_t)m * sizeof(double));
    }
done:
    r->energy = E;
    r->fmax = maxabs(m, f);
    r->fnorm = sqrt(dot(m, f, f));
    rc = SD_OK;
out:
    free(buf);
    return rc;
}

/* FIRE 2.0 with the LAMMPS defaults (dt 1 fs, dtmax 10 dt, dtmin 0.02 dt,
 * alpha0 0.25, alphashrink 0.99, Nmin (delaystep) 20, dtgrow 1.1, dtshrink
 * 0.5, semi-implicit Euler, half step back on P <= 0); displacement per step
 * capped at dmax. */
static int min_fire(mctx_t *c, const sim_min_opts_t *o, double mass, double *pos,
                    sim_min_result_t *r, sd_err_t *e)
{
    const int64_t m = 3 * c->n;
    double *buf = calloc((size_t)m * 2, sizeof(double));
    if (!buf) return sd_err_set(e, SD_ENOMEM, "minimize: out of memory");
    double *f = buf, *v = f + m;
    const double ftm2v = 1.0 / MVV2E;
    double dt = 0.001, dtmax = 10 * dt, dtmin = 0.02 * dt, alpha0 = 0.25, alpha = alpha0;
    int64_t last_neg = 0;
    double E;
    int rc = evalf(c, pos, &E, f, e);
    if (rc) goto out;
    r->energy_start = E;
    r->stop = SIM_STOP_MAXITER;
    if (o->ftol > 0 && sqrt(dot(m, f, f)) < o->ftol) {
        r->stop = SIM_STOP_FTOL;
        goto done;
    }
    for (r->iterations = 0; r->iterations < o->maxiter;) {
        int64_t it = ++r->iterations;
        double P = dot(m, f, v);
        if (P > 0) {
            if (it - last_neg > 20) {
                dt = fmin(dt * 1.1, dtmax);
                alpha *= 0.99;
            }
        } else {
            last_neg = it;
            if (it > 20) {
                dt = fmax(dt * 0.5, dtmin);
                alpha = alpha0;
            }
            for (int64_t i = 0; i < m; i++) pos[i] -= 0.5 * dt * v[i];
            memset(v, 0, (size_t)m * sizeof(double));
        }
        /* semi-implicit Euler with velocity mixing */
        double dtf = dt * ftm2v / mass;
        for (int64_t i = 0; i < m; i++) v[i] += dtf * f[i];
        double vv = dot(m, v, v), ff = dot(m, f, f);
        if (P > 0 && ff > 0) {
            double sc = alpha * sqrt(vv / ff);
            for (int64_t i = 0; i < m; i++) v[i] = (1 - alpha) * v[i] + sc * f[i];
        }
        double vmax = maxabs(m, v), sdt = dt;
        if (vmax * sdt > o->dmax) sdt = o->dmax / vmax;
        for (int64_t i = 0; i < m; i++) pos[i] += sdt * v[i];
        double Eprev = E;
        rc = evalf(c, pos, &E, f, e);
        if (rc) goto out;
        if (it - last_neg > 20 && etol_met(o->etol, E, Eprev)) {
            r->stop = SIM_STOP_ETOL;
            goto done;
        }
        if (o->ftol > 0 && sqrt(dot(m, f, f)) < o->ftol) {
            r->stop = SIM_STOP_FTOL;
            goto done;
        }
        if (c->nevals >= o->maxeval) {
            r->stop = SIM_STOP_MAXEVAL;
            goto done;
        }
    }
done:
    r->energy = E;
    r->fmax = maxabs(m, f);
    r->fnorm = sqrt(dot(m, f, f));
    rc = SD_OK;
out:
    free(buf);
    return rc;
}

int sim_minimize(const sim_potential_t *p, int64_t n, double *pos, const sim_min_opts_t *o,
                 sim_min_result_t *r, sd_err_t *e)
{
    sim_min_opts_t def;
    sim_min_result_t rdummy;
    if (!o) {
        sim_min_opts_default(&def);
        o = &def;
    }
    if (!r) r = &rdummy;
    memset(r, 0, sizeof *r);
    if (!p) return sd_err_set(e, SD_EINVAL, "minimize: NULL potential");
    if (!(o->etol >= 0) || !(o->ftol >= 0) || o->maxiter < 0 || o->maxeval < 1 ||
        !(o->dmax > 0) || !isfinite(o->etol) || !isfinite(o->ftol) || !isfinite(o->dmax) ||
        (o->style != SIM_MIN_CG && o->style != SIM_MIN_FIRE))
        return sd_err_set(e, SD_EINVAL,
                          "minimize: need etol >= 0, ftol >= 0, maxiter >= 0, maxeval >= 1, "
                          "dmax > 0 and style cg|fire");
    int rc = sim_wall_check(&o->wall, e);
    if (rc) return rc;
    rc = sim_check_positions(n, pos, 1.0, e);
    if (rc) return rc;
    mctx_t c = {0};
    c.w = sim_ws_new(p, n, 0.5, e);
    if (!c.w) return e ? e->code : SD_ENOMEM;
    c.wall = &o->wall;
    c.n = n;
    if (o->style == SIM_MIN_FIRE)
        rc = min_fire(&c, o, p->prm.mass, pos, r, e);
    else
        rc = min_cg(&c, o, pos, r, e);
    r->evaluations = c.nevals;
    sim_ws_destroy(&c.w);
    return rc;
}
