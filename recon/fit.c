/* fit — the StatSTEM image model I = ζ + Σ_c η_c exp(-|r - r_c|²/(2ρ²)) fitted
 * to a frame, built for speed.
 *
 * Every Gaussian lives in a square box of ±3ρ and is separable:
 * g_c(i, j) = gx_c[i]·gy_c[j].  So the overlap of two columns, which fills the
 * normal matrix of the linear (η, ζ) problem, is a product of two 1-D sums, the
 * matrix is sparse (a column meets only its neighbours) and is solved by
 * preconditioned conjugate gradients; the least-squares residual is then
 * ΣI² − θ·b without touching the image, which makes the 1-D width search
 * nearly free.  Positions are refined by per-column Gauss–Newton steps on the
 * image minus the current model of every other column (a maintained model
 * image), i.e. StatSTEM's neighbour-subtracted boxes in Gauss–Seidel order. */
#include "recon.h"
#include "fit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void recon_fit_opts_default(recon_fit_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->fit_background = 1;
    o->max_sweeps = 4;
    o->outer_iters = 3;
}

typedef struct fitws {
    const double *I;
    int64_t h, w, n;
    double *X, *Y, *eta; /* positions in pixels */
    double *X0, *Y0;     /* start positions: a column may not wander off */
    double rho, zeta;    /* rho in pixels */
    int fitz;
    double zeta_fixed;
    int half, stride;
    int64_t *i0, *j0;
    int *nx, *ny;
    double *gx, *gy, *sx, *sy; /* [n][stride] 1-D factors and their sums */
    int64_t npair, cap_pair;
    int64_t *pa, *pb;
    double *pg, *diag, *gsum, *b, *theta;
    double sumI, sumI2, npix;
    double *M; /* model image */
    double *cg; /* CG work: 4 × (n+1) */
} fitws_t;

static int ws_alloc(fitws_t *s)
{
    size_t n = (size_t)(s->n > 0 ? s->n : 1), n1 = n + 1;
    s->i0 = malloc(n * sizeof *s->i0);
    s->j0 = malloc(n * sizeof *s->j0);
    s->nx = malloc(n * sizeof *s->nx);
    s->ny = malloc(n * sizeof *s->ny);
    s->sx = malloc(n * sizeof *s->sx);
    s->sy = malloc(n * sizeof *s->sy);
    s->diag = malloc(n1 * sizeof *s->diag);
    s->gsum = malloc(n1 * sizeof *s->gsum);
    s->b = malloc(n1 * sizeof *s->b);
    s->theta = calloc(n1, sizeof *s->theta);
    s->cg = malloc(4 * n1 * sizeof *s->cg);
    s->M = malloc((size_t)(s->h * s->w) * sizeof *s->M);
    return (s->i0 && s->j0 && s->nx && s->ny && s->sx && s->sy && s->diag && s->gsum && s->b && s->theta && s->cg &&
            s->M)
               ? SD_OK
               : SD_ENOMEM;
}

static void ws_free(fitws_t *s)
{
    free(s->i0), free(s->j0), free(s->nx), free(s->ny), free(s->gx), free(s->gy), free(s->sx), free(s->sy);
    free(s->pa), free(s->pb), free(s->pg), free(s->diag), free(s->gsum), free(s->b), free(s->theta);
    free(s->cg), free(s->M);
}

