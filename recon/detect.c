/* detect — atomic columns found without a human.
 *
 * One forward FFT serves twice: its power spectrum gives the lattice spacing
 * (strongest Bragg spot between 1.5 and 5 Å), and multiplied by a Gaussian it
 * gives the matched-filtered image whose local maxima are the columns.  The
 * separation bound and filter width follow the measured spacing, so the same
 * code works at any dx.  Maxima are then pruned (too weak, or closer than the
 * bound to a stronger one) and completed from the lattice: a lattice site
 * between two detected columns that carries column-like intensity but no
 * maximum (a light column beside a heavy one) is added. */
#include "recon.h"
#include "detect.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Quantile of a copy by quickselect (median-of-three pivots). */
static double quantile(const double *v, int64_t n, double q, double *tmp)
{
    if (tmp != v) memcpy(tmp, v, (size_t)n * sizeof *tmp);
    int64_t kk = (int64_t)(q * (double)(n - 1)), lo = 0, hi = n - 1;
    while (hi > lo) {
        int64_t mid = lo + (hi - lo) / 2;
        double a = tmp[lo], b = tmp[mid], c = tmp[hi];
        double piv = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (tmp[i] < piv) i++;
            while (tmp[j] > piv) j--;
            if (i <= j) {
                double t = tmp[i];
                tmp[i] = tmp[j], tmp[j] = t;
                i++, j--;
            }
        }
        if (kk <= j) hi = j;
        else if (kk >= i) lo = i;
        else break;
    }
    return tmp[kk];
}

typedef struct { double v; int64_t r, c; } peak_t;
static int cmp_peak_desc(const void *a, const void *b)
{
    double x = ((const peak_t *)a)->v, y = ((const peak_t *)b)->v;
    return (x < y) - (x > y);
}

