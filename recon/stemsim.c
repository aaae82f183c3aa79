/* stemsim — the synthetic ADF-STEM microscope of the counting work.
 *
 * Model (../shared/oracle/README.md §5): I = b + Σ_c SCS(n_c)/(2π s²)
 * exp(-|r - r_c|²/(2 s²)), counts ~ Poisson(D·dx²·I).  The zone axis is found
 * from the lattice itself (nearest-neighbour bonds are the <110> directions of
 * FCC, second neighbours the <100>), so a model need not be pre-aligned. */
#include "recon.h"
#include "stemsim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const double *recon_stemsim_library(const recon_stemsim_opts_t *o, double buf[RECON_LIB_PT_N], int *nlib)
{
    if (o->lib && o->nlib > 0) return *nlib = o->nlib, o->lib;
    for (int i = 0; i < RECON_LIB_PT_N; i++) buf[i] = recon_lib_pt[i] * RECON_AU_OVER_PT;
    *nlib = RECON_LIB_PT_N;
    return buf;
}

void recon_stemsim_opts_default(recon_stemsim_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->zone = 110;
    o->dx = 0.12;
    o->width = 0.7;
    o->dose = 1e4;
    o->size = 1024;
    o->seed = 1;
}

/* ---- random numbers: xoshiro256** seeded by splitmix64 (no global state) ---- */
static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void recon_rng_seed(recon_rng_t *r, uint64_t seed)
{
    uint64_t s = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&s);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t recon_rng_next(recon_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

double recon_rng_uniform(recon_rng_t *r) { return (double)(recon_rng_next(r) >> 11) * 0x1.0p-53; }

double recon_rng_normal(recon_rng_t *r)
{
    double u1 = recon_rng_uniform(r), u2 = recon_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Knuth below λ = 10, Hörmann's PTRS (as numpy) above. */
int64_t recon_rng_poisson(recon_rng_t *r, double lam)
{
    if (!(lam > 0)) return 0;
    if (lam < 10) {
        double L = exp(-lam), p = 1.0;
        int64_t k = 0;
        for (;;) {
            p *= recon_rng_uniform(r);
            if (p <= L) return k;
            k++;
        }
    }
    double slam = sqrt(lam), loglam = log(lam);
    double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
    double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
        double U = recon_rng_uniform(r) - 0.5, V = recon_rng_uniform(r);
        double us = 0.5 - fabs(U);
        int64_t k = (int64_t)floor((2 * a / us + b) * U + lam + 0.43);
        if (us >= 0.07 && V <= vr) return k;
        if (k < 0 || (us < 0.013 && V > us)) continue;
        if (log(V) + log(invalpha) - log(a / (us * us) + b) <= -lam + (double)k * loglam - lgamma((double)k + 1))
            return k;
    }
}

/* ---- zone axis from the lattice ---- */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct { double x; int64_t i; } keyed_t;
static int cmp_keyed(const void *a, const void *b)
{
    double x = ((const keyed_t *)a)->x, y = ((const keyed_t *)b)->x;
    return (x > y) - (x < y);
}

/* Visits every pair closer than rc (sweep along x after sorting). */
typedef void (*pair_fn)(int64_t i, int64_t j, const double *d, double r, void *ctx);
static int for_pairs(const double *pos, int64_t n, int dim, double rc, pair_fn fn, void *ctx)
{
    keyed_t *k = malloc((size_t)(n > 0 ? n : 1) * sizeof *k);
    if (!k) return SD_ENOMEM;
    for (int64_t i = 0; i < n; i++) k[i] = (keyed_t){pos[dim * i], i};
    qsort(k, (size_t)n, sizeof *k, cmp_keyed);
    for (int64_t a = 0; a < n; a++)
        for (int64_t b = a + 1; b < n && k[b].x - k[a].x < rc; b++) {
            int64_t i = k[a].i, j = k[b].i;
            double d[3] = {0, 0, 0}, r2 = 0;
            for (int q = 0; q < dim; q++) {
                d[q] = pos[dim * j + q] - pos[dim * i + q];
                r2 += d[q] * d[q];
            }
            if (r2 < rc * rc) fn(i, j, d, sqrt(r2), ctx);
        }
    free(k);
    return SD_OK;
}

typedef struct { double *nn; } nn_ctx_t;
static void nn_visit(int64_t i, int64_t j, const double *d, double r, void *vctx)
{
    (void)d;
    nn_ctx_t *c = vctx;
    if (r < c->nn[i]) c->nn[i] = r;
    if (r < c->nn[j]) c->nn[j] = r;
}

#define MAXDIR 64
typedef struct {
    double lo, hi;
    int nd;
    double dir[MAXDIR][3]; /* running sums of sign-aligned unit vectors */
    int64_t cnt[MAXDIR];
} dir_ctx_t;
static void dir_visit(int64_t i, int64_t j, const double *d, double r, void *vctx)
{
    (void)i, (void)j;
    dir_ctx_t *c = vctx;
    if (r < c->lo || r > c->hi) return;
    double u[3] = {d[0] / r, d[1] / r, d[2] / r};
    const double cmax = cos(8.0 * M_PI / 180.0);
    for (int k = 0; k < c->nd; k++) {
        double *s = c->dir[k], ns = sqrt(s[0] * s[0] + s[1] * s[1] + s[2] * s[2]);
        double dot = (u[0] * s[0] + u[1] * s[1] + u[2] * s[2]) / ns;
        if (fabs(dot) > cmax) {
            double sg = dot < 0 ? -1.0 : 1.0;
            for (int q = 0; q < 3; q++) s[q] += sg * u[q];
            c->cnt[k]++;
            return;
        }
    }
    if (c->nd < MAXDIR) {
        memcpy(c->dir[c->nd], u, sizeof u);
        c->cnt[c->nd++] = 1;
    }
}

int recon_stemsim_zone_axis(const double *pos, int64_t n, int zone, double axis[3], sd_err_t *e)
{
    if (zone == 0) {
        axis[0] = 0, axis[1] = 0, axis[2] = 1;
        return SD_OK;
    }
    if (zone != 110 && zone != 100)
        return sd_err_set(e, SD_EINVAL, "zone axis %d not supported (110, 100 or 0 = z)", zone);
    if (n < 4) return sd_err_set(e, SD_EINVAL, "zone axis: %lld atoms are too few to find a lattice", (long long)n);
    double *nn = malloc((size_t)n * sizeof *nn);
    if (!nn) return sd_err_set(e, SD_ENOMEM, "zone axis: out of memory");
    for (int64_t i = 0; i < n; i++) nn[i] = INFINITY;
    nn_ctx_t nc = {nn};
    if (for_pairs(pos, n, 3, 5.0, nn_visit, &nc)) {
        free(nn);
        return sd_err_set(e, SD_ENOMEM, "zone axis: out of memory");
    }
    qsort(nn, (size_t)n, sizeof *nn, cmp_double);
    double dnn = nn[n / 2];
    free(nn);
    if (!isfinite(dnn)) return sd_err_set(e, SD_EINVAL, "zone axis: no neighbours within 5 Å (not a solid)");
    dir_ctx_t *dc = calloc(1, sizeof *dc);
    if (!dc) return sd_err_set(e, SD_ENOMEM, "zone axis: out of memory");
    if (zone == 110) dc->lo = 0.8 * dnn, dc->hi = 1.15 * dnn;
    else dc->lo = 1.3 * dnn, dc->hi = 1.55 * dnn;
    if (for_pairs(pos, n, 3, dc->hi, dir_visit, dc)) {
        free(dc);
        return sd_err_set(e, SD_ENOMEM, "zone axis: out of memory");
    }
    int64_t best = 0;
    for (int k = 0; k < dc->nd; k++)
        if (dc->cnt[k] > best) best = dc->cnt[k];
    /* Several equivalent directions are about equally populated: among those,
     * the one nearest a box axis (a reconstruction's beam axis is one of
     * them: the paper's models are viewed along x). */
    int pick = -1;
    double bestz = -1;
    for (int k = 0; k < dc->nd; k++) {
        if (dc->cnt[k] < 0.8 * (double)best) continue;
        double *s = dc->dir[k], ns = sqrt(s[0] * s[0] + s[1] * s[1] + s[2] * s[2]);
        double z = fmax(fabs(s[0]), fmax(fabs(s[1]), fabs(s[2]))) / ns;
        if (z > bestz) bestz = z, pick = k;
    }
    if (pick < 0 || best < 3) {
        free(dc);
        return sd_err_set(e, SD_EINVAL, "zone axis: no lattice direction found");
    }
    double *s = dc->dir[pick], ns = sqrt(s[0] * s[0] + s[1] * s[1] + s[2] * s[2]);
    int big = fabs(s[0]) >= fabs(s[1]) && fabs(s[0]) >= fabs(s[2]) ? 0 : (fabs(s[1]) >= fabs(s[2]) ? 1 : 2);
    double sg = s[big] < 0 ? -1.0 : 1.0;
    for (int q = 0; q < 3; q++) axis[q] = sg * s[q] / ns;
    free(dc);
    return SD_OK;
}

/* ---- columns ---- */
static int64_t uf_find(int64_t *p, int64_t i)
{
    while (p[i] != i) i = p[i] = p[p[i]];
    return i;
}
typedef struct { int64_t *parent; } uf_ctx_t;
static void uf_visit(int64_t i, int64_t j, const double *d, double r, void *vctx)
{
    (void)d, (void)r;
    uf_ctx_t *c = vctx;
    int64_t a = uf_find(c->parent, i), b = uf_find(c->parent, j);
    if (a != b) c->parent[a < b ? b : a] = a < b ? a : b;
}

int recon_stemsim_columns(const double *pos, int64_t n, const recon_stemsim_opts_t *o,
                          recon_columns_t *cols, double axis_out[3], sd_err_t *e)
{
    if (!pos || !o || !cols) return sd_err_set(e, SD_EINVAL, "stem-sim: NULL argument");
    memset(cols, 0, sizeof *cols);
    if (n <= 0) return sd_err_set(e, SD_EINVAL, "stem-sim: model has no atoms");
    if (!(o->dx > 0) || !(o->width > 0) || o->size < 8 || o->size > 16384)
        return sd_err_set(e, SD_ERANGE, "stem-sim: dx %g, width %g, size %lld out of range", o->dx,
                          o->width, (long long)o->size);
    for (int64_t i = 0; i < 3 * n; i++)
        if (!isfinite(pos[i])) return sd_err_set(e, SD_ERANGE, "stem-sim: atom %lld has a non-finite coordinate", (long long)(i / 3));
    double w[3];
    int rc = recon_stemsim_zone_axis(pos, n, o->zone, w, e);
    if (rc) return rc;
    /* u: the model's x (or y) made perpendicular to the beam, v = w × u. */
    double u[3] = {1, 0, 0};
    if (fabs(w[0]) > 0.9) u[0] = 0, u[1] = 1;
    double d = u[0] * w[0] + u[1] * w[1] + u[2] * w[2];
    for (int q = 0; q < 3; q++) u[q] -= d * w[q];
    double nu = sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
    for (int q = 0; q < 3; q++) u[q] /= nu;
    double v[3] = {w[1] * u[2] - w[2] * u[1], w[2] * u[0] - w[0] * u[2], w[0] * u[1] - w[1] * u[0]};
    if (axis_out) memcpy(axis_out, w, sizeof w);

    double *p2 = malloc((size_t)n * 2 * sizeof *p2);
    int64_t *parent = malloc((size_t)n * sizeof *parent), *cid = malloc((size_t)n * sizeof *cid);
    if (!p2 || !parent || !cid) {
        free(p2), free(parent), free(cid);
        return sd_err_set(e, SD_ENOMEM, "stem-sim: out of memory");
    }
    for (int64_t i = 0; i < n; i++) {
        const double *r = pos + 3 * i;
        p2[2 * i] = r[0] * u[0] + r[1] * u[1] + r[2] * u[2];
        p2[2 * i + 1] = r[0] * v[0] + r[1] * v[1] + r[2] * v[2];
        parent[i] = i;
    }
    /* Atoms of one column project within a few tenths of an Å of each other;
     * distinct [110]/[100] columns are ≥ 2 Å apart. */
    uf_ctx_t uc = {parent};
    rc = for_pairs(p2, n, 2, 0.8, uf_visit, &uc);
    int64_t nc = 0;
    for (int64_t i = 0; i < n && !rc; i++) {
        int64_t r = uf_find(parent, i);
        if (r == i) cid[i] = nc++;
    }
    if (!rc) rc = recon_columns_alloc(cols, nc, e);
    if (rc) {
        free(p2), free(parent), free(cid);
        return rc == SD_ENOMEM ? sd_err_set(e, SD_ENOMEM, "stem-sim: out of memory") : rc;
    }
    for (int64_t c = 0; c < nc; c++) cols->count[c] = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t c = cid[uf_find(parent, i)];
        cols->x[c] += p2[2 * i];
        cols->y[c] += p2[2 * i + 1];
        cols->count[c]++;
    }
    double cx = 0, cy = 0;
    for (int64_t c = 0; c < nc; c++) {
        cols->x[c] /= cols->count[c];
        cols->y[c] /= cols->count[c];
        cx += cols->x[c] / (double)nc;
        cy += cols->y[c] / (double)nc;
    }
    recon_rng_t rng;
    recon_rng_seed(&rng, o->seed ^ 0x5eedULL);
    double ox = 0.5 * (double)o->size * o->dx + recon_rng_uniform(&rng) * o->dx;
    double oy = 0.5 * (double)o->size * o->dx + recon_rng_uniform(&rng) * o->dx;
    double lib_au[RECON_LIB_PT_N];
    int nlib;
    const double *lib = recon_stemsim_library(o, lib_au, &nlib);
    for (int64_t c = 0; c < nc; c++) {
        cols->x[c] += ox - cx;
        cols->y[c] += oy - cy;
        cols->scs[c] = recon_lib_scs(lib, nlib, cols->count[c]);
        cols->rho[c] = o->width;
        cols->eta[c] = cols->scs[c] / (2 * M_PI * o->width * o->width);
        cols->prob[c] = 1.0;
    }
    cols->dx = o->dx;
    free(p2), free(parent), free(cid);
    return SD_OK;
}