/* Boxes and 1-D factors for the current positions and width. */
static int build_g(fitws_t *s)
{
    int half = (int)ceil(3.0 * s->rho);
    if (half < 1) half = 1;
    int stride = 2 * half + 1;
    if (stride > s->stride) {
        double *gx = realloc(s->gx, (size_t)(s->n > 0 ? s->n : 1) * (size_t)stride * sizeof *gx);
        if (!gx) return SD_ENOMEM;
        s->gx = gx;
        double *gy = realloc(s->gy, (size_t)(s->n > 0 ? s->n : 1) * (size_t)stride * sizeof *gy);
        if (!gy) return SD_ENOMEM;
        s->gy = gy;
    }
    s->half = half, s->stride = stride;
    double a = 1.0 / (2 * s->rho * s->rho);
    for (int64_t c = 0; c < s->n; c++) {
        int64_t ic = (int64_t)llround(s->X[c]), jc = (int64_t)llround(s->Y[c]);
        int64_t i0 = ic - half, i1 = ic + half, j0 = jc - half, j1 = jc + half;
        if (i0 < 0) i0 = 0;
        if (j0 < 0) j0 = 0;
        if (i1 > s->w - 1) i1 = s->w - 1;
        if (j1 > s->h - 1) j1 = s->h - 1;
        s->i0[c] = i0, s->j0[c] = j0;
        s->nx[c] = i1 >= i0 ? (int)(i1 - i0 + 1) : 0;
        s->ny[c] = j1 >= j0 ? (int)(j1 - j0 + 1) : 0;
        double *gx = s->gx + c * stride, *gy = s->gy + c * stride, sx = 0, sy = 0;
        for (int k = 0; k < s->nx[c]; k++) {
            double d = (double)(i0 + k) - s->X[c];
            gx[k] = exp(-d * d * a);
            sx += gx[k];
        }
        for (int k = 0; k < s->ny[c]; k++) {
            double d = (double)(j0 + k) - s->Y[c];
            gy[k] = exp(-d * d * a);
            sy += gy[k];
        }
        s->sx[c] = sx, s->sy[c] = sy;
    }
    return SD_OK;
}

/* Σ over the overlap of two 1-D boxes of the product of their factors. */
static double overlap1(const double *ga, int64_t a0, int na, const double *gb, int64_t b0, int nb)
{
    int64_t lo = a0 > b0 ? a0 : b0, hi = (a0 + na < b0 + nb ? a0 + na : b0 + nb);
    double s = 0;
    for (int64_t k = lo; k < hi; k++) s += ga[k - a0] * gb[k - b0];
    return s;
}

typedef struct { int64_t key; int64_t c; } ord_t;
static int cmp_ord(const void *a, const void *b)
{
    int64_t x = ((const ord_t *)a)->key, y = ((const ord_t *)b)->key;
    return (x > y) - (x < y);
}

/* Normal equations of the linear problem (η, ζ). */
static int build_normal(fitws_t *s)
{
    int64_t n = s->n;
    ord_t *o = malloc((size_t)(n > 0 ? n : 1) * sizeof *o);
    if (!o) return SD_ENOMEM;
    for (int64_t c = 0; c < n; c++) o[c] = (ord_t){s->i0[c], c};
    qsort(o, (size_t)n, sizeof *o, cmp_ord);
    s->npair = 0;
    int64_t reach = 2 * s->half + 1;
    for (int64_t a = 0; a < n; a++)
        for (int64_t q = a + 1; q < n && o[q].key - o[a].key < reach; q++) {
            int64_t c = o[a].c, d = o[q].c;
            if (llabs(s->j0[c] - s->j0[d]) >= reach && llabs((s->j0[c] + s->ny[c]) - (s->j0[d] + s->ny[d])) >= reach)
                continue;
            double vx = overlap1(s->gx + c * s->stride, s->i0[c], s->nx[c], s->gx + d * s->stride, s->i0[d], s->nx[d]);
            if (vx == 0) continue;
            double vy = overlap1(s->gy + c * s->stride, s->j0[c], s->ny[c], s->gy + d * s->stride, s->j0[d], s->ny[d]);
            if (vy == 0) continue;
            if (s->npair == s->cap_pair) {
                int64_t cap = s->cap_pair ? 2 * s->cap_pair : 8 * (n + 1);
                int64_t *pa = realloc(s->pa, (size_t)cap * sizeof *pa);
                if (!pa) return free(o), SD_ENOMEM;
                s->pa = pa;
                int64_t *pb = realloc(s->pb, (size_t)cap * sizeof *pb);
                if (!pb) return free(o), SD_ENOMEM;
                s->pb = pb;
                double *pg = realloc(s->pg, (size_t)cap * sizeof *pg);
                if (!pg) return free(o), SD_ENOMEM;
                s->pg = pg;
                s->cap_pair = cap;
            }
            s->pa[s->npair] = c, s->pb[s->npair] = d, s->pg[s->npair] = vx * vy;
            s->npair++;
        }
    free(o);
    double zoff = s->fitz ? 0 : s->zeta_fixed;
    for (int64_t c = 0; c < n; c++) {
        const double *gx = s->gx + c * s->stride, *gy = s->gy + c * s->stride;
        double d2x = 0, d2y = 0;
        for (int k = 0; k < s->nx[c]; k++) d2x += gx[k] * gx[k];
        for (int k = 0; k < s->ny[c]; k++) d2y += gy[k] * gy[k];
        s->diag[c] = d2x * d2y;
        s->gsum[c] = s->sx[c] * s->sy[c];
        double bc = 0;
        for (int j = 0; j < s->ny[c]; j++) {
            const double *row = s->I + (s->j0[c] + j) * s->w + s->i0[c];
            double t = 0;
            for (int k = 0; k < s->nx[c]; k++) t += row[k] * gx[k];
            bc += gy[j] * t;
        }
        s->b[c] = bc - zoff * s->gsum[c];
        if (!(s->diag[c] > 1e-12)) s->diag[c] = 1, s->b[c] = 0; /* column outside the image */
    }
    s->diag[n] = s->npix;
    s->gsum[n] = 0;
    s->b[n] = s->sumI;
    return SD_OK;
}

