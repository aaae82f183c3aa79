/* Convenience evaluation paths, input validation, the local energy change
 * for Monte-Carlo moves, and the external 9-3 wall. */
#include "sim_internal.h"

#include <stdlib.h>
#include <string.h>

#define SIM_MIN_DIST 1.0 /* Å: closer atoms are an input error (overlap) */

int sim_check_positions(int64_t n, const double *pos, double dmin, sd_err_t *e)
{
    if (n < 1) return sd_err_set(e, SD_EINVAL, "no atoms (n = %lld)", (long long)n);
    if (!pos) return sd_err_set(e, SD_EINVAL, "positions: NULL");
    if (n > (int64_t)INT32_MAX - 16)
        return sd_err_set(e, SD_ERANGE, "too many atoms (%lld)", (long long)n);
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            if (!isfinite(pos[3 * i + k]) || fabs(pos[3 * i + k]) > 1e8)
                return sd_err_set(e, SD_ERANGE, "atom %lld: coordinate %c is %g (not finite or beyond 1e8 Å)",
                                  (long long)i, "xyz"[k], pos[3 * i + k]);
    if (dmin <= 0) return SD_OK;
    sim_nlist_t nl;
    int rc = sim_nlist_init(&nl, n, dmin, 1e-9, e);
    if (rc) return rc;
    double *x = malloc((size_t)n * 3 * sizeof(double));
    if (!x) {
        sim_nlist_free(&nl);
        return sd_err_set(e, SD_ENOMEM, "out of memory");
    }
    double *y = x + n, *z = y + n;
    for (int64_t i = 0; i < n; i++) {
        x[i] = pos[3 * i];
        y[i] = pos[3 * i + 1];
        z[i] = pos[3 * i + 2];
    }
    rc = sim_nlist_build(&nl, x, y, z, NULL, e);
    for (int64_t i = 0; rc == SD_OK && i < n; i++)
        for (int64_t k = nl.start[i]; k < nl.start[i + 1]; k++) {
            int32_t j = nl.j[k];
            if (j == n) continue;
            double d = sqrt((x[i] - x[j]) * (x[i] - x[j]) + (y[i] - y[j]) * (y[i] - y[j]) +
                            (z[i] - z[j]) * (z[i] - z[j]));
            if (d < dmin) {
                rc = sd_err_set(e, SD_EPHYS,
                                "atoms %lld and %d overlap: %.4f Å apart (minimum %.2f Å)",
                                (long long)i, j, d, dmin);
                break;
            }
        }
    free(x);
    sim_nlist_free(&nl);
    return rc;
}

static int ws_load(sim_ws_t *w, const double *pos, sd_err_t *e)
{
    for (int64_t i = 0; i < w->n; i++) {
        double a = pos[3 * i], b = pos[3 * i + 1], c = pos[3 * i + 2];
        if (!isfinite(a) || !isfinite(b) || !isfinite(c))
            return sd_err_set(e, SD_ERANGE, "atom %lld: non-finite coordinate", (long long)i);
        w->x[i] = a;
        w->y[i] = b;
        w->z[i] = c;
    }
    return SD_OK;
}

int sim_ws_compute(sim_ws_t *w, const double *pos, double *energy_total, double *e_atom,
                   double *forces, sd_err_t *e)
{
    if (!w || !pos) return sd_err_set(e, SD_EINVAL, "sim_ws_compute: NULL argument");
    int rc = ws_load(w, pos, e);
    if (rc) return rc;
    rc = sim_ws_force_soa(w, energy_total, e_atom, e);
    if (rc) return rc;
    if (forces)
        for (int64_t i = 0; i < w->n; i++) {
            forces[3 * i] = w->fx[i];
            forces[3 * i + 1] = w->fy[i];
            forces[3 * i + 2] = w->fz[i];
        }
    return SD_OK;
}

