/* crb — the Cramér–Rao bound of the scattering cross-sections of a column
 * model under Poisson (shot) noise: the smallest SCS standard deviation any
 * unbiased estimator can reach from one frame.  It tells what a dose can
 * deliver (the field uses it to choose doses) and how close a counter is to
 * the information in the image.
 *
 * Model: pixel p counts ~ Poisson(q·M_p), q = D·dx², M = ζ + Σ η_c g_c,
 * g_c = exp(-|r - r_c|²/2ρ²).  Fisher information F_ab = q Σ_p ∂_a M ∂_b M / M_p
 * over the parameters (η_c[, x_c, y_c] per column[, ζ]); the bound is
 * diag(F⁻¹).  Columns interact only through overlapping tails, so F is
 * assembled pair by pair over the intersection of two ±4ρ boxes. */
#include "recon.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CRB_BOX 4.0 /* ρ: exp(-8) of the peak is left out */

typedef struct crb_ctx {
    const recon_columns_t *c;
    double rho, dx, q, zeta;
    int64_t gx0, gy0, gw, gh; /* pixel grid of the region (grid index → Å: (g0 + i)·dx) */
    double *M;                /* model over the region */
    int np;                   /* parameters per column: 1 or 3 */
} crb_ctx_t;

/* Box of column c on the region grid, clipped: [*i0, *i1] × [*j0, *j1]. */
static void col_box(const crb_ctx_t *s, int64_t c, int64_t *i0, int64_t *i1, int64_t *j0, int64_t *j1)
{
    double h = CRB_BOX * s->rho;
    *i0 = (int64_t)floor((s->c->x[c] - h) / s->dx) - s->gx0;
    *i1 = (int64_t)ceil((s->c->x[c] + h) / s->dx) - s->gx0;
    *j0 = (int64_t)floor((s->c->y[c] - h) / s->dx) - s->gy0;
    *j1 = (int64_t)ceil((s->c->y[c] + h) / s->dx) - s->gy0;
    if (*i0 < 0) *i0 = 0;
    if (*j0 < 0) *j0 = 0;
    if (*i1 > s->gw - 1) *i1 = s->gw - 1;
    if (*j1 > s->gh - 1) *j1 = s->gh - 1;
}

/* ∂M/∂(η, x, y) of column c at grid pixel (i, j) into d[0..2]. */
static void col_grad(const crb_ctx_t *s, int64_t c, int64_t i, int64_t j, double d[3])
{
    double X = (double)(s->gx0 + i) * s->dx - s->c->x[c], Y = (double)(s->gy0 + j) * s->dx - s->c->y[c];
    double ir2 = 1.0 / (s->rho * s->rho), g = exp(-0.5 * (X * X + Y * Y) * ir2);
    double eta = s->c->scs[c] / (2 * M_PI * s->rho * s->rho);
    d[0] = g, d[1] = eta * g * X * ir2, d[2] = eta * g * Y * ir2;
}

static void build_model(crb_ctx_t *s)
{
    for (int64_t p = 0; p < s->gw * s->gh; p++) s->M[p] = s->zeta;
    for (int64_t c = 0; c < s->c->n; c++) {
        int64_t i0, i1, j0, j1;
        col_box(s, c, &i0, &i1, &j0, &j1);
        for (int64_t j = j0; j <= j1; j++)
            for (int64_t i = i0; i <= i1; i++) {
                double d[3];
                col_grad(s, c, i, j, d);
                s->M[j * s->gw + i] += d[0] * s->c->scs[c] / (2 * M_PI * s->rho * s->rho);
            }
    }
    for (int64_t p = 0; p < s->gw * s->gh; p++) s->M[p] = fmax(s->M[p], 1e-300);
}

/* Adds the block of columns a, b (a <= b) to F[m][m] (row-major, upper part). */
static void add_pair(const crb_ctx_t *s, int64_t a, int64_t b, double *F, int64_t m)
{
    int64_t ai0, ai1, aj0, aj1, bi0, bi1, bj0, bj1;
    col_box(s, a, &ai0, &ai1, &aj0, &aj1);
    col_box(s, b, &bi0, &bi1, &bj0, &bj1);
    int64_t i0 = ai0 > bi0 ? ai0 : bi0, i1 = ai1 < bi1 ? ai1 : bi1;
    int64_t j0 = aj0 > bj0 ? aj0 : bj0, j1 = aj1 < bj1 ? aj1 : bj1;
    double blk[3][3] = {{0}};
    for (int64_t j = j0; j <= j1; j++)
        for (int64_t i = i0; i <= i1; i++) {
            double da[3], db[3], w = s->q / s->M[j * s->gw + i];
            col_grad(s, a, i, j, da);
            col_grad(s, b, i, j, db);
            for (int u = 0; u < s->np; u++)
                for (int v = 0; v < s->np; v++) blk[u][v] += w * da[u] * db[v];
        }
    for (int u = 0; u < s->np; u++)
        for (int v = 0; v < s->np; v++) {
            int64_t r = a * s->np + u, k = b * s->np + v;
            if (r <= k) F[r * m + k] += blk[u][v];
            else if (a != b) F[k * m + r] += blk[u][v];
        }
}

