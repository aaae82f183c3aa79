/* LENS clustering pipeline: Savitzky–Golay, 1-D K-means (sklearn-compatible),
 * thresholds, transitions, KDE (see cluster.h). */
#include "cluster.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Savitzky–Golay                                                      */

/* Least-squares "hat" weights: w[e][j] such that sum_j w[e][j] y_j is the
 * value at window position p[e] of the degree-`order` polynomial fitted to
 * y_0..y_{W-1} at positions 0..W-1.  QR of the (centred, scaled) Vandermonde
 * matrix by twice-iterated Gram–Schmidt keeps this at ~1e-16 relative. */
static int sg_weights(int W, int order, const double *p, int neval, double *w)
{
    const int M = order + 1;
    const double c = 0.5 * (W - 1), sc = c > 1 ? c : 1;
    double *Q = malloc((size_t)W * M * sizeof *Q);
    double R[16 * 16];
    if (!Q) return -1;
    memset(R, 0, sizeof R);
    for (int m = 0; m < M; m++) {
        double *q = Q + (size_t)m * W;
        for (int j = 0; j < W; j++) q[j] = pow((j - c) / sc, m);
        for (int pass = 0; pass < 2; pass++)
            for (int l = 0; l < m; l++) {
                const double *ql = Q + (size_t)l * W;
                double r = 0;
                for (int j = 0; j < W; j++) r += ql[j] * q[j];
                R[l * M + m] += r;
                for (int j = 0; j < W; j++) q[j] -= r * ql[j];
            }
        double nrm = 0;
        for (int j = 0; j < W; j++) nrm += q[j] * q[j];
        nrm = sqrt(nrm);
        R[m * M + m] = nrm;
        for (int j = 0; j < W; j++) q[j] /= nrm;
    }
    for (int ev = 0; ev < neval; ev++) {
        double z[16];
        const double u = (p[ev] - c) / sc;
        for (int m = 0; m < M; m++) { /* R^T z = a(u) */
            double s = pow(u, m);
            for (int l = 0; l < m; l++) s -= R[l * M + m] * z[l];
            z[m] = s / R[m * M + m];
        }
        double *we = w + (size_t)ev * W;
        for (int j = 0; j < W; j++) {
            double s = 0;
            for (int m = 0; m < M; m++) s += Q[(size_t)m * W + j] * z[m];
            we[j] = s;
        }
    }
    free(Q);
    return 0;
}

static int savgol_check(int64_t n, int window, int order, sd_err_t *e)
{
    if (order < 1 || order > 15)
        return sd_err_set(e, SD_EINVAL, "Savitzky-Golay: order %d out of range 1..15", order);
    if (window <= order)
        return sd_err_set(e, SD_EINVAL, "Savitzky-Golay: window %d must exceed the order %d",
                          window, order);
    if (n < window)
        return sd_err_set(e, SD_EINVAL,
                          "Savitzky-Golay: series of %lld samples is shorter than the window %d",
                          (long long)n, window);
    return SD_OK;
}

int cluster_savgol_rows(const double *x, int64_t nseries, int64_t n, int window, int order,
                        double *y, sd_err_t *e)
{
    int rc = savgol_check(n, window, order, e);
    if (rc) return rc;
    if (!x || !y || nseries < 0) return sd_err_set(e, SD_EINVAL, "Savitzky-Golay: bad arguments");
    const int W = window, half = window / 2, back = (window - 1) / 2;
    /* rows: 0 = centre weights, 1..half = first-window fit at 0..half-1,
     * half+1..2half = last-window fit at W-half..W-1 */
    const int nev = 1 + 2 * half;
    double *p = malloc((size_t)nev * sizeof *p);
    double *w = malloc((size_t)nev * W * sizeof *w);
    if (!p || !w) {
        free(p);
        free(w);
        return sd_err_set(e, SD_ENOMEM, "Savitzky-Golay: out of memory");
    }
    p[0] = 0.5 * (W - 1);
    for (int i = 0; i < half; i++) {
        p[1 + i] = i;
        p[1 + half + i] = W - half + i;
    }
    if (sg_weights(W, order, p, nev, w)) {
        free(p);
        free(w);
        return sd_err_set(e, SD_ENOMEM, "Savitzky-Golay: out of memory");
    }
    for (int64_t s = 0; s < nseries; s++) {
        const double *xs = x + s * n;
        double *ys = y + s * n;
        for (int64_t i = half; i < n - half; i++) {
            const double *xi = xs + i - back;
            double acc = 0;
            for (int j = 0; j < W; j++) acc += w[j] * xi[j];
            ys[i] = acc;
        }
        for (int i = 0; i < half; i++) {
            const double *w0 = w + (size_t)(1 + i) * W, *w1 = w + (size_t)(1 + half + i) * W;
            const double *xe = xs + n - W;
            double a0 = 0, a1 = 0;
            for (int j = 0; j < W; j++) {
                a0 += w0[j] * xs[j];
                a1 += w1[j] * xe[j];
            }
            ys[i] = a0;
            ys[n - half + i] = a1;
        }
    }
    free(p);
    free(w);
    return SD_OK;
}