static void matvec(const fitws_t *s, const double *x, double *y)
{
    int64_t n = s->n;
    for (int64_t c = 0; c < n; c++) y[c] = s->diag[c] * x[c];
    for (int64_t p = 0; p < s->npair; p++) {
        int64_t c = s->pa[p], d = s->pb[p];
        y[c] += s->pg[p] * x[d];
        y[d] += s->pg[p] * x[c];
    }
    if (s->fitz) {
        double t = s->npix * x[n];
        for (int64_t c = 0; c < n; c++) {
            y[c] += s->gsum[c] * x[n];
            t += s->gsum[c] * x[c];
        }
        y[n] = t;
    }
}

/* Jacobi-preconditioned CG on the normal equations; theta is the warm start.
 * Returns the least-squares residual Σ(I - model)². */
static double solve_linear(fitws_t *s)
{
    int64_t m = s->n + (s->fitz ? 1 : 0);
    double *r = s->cg, *z = r + (s->n + 1), *p = z + (s->n + 1), *q = p + (s->n + 1);
    if (!s->fitz) s->theta[s->n] = s->zeta_fixed;
    matvec(s, s->theta, q);
    double bn = 0;
    for (int64_t i = 0; i < m; i++) {
        r[i] = s->b[i] - q[i];
        bn += s->b[i] * s->b[i] / s->diag[i];
    }
    double rz = 0;
    for (int64_t i = 0; i < m; i++) {
        z[i] = r[i] / s->diag[i];
        p[i] = z[i];
        rz += r[i] * z[i];
    }
    for (int it = 0; it < 4 * (int)m + 50 && rz > 1e-26 * bn; it++) {
        matvec(s, p, q);
        double pq = 0;
        for (int64_t i = 0; i < m; i++) pq += p[i] * q[i];
        if (!(pq > 0)) break;
        double al = rz / pq, rz2 = 0;
        for (int64_t i = 0; i < m; i++) {
            s->theta[i] += al * p[i];
            r[i] -= al * q[i];
            z[i] = r[i] / s->diag[i];
            rz2 += r[i] * z[i];
        }
        double be = rz2 / rz;
        rz = rz2;
        for (int64_t i = 0; i < m; i++) p[i] = z[i] + be * p[i];
    }
    double tb = 0;
    for (int64_t i = 0; i < m; i++) tb += s->theta[i] * s->b[i];
    for (int64_t c = 0; c < s->n; c++) s->eta[c] = s->theta[c];
    if (s->fitz) {
        s->zeta = s->theta[s->n];
        return s->sumI2 - tb;
    }
    s->zeta = s->zeta_fixed;
    /* Σ(I-ζ)² − ηᵀb with b built from I − ζ */
    return s->sumI2 - 2 * s->zeta_fixed * s->sumI + s->zeta_fixed * s->zeta_fixed * s->npix - tb;
}

static void add_column(fitws_t *s, int64_t c, double sgn)
{
    const double *gx = s->gx + c * s->stride, *gy = s->gy + c * s->stride;
    double a = sgn * s->eta[c];
    for (int j = 0; j < s->ny[c]; j++) {
        double *row = s->M + (s->j0[c] + j) * s->w + s->i0[c];
        double t = a * gy[j];
        for (int k = 0; k < s->nx[c]; k++) row[k] += t * gx[k];
    }
}

static void build_model(fitws_t *s)
{
    for (int64_t i = 0; i < s->h * s->w; i++) s->M[i] = s->zeta;
    for (int64_t c = 0; c < s->n; c++) add_column(s, c, 1.0);
}