int recon_detect_filter(const double *img, int64_t h, int64_t w, double dx, const double *sig_rel, int nout,
                        double *const *out, double *spacing, double *peak_ratio, sd_err_t *e)
{
    int64_t wc = w / 2 + 1;
    double *in = fftw_alloc_real((size_t)(h * w));
    fftw_complex *F = fftw_alloc_complex((size_t)(h * wc));
    if (!in || !F) {
        fftw_free(in), fftw_free(F);
        return sd_err_set(e, SD_ENOMEM, "detect: out of memory for the FFT of %lldx%lld", (long long)h, (long long)w);
    }
    /* Plans are made before the data is written (ESTIMATE never touches it). */
    fftw_plan pf = fftw_plan_dft_r2c_2d((int)h, (int)w, in, F, FFTW_ESTIMATE);
    fftw_plan pb = fftw_plan_dft_c2r_2d((int)h, (int)w, F, in, FFTW_ESTIMATE);
    if (!pf || !pb) {
        if (pf) fftw_destroy_plan(pf);
        if (pb) fftw_destroy_plan(pb);
        fftw_free(in), fftw_free(F);
        return sd_err_set(e, SD_ENOMEM, "detect: FFTW could not plan a %lldx%lld transform", (long long)h, (long long)w);
    }
    double mean = 0;
    for (int64_t i = 0; i < h * w; i++) mean += img[i];
    mean /= (double)(h * w);
    for (int64_t i = 0; i < h * w; i++) in[i] = img[i] - mean;
    fftw_execute(pf);

    /* Lattice: strongest power between 1/5 and 1/1.5 Å⁻¹, against the median there. */
    double kmin = 1.0 / 5.0, kmax = 1.0 / 1.5, dkx = 1.0 / ((double)w * dx), dky = 1.0 / ((double)h * dx);
    double best = 0, bk = 0, total = 0;
    int64_t nann = 0;
    double *ann = NULL;
    int64_t cap = 0;
    for (int64_t r = 0; r < h; r++) {
        double ky = (double)(r <= h / 2 ? r : r - h) * dky;
        for (int64_t c = 0; c < wc; c++) {
            double kx = (double)c * dkx, k = sqrt(kx * kx + ky * ky);
            double p = F[r * wc + c][0] * F[r * wc + c][0] + F[r * wc + c][1] * F[r * wc + c][1];
            total += p;
            if (k < kmin || k > kmax) continue;
            if (nann == cap) {
                cap = cap ? 2 * cap : 4096;
                double *t = realloc(ann, (size_t)cap * sizeof *t);
                if (!t) {
                    free(ann);
                    fftw_destroy_plan(pf), fftw_destroy_plan(pb), fftw_free(in), fftw_free(F);
                    return sd_err_set(e, SD_ENOMEM, "detect: out of memory");
                }
                ann = t;
            }
            ann[nann++] = p;
            if (p > best) best = p, bk = k;
        }
    }
    double med = 0;
    if (nann > 0) {
        double *tmp = malloc((size_t)nann * sizeof *tmp);
        if (tmp) {
            med = quantile(ann, nann, 0.5, tmp);
            free(tmp);
        }
    }
    free(ann);
    *spacing = bk > 0 ? 1.0 / bk : 0;
    *peak_ratio = med > 0 ? best / med : (best > 0 ? INFINITY : 0);
    /* a spot that carries no measurable share of the image's contrast is
     * round-off, not a lattice (smooth blobs) */
    if (!(best > 1e-6 * total)) *peak_ratio = 0;

    int lattice = *peak_ratio > 50 && *spacing > 0;
    fftw_complex *G = nout > 1 ? fftw_alloc_complex((size_t)(h * wc)) : NULL;
    if (nout > 1 && !G) {
        fftw_destroy_plan(pf), fftw_destroy_plan(pb), fftw_free(in), fftw_free(F);
        return sd_err_set(e, SD_ENOMEM, "detect: out of memory");
    }
    if (G) memcpy(G, F, (size_t)(h * wc) * sizeof *G);
    for (int q = 0; q < nout; q++) {
        if (q > 0) memcpy(F, G, (size_t)(h * wc) * sizeof *F);
        double s = sig_rel[q] * (lattice ? *spacing : 2.25);
        double a = 2 * M_PI * M_PI * s * s, norm = 1.0 / (double)(h * w);
        for (int64_t r = 0; r < h; r++) {
            double ky = (double)(r <= h / 2 ? r : r - h) * dky;
            for (int64_t c = 0; c < wc; c++) {
                double kx = (double)c * dkx, g = norm * exp(-a * (kx * kx + ky * ky));
                F[r * wc + c][0] *= g;
                F[r * wc + c][1] *= g;
            }
        }
        F[0][0] += mean; /* DC of (img - mean) is ~0; restores the level */
        fftw_execute(pb);
        memcpy(out[q], in, (size_t)(h * w) * sizeof *in);
    }
    fftw_free(G);
    fftw_destroy_plan(pf), fftw_destroy_plan(pb);
    fftw_free(in), fftw_free(F);
    return SD_OK;
}

/* Sub-pixel vertex of the 3-point parabolas through a maximum of f at (r, c). */
static void subpixel(const double *f, int64_t w, int64_t r, int64_t c, double *rr, double *cc)
{
    const double *p = f + r * w + c;
    double dxp = p[-1] - 2 * p[0] + p[1], dyp = p[-w] - 2 * p[0] + p[w];
    *cc = (double)c + (dxp < 0 ? 0.5 * (p[-1] - p[1]) / dxp : 0);
    *rr = (double)r + (dyp < 0 ? 0.5 * (p[-w] - p[w]) / dyp : 0);
}

static int is_max(const double *f, int64_t w, int64_t r, int64_t c)
{
    const double *p = f + r * w + c;
    double v = p[0];
    /* strict on one side, non-strict on the other: a flat top gives one maximum */
    return v > p[-1] && v >= p[1] && v > p[-w] && v >= p[w] && v > p[-w - 1] && v > p[-w + 1] && v >= p[w - 1] &&
           v >= p[w + 1];
}