int cluster_savgol(const double *x, int64_t n, int window, int order, double *y, sd_err_t *e)
{
    return cluster_savgol_rows(x, 1, n, window, order, y, e);
}

/* ------------------------------------------------------------------ */
/* numpy's legacy RandomState (MT19937) — only what k-means++ draws     */

typedef struct mt {
    uint32_t key[624];
    int pos;
} mt_t;

static void mt_seed(mt_t *m, uint32_t seed)
{
    m->key[0] = seed;
    for (int i = 1; i < 624; i++)
        m->key[i] = 1812433253u * (m->key[i - 1] ^ (m->key[i - 1] >> 30)) + (uint32_t)i;
    m->pos = 624;
}

static uint32_t mt_next(mt_t *m)
{
    if (m->pos >= 624) {
        uint32_t *k = m->key;
        for (int i = 0; i < 624; i++) {
            uint32_t y = (k[i] & 0x80000000u) | (k[(i + 1) % 624] & 0x7fffffffu);
            k[i] = k[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        m->pos = 0;
    }
    uint32_t y = m->key[m->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* RandomState.random_sample(): 53-bit double in [0, 1). */
static double mt_double(mt_t *m)
{
    uint32_t a = mt_next(m) >> 5, b = mt_next(m) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
}

/* RandomState.randint(n) for 0 < n <= 2^32: masked rejection sampling. */
static int64_t mt_randint(mt_t *m, int64_t n)
{
    uint32_t rng = (uint32_t)(n - 1), mask = rng;
    if (rng == 0) return 0;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    uint32_t v;
    while ((v = (mt_next(m) & mask)) > rng) {
    }
    return v;
}

/* numpy's pairwise summation (what ndarray.sum() does on contiguous data),
 * so that k-means++ sees the same potentials as the reference. */
static double pairwise_sum(const double *a, int64_t n)
{
    if (n < 8) {
        double r = 0;
        for (int64_t i = 0; i < n; i++) r += a[i];
        return r;
    }
    if (n <= 128) {
        double r[8];
        for (int k = 0; k < 8; k++) r[k] = a[k];
        int64_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int k = 0; k < 8; k++) r[k] += a[i + k];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    int64_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

/* ------------------------------------------------------------------ */
/* K-means                                                              */

/* sklearn's _kmeans_plusplus on centred data xc (x2 = xc^2). */
static void kmeanspp(const double *xc, const double *x2, int64_t n, int k, mt_t *m,
                     double *centers, double *closest, double *cand /* [2][n] */,
                     double *cumsum)
{
    const int ntrials = 2 + (int)log((double)k);
    int64_t id = mt_randint(m, n);
    centers[0] = xc[id];
    double c = xc[id], c2 = c * c;
    for (int64_t i = 0; i < n; i++) {
        double d = (-2.0 * (c * xc[i]) + c2) + x2[i];
        closest[i] = d > 0 ? d : 0;
    }
    double pot = pairwise_sum(closest, n);
    for (int cc = 1; cc < k; cc++) {
        double acc = 0;
        for (int64_t i = 0; i < n; i++) cumsum[i] = (acc += closest[i]);
        double best_pot = INFINITY, *brow = cand, *wrow = cand + n;
        int64_t best_id = 0;
        for (int t = 0; t < ntrials; t++) {
            double r = mt_double(m) * pot;
            /* searchsorted(side='left'): first index with cumsum >= r */
            int64_t lo = 0, hi = n;
            while (lo < hi) {
                int64_t mid = lo + (hi - lo) / 2;
                if (cumsum[mid] < r) lo = mid + 1;
                else hi = mid;
            }
            if (lo > n - 1) lo = n - 1;
            const double ci = xc[lo], ci2 = ci * ci;
            for (int64_t i = 0; i < n; i++) {
                double d = (-2.0 * (ci * xc[i]) + ci2) + x2[i];
                if (d < 0) d = 0;
                wrow[i] = closest[i] < d ? closest[i] : d;
            }
            double p = pairwise_sum(wrow, n);
            if (p < best_pot) { /* argmin: the first minimum wins */
                double *tmp = brow;
                brow = wrow;
                wrow = tmp;
                best_pot = p;
                best_id = lo;
            }
        }
        memcpy(closest, brow, (size_t)n * sizeof *closest);
        centers[cc] = xc[best_id];
        pot = best_pot;
    }
}

static void assign(const double *xc, int64_t n, int k, const double *c, int32_t *lab)
{
    double c2[64];
    for (int j = 0; j < k; j++) c2[j] = c[j] * c[j];
    for (int64_t i = 0; i < n; i++) {
        double best = c2[0] + -2.0 * (xc[i] * c[0]);
        int32_t l = 0;
        for (int j = 1; j < k; j++) {
            double d = c2[j] + -2.0 * (xc[i] * c[j]);
            if (d < best) {
                best = d;
                l = j;
            }
        }
        lab[i] = l;
    }
}

/* One Lloyd run (sklearn _kmeans_single_lloyd); returns inertia. */
static double lloyd(const double *xc, int64_t n, int k, double *c, double tol, int32_t *lab,
                    int32_t *lab_old, double *sum, int64_t *cnt)
{
    int strict = 0;
    for (int64_t i = 0; i < n; i++) lab_old[i] = -1;
    for (int it = 0; it < 300; it++) {
        assign(xc, n, k, c, lab);
        for (int j = 0; j < k; j++) {
            sum[j] = 0;
            cnt[j] = 0;
        }
        for (int64_t i = 0; i < n; i++) {
            sum[lab[i]] += xc[i];
            cnt[lab[i]]++;
        }
        /* empty clusters: relocate to the points farthest from their centre */
        for (int j = 0; j < k; j++) {
            if (cnt[j]) continue;
            int64_t far = -1;
            double fd = -1;
            for (int64_t i = 0; i < n; i++) {
                double d = (xc[i] - c[lab[i]]) * (xc[i] - c[lab[i]]);
                if (cnt[lab[i]] > 1 && d > fd) {
                    fd = d;
                    far = i;
                }
            }
            if (far < 0) continue;
            sum[lab[far]] -= xc[far];
            cnt[lab[far]]--;
            lab[far] = j;
            sum[j] = xc[far];
            cnt[j] = 1;
        }
        double shift = 0;
        for (int j = 0; j < k; j++) {
            double nc = cnt[j] ? sum[j] / (double)cnt[j] : c[j];
            shift += (nc - c[j]) * (nc - c[j]);
            c[j] = nc;
        }
        if (!memcmp(lab, lab_old, (size_t)n * sizeof *lab)) {
            strict = 1;
            break;
        }
        if (shift <= tol) break;
        memcpy(lab_old, lab, (size_t)n * sizeof *lab);
    }
    if (!strict) assign(xc, n, k, c, lab);
    double in = 0;
    for (int64_t i = 0; i < n; i++) in += (xc[i] - c[lab[i]]) * (xc[i] - c[lab[i]]);
    return in;
}

/* Same partition up to a permutation of labels (sklearn _is_same_clustering). */
static int same_clustering(const int32_t *a, const int32_t *b, int64_t n, int k)
{
    int32_t map[64];
    for (int j = 0; j < k; j++) map[j] = -1;
    for (int64_t i = 0; i < n; i++) {
        if (map[a[i]] == -1) map[a[i]] = b[i];
        else if (map[a[i]] != b[i]) return 0;
    }
    return 1;
}

int cluster_kmeans_1d(const double *x, int64_t n, int k, int n_init, uint32_t seed,
                      int32_t *labels, double *centers, double *inertia, sd_err_t *e)
{
    if (!x || !labels || !centers) return sd_err_set(e, SD_EINVAL, "k-means: NULL argument");
    if (k < 1 || k > 64) return sd_err_set(e, SD_EINVAL, "k-means: k = %d out of range 1..64", k);
    if (n < k || n > (int64_t)UINT32_MAX)
        return sd_err_set(e, SD_EINVAL, "k-means: %lld points for %d clusters", (long long)n, k);
    if (n_init < 1) return sd_err_set(e, SD_EINVAL, "k-means: n_init %d < 1", n_init);
    double distinct[64];
    int nd = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return sd_err_set(e, SD_ERANGE, "k-means: value %lld is not finite", (long long)i);
        int seen = 0;
        for (int j = 0; j < nd && !seen; j++) seen = distinct[j] == x[i];
        if (!seen && nd < k) distinct[nd++] = x[i];
    }
    if (nd < k)
        return sd_err_set(e, SD_EINVAL, "k-means: only %d distinct values for k = %d clusters", nd,
                          k);
    const size_t nb = (size_t)n * sizeof(double);
    double *xc = malloc(nb), *x2 = malloc(nb), *closest = malloc(nb), *cand = malloc(2 * nb),
           *cs = malloc(nb);
    int32_t *lab = malloc((size_t)n * sizeof *lab), *lab_old = malloc((size_t)n * sizeof *lab);
    if (!xc || !x2 || !closest || !cand || !cs || !lab || !lab_old) {
        free(xc), free(x2), free(closest), free(cand), free(cs), free(lab), free(lab_old);
        return sd_err_set(e, SD_ENOMEM, "k-means: out of memory for %lld points", (long long)n);
    }
    /* sklearn: tol scaled by the data variance; data centred before use */
    const double mean = pairwise_sum(x, n) / (double)n;
    for (int64_t i = 0; i < n; i++) xc[i] = (x[i] - mean) * (x[i] - mean);
    const double tol = 1e-4 * (pairwise_sum(xc, n) / (double)n);
    for (int64_t i = 0; i < n; i++) {
        xc[i] = x[i] - mean;
        x2[i] = xc[i] * xc[i];
    }
    mt_t mt;
    mt_seed(&mt, seed);
    double best = INFINITY, c[64], sum[64];
    int64_t cnt[64];
    int have = 0;
    for (int r = 0; r < n_init; r++) {
        kmeanspp(xc, x2, n, k, &mt, c, closest, cand, cs);
        double in = lloyd(xc, n, k, c, tol, lab, lab_old, sum, cnt);
        if (!have || (in < best && !same_clustering(lab, labels, n, k))) {
            have = 1;
            best = in;
            memcpy(labels, lab, (size_t)n * sizeof *lab);
            for (int j = 0; j < k; j++) centers[j] = c[j] + mean;
        }
    }
    if (inertia) *inertia = best;
    free(xc), free(x2), free(closest), free(cand), free(cs), free(lab), free(lab_old);
    return SD_OK;
}

/* ------------------------------------------------------------------ */
/* thresholds, classes, transitions                                     */

int cluster_label_range(const double *x, int64_t n, const int32_t *labels, int k, double *cmin,
                        double *cmax, sd_err_t *e)
{
    if (!x || !labels || k < 1) return sd_err_set(e, SD_EINVAL, "cluster range: bad arguments");
    for (int j = 0; j < k; j++) {
        if (cmin) cmin[j] = NAN;
        if (cmax) cmax[j] = NAN;
    }
    for (int64_t i = 0; i < n; i++) {
        int l = labels[i];
        if (l < 0 || l >= k)
            return sd_err_set(e, SD_ERANGE, "cluster range: label %d of point %lld not in 0..%d",
                              l, (long long)i, k - 1);
        if (cmin && !(x[i] >= cmin[l])) cmin[l] = x[i];
        if (cmax && !(x[i] <= cmax[l])) cmax[l] = x[i];
    }
    return SD_OK;
}

int cluster_classify(const double *x, int64_t n, int k, const double *cmax, int32_t *cls,
                     sd_err_t *e)
{
    if (!x || !cmax || !cls || k < 1 || k > 64)
        return sd_err_set(e, SD_EINVAL, "classify: bad arguments");
    int order[64];
    for (int j = 0; j < k; j++) {
        if (!isfinite(cmax[j]))
            return sd_err_set(e, SD_ERANGE, "classify: threshold of cluster %d is not finite", j);
        order[j] = j;
    }
    for (int a = 1; a < k; a++) /* by maximum (stable) */
        for (int b = a; b > 0 && cmax[order[b]] < cmax[order[b - 1]]; b--) {
            int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    for (int64_t i = 0; i < n; i++) {
        int32_t l = k - 1;
        for (int j = 0; j < k; j++)
            if (x[i] < cmax[order[j]]) {
                l = order[j];
                break;
            }
        cls[i] = l;
    }
    return SD_OK;
}

int cluster_transitions(const int32_t *cls, int64_t nseries, int64_t nt, int k, double *counts,
                        double *norm, sd_err_t *e)
{
    if (!cls || !counts || k < 1 || nseries < 0 || nt < 0)
        return sd_err_set(e, SD_EINVAL, "transitions: bad arguments");
    for (int j = 0; j < k * k; j++) counts[j] = 0;
    for (int64_t s = 0; s < nseries; s++) {
        const int32_t *c = cls + s * nt;
        for (int64_t t = 0; t < nt; t++) {
            if (c[t] < 0 || c[t] >= k)
                return sd_err_set(e, SD_ERANGE,
                                  "transitions: class %d (series %lld, frame %lld) not in 0..%d",
                                  c[t], (long long)s, (long long)t, k - 1);
            if (t > 0) counts[c[t - 1] * k + c[t]] += 1;
        }
    }
    if (norm)
        for (int a = 0; a < k; a++) {
            double r = 0;
            for (int b = 0; b < k; b++) r += counts[a * k + b];
            for (int b = 0; b < k; b++) norm[a * k + b] = r > 0 ? counts[a * k + b] / r : 0;
        }
    return SD_OK;
}

/* ------------------------------------------------------------------ */
/* KDE                                                                  */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cluster_kde_gauss(const double *x, int64_t n, double bw_sd, int64_t ngrid, double *grid,
                      double *dens, double *bw_used, sd_err_t *e)
{
    if (!x || !grid || !dens || n < 2 || ngrid < 2)
        return sd_err_set(e, SD_EINVAL, "KDE: need >= 2 points and >= 2 grid points");
    double *s = malloc((size_t)n * sizeof *s);
    if (!s) return sd_err_set(e, SD_ENOMEM, "KDE: out of memory");
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) {
            free(s);
            return sd_err_set(e, SD_ERANGE, "KDE: value %lld is not finite", (long long)i);
        }
        s[i] = x[i];
    }
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    if (!(bw_sd > 0)) {
        double m = pairwise_sum(s, n) / (double)n, v = 0;
        for (int64_t i = 0; i < n; i++) v += (s[i] - m) * (s[i] - m);
        bw_sd = sqrt(v / (double)(n - 1)) * pow((double)n, -0.2);
    }
    if (!(bw_sd > 0) || !isfinite(bw_sd)) {
        free(s);
        return sd_err_set(e, SD_EINVAL, "KDE: all %lld values are equal (zero bandwidth)",
                          (long long)n);
    }
    const double lo = s[0] - 3 * bw_sd, hi = s[n - 1] + 3 * bw_sd, reach = 10 * bw_sd;
    const double norm = 1.0 / ((double)n * bw_sd * sqrt(2 * 3.14159265358979323846)), inv2v = 0.5 / (bw_sd * bw_sd);
    int64_t a = 0;
    for (int64_t g = 0; g < ngrid; g++) {
        const double xg = lo + (hi - lo) * (double)g / (double)(ngrid - 1);
        grid[g] = xg;
        while (a < n && s[a] < xg - reach) a++; /* grid ascending: a only moves forward */
        double acc = 0;
        for (int64_t i = a; i < n && s[i] <= xg + reach; i++) {
            double d = xg - s[i];
            acc += exp(-d * d * inv2v);
        }
        dens[g] = acc * norm;
    }
    if (bw_used) *bw_used = bw_sd;
    free(s);
    return SD_OK;
}

/* ------------------------------------------------------------------ */
/* pipeline                                                             */

cluster_lens_opts_t cluster_lens_opts_default(void)
{
    cluster_lens_opts_t o = {100, 2, 3, 10, 12345u};
    return o;
}

void cluster_lens_result_free(cluster_lens_result_t *r)
{
    if (!r) return;
    free(r->smooth);
    free(r->fit_labels);
    free(r->classes);
    r->smooth = NULL;
    r->fit_labels = NULL;
    r->classes = NULL;
}

int cluster_lens_pipeline(const double *lens, int64_t natoms, int64_t nframes,
                          const cluster_lens_opts_t *o, cluster_lens_result_t *r, sd_err_t *e)
{
    if (!r) return sd_err_set(e, SD_EINVAL, "LENS pipeline: NULL result");
    memset(r, 0, sizeof *r);
    if (!lens || !o || natoms < 1 || nframes < 1)
        return sd_err_set(e, SD_EINVAL, "LENS pipeline: empty input");
    if (o->k < 1 || o->k > CLUSTER_MAX_K)
        return sd_err_set(e, SD_EINVAL, "LENS pipeline: k = %d out of range 1..%d", o->k,
                          CLUSTER_MAX_K);
    if (o->window < 1 || nframes < o->window)
        return sd_err_set(e, SD_EINVAL,
                          "LENS pipeline: %lld frames, fewer than the smoothing window %d",
                          (long long)nframes, o->window);
    r->natoms = natoms;
    r->nframes = nframes;
    r->k = o->k;
    r->fit_first = o->window / 2;
    r->fit_frames = nframes - o->window / 2 - (o->window + 1) / 2;
    const int64_t m = r->fit_frames * natoms;
    if (r->fit_frames < 1 || m < o->k)
        return sd_err_set(e, SD_EINVAL,
                          "LENS pipeline: %lld frames leave no frames to cluster after trimming "
                          "%d at each end (need > window)",
                          (long long)nframes, o->window / 2);
    const size_t nt = (size_t)(natoms * nframes);
    r->smooth = malloc(nt * sizeof *r->smooth);
    r->classes = malloc(nt * sizeof *r->classes);
    r->fit_labels = malloc((size_t)m * sizeof *r->fit_labels);
    double *x = malloc((size_t)m * sizeof *x);
    if (!r->smooth || !r->classes || !r->fit_labels || !x) {
        free(x);
        return sd_err_set(e, SD_ENOMEM, "LENS pipeline: out of memory");
    }
    int rc = cluster_savgol_rows(lens, natoms, nframes, o->window, o->order, r->smooth, e);
    for (int64_t q = 0; rc == SD_OK && q < m; q++)
        x[q] = r->smooth[(q % natoms) * nframes + r->fit_first + q / natoms];
    if (rc == SD_OK)
        rc = cluster_kmeans_1d(x, m, o->k, o->n_init, o->seed, r->fit_labels, r->centers,
                               &r->inertia, e);
    if (rc == SD_OK) rc = cluster_label_range(x, m, r->fit_labels, o->k, r->cmin, r->cmax, e);
    if (rc == SD_OK) {
        for (int64_t q = 0; q < m; q++) r->csize[r->fit_labels[q]]++;
        for (int j = 0; j < o->k; j++)
            if (r->csize[j] == 0) {
                rc = sd_err_set(e, SD_EINVAL,
                                "LENS pipeline: K-means left cluster %d empty (too few distinct "
                                "values for k = %d)",
                                j, o->k);
                break;
            }
    }
    if (rc == SD_OK) rc = cluster_classify(r->smooth, (int64_t)nt, o->k, r->cmax, r->classes, e);
    if (rc == SD_OK)
        rc = cluster_transitions(r->classes, natoms, nframes, o->k, r->tcounts, r->tnorm, e);
    free(x);
    return rc;
}