static int cmp_by_count(const void *a, const void *b)
{
    const int64_t *x = a, *y = b; /* {count, index} */
    return (x[0] > y[0]) - (x[0] < y[0]) ? (x[0] > y[0]) - (x[0] < y[0]) : (x[1] > y[1]) - (x[1] < y[1]);
}

int recon_stemsim_truth(const recon_columns_t *cols, double min_sep, const recon_stemsim_opts_t *o,
                        recon_columns_t *out, sd_err_t *e)
{
    if (!cols || !o || !out) return sd_err_set(e, SD_EINVAL, "stem-sim truth: NULL argument");
    int64_t n = cols->n;
    int rc = recon_columns_alloc(out, n, e);
    if (rc) return rc;
    int64_t *ord = malloc((size_t)(n > 0 ? n : 1) * 2 * sizeof *ord), *into = malloc((size_t)(n > 0 ? n : 1) * sizeof *into);
    unsigned char *recv = calloc((size_t)(n > 0 ? n : 1), 1);
    if (!ord || !into || !recv) {
        free(ord), free(into), free(recv), recon_columns_free(out);
        return sd_err_set(e, SD_ENOMEM, "stem-sim truth: out of memory");
    }
    for (int64_t i = 0; i < n; i++) ord[2 * i] = cols->count[i], ord[2 * i + 1] = i, into[i] = i;
    qsort(ord, (size_t)n, 2 * sizeof *ord, cmp_by_count);
    /* Lightest first: a column joins its nearest at-least-as-heavy neighbour
     * closer than min_sep; one step only (a column that took another in stays,
     * so real lattice columns never chain together). */
    for (int64_t q = 0; q < n && min_sep > 0; q++) {
        int64_t i = ord[2 * q + 1];
        if (recv[i]) continue;
        double bd = min_sep;
        int64_t bj = -1;
        for (int64_t j = 0; j < n; j++) {
            if (j == i || into[j] != j || cols->count[j] < cols->count[i]) continue;
            double d = hypot(cols->x[j] - cols->x[i], cols->y[j] - cols->y[i]);
            if (d < bd) bd = d, bj = j;
        }
        if (bj >= 0) into[i] = bj, recv[bj] = 1;
    }
    int64_t m = 0;
    int64_t *id = ord; /* reuse: column → output index */
    for (int64_t i = 0; i < n; i++)
        if (into[i] == i) id[i] = m, out->count[m] = 0, m++;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = id[into[i]];
        out->x[k] += cols->x[i] * cols->count[i];
        out->y[k] += cols->y[i] * cols->count[i];
        out->count[k] += cols->count[i];
    }
    double lib_au[RECON_LIB_PT_N];
    int nlib;
    const double *lib = recon_stemsim_library(o, lib_au, &nlib);
    for (int64_t k = 0; k < m; k++) {
        out->x[k] /= out->count[k] > 0 ? out->count[k] : 1;
        out->y[k] /= out->count[k] > 0 ? out->count[k] : 1;
        out->scs[k] = recon_lib_scs(lib, nlib, out->count[k]);
        out->rho[k] = o->width;
        out->eta[k] = out->scs[k] / (2 * M_PI * o->width * o->width);
        out->prob[k] = 1.0;
    }
    out->n = m;
    out->dx = cols->dx;
    free(ord), free(into), free(recv);
    return SD_OK;
}