typedef struct { double *xy; int64_t n, cap; } ptlist_t;
static int pt_push(ptlist_t *l, double x, double y)
{
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 1024;
        double *t = realloc(l->xy, (size_t)cap * 2 * sizeof *t);
        if (!t) return SD_ENOMEM;
        l->xy = t, l->cap = cap;
    }
    l->xy[2 * l->n] = x, l->xy[2 * l->n + 1] = y;
    l->n++;
    return SD_OK;
}
static double nearest2(const ptlist_t *l, double x, double y)
{
    double b = INFINITY;
    for (int64_t j = 0; j < l->n; j++) {
        double ddx = l->xy[2 * j] - x, ddy = l->xy[2 * j + 1] - y, d2 = ddx * ddx + ddy * ddy;
        if (d2 < b) b = d2;
    }
    return b;
}

/* The projected lattice's neighbour vectors (pixels), from the detected
 * columns: vectors to neighbours between 0.8 and 1.9 spacings, folded to a
 * half plane and clustered; clusters holding ≥ 25 % of the largest are kept. */
#define NVEC 8
static int lattice_vectors(const ptlist_t *l, double sp, double v[2 * NVEC][2])
{
    double cx[64][2];
    int64_t cn[64];
    int nc = 0;
    double lo2 = 0.8 * 0.8 * sp * sp, hi2 = 1.9 * 1.9 * sp * sp, tol2 = 0.15 * 0.15 * sp * sp;
    for (int64_t i = 0; i < l->n; i++)
        for (int64_t j = 0; j < l->n; j++) {
            if (j == i) continue;
            double ddx = l->xy[2 * j] - l->xy[2 * i], ddy = l->xy[2 * j + 1] - l->xy[2 * i + 1];
            double d2 = ddx * ddx + ddy * ddy;
            if (d2 < lo2 || d2 > hi2) continue;
            if (ddx < 0 || (ddx == 0 && ddy < 0)) continue; /* each pair once, folded */
            int k;
            for (k = 0; k < nc; k++) {
                double ex = cx[k][0] / (double)cn[k] - ddx, ey = cx[k][1] / (double)cn[k] - ddy;
                if (ex * ex + ey * ey < tol2) break;
            }
            if (k == nc) {
                if (nc == 64) continue;
                cx[nc][0] = cx[nc][1] = 0, cn[nc] = 0;
                nc++;
            }
            cx[k][0] += ddx, cx[k][1] += ddy, cn[k]++;
        }
    int64_t best = 0;
    for (int k = 0; k < nc; k++) best = cn[k] > best ? cn[k] : best;
    int nv = 0;
    for (int pass = 0; pass < nc && nv < NVEC; pass++) { /* most populated first */
        int kb = -1;
        for (int k = 0; k < nc; k++)
            if (cn[k] > 0 && (kb < 0 || cn[k] > cn[kb])) kb = k;
        if (kb < 0 || (double)cn[kb] < 0.25 * (double)best || cn[kb] < 3) break;
        v[2 * nv][0] = cx[kb][0] / (double)cn[kb], v[2 * nv][1] = cx[kb][1] / (double)cn[kb];
        v[2 * nv + 1][0] = -v[2 * nv][0], v[2 * nv + 1][1] = -v[2 * nv][1];
        nv++;
        cn[kb] = -cn[kb];
    }
    return 2 * nv;
}