/* Background row/column: ∂M/∂ζ = 1 everywhere in the region. */
static void add_background(const crb_ctx_t *s, double *F, int64_t m)
{
    int64_t z = m - 1;
    for (int64_t p = 0; p < s->gw * s->gh; p++) F[z * m + z] += s->q / s->M[p];
    for (int64_t c = 0; c < s->c->n; c++) {
        int64_t i0, i1, j0, j1;
        col_box(s, c, &i0, &i1, &j0, &j1);
        double acc[3] = {0};
        for (int64_t j = j0; j <= j1; j++)
            for (int64_t i = i0; i <= i1; i++) {
                double d[3], w = s->q / s->M[j * s->gw + i];
                col_grad(s, c, i, j, d);
                for (int u = 0; u < s->np; u++) acc[u] += w * d[u];
            }
        for (int u = 0; u < s->np; u++) F[(c * s->np + u) * m + z] += acc[u];
    }
}

int recon_scs_crb(const recon_columns_t *cols, double rho, double zeta, double dx, double dose,
                  int positions_known, double *sigma, sd_err_t *e)
{
    if (!cols || (cols->n > 0 && !sigma)) return sd_err_set(e, SD_EINVAL, "crb: NULL argument");
    if (!(rho > 0) || !(dx > 0) || !(dose > 0) || !(zeta >= 0) || !isfinite(rho + dx + dose + zeta))
        return sd_err_set(e, SD_ERANGE, "crb: need rho, dx, dose > 0 and background >= 0 (got %g, %g, %g, %g)", rho,
                          dx, dose, zeta);
    int64_t n = cols->n;
    if (n == 0) return SD_OK;
    if (n > 20000) return sd_err_set(e, SD_ERANGE, "crb: %lld columns is more than this dense bound handles", (long long)n);
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int64_t c = 0; c < n; c++) {
        if (!isfinite(cols->x[c]) || !isfinite(cols->y[c]) || !(cols->scs[c] > 0))
            return sd_err_set(e, SD_ERANGE, "crb: column %lld has a non-finite position or SCS <= 0", (long long)c);
        xlo = fmin(xlo, cols->x[c]), xhi = fmax(xhi, cols->x[c]);
        ylo = fmin(ylo, cols->y[c]), yhi = fmax(yhi, cols->y[c]);
    }
    crb_ctx_t s = {.c = cols, .rho = rho, .dx = dx, .q = dose * dx * dx, .zeta = zeta,
                   .np = positions_known ? 1 : 3};
    double h = CRB_BOX * rho;
    s.gx0 = (int64_t)floor((xlo - h) / dx), s.gy0 = (int64_t)floor((ylo - h) / dx);
    s.gw = (int64_t)ceil((xhi + h) / dx) - s.gx0 + 1, s.gh = (int64_t)ceil((yhi + h) / dx) - s.gy0 + 1;
    if (s.gw * s.gh > (int64_t)1 << 28) return sd_err_set(e, SD_ERANGE, "crb: the columns span too many pixels");
    int fitz = zeta > 0; /* with no background, ζ = 0 is known (it would be infinitely well determined) */
    int64_t m = n * s.np + fitz;
    s.M = malloc((size_t)(s.gw * s.gh) * sizeof *s.M);
    double *F = calloc((size_t)(m * m), sizeof *F);
    if (!s.M || !F) {
        free(s.M), free(F);
        return sd_err_set(e, SD_ENOMEM, "crb: out of memory for %lld parameters", (long long)m);
    }
    build_model(&s);
    double reach2 = 4 * h * h;
    for (int64_t a = 0; a < n; a++)
        for (int64_t b = a; b < n; b++) {
            double ddx = cols->x[a] - cols->x[b], ddy = cols->y[a] - cols->y[b];
            if (ddx * ddx + ddy * ddy < reach2) add_pair(&s, a, b, F, m);
        }
    if (fitz) add_background(&s, F, m);
    free(s.M);
    int rc = SD_OK;
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)m, F, (lapack_int)m);
    if (info == 0) info = LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'U', (lapack_int)m, F, (lapack_int)m);
    if (info != 0)
        rc = sd_err_set(e, SD_ERANGE, "crb: the Fisher information is singular (LAPACK info %d): columns on top of each other?",
                        (int)info);
    else
        for (int64_t c = 0; c < n; c++) {
            int64_t k = c * s.np;
            sigma[c] = 2 * M_PI * rho * rho * sqrt(F[k * m + k]);
        }
    free(F);
    return rc;
}

double recon_lib_p_correct(const double *lib, int nlib, int n, double sigma)
{
    if (n < 1 || !(sigma > 0)) return n >= 1 ? 1.0 : 0.0;
    double mu = recon_lib_scs(lib, nlib, n);
    double lo = n > 1 ? 0.5 * (mu + recon_lib_scs(lib, nlib, n - 1)) : -INFINITY;
    double hi = 0.5 * (mu + recon_lib_scs(lib, nlib, n + 1));
    return 0.5 * (erf((hi - mu) / (sigma * M_SQRT2)) - erf((lo - mu) / (sigma * M_SQRT2)));
}