/* One Gauss–Newton step of (X, Y, η) of column c against I − (M − own). */
static double refine_column(fitws_t *s, int64_t c, double *gxb, double *gyb)
{
    const double *gx = s->gx + c * s->stride, *gy = s->gy + c * s->stride;
    double eta = s->eta[c], ir2 = 1.0 / (s->rho * s->rho);
    double H[6] = {0}, g3[3] = {0}; /* H: xx xy xe yy ye ee */
    for (int j = 0; j < s->ny[c]; j++) {
        int64_t r = s->j0[c] + j;
        const double *Ir = s->I + r * s->w + s->i0[c], *Mr = s->M + r * s->w + s->i0[c];
        double dy = ((double)r - s->Y[c]) * ir2;
        for (int k = 0; k < s->nx[c]; k++) {
            double g = gx[k] * gy[j], res = Ir[k] - Mr[k]; /* own term cancels in the residual */
            double dxk = ((double)(s->i0[c] + k) - s->X[c]) * ir2;
            double jx = eta * g * dxk, jy = eta * g * dy, je = g;
            H[0] += jx * jx, H[1] += jx * jy, H[2] += jx * je, H[3] += jy * jy, H[4] += jy * je, H[5] += je * je;
            g3[0] += jx * res, g3[1] += jy * res, g3[2] += je * res;
        }
    }
    /* 3×3 solve by Cramer (the matrix is SPD and tiny) */
    double a = H[0], b = H[1], cc = H[2], d = H[3], e = H[4], f = H[5];
    double det = a * (d * f - e * e) - b * (b * f - e * cc) + cc * (b * e - d * cc);
    if (!(fabs(det) > 1e-300) || !(eta > 0)) return 0;
    double sx = (g3[0] * (d * f - e * e) - b * (g3[1] * f - e * g3[2]) + cc * (g3[1] * e - d * g3[2])) / det;
    double sy = (a * (g3[1] * f - e * g3[2]) - g3[0] * (b * f - e * cc) + cc * (b * g3[2] - g3[1] * cc)) / det;
    double se = (a * (d * g3[2] - g3[1] * e) - b * (b * g3[2] - g3[1] * cc) + g3[0] * (b * e - d * cc)) / det;
    double len = sqrt(sx * sx + sy * sy), cap = 0.5 * s->rho;
    if (len > cap) sx *= cap / len, sy *= cap / len, se *= cap / len;
    /* A light column beside heavy ones can slide down their flank in noise;
     * it stays within 1.5ρ of where it was found. */
    double ox = s->X[c] + sx - s->X0[c], oy = s->Y[c] + sy - s->Y0[c], od = sqrt(ox * ox + oy * oy);
    if (od > 1.5 * s->rho) {
        double k = 1.5 * s->rho / od;
        sx = s->X0[c] + ox * k - s->X[c], sy = s->Y0[c] + oy * k - s->Y[c];
        len = sqrt(sx * sx + sy * sy);
    }
    add_column(s, c, -1.0);
    s->X[c] += sx, s->Y[c] += sy, s->eta[c] += se;
    /* new factors (the box may have moved) */
    int half = s->half;
    double ia = 1.0 / (2 * s->rho * s->rho);
    int64_t ic = (int64_t)llround(s->X[c]), jc = (int64_t)llround(s->Y[c]);
    int64_t i0 = ic - half, i1 = ic + half, j0 = jc - half, j1 = jc + half;
    if (i0 < 0) i0 = 0;
    if (j0 < 0) j0 = 0;
    if (i1 > s->w - 1) i1 = s->w - 1;
    if (j1 > s->h - 1) j1 = s->h - 1;
    s->i0[c] = i0, s->j0[c] = j0;
    s->nx[c] = i1 >= i0 ? (int)(i1 - i0 + 1) : 0;
    s->ny[c] = j1 >= j0 ? (int)(j1 - j0 + 1) : 0;
    double *wx = s->gx + c * s->stride, *wy = s->gy + c * s->stride;
    (void)gxb, (void)gyb;
    for (int k = 0; k < s->nx[c]; k++) {
        double dd = (double)(i0 + k) - s->X[c];
        wx[k] = exp(-dd * dd * ia);
    }
    for (int k = 0; k < s->ny[c]; k++) {
        double dd = (double)(j0 + k) - s->Y[c];
        wy[k] = exp(-dd * dd * ia);
    }
    add_column(s, c, 1.0);
    return len;
}