static int detect_core(const double *img, int64_t h, int64_t w, double dx, double off, double **xy, int64_t *n,
                       recon_detect_info_t *info, sd_err_t *e)
{
    if (!img || !xy || !n) return sd_err_set(e, SD_EINVAL, "detect: NULL argument");
    *xy = NULL, *n = 0;
    recon_detect_info_t dummy;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    if (h < 8 || w < 8) return sd_err_set(e, SD_EINVAL, "detect: image %lldx%lld is too small (at least 8x8)", (long long)h, (long long)w);
    if (h > 32768 || w > 32768) return sd_err_set(e, SD_ERANGE, "detect: image %lldx%lld is too large", (long long)h, (long long)w);
    if (!(dx > 0) || !isfinite(dx)) return sd_err_set(e, SD_ERANGE, "detect: pixel size dx = %g Å must be > 0", dx);
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < h * w; i++) {
        if (!isfinite(img[i]))
            return sd_err_set(e, SD_ERANGE, "detect: pixel (%lld, %lld) is not finite", (long long)(i / w), (long long)(i % w));
        if (img[i] < lo) lo = img[i];
        if (img[i] > hi) hi = img[i];
    }
    if (!(hi > lo)) return SD_OK; /* constant frame: nothing there */

    /* coarse (matched to a column) for the maxima, fine for completion */
    const double sig_rel[2] = {0.15, 0.1};
    double *f = malloc((size_t)(h * w) * sizeof *f), *ff = malloc((size_t)(h * w) * sizeof *ff),
           *tmp = malloc((size_t)(h * w) * sizeof *tmp);
    ptlist_t cols = {0};
    peak_t *pk = NULL;
    int rc = SD_OK;
    if (!f || !ff || !tmp) {
        rc = sd_err_set(e, SD_ENOMEM, "detect: out of memory");
        goto done;
    }
    double spacing, ratio;
    double *outs[2] = {f, ff};
    rc = recon_detect_filter(img, h, w, dx, sig_rel, 2, outs, &spacing, &ratio, e);
    if (rc) goto done;
    int lattice = ratio > 50 && spacing > 0;
    /* Level and noise: the vacuum is the low tail of the filtered image; the
     * noise of the filtered image from the high-pass residual's MAD. */
    double bg = quantile(f, h * w, 0.05, tmp);
    double fpk = -INFINITY;
    for (int64_t i = 0; i < h * w; i++) {
        if (f[i] > fpk) fpk = f[i];
        tmp[i] = fabs(img[i] - ff[i]);
    }
    double mad = quantile(tmp, h * w, 0.5, tmp);
    double sp_eff = lattice ? spacing : 2.25;
    double noise_c = 1.4826 * mad / (2 * sqrt(M_PI) * sig_rel[0] * sp_eff / dx);
    double noise_f = 1.4826 * mad / (2 * sqrt(M_PI) * sig_rel[1] * sp_eff / dx);
    double amp = fpk - bg;
    info->spacing = spacing;
    if (!(amp > 10 * noise_c) || !(amp > 0)) goto done; /* no signal above the noise: an empty frame */
    if (!lattice) {
        rc = sd_err_set(e, SD_EINVAL,
                        "detect: no crystal lattice found in the image's Fourier transform (strongest spot between "
                        "1.5 and 5 Å is only %.1f× the median; check dx = %g Å)", ratio, dx);
        goto done;
    }
    double thr_c = bg + fmax(0.025 * amp, 6 * noise_c), thr_f = bg + fmax(0.025 * amp, 6 * noise_f);
    info->threshold = thr_c;
    double min_sep = 0.6 * spacing;
    info->min_sep = min_sep;

    int64_t cap = 1024, np = 0;
    pk = malloc((size_t)cap * sizeof *pk);
    if (!pk) {
        rc = sd_err_set(e, SD_ENOMEM, "detect: out of memory");
        goto done;
    }
    for (int64_t r = 1; r < h - 1; r++)
        for (int64_t c = 1; c < w - 1; c++) {
            double v = f[r * w + c];
            if (v <= thr_c || !is_max(f, w, r, c)) continue;
            if (np == cap) {
                cap *= 2;
                peak_t *t = realloc(pk, (size_t)cap * sizeof *t);
                if (!t) {
                    rc = sd_err_set(e, SD_ENOMEM, "detect: out of memory");
                    goto done;
                }
                pk = t;
            }
            pk[np++] = (peak_t){v, r, c};
        }
    info->n_maxima = np;
    qsort(pk, (size_t)np, sizeof *pk, cmp_peak_desc);
    double sep2 = (min_sep / dx) * (min_sep / dx);
    for (int64_t i = 0; i < np; i++) {
        double r, c;
        subpixel(f, w, pk[i].r, pk[i].c, &r, &c);
        if (nearest2(&cols, c, r) < sep2) {
            info->n_pruned++;
            continue;
        }
        if (pt_push(&cols, c, r)) {
            rc = sd_err_set(e, SD_ENOMEM, "detect: out of memory");
            goto done;
        }
    }
    /* Completion from the lattice: a site one lattice vector from a column,
     * empty, with a maximum of the finely filtered image near it. */
    double V[2 * NVEC][2];
    double sp = spacing / dx;
    int nv = lattice_vectors(&cols, sp, V);
    info->nvec = nv;
    for (int q = 0; q < nv; q++) info->vec[q][0] = V[q][0] * dx, info->vec[q][1] = V[q][1] * dx;
    double occ2 = 0.45 * 0.45 * sp * sp;
    int64_t rad = (int64_t)ceil(0.35 * sp);
    for (int pass = 0; pass < 2; pass++) {
        int64_t n0 = cols.n, added = 0;
        for (int64_t i = 0; i < n0; i++)
            for (int q = 0; q < nv; q++) {
                double sx = cols.xy[2 * i] + V[q][0], sy = cols.xy[2 * i + 1] + V[q][1];
                int64_t ic = (int64_t)llround(sx), jc = (int64_t)llround(sy);
                if (ic < rad + 1 || jc < rad + 1 || ic >= w - rad - 1 || jc >= h - rad - 1) continue;
                if (nearest2(&cols, sx, sy) < occ2) continue;
                double bv = -INFINITY;
                int64_t br = -1, bc = -1;
                for (int64_t r = jc - rad; r <= jc + rad; r++)
                    for (int64_t c = ic - rad; c <= ic + rad; c++) {
                        if ((r - jc) * (r - jc) + (c - ic) * (c - ic) > rad * rad) continue;
                        if (ff[r * w + c] > bv) bv = ff[r * w + c], br = r, bc = c;
                    }
                if (br < 0 || bv <= thr_f || !is_max(ff, w, br, bc)) continue;
                double r, c;
                subpixel(ff, w, br, bc, &r, &c);
                if (nearest2(&cols, c, r) < sep2) continue;
                if (pt_push(&cols, c, r)) {
                    rc = sd_err_set(e, SD_ENOMEM, "detect: out of memory");
                    goto done;
                }
                added++;
            }
        info->n_added += added;
        if (!added) break;
    }
    /* Pruning 1: two columns closer than 0.7 of the shortest lattice vector
     * are one column and a noise maximum; the weaker (coarse image) goes. */
    if (nv > 0 && cols.n > 1) {
        double vmin2 = INFINITY;
        for (int q = 0; q < nv; q++) vmin2 = fmin(vmin2, V[q][0] * V[q][0] + V[q][1] * V[q][1]);
        info->lattice_nn = sqrt(vmin2) * dx;
        double cl2 = 0.7 * 0.7 * vmin2;
        unsigned char *gone = calloc((size_t)cols.n, 1);
        if (!gone) {
            rc = sd_err_set(e, SD_ENOMEM, "detect: out of memory");
            goto done;
        }
        for (int64_t i = 0; i < cols.n; i++)
            for (int64_t j = i + 1; j < cols.n && !gone[i]; j++) {
                if (gone[j]) continue;
                double ddx = cols.xy[2 * i] - cols.xy[2 * j], ddy = cols.xy[2 * i + 1] - cols.xy[2 * j + 1];
                if (ddx * ddx + ddy * ddy >= cl2) continue;
                double vi = f[(int64_t)llround(cols.xy[2 * i + 1]) * w + (int64_t)llround(cols.xy[2 * i])];
                double vj = f[(int64_t)llround(cols.xy[2 * j + 1]) * w + (int64_t)llround(cols.xy[2 * j])];
                gone[vi >= vj ? j : i] = 1;
            }
        int64_t m = 0;
        for (int64_t i = 0; i < cols.n; i++) {
            if (gone[i]) continue;
            cols.xy[2 * m] = cols.xy[2 * i], cols.xy[2 * m + 1] = cols.xy[2 * i + 1];
            m++;
        }
        info->n_pruned += cols.n - m;
        cols.n = m;
        free(gone);
    }
    /* Pruning 2: columns belong to a crystal, i.e. a connected set of lattice
     * neighbours; small islands (contamination, noise blobs in the vacuum)
     * are dropped. */
    if (cols.n > 0) {
        int64_t *lab = malloc((size_t)cols.n * sizeof *lab), *stack = malloc((size_t)cols.n * sizeof *stack),
                *size = calloc((size_t)cols.n, sizeof *size);
        if (!lab || !stack || !size) {
            free(lab), free(stack), free(size);
            rc = sd_err_set(e, SD_ENOMEM, "detect: out of memory");
            goto done;
        }
        double vmin2 = INFINITY;
        for (int q = 0; q < nv; q++) vmin2 = fmin(vmin2, V[q][0] * V[q][0] + V[q][1] * V[q][1]);
        double link2 = nv > 0 ? 1.35 * 1.35 * vmin2 : 1.9 * 1.9 * sp * sp;
        int64_t nl = 0, big = 0;
        for (int64_t i = 0; i < cols.n; i++) lab[i] = -1;
        for (int64_t i = 0; i < cols.n; i++) {
            if (lab[i] >= 0) continue;
            int64_t top = 0;
            stack[top++] = i, lab[i] = nl;
            while (top) {
                int64_t a = stack[--top];
                size[nl]++;
                for (int64_t b = 0; b < cols.n; b++) {
                    if (lab[b] >= 0) continue;
                    double ddx = cols.xy[2 * a] - cols.xy[2 * b], ddy = cols.xy[2 * a + 1] - cols.xy[2 * b + 1];
                    if (ddx * ddx + ddy * ddy <= link2) lab[b] = nl, stack[top++] = b;
                }
            }
            if (size[nl] > big) big = size[nl];
            nl++;
        }
        int64_t m = 0, minsize = big >= 20 ? (int64_t)ceil(0.1 * (double)big) : 1;
        if (minsize < 5 && big >= 20) minsize = 5;
        for (int64_t i = 0; i < cols.n; i++) {
            if (size[lab[i]] < minsize) continue;
            cols.xy[2 * m] = cols.xy[2 * i], cols.xy[2 * m + 1] = cols.xy[2 * i + 1];
            m++;
        }
        info->n_pruned += cols.n - m;
        cols.n = m;
        free(lab), free(stack), free(size);
    }
    for (int64_t i = 0; i < 2 * cols.n; i++) cols.xy[i] = cols.xy[i] * dx + off;
    *xy = cols.xy;
    *n = cols.n;
    cols.xy = NULL;