int sim_compute(const sim_potential_t *p, int64_t n, const double *pos, double *energy_total,
                double *e_atom, double *forces, sd_err_t *e)
{
    if (!p) return sd_err_set(e, SD_EINVAL, "sim_compute: NULL potential");
    int rc = sim_check_positions(n, pos, SIM_MIN_DIST, e);
    if (rc) return rc;
    sim_ws_t *w = sim_ws_new(p, n, 0.01, e);
    if (!w) return e ? e->code : SD_ENOMEM;
    rc = sim_ws_compute(w, pos, energy_total, e_atom, forces, e);
    sim_ws_destroy(&w);
    return rc;
}

/* ---- local energy change ------------------------------------------------ */

typedef struct grid {
    double lo[3], inv;
    int64_t nc[3];
    int32_t *start, *atoms;
} grid_t;

static int grid_build(grid_t *g, int64_t n, const double *pos, double cs)
{
    double hi[3];
    for (int k = 0; k < 3; k++) g->lo[k] = hi[k] = pos[k];
    for (int64_t i = 1; i < n; i++)
        for (int k = 0; k < 3; k++) {
            if (pos[3 * i + k] < g->lo[k]) g->lo[k] = pos[3 * i + k];
            if (pos[3 * i + k] > hi[k]) hi[k] = pos[3 * i + k];
        }
    for (;;) {
        double tot = 1;
        for (int k = 0; k < 3; k++) tot *= floor((hi[k] - g->lo[k]) / cs) + 1;
        if (tot <= 8.0 * (double)n + 64) break;
        cs *= 1.5;
    }
    g->inv = 1.0 / cs;
    for (int k = 0; k < 3; k++) g->nc[k] = (int64_t)floor((hi[k] - g->lo[k]) / cs) + 1;
    int64_t ncell = g->nc[0] * g->nc[1] * g->nc[2];
    g->start = calloc((size_t)ncell + 1, sizeof(int32_t));
    g->atoms = malloc((size_t)n * sizeof(int32_t));
    int32_t *cell = malloc((size_t)n * sizeof(int32_t));
    if (!g->start || !g->atoms || !cell) {
        free(cell);
        return SD_ENOMEM;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t c3[3];
        for (int k = 0; k < 3; k++) {
            c3[k] = (int64_t)floor((pos[3 * i + k] - g->lo[k]) * g->inv);
            if (c3[k] >= g->nc[k]) c3[k] = g->nc[k] - 1;
        }
        cell[i] = (int32_t)((c3[2] * g->nc[1] + c3[1]) * g->nc[0] + c3[0]);
        g->start[cell[i] + 1]++;
    }
    for (int64_t c = 0; c < ncell; c++) g->start[c + 1] += g->start[c];
    for (int64_t i = 0; i < n; i++) g->atoms[g->start[cell[i]]++] = (int32_t)i;
    for (int64_t c = ncell; c > 0; c--) g->start[c] = g->start[c - 1];
    g->start[0] = 0;
    free(cell);
    return SD_OK;
}

/* Calls visit(j) for every atom j whose (old) position lies in the 27 cells
 * around point q: a superset of the atoms within the cell size of q. */