static double eval_rho(fitws_t *s, double rho, int *err)
{
    s->rho = rho;
    if (build_g(s) || build_normal(s)) {
        *err = SD_ENOMEM;
        return INFINITY;
    }
    return solve_linear(s);
}

/* Golden-section search of the width on [lo, hi]; leaves the workspace at the optimum. */
static int search_rho(fitws_t *s, double lo, double hi)
{
    const double gr = 0.5 * (sqrt(5.0) - 1);
    int err = 0;
    double a = lo, b = hi, c = b - gr * (b - a), d = a + gr * (b - a);
    double fc = eval_rho(s, c, &err), fd = eval_rho(s, d, &err);
    for (int it = 0; it < 40 && (b - a) > 1e-4 * s->rho && !err; it++) {
        if (fc < fd) {
            b = d, d = c, fd = fc;
            c = b - gr * (b - a);
            fc = eval_rho(s, c, &err);
        } else {
            a = c, c = d, fc = fd;
            d = a + gr * (b - a);
            fd = eval_rho(s, d, &err);
        }
    }
    if (err) return err;
    eval_rho(s, 0.5 * (a + b), &err);
    return err;
}

/* Heights by Poisson-weighted least squares (weights 1/model, floored at 2 %
 * of the model's maximum), positions and width fixed: Gauss–Seidel sweeps
 * over columns on the maintained model image.  For shot-noise-limited frames
 * this is the maximum-likelihood estimate (variance SCS/D instead of the
 * unweighted (4/3)·SCS/D). */
static void weighted_heights(fitws_t *s, int sweeps)
{
    build_model(s);
    double mx = 0;
    for (int64_t i = 0; i < s->h * s->w; i++) mx = fmax(mx, s->M[i]);
    double floor_ = 0.02 * mx;
    for (int sw = 0; sw < sweeps; sw++)
        for (int64_t c = 0; c < s->n; c++) {
            const double *gx = s->gx + c * s->stride, *gy = s->gy + c * s->stride;
            double num = 0, den = 0;
            for (int j = 0; j < s->ny[c]; j++) {
                int64_t r = s->j0[c] + j;
                const double *Ir = s->I + r * s->w + s->i0[c], *Mr = s->M + r * s->w + s->i0[c];
                for (int k = 0; k < s->nx[c]; k++) {
                    double g = gx[k] * gy[j], wt = 1.0 / fmax(Mr[k], floor_);
                    num += wt * g * (Ir[k] - Mr[k]);
                    den += wt * g * g;
                }
            }
            if (!(den > 0)) continue;
            double d = num / den;
            add_column(s, c, -1.0);
            s->eta[c] += d;
            add_column(s, c, 1.0);
        }
}