done:
    free(pk), free(f), free(ff), free(tmp), free(cols.xy);
    return rc;
}

int recon_detect_columns(const double *img, int64_t h, int64_t w, double dx, double **xy, int64_t *n,
                         recon_detect_info_t *info, sd_err_t *e)
{
    if (!img || !xy || !n) return sd_err_set(e, SD_EINVAL, "detect: NULL argument");
    *xy = NULL, *n = 0;
    if (!(dx > 0) || !isfinite(dx)) return sd_err_set(e, SD_ERANGE, "detect: pixel size dx = %g Å must be > 0", dx);
    /* Finding columns needs ~0.25 Å pixels at most: finer images are binned
     * (the fit refines positions on the full image), which makes the FFTs and
     * scans 4× cheaper at the usual 0.12 Å. */
    int64_t b = (int64_t)floor(0.25 / dx);
    if (b < 2 || h / b < 64 || w / b < 64) return detect_core(img, h, w, dx, 0, xy, n, info, e);
    for (int64_t i = 0; i < h * w; i++)
        if (!isfinite(img[i]))
            return sd_err_set(e, SD_ERANGE, "detect: pixel (%lld, %lld) is not finite", (long long)(i / w), (long long)(i % w));
    int64_t hb = h / b, wb = w / b;
    double *bi = calloc((size_t)(hb * wb), sizeof *bi);
    if (!bi) return sd_err_set(e, SD_ENOMEM, "detect: out of memory");
    double inv = 1.0 / (double)(b * b);
    for (int64_t r = 0; r < hb * b; r++) {
        const double *src = img + r * w;
        double *dst = bi + (r / b) * wb;
        for (int64_t c = 0; c < wb * b; c++) dst[c / b] += src[c] * inv;
    }
    int rc = detect_core(bi, hb, wb, dx * (double)b, 0.5 * (double)(b - 1) * dx, xy, n, info, e);
    free(bi);
    return rc;
}