#define GRID_FOR(g, q, j, ...)                                                               \
    do {                                                                                    \
        int64_t c_[3];                                                                      \
        for (int k_ = 0; k_ < 3; k_++) c_[k_] = (int64_t)floor(((q)[k_] - (g)->lo[k_]) * (g)->inv); \
        for (int64_t z_ = c_[2] - 1; z_ <= c_[2] + 1; z_++) {                               \
            if (z_ < 0 || z_ >= (g)->nc[2]) continue;                                       \
            for (int64_t y_ = c_[1] - 1; y_ <= c_[1] + 1; y_++) {                           \
                if (y_ < 0 || y_ >= (g)->nc[1]) continue;                                   \
                for (int64_t x_ = c_[0] - 1; x_ <= c_[0] + 1; x_++) {                       \
                    if (x_ < 0 || x_ >= (g)->nc[0]) continue;                               \
                    int64_t cc_ = (z_ * (g)->nc[1] + y_) * (g)->nc[0] + x_;                 \
                    for (int32_t a_ = (g)->start[cc_]; a_ < (g)->start[cc_ + 1]; a_++) {    \
                        int32_t j = (g)->atoms[a_];                                         \
                        __VA_ARGS__                                                         \
                    }                                                                       \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    } while (0)

static void acc_pair(const sim_potential_t *p, const double *a, const double *b, double *sa,
                     double *sr)
{
    double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
    double r2 = dx * dx + dy * dy + dz * dz;
    if (!(r2 < p->rc2)) return;
    double al, dal, x2, dx2;
    sim_pair_eval(p, sqrt(r2), &al, &dal, &x2, &dx2);
    *sa += al;
    *sr += x2;
}

/* E_k in the old (use_new = 0) or new configuration. slot[j] = index into
 * idx/newpos of a moved atom, else -1. */
static double atom_energy(const sim_potential_t *p, const grid_t *g, const double *pos,
                          const int32_t *slot, int64_t m, const double *newpos, int64_t k,
                          int use_new)
{
    const double *qk = (use_new && slot[k] >= 0) ? newpos + 3 * slot[k] : pos + 3 * k;
    double sa = 0, sr = 0;
    GRID_FOR(g, qk, j, {
        if (j == k) continue;
        if (use_new && slot[j] >= 0) continue;
        acc_pair(p, qk, pos + 3 * j, &sa, &sr);
    });
    if (use_new) {
        for (int64_t s = 0; s < m; s++) {
            /* moved atoms at their new positions (k itself excluded) */
            if (slot[k] == s) continue;
            acc_pair(p, qk, newpos + 3 * s, &sa, &sr);
        }
    }
    return sa - sqrt(sr);
}

int sim_energy_delta(const sim_potential_t *p, int64_t n, const double *pos, int64_t m,
                     const int64_t *idx, const double *newpos, double *dE, sd_err_t *e)
{
    if (!p || !pos || !dE || (m > 0 && (!idx || !newpos)))
        return sd_err_set(e, SD_EINVAL, "sim_energy_delta: NULL argument");
    if (n < 1) return sd_err_set(e, SD_EINVAL, "sim_energy_delta: no atoms");
    if (m < 0 || m > n) return sd_err_set(e, SD_EINVAL, "sim_energy_delta: m = %lld out of range", (long long)m);
    *dE = 0;
    if (m == 0) return SD_OK;
    for (int64_t s = 0; s < 3 * m; s++)
        if (!isfinite(newpos[s]) || fabs(newpos[s]) > 1e8)
            return sd_err_set(e, SD_ERANGE, "sim_energy_delta: non-finite or huge new coordinate");
    for (int64_t s = 0; s < 3 * n; s++)
        if (!isfinite(pos[s]) || fabs(pos[s]) > 1e8)
            return sd_err_set(e, SD_ERANGE, "sim_energy_delta: atom %lld has a non-finite or huge coordinate",
                              (long long)(s / 3));
    grid_t g = {0};
    int32_t *slot = malloc((size_t)n * sizeof(int32_t));
    int32_t *mark = calloc((size_t)n, sizeof(int32_t));
    int64_t *aff = NULL;
    int64_t naff = 0, acap = 64 * m + 64;
    aff = malloc((size_t)acap * sizeof *aff);
    int rc = SD_OK;
    if (!slot || !mark || !aff || grid_build(&g, n, pos, p->rc) != SD_OK) {
        rc = sd_err_set(e, SD_ENOMEM, "sim_energy_delta: out of memory");
        goto out;
    }
    for (int64_t i = 0; i < n; i++) slot[i] = -1;
    for (int64_t s = 0; s < m; s++) {
        if (idx[s] < 0 || idx[s] >= n || slot[idx[s]] >= 0) {
            rc = sd_err_set(e, SD_EINVAL, "sim_energy_delta: index %lld invalid or repeated",
                            (long long)idx[s]);
            goto out;
        }
        slot[idx[s]] = (int32_t)s;
    }
    /* affected atoms: moved ones and those within Rc of an old or new position */
    for (int64_t s = 0; s < m; s++) {
        for (int side = 0; side < 2; side++) {
            const double *q = side ? newpos + 3 * s : pos + 3 * idx[s];
            GRID_FOR(&g, q, j, {
                if (mark[j]) continue;
                double dx = q[0] - pos[3 * j], dy = q[1] - pos[3 * j + 1], dz = q[2] - pos[3 * j + 2];
                if (slot[j] < 0 && !(dx * dx + dy * dy + dz * dz < p->rc2)) continue;
                if (naff == acap) {
                    int64_t *na = realloc(aff, (size_t)(acap * 2) * sizeof *na);
                    if (!na) {
                        rc = sd_err_set(e, SD_ENOMEM, "sim_energy_delta: out of memory");
                        goto out;
                    }
                    aff = na;
                    acap *= 2;
                }
                mark[j] = 1;
                aff[naff++] = j;
            });
        }
        if (!mark[idx[s]]) {
            if (naff == acap) {
                int64_t *na = realloc(aff, (size_t)(acap * 2) * sizeof *na);
                if (!na) {
                    rc = sd_err_set(e, SD_ENOMEM, "sim_energy_delta: out of memory");
                    goto out;
                }
                aff = na;
                acap *= 2;
            }
            mark[idx[s]] = 1;
            aff[naff++] = idx[s];
        }
    }
    double d = 0;
    for (int64_t a = 0; a < naff; a++) {
        int64_t k = aff[a];
        d += atom_energy(p, &g, pos, slot, m, newpos, k, 1) - atom_energy(p, &g, pos, slot, m, newpos, k, 0);
    }
    *dE = d;
out:
    free(g.start);
    free(g.atoms);
    free(slot);
    free(mark);
    free(aff);
    return rc;
}

/* ---- wall ----------------------------------------------------------------- */

int sim_wall_check(const sim_wall_t *w, sd_err_t *e)
{
    if (!w || !w->enabled) return SD_OK;
    if (!isfinite(w->z0) || !(w->epsilon > 0) || !isfinite(w->epsilon) || !(w->sigma > 0) ||
        !isfinite(w->sigma) || !(w->cutoff > 0) || !isfinite(w->cutoff))
        return sd_err_set(e, SD_EINVAL,
                          "wall: need finite z0 and positive epsilon, sigma, cutoff (got z0 %g, "
                          "epsilon %g, sigma %g, cutoff %g)",
                          w->z0, w->epsilon, w->sigma, w->cutoff);
    return SD_OK;
}

/* LAMMPS fix wall/lj93 (zlo, with energy offset at the cut-off).  Distances
 * below 0.2 sigma are clamped: an atom pushed through the plane feels the
 * (huge, finite) force of 0.2 sigma rather than a NaN. */
static inline double wall_one(const sim_wall_t *w, double z, double *fz)
{
    double d = z - w->z0;
    if (d >= w->cutoff) return 0;
    if (d < 0.2 * w->sigma) d = 0.2 * w->sigma;
    double s3 = w->sigma * w->sigma * w->sigma, s9 = s3 * s3 * s3;
    double c1 = 6.0 / 5.0 * w->epsilon * s9, c2 = 3.0 * w->epsilon * s3;
    double c3 = 2.0 / 15.0 * w->epsilon * s9, c4 = w->epsilon * s3;
    double rc3 = w->cutoff * w->cutoff * w->cutoff;
    double off = c3 / (rc3 * rc3 * rc3) - c4 / rc3;
    double ri = 1.0 / d, r2 = ri * ri, r4 = r2 * r2, r10 = r4 * r4 * r2;
    *fz += c1 * r10 - c2 * r4;
    return c3 * r4 * r4 * ri - c4 * r2 * ri - off;
}

double sim_wall_apply(const sim_wall_t *w, int64_t n, const double *pos, double *f)
{
    if (!w || !w->enabled) return 0;
    double en = 0;
    for (int64_t i = 0; i < n; i++) {
        double fz = 0;
        en += wall_one(w, pos[3 * i + 2], &fz);
        if (f) f[3 * i + 2] += fz;
    }
    return en;
}

double sim_wall_apply_soa(const sim_wall_t *w, int64_t n, const double *z, double *fz)
{
    if (!w || !w->enabled) return 0;
    double en = 0;
    for (int64_t i = 0; i < n; i++) {
        double f = 0;
        en += wall_one(w, z[i], &f);
        fz[i] += f;
    }
    return en;
}