int recon_fit_gaussians(const double *img, int64_t h, int64_t w, double dx, const recon_fit_opts_t *o, double *xy,
                        int64_t n, double *eta, double *rho, double *zeta, sd_err_t *e)
{
    if (!img || !o || (n > 0 && (!xy || !eta)) || !rho || !zeta) return sd_err_set(e, SD_EINVAL, "fit: NULL argument");
    if (h < 1 || w < 1 || n < 0) return sd_err_set(e, SD_EINVAL, "fit: empty image or negative column count");
    if (!(dx > 0)) return sd_err_set(e, SD_ERANGE, "fit: pixel size dx = %g must be > 0", dx);
    if (o->fix_width && !(o->rho0 > 0))
        return sd_err_set(e, SD_EINVAL, "fit: a fixed width needs rho0 > 0 (got %g)", o->rho0);
    fitws_t s;
    memset(&s, 0, sizeof s);
    s.I = img, s.h = h, s.w = w, s.n = n;
    s.fitz = o->fit_background;
    s.zeta_fixed = o->background;
    s.npix = (double)(h * w);
    for (int64_t i = 0; i < h * w; i++) {
        s.sumI += img[i];
        s.sumI2 += img[i] * img[i];
    }
    if (n == 0) {
        *zeta = s.fitz ? s.sumI / s.npix : o->background;
        *rho = 0;
        return SD_OK;
    }
    s.X = malloc((size_t)n * sizeof *s.X);
    s.Y = malloc((size_t)n * sizeof *s.Y);
    s.X0 = malloc((size_t)n * sizeof *s.X0);
    s.Y0 = malloc((size_t)n * sizeof *s.Y0);
    s.eta = eta;
    if (!s.X || !s.Y || !s.X0 || !s.Y0 || ws_alloc(&s)) {
        free(s.X), free(s.Y), free(s.X0), free(s.Y0), ws_free(&s);
        return sd_err_set(e, SD_ENOMEM, "fit: out of memory for %lld columns", (long long)n);
    }
    for (int64_t c = 0; c < n; c++) {
        s.X0[c] = s.X[c] = xy[2 * c] / dx;
        s.Y0[c] = s.Y[c] = xy[2 * c + 1] / dx;
    }
    double r0 = o->rho0 > 0 ? o->rho0 / dx : 0;
    if (r0 <= 0) { /* StatSTEM: mean nearest-neighbour distance / 4 */
        double sum = 0;
        int64_t cnt = 0;
        for (int64_t c = 0; c < n; c++) {
            double best = INFINITY;
            for (int64_t d = 0; d < n; d++) {
                if (d == c) continue;
                double ddx = s.X[c] - s.X[d], ddy = s.Y[c] - s.Y[d], r2 = ddx * ddx + ddy * ddy;
                if (r2 < best) best = r2;
            }
            if (isfinite(best)) sum += sqrt(best), cnt++;
        }
        r0 = cnt ? sum / (double)cnt / 4 : 0.7 / dx;
    }
    int rc = SD_OK;
    int err = 0;
    eval_rho(&s, r0, &err);
    if (err) rc = SD_ENOMEM;
    int outer = o->outer_iters > 0 ? o->outer_iters : 1, sweeps = o->max_sweeps > 0 ? o->max_sweeps : 1;
    if (o->fix_positions) { /* the width search alone; eval_rho left the heights solved */
        if (!rc && !o->fix_width) rc = search_rho(&s, 0.7 * s.rho, 1.4 * s.rho);
        outer = 0;
    }
    for (int it = 0; it < outer && !rc; it++) {
        for (int sw = 0; sw < sweeps && !rc; sw++) {
            build_model(&s);
            double maxmove = 0;
            for (int64_t c = 0; c < n; c++) {
                double mv = refine_column(&s, c, NULL, NULL);
                if (mv > maxmove) maxmove = mv;
            }
            if (build_normal(&s)) rc = SD_ENOMEM;
            else solve_linear(&s);
            if (maxmove < 1e-3) break;
        }
        if (!rc && !o->fix_width) rc = search_rho(&s, 0.7 * s.rho, 1.4 * s.rho);
    }
    if (rc) {
        free(s.X), free(s.Y), free(s.X0), free(s.Y0), ws_free(&s);
        return sd_err_set(e, SD_ENOMEM, "fit: out of memory");
    }
    if (o->poisson_weights) weighted_heights(&s, 3);
    for (int64_t c = 0; c < n; c++) {
        xy[2 * c] = s.X[c] * dx;
        xy[2 * c + 1] = s.Y[c] * dx;
    }
    *rho = s.rho * dx;
    *zeta = s.zeta;
    free(s.X), free(s.Y), free(s.X0), free(s.Y0), ws_free(&s);
    return SD_OK;
}

void recon_fit_render(const double *xy, const double *eta, int64_t n, double rho, double zeta, double dx,
                      int64_t h, int64_t w, double *model)
{
    for (int64_t i = 0; i < h * w; i++) model[i] = zeta;
    double r = rho / dx, a = 1.0 / (2 * r * r);
    int64_t half = (int64_t)ceil(3.0 * r);
    for (int64_t c = 0; c < n; c++) {
        double X = xy[2 * c] / dx, Y = xy[2 * c + 1] / dx;
        int64_t ic = (int64_t)llround(X), jc = (int64_t)llround(Y);
        for (int64_t j = jc - half; j <= jc + half; j++) {
            if (j < 0 || j >= h) continue;
            double gy = exp(-((double)j - Y) * ((double)j - Y) * a);
            for (int64_t i = ic - half; i <= ic + half; i++)
                if (i >= 0 && i < w) model[j * w + i] += eta[c] * gy * exp(-((double)i - X) * ((double)i - X) * a);
        }
    }
}