int recon_stemsim_render(const recon_columns_t *cols, const recon_stemsim_opts_t *o, double *img, sd_err_t *e)
{
    if (!cols || !o || !img) return sd_err_set(e, SD_EINVAL, "stem-sim render: NULL argument");
    if (!(o->dx > 0) || !(o->width > 0) || o->size < 8 || o->size > 16384 || !(o->background >= 0) ||
        !(o->dose >= 0 || o->dose <= 0) || !(o->scan_noise >= 0) || !isfinite(o->drift_x) || !(fabs(o->drift_y) < 0.5 * (double)o->size * o->dx))
        return sd_err_set(e, SD_ERANGE, "stem-sim render: bad options (dx %g, width %g, size %lld)", o->dx,
                          o->width, (long long)o->size);
    int64_t N = o->size;
    double s = o->width, dx = o->dx;
    for (int64_t i = 0; i < N * N; i++) img[i] = o->background;
    recon_rng_t rng;
    recon_rng_seed(&rng, o->seed);
    double *shift = calloc((size_t)N, sizeof *shift);
    /* Drift: the raster reaches row r at time ∝ r, when the specimen has moved
     * by (r/N)·drift; within a row the scan is fast enough to ignore it.  The
     * box around a column is centred where its drifted image lies and widened
     * by the largest scan-noise jitter. */
    double vy = o->drift_y / (double)N, jit = 0;
    if (shift && o->scan_noise > 0)
        for (int64_t r = 0; r < N; r++) shift[r] = o->scan_noise * dx * recon_rng_normal(&rng), jit = fmax(jit, fabs(shift[r]));
    if (shift)
        for (int64_t r = 0; r < N; r++) shift[r] += o->drift_x * (double)r / (double)N;
    int64_t hb = (int64_t)ceil((5.0 * s + jit) / dx) + 1;
    hb += (int64_t)ceil(fabs(o->drift_x) * (double)(2 * hb + 1) / (double)N / dx); /* drift across the box */
    double *gx = malloc((size_t)(2 * hb + 1) * sizeof *gx), *gy = malloc((size_t)(2 * hb + 1) * sizeof *gy);
    if (!shift || !gx || !gy) {
        free(shift), free(gx), free(gy);
        return sd_err_set(e, SD_ENOMEM, "stem-sim render: out of memory");
    }
    double inv2s2 = 1.0 / (2 * s * s);
    for (int64_t c = 0; c < cols->n; c++) {
        double amp = cols->scs[c] / (2 * M_PI * s * s);
        if (!(amp > 0) || !isfinite(cols->x[c]) || !isfinite(cols->y[c])) continue;
        double rc = cols->y[c] / (dx - vy); /* the row where the drifted column peaks */
        int64_t jc = (int64_t)llround(rc), rcl = jc < 0 ? 0 : jc >= N ? N - 1 : jc;
        int64_t ic = (int64_t)llround((cols->x[c] + shift[rcl]) / dx);
        int64_t i0 = ic - hb, j0 = jc - hb;
        for (int64_t j = 0; j <= 2 * hb; j++) {
            double yy = (double)(j0 + j) * dx - cols->y[c] - vy * (double)(j0 + j);
            gy[j] = amp * exp(-yy * yy * inv2s2);
        }
        for (int64_t j = 0; j <= 2 * hb; j++) {
            int64_t r = j0 + j;
            if (r < 0 || r >= N) continue;
            for (int64_t i = 0; i <= 2 * hb; i++) {
                double xx = (double)(i0 + i) * dx - cols->x[c] - shift[r];
                gx[i] = exp(-xx * xx * inv2s2);
            }
            double *row = img + r * N;
            for (int64_t i = 0; i <= 2 * hb; i++) {
                int64_t q = i0 + i;
                if (q >= 0 && q < N) row[q] += gy[j] * gx[i];
            }
        }
    }
    if (o->dose > 0) {
        double q = o->dose * dx * dx; /* electrons per pixel per unit intensity */
        for (int64_t i = 0; i < N * N; i++) img[i] = (double)recon_rng_poisson(&rng, q * img[i]) / q;
    }
    free(shift), free(gx), free(gy);
    return SD_OK;
}
