/* count — atoms per column from the scattering cross-sections (StatSTEM's
 * mixture-model counting), its automatic order choice, and the series filter.
 *
 * Mixture.  1-D Gaussian mixture, one shared σ, EM (SQUAREM-accelerated) from
 * three starts — means evenly spaced over [min, max] (StatSTEM's; it alone
 * reproduces the published PtIr optima), at quantiles, and the previous
 * order's solution with its heaviest component split — best likelihood wins.
 * ICL(k) = 2·NLL + 2·EN + 2k·ln N, BIC without EN.
 *
 * Reading a mixture.  Component j holds the library count nearest its mean
 * (0 atoms below half a one-atom SCS: noise maxima, dropped from the result);
 * a column gets the count of its most probable component, and that
 * posterior as its probability.
 *
 * Order choice (RECON_ORDER_LIBRARY).  On real data ICL's global minimum is
 * often k = 1 (PtIr: it is) because one broad component "explains" a
 * thickness distribution without visible gaps.  The rule takes ICL's local
 * minima (k = 1 counts when ICL(1) < ICL(2)) and scores each by the mean
 * squared distance between the columns' SCS and the library SCS of the counts
 * the mixture gives them; too few components lump atom numbers together and
 * pay for it, so the best score wins, and a larger order must improve the
 * score by 20 % over a smaller one (extra components that merely split one
 * atom number score the same and explain nothing more).  PtIr's published
 * SCS: local minima k = 1, 4, 10, …; k = 10 is chosen, all 135 counts agree.
 * The library must be on the image's scale (normalised to the incident beam;
 * lib_scale for another element, e.g. RECON_AU_OVER_PT for gold). */
#include "recon.h"
#include "detect.h"
#include "fit.h"
#include "sd_clock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const double recon_lib_pt[RECON_LIB_PT_N] = {0.019248, 0.047329, 0.081478, 0.11525, 0.14929, 0.18104, 0.20733,
                                              0.23442, 0.26098, 0.28592, 0.31274, 0.33982, 0.36575, 0.39166,
                                              0.41741, 0.44008, 0.46172, 0.48168, 0.50134, 0.52183};

double recon_lib_scs(const double *lib, int nlib, int n)
{
    if (n <= 0 || !lib || nlib <= 0) return 0;
    if (n <= nlib) return lib[n - 1];
    double step = nlib >= 2 ? lib[nlib - 1] - lib[nlib - 2] : lib[0];
    return lib[nlib - 1] + step * (double)(n - nlib);
}

void recon_count_opts_default(recon_count_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->rule = RECON_ORDER_LIBRARY;
    o->lib_scale = 1.0;
    recon_fit_opts_default(&o->fit);
}

/* ---- mixture ---- */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* exp for x <= 0 (clamped at -700), ~1e-15 relative: a branch-free
 * polynomial the compiler vectorizes, since the E step is n·k exponentials per
 * iteration and libm's exp would dominate the counting time. */
static inline double fexp(double x)
{
    x = x < -700.0 ? -700.0 : x;
    double kf = (x * 1.4426950408889634 + 0x1.8p52) - 0x1.8p52; /* round to nearest */
    double r = (x - kf * 0.693147180369123816490) - kf * 1.90821492927058770002e-10;
    double p = 1.0 + r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720 +
               r * (1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (1.0 / 3628800 + r * (1.0 / 39916800)))))))))));
    union { uint64_t u; double d; } sc = {.u = (uint64_t)((int64_t)kf + 1023) << 52};
    return p * sc.d;
}

typedef struct emws {
    double *tau; /* [k][n] */
    double *mx, *sum; /* [n] */
} emws_t;

static int emws_alloc(emws_t *ws, int64_t n, int kmax)
{
    ws->tau = malloc((size_t)n * (size_t)kmax * sizeof *ws->tau);
    ws->mx = malloc((size_t)n * sizeof *ws->mx);
    ws->sum = malloc((size_t)n * sizeof *ws->sum);
    return ws->tau && ws->mx && ws->sum ? SD_OK : SD_ENOMEM;
}
static void emws_free(emws_t *ws) { free(ws->tau), free(ws->mx), free(ws->sum); }

/* E step at (mu, w, s): responsibilities into ws->tau, returns the
 * log-likelihood; *en (if not NULL) gets the posterior entropy. */
static double e_step(const double *x, int64_t n, int k, const double *mu, const double *w, double s, emws_t *ws,
                     double *en)
{
    double a = 1.0 / (2 * s * s), lnorm = -0.5 * log(2 * M_PI * s * s);
    double *mx = ws->mx, *sum = ws->sum;
    for (int64_t i = 0; i < n; i++) mx[i] = -INFINITY, sum[i] = 0;
    for (int j = 0; j < k; j++) {
        double *t = ws->tau + (int64_t)j * n, lw = w[j] > 1e-300 ? log(w[j]) : -690.0, m = mu[j];
        for (int64_t i = 0; i < n; i++) {
            double d = x[i] - m;
            t[i] = lw - d * d * a;
            mx[i] = t[i] > mx[i] ? t[i] : mx[i];
        }
    }
    for (int j = 0; j < k; j++) {
        double *t = ws->tau + (int64_t)j * n;
        for (int64_t i = 0; i < n; i++) {
            t[i] = fexp(t[i] - mx[i]);
            sum[i] += t[i];
        }
    }
    double ll = 0;
    for (int64_t i = 0; i < n; i++) {
        ll += mx[i] + log(sum[i]) + lnorm;
        sum[i] = 1.0 / sum[i];
    }
    for (int j = 0; j < k; j++) {
        double *t = ws->tau + (int64_t)j * n;
        for (int64_t i = 0; i < n; i++) t[i] *= sum[i];
    }
    if (en) {
        double h = 0;
        for (int64_t q = 0; q < (int64_t)k * n; q++) {
            double t = ws->tau[q];
            if (t > 1e-300) h -= t * log(t);
        }
        *en = h;
    }
    return ll;
}

/* M step from ws->tau into p = [mu(k), w(k), s]. */
static void m_step(const double *x, int64_t n, int k, const emws_t *ws, double sfloor, double *p)
{
    double ss = 0;
    for (int j = 0; j < k; j++) {
        const double *t = ws->tau + (int64_t)j * n;
        double nk = 0, sx = 0;
        for (int64_t i = 0; i < n; i++) nk += t[i], sx += t[i] * x[i];
        p[k + j] = nk / (double)n;
        if (nk > 1e-12) p[j] = sx / nk;
        double m = p[j], sj = 0;
        for (int64_t i = 0; i < n; i++) sj += t[i] * (x[i] - m) * (x[i] - m);
        ss += sj;
    }
    p[2 * k] = sqrt(ss / (double)n);
    if (p[2 * k] < sfloor) p[2 * k] = sfloor;
}

/* EM accelerated by SQUAREM (Varadhan & Roland 2008), falling back to the
 * plain EM step whenever the extrapolation leaves the parameter space or
 * lowers the likelihood.  Returns the log-likelihood; *en_out the entropy. */
static double em_run(const double *x, int64_t n, int k, double *mu, double *w, double *sigma, emws_t *ws,
                     double *en_out)
{
    double range = 0;
    for (int64_t i = 0; i < n; i++) range = fmax(range, fabs(x[i]));
    double sfloor = 1e-6 * (range > 0 ? range : 1);
    int np = 2 * k + 1;
    double p0[2 * RECON_GMM_KMAX + 1], p1[2 * RECON_GMM_KMAX + 1], p2[2 * RECON_GMM_KMAX + 1],
        pq[2 * RECON_GMM_KMAX + 1];
    memcpy(p0, mu, (size_t)k * sizeof *mu);
    memcpy(p0 + k, w, (size_t)k * sizeof *w);
    p0[2 * k] = *sigma;
    double ll0 = e_step(x, n, k, p0, p0 + k, p0[2 * k], ws, NULL);
    for (int it = 0; it < 1000; it++) {
        m_step(x, n, k, ws, sfloor, p1);
        e_step(x, n, k, p1, p1 + k, p1[2 * k], ws, NULL);
        m_step(x, n, k, ws, sfloor, p2);
        double rr = 0, vv = 0;
        for (int q = 0; q < np; q++) {
            double r = p1[q] - p0[q], v = p2[q] - 2 * p1[q] + p0[q];
            rr += r * r, vv += v * v;
        }
        int ok = 0;
        double ll = -INFINITY;
        if (vv > 0 && rr > 0) {
            double al = -sqrt(rr / vv);
            if (al > -1) al = -1;
            for (int q = 0; q < np; q++) {
                double r = p1[q] - p0[q], v = p2[q] - 2 * p1[q] + p0[q];
                pq[q] = p0[q] - 2 * al * r + al * al * v;
            }
            ok = pq[2 * k] > sfloor;
            double sw = 0;
            for (int j = 0; j < k && ok; j++) {
                if (!(pq[k + j] >= 0)) ok = 0;
                sw += pq[k + j];
            }
            if (ok && sw > 0) {
                for (int j = 0; j < k; j++) pq[k + j] /= sw;
                /* one EM step from the extrapolated point keeps it stable */
                e_step(x, n, k, pq, pq + k, pq[2 * k], ws, NULL);
                m_step(x, n, k, ws, sfloor, pq);
                ll = e_step(x, n, k, pq, pq + k, pq[2 * k], ws, NULL);
                ok = isfinite(ll) && ll >= ll0 - 1e-12 * fabs(ll0);
            } else ok = 0;
        }
        if (!ok) {
            memcpy(pq, p2, (size_t)np * sizeof *pq);
            ll = e_step(x, n, k, pq, pq + k, pq[2 * k], ws, NULL);
        }
        int done = fabs(ll - ll0) < 1e-9 * (1 + fabs(ll));
        memcpy(p0, pq, (size_t)np * sizeof *pq);
        ll0 = ll;
        if (done) break;
    }
    double en;
    double llf = e_step(x, n, k, p0, p0 + k, p0[2 * k], ws, &en);
    memcpy(mu, p0, (size_t)k * sizeof *mu);
    memcpy(w, p0 + k, (size_t)k * sizeof *w);
    *sigma = p0[2 * k];
    *en_out = en;
    return llf;
}

static void sort_components(recon_gmm_t *g)
{
    for (int a = 1; a < g->k; a++)
        for (int b = a; b > 0 && g->mu[b] < g->mu[b - 1]; b--) {
            double t = g->mu[b];
            g->mu[b] = g->mu[b - 1], g->mu[b - 1] = t;
            t = g->w[b];
            g->w[b] = g->w[b - 1], g->w[b - 1] = t;
        }
}

/* Fits with starts: means evenly spaced over [min, max] (StatSTEM's), and the
 * previous order's solution with its heaviest component split (when prev !=
 * NULL); the best likelihood wins. */
static int gmm_fit_from(const double *x, int64_t n, int k, const recon_gmm_t *prev, recon_gmm_t *g, emws_t *tau,
                        double *sorted)
{
    double lo = sorted[0], hi = sorted[n - 1], sd = 0, mean = 0;
    for (int64_t i = 0; i < n; i++) mean += x[i];
    mean /= (double)n;
    for (int64_t i = 0; i < n; i++) sd += (x[i] - mean) * (x[i] - mean);
    sd = sqrt(sd / (double)n);
    double best = -INFINITY;
    /* start 0 (quantiles) found nothing the other two did not, on PtIr and
     * the synthetic series, at 2× the cost: skipped */
    for (int start = 1; start < 3; start++) {
        recon_gmm_t t;
        memset(&t, 0, sizeof t);
        t.k = k;
        if (start == 0) {
            for (int j = 0; j < k; j++) t.mu[j] = sorted[(int64_t)(((double)j + 0.5) / k * (double)(n - 1))];
        } else if (start == 1) {
            for (int j = 0; j < k; j++) t.mu[j] = k > 1 ? lo + (hi - lo) * j / (k - 1) : mean;
        } else {
            if (!prev || prev->k != k - 1 || k < 2) continue;
            /* split the heaviest component into two ±σ/2 apart */
            int jm = 0;
            for (int j = 1; j < prev->k; j++)
                if (prev->w[j] > prev->w[jm]) jm = j;
            int q = 0;
            for (int j = 0; j < prev->k; j++) {
                if (j == jm) {
                    t.mu[q++] = prev->mu[j] - 0.5 * prev->sigma;
                    t.mu[q++] = prev->mu[j] + 0.5 * prev->sigma;
                } else t.mu[q++] = prev->mu[j];
            }
        }
        for (int j = 0; j < k; j++) t.w[j] = 1.0 / k;
        t.sigma = k > 1 ? (hi - lo) / (2.0 * k) : sd;
        if (!(t.sigma > 0)) t.sigma = sd > 0 ? sd : 1e-6;
        double en;
        double ll = em_run(x, n, k, t.mu, t.w, &t.sigma, tau, &en);
        if (ll > best) {
            best = ll;
            t.nll = -ll;
            t.icl = -2 * ll + 2 * en + 2.0 * k * log((double)n);
            t.bic = -2 * ll + 2.0 * k * log((double)n);
            *g = t;
        }
    }
    sort_components(g);
    return SD_OK;
}

int recon_gmm_fit(const double *x, int64_t n, int k, recon_gmm_t *g, sd_err_t *e)
{
    if (!x || !g) return sd_err_set(e, SD_EINVAL, "gmm: NULL argument");
    if (n < 1 || k < 1 || k > RECON_GMM_KMAX || k > n)
        return sd_err_set(e, SD_ERANGE, "gmm: %d components for %lld values not possible", k, (long long)n);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return sd_err_set(e, SD_ERANGE, "gmm: value %lld is not finite", (long long)i);
    emws_t ws = {0};
    double *sorted = malloc((size_t)n * sizeof *sorted);
    if (emws_alloc(&ws, n, k) || !sorted) {
        emws_free(&ws), free(sorted);
        return sd_err_set(e, SD_ENOMEM, "gmm: out of memory");
    }
    memcpy(sorted, x, (size_t)n * sizeof *x);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_double);
    gmm_fit_from(x, n, k, NULL, g, &ws, sorted);
    emws_free(&ws), free(sorted);
    return SD_OK;
}

/* Posterior of each component for x under g: tau[k]. */
static void posterior(const recon_gmm_t *g, double x, double *tau)
{
    double a = 1.0 / (2 * g->sigma * g->sigma), mx = -INFINITY, sum = 0;
    for (int j = 0; j < g->k; j++) {
        double d = x - g->mu[j];
        tau[j] = (g->w[j] > 0 ? log(g->w[j]) : -INFINITY) - d * d * a;
        if (tau[j] > mx) mx = tau[j];
    }
    for (int j = 0; j < g->k; j++) sum += (tau[j] = exp(tau[j] - mx));
    for (int j = 0; j < g->k; j++) tau[j] /= sum;
}

static int nearest_lib(const double *lib, int nlib, double scale, double v)
{
    int best = 1;
    double bd = INFINITY;
    for (int nn = 1; nn <= nlib + 40; nn++) {
        double d = fabs(v - scale * recon_lib_scs(lib, nlib, nn));
        if (d < bd) bd = d, best = nn;
    }
    return best;
}

/* Library reading of a mixture: component j holds map[j] atoms, the library
 * count nearest its mean (0 below half a one-atom cross-section: noise).
 * Returns the mean squared distance between the columns' SCS and the library
 * SCS of the count their most probable component gives them. */
static double library_cost(const recon_gmm_t *g, const double *scs, int64_t n, const double *lib, int nlib,
                           double scale, int *map)
{
    for (int j = 0; j < g->k; j++)
        map[j] = g->mu[j] < 0.5 * scale * lib[0] ? 0 : nearest_lib(lib, nlib, scale, g->mu[j]);
    double tau[RECON_GMM_KMAX], c = 0;
    for (int64_t i = 0; i < n; i++) {
        posterior(g, scs[i], tau);
        int jb = 0;
        for (int j = 1; j < g->k; j++)
            if (tau[j] > tau[jb]) jb = j;
        double d = scs[i] - scale * recon_lib_scs(lib, nlib, map[jb]);
        c += d * d;
    }
    return c / (double)n;
}

/* Fits orders 1..kmax and picks one by the rule; *gout receives the model,
 * map[] its components' atom counts. */
static int choose_order(const double *scs, int64_t n, const recon_count_opts_t *o, const double *lib, int nlib,
                        double scale, recon_gmm_t *gout, int *map, recon_count_info_t *info, sd_err_t *e)
{
    int kmax = o->kmax;
    if (kmax <= 0) {
        double mx = -INFINITY;
        for (int64_t i = 0; i < n; i++) mx = fmax(mx, scs[i]);
        /* no more distinct atom numbers than the thickest column has atoms
         * (+1 for a noise component, +1 to see the last local minimum) */
        kmax = nearest_lib(lib, nlib, scale, mx) + 3;
    }
    if (o->rule == RECON_ORDER_FIXED) kmax = o->fixed_k;
    if (kmax > RECON_GMM_KMAX) kmax = RECON_GMM_KMAX;
    if (kmax > n) kmax = (int)n;
    if (kmax < 1) return sd_err_set(e, SD_ERANGE, "count: order %d impossible", kmax);
    recon_gmm_t *gs = calloc((size_t)kmax + 1, sizeof *gs);
    emws_t ws = {0};
    double *sorted = malloc((size_t)n * sizeof *sorted);
    if (!gs || emws_alloc(&ws, n, kmax) || !sorted) {
        free(gs), emws_free(&ws), free(sorted);
        return sd_err_set(e, SD_ENOMEM, "count: out of memory");
    }
    memcpy(sorted, scs, (size_t)n * sizeof *scs);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_double);
    int k0 = o->rule == RECON_ORDER_FIXED ? kmax : 1;
    for (int k = k0; k <= kmax; k++) gmm_fit_from(scs, n, k, k > k0 ? &gs[k - 1] : NULL, &gs[k], &ws, sorted);
    int pick = kmax;
    if (o->rule == RECON_ORDER_ARGMIN) {
        pick = 1;
        for (int k = 2; k <= kmax; k++)
            if (gs[k].icl < gs[pick].icl) pick = k;
    } else if (o->rule == RECON_ORDER_LIBRARY) {
        /* among ICL's local minima, the best library match; a larger order
         * must beat a smaller one clearly (extra components that only split
         * an atom number fit the library as well, and explain nothing more) */
        double bc = INFINITY;
        int mp[RECON_GMM_KMAX];
        for (int k = 1; k < kmax; k++) {
            int lm = (k == 1 || gs[k].icl < gs[k - 1].icl) && gs[k].icl < gs[k + 1].icl;
            if (!lm) continue;
            double c = library_cost(&gs[k], scs, n, lib, nlib, scale, mp);
            if (c < 0.8 * bc) bc = c, pick = k;
        }
    }
    library_cost(&gs[pick], scs, n, lib, nlib, scale, map);
    *gout = gs[pick];
    if (info) {
        info->kmax = kmax;
        for (int k = 0; k <= RECON_GMM_KMAX; k++) info->icl[k] = (k >= k0 && k <= kmax) ? gs[k].icl : NAN;
    }
    free(gs), emws_free(&ws), free(sorted);
    return SD_OK;
}

/* Known-library counting (RECON_ORDER_LIBSCALE).  When the library is the
 * one the frame was made with (synthetic frames), a free mixture only adds
 * uncertainty: its order choice can lump two atom numbers into one
 * component.  Here every column takes the library count nearest its SCS
 * after one global factor a (residual normalisation, fit bias), refitted by
 * least squares on the assignment until the assignment is stable; a column
 * below half a one-atom SCS gets 0.  The probability is the posterior among
 * the neighbouring counts with σ the rms distance of the SCS to their
 * library values.  Measured on the ten paper particles (bench_count, four
 * noise seeds, with Poisson-weighted heights): 94.3 % / 97.6 % exact at 10⁴ /
 * 3·10⁴ e/Å² against 93.8 % / 97.6 % for the mixture on the same SCS; not for
 * real data: on PtIr it agrees with StatSTEM's mixture counts for 84 % of the
 * columns (the default rule: 98.5 %). */
static void libscale_count(recon_columns_t *cols, const double *lib, int nlib, double scale, recon_count_info_t *info,
                           double *a_out, double *sg_out)
{
    int64_t n = cols->n;
    double a = 1.0;
    for (int64_t i = 0; i < n; i++) cols->count[i] = -1;
    for (int it = 0; it < 50; it++) {
        int changed = 0;
        double num = 0, den = 0;
        for (int64_t i = 0; i < n; i++) {
            int c = cols->scs[i] < 0.5 * a * scale * lib[0] ? 0 : nearest_lib(lib, nlib, a * scale, cols->scs[i]);
            changed |= c != cols->count[i];
            cols->count[i] = c;
            double v = scale * recon_lib_scs(lib, nlib, c);
            num += cols->scs[i] * v, den += v * v;
        }
        if (!changed || !(den > 0)) break;
        a = num / den;
    }
    double ss = 0;
    int64_t atoms = 0, m = 0;
    int cmin = 0;
    for (int64_t i = 0; i < n; i++) {
        if (cols->count[i] <= 0) continue;
        double d = cols->scs[i] - a * scale * recon_lib_scs(lib, nlib, cols->count[i]);
        ss += d * d, m++;
        atoms += cols->count[i];
        if (!cmin || cols->count[i] < cmin) cmin = cols->count[i];
    }
    double sg = m > 1 ? sqrt(ss / (double)(m - 1)) : 0.25 * a * scale * lib[0];
    if (!(sg > 0)) sg = 1e-3 * a * scale * lib[0];
    for (int64_t i = 0; i < n; i++) {
        int c = cols->count[i];
        double l[3];
        for (int q = 0; q < 3; q++) {
            int cc = c - 1 + q;
            double d = cols->scs[i] - a * scale * recon_lib_scs(lib, nlib, cc);
            l[q] = cc < 0 ? 0 : exp(-0.5 * d * d / (sg * sg));
        }
        double tot = l[0] + l[1] + l[2];
        cols->prob[i] = tot > 0 ? l[1] / tot : 1.0;
    }
    if (info) info->k = 0, info->offset = cmin, info->atoms = atoms;
    *a_out = a, *sg_out = sg;
}

/* ---- spatial prior on counts (opt-in) ----
 * The thickness of a compact particle changes little from a column to its
 * first-shell neighbours (on the ten paper particles, n − mean(neighbours)
 * scatters by 0.6 atoms for interior columns), while at 10⁴ e/Å² an SCS
 * leaves about a quarter of an atom of doubt.  So each interior column
 * (≥ 4 neighbours within 1.2 × the median nearest-neighbour distance) takes
 * the count maximising log L(scs | n) + log t₃((n − n̄_nb)/τ), sweeping until
 * nothing changes (at most 10 sweeps, Jacobi order: independent of the
 * column order).  The heavy-tailed t keeps real steps: a 2-atom step against
 * the neighbours costs ~4 nats at τ = 0.4, one library step of SCS evidence
 * ~10 nats at that dose.  Candidates: cand[j] atoms with SCS mean mean[j],
 * prior weight logw[j]; sg the shared SCS σ. */
#define NPRIOR_MAX (RECON_GMM_KMAX + 64)
typedef struct nprior {
    int m;
    int cand[NPRIOR_MAX];
    double mean[NPRIOR_MAX], logw[NPRIOR_MAX];
    double sg;
} nprior_t;

static double t3_logpdf(double z) { return -2.0 * log1p(z * z / 3.0); }

static int neighbour_lists(const recon_columns_t *c, int64_t **start, int64_t **list)
{
    int64_t n = c->n;
    double *nn = malloc((size_t)n * sizeof *nn);
    *start = malloc((size_t)(n + 1) * sizeof **start);
    if (!nn || !*start) return free(nn), free(*start), *start = NULL, SD_ENOMEM;
    for (int64_t i = 0; i < n; i++) {
        nn[i] = INFINITY;
        for (int64_t j = 0; j < n; j++)
            if (j != i) nn[i] = fmin(nn[i], hypot(c->x[i] - c->x[j], c->y[i] - c->y[j]));
    }
    qsort(nn, (size_t)n, sizeof *nn, cmp_double);
    double r = 1.2 * nn[n / 2];
    free(nn);
    int64_t cap = 8 * n, k = 0;
    *list = malloc((size_t)cap * sizeof **list);
    if (!*list) return free(*start), *start = NULL, SD_ENOMEM;
    for (int64_t i = 0; i < n; i++) {
        (*start)[i] = k;
        for (int64_t j = 0; j < n; j++) {
            if (j == i || !(hypot(c->x[i] - c->x[j], c->y[i] - c->y[j]) < r)) continue;
            if (k == cap) {
                int64_t *t = realloc(*list, (size_t)(cap *= 2) * sizeof *t);
                if (!t) return free(*list), free(*start), *start = NULL, *list = NULL, SD_ENOMEM;
                *list = t;
            }
            (*list)[k++] = j;
        }
    }
    (*start)[n] = k;
    return SD_OK;
}

/* Best candidate of column i given its neighbours' counts cur[]; *post gets
 * its posterior probability among the candidates. */
static int prior_best(const nprior_t *p, double scs, double nbar, int use_prior, double tau, double *post)
{
    double lp[NPRIOR_MAX], mx = -INFINITY, sum = 0;
    int jb = 0;
    for (int j = 0; j < p->m; j++) {
        double d = (scs - p->mean[j]) / p->sg;
        lp[j] = p->logw[j] - 0.5 * d * d + (use_prior ? t3_logpdf(((double)p->cand[j] - nbar) / tau) : 0);
        if (lp[j] > mx) mx = lp[j], jb = j;
    }
    for (int j = 0; j < p->m; j++) sum += exp(lp[j] - mx);
    *post = 1.0 / sum;
    return jb;
}

static int apply_neighbour_prior(recon_columns_t *c, const nprior_t *p, double tau, int64_t *atoms)
{
    int64_t n = c->n, *start = NULL, *list = NULL;
    if (n < 5 || p->m < 2) return SD_OK;
    if (neighbour_lists(c, &start, &list)) return SD_ENOMEM;
    int32_t *cur = malloc((size_t)n * sizeof *cur), *nxt = malloc((size_t)n * sizeof *nxt);
    if (!cur || !nxt) return free(cur), free(nxt), free(start), free(list), SD_ENOMEM;
    for (int64_t i = 0; i < n; i++) cur[i] = c->count[i];
    for (int sweep = 0; sweep < 10; sweep++) {
        int changed = 0;
        for (int64_t i = 0; i < n; i++) {
            int64_t nb = start[i + 1] - start[i];
            double nbar = 0, post;
            for (int64_t k = start[i]; k < start[i + 1]; k++) nbar += cur[list[k]];
            nbar /= nb > 0 ? (double)nb : 1.0;
            int jb = prior_best(p, c->scs[i], nbar, nb >= 4, tau, &post);
            nxt[i] = c->count[i] > 0 ? p->cand[jb] : c->count[i];
            c->prob[i] = c->count[i] > 0 ? post : c->prob[i];
            changed |= nxt[i] != cur[i];
        }
        memcpy(cur, nxt, (size_t)n * sizeof *cur);
        if (!changed) break;
    }
    *atoms = 0;
    for (int64_t i = 0; i < n; i++) c->count[i] = cur[i], *atoms += cur[i] > 0 ? cur[i] : 0;
    free(cur), free(nxt), free(start), free(list);
    return SD_OK;
}

static int count_scs_independent(recon_columns_t *cols, const recon_count_opts_t *o, recon_count_info_t *info,
                                 nprior_t *np, sd_err_t *e);

int recon_count_scs(recon_columns_t *cols, const recon_count_opts_t *o, recon_count_info_t *info, sd_err_t *e)
{
    if (!cols || !o) return sd_err_set(e, SD_EINVAL, "count: NULL argument");
    if (!(o->neighbour_prior >= 0) || o->neighbour_prior > 100)
        return sd_err_set(e, SD_ERANGE, "count: neighbour prior scale %g atoms is not in [0, 100]", o->neighbour_prior);
    nprior_t np;
    np.m = 0;
    int rc = count_scs_independent(cols, o, info, &np, e);
    if (rc || !(o->neighbour_prior > 0) || cols->n == 0) return rc;
    int64_t atoms = 0;
    if (np.m < 2) return SD_OK;
    if (apply_neighbour_prior(cols, &np, o->neighbour_prior, &atoms)) return sd_err_set(e, SD_ENOMEM, "count: out of memory");
    if (info) info->atoms = atoms;
    return SD_OK;
}

static int count_scs_independent(recon_columns_t *cols, const recon_count_opts_t *o, recon_count_info_t *info,
                                 nprior_t *np, sd_err_t *e)
{
    int64_t n = cols->n;
    const double *lib = o->lib ? o->lib : recon_lib_pt;
    int nlib = o->lib ? o->nlib : RECON_LIB_PT_N;
    double scale = o->lib_scale > 0 ? o->lib_scale : 1.0;
    if (nlib <= 0) return sd_err_set(e, SD_EINVAL, "count: empty SCS library");
    if (info) info->k = 0, info->offset = 0, info->atoms = 0, info->kmax = 0;
    if (n == 0) return SD_OK;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(cols->scs[i])) return sd_err_set(e, SD_ERANGE, "count: SCS of column %lld is not finite", (long long)i);
    int64_t atoms = 0;
    if (o->rule == RECON_ORDER_LIBSCALE) {
        double a, sg;
        libscale_count(cols, lib, nlib, scale, info, &a, &sg);
        int cmax = 0;
        for (int64_t i = 0; i < n; i++) cmax = cols->count[i] > cmax ? cols->count[i] : cmax;
        np->m = cmax + 3 < NPRIOR_MAX ? cmax + 3 : NPRIOR_MAX;
        np->sg = sg;
        for (int j = 0; j < np->m; j++)
            np->cand[j] = j + 1, np->mean[j] = a * scale * recon_lib_scs(lib, nlib, j + 1), np->logw[j] = 0;
        return SD_OK;
    }
    if (o->rule == RECON_ORDER_LIBMATCH || n < 3) {
        for (int64_t i = 0; i < n; i++) {
            int c = nearest_lib(lib, nlib, scale, cols->scs[i]);
            double v = scale * recon_lib_scs(lib, nlib, c), lo = scale * recon_lib_scs(lib, nlib, c - 1),
                   hi = scale * recon_lib_scs(lib, nlib, c + 1);
            /* posterior among the neighbouring counts, σ = half a library step */
            double sg = 0.25 * (hi - lo), l0 = 0, l1, l2;
            if (!(sg > 0)) sg = v > 0 ? 0.5 * v : 1;
            l1 = exp(-0.5 * (cols->scs[i] - v) * (cols->scs[i] - v) / (sg * sg));
            if (c > 1) l0 = exp(-0.5 * (cols->scs[i] - lo) * (cols->scs[i] - lo) / (sg * sg));
            l2 = exp(-0.5 * (cols->scs[i] - hi) * (cols->scs[i] - hi) / (sg * sg));
            cols->count[i] = c;
            cols->prob[i] = l1 / (l0 + l1 + l2);
            atoms += c;
        }
        if (info) info->atoms = atoms;
        return SD_OK;
    }
    recon_gmm_t g;
    int map[RECON_GMM_KMAX];
    int rc = choose_order(cols->scs, n, o, lib, nlib, scale, &g, map, info, e);
    if (rc) return rc;
    double tau[RECON_GMM_KMAX];
    for (int64_t i = 0; i < n; i++) {
        posterior(&g, cols->scs[i], tau);
        int jb = 0;
        for (int j = 1; j < g.k; j++)
            if (tau[j] > tau[jb]) jb = j;
        cols->count[i] = map[jb];
        cols->prob[i] = tau[jb];
        atoms += cols->count[i];
    }
    if (info) info->k = g.k, info->offset = map[0], info->atoms = atoms;
    np->m = g.k, np->sg = g.sigma > 0 ? g.sigma : 1e-12;
    for (int j = 0; j < g.k; j++) np->cand[j] = map[j], np->mean[j] = g.mu[j], np->logw[j] = g.w[j] > 0 ? log(g.w[j]) : -1e300;
    return SD_OK;
}

/* CPU time of the calling thread: the pipeline is single-threaded, and on a
 * shared machine CPU time is the repeatable measure of its cost. */
static double now_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)) return (double)sd_clock_mono_ns() * 1e-9;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Keeps the columns with keep[i] != 0, in order; returns the new count. */
static int64_t compact(recon_columns_t *c, const unsigned char *keep)
{
    int64_t m = 0;
    for (int64_t i = 0; i < c->n; i++) {
        if (!keep[i]) continue;
        c->x[m] = c->x[i], c->y[m] = c->y[i], c->eta[m] = c->eta[i], c->rho[m] = c->rho[i];
        c->scs[m] = c->scs[i], c->count[m] = c->count[i], c->prob[m] = c->prob[i];
        m++;
    }
    c->n = m;
    return m;
}

/* Completion after the fit: at every empty lattice site next to a column,
 * the least-squares height of one more column in the residual image (searched
 * over ±0.35 of the lattice vector around the site), kept when it holds at
 * least one atom's library SCS (scs_min).  Light columns beside heavy ones (a
 * shoulder, no maximum of their own) show up here.  Appends
 * accepted positions to *xy (realloc'ed); returns how many were added. */
static int64_t residual_complete(const double *img, int64_t h, int64_t w, double dx, double rho, double zeta,
                                 double **xyp, int64_t n, const double *eta, const recon_detect_info_t *det,
                                 double scs_min, int *err)
{
    if (det->nvec <= 0 || det->lattice_nn <= 0 || n == 0) return 0;
    double *xy = *xyp;
    double *model = malloc((size_t)(h * w) * sizeof *model);
    if (!model) return *err = SD_ENOMEM, 0;
    recon_fit_render(xy, eta, n, rho, zeta, dx, h, w, model);
    for (int64_t i = 0; i < h * w; i++) model[i] = img[i] - model[i]; /* residual */
    double r = rho / dx, a = 1.0 / (2 * r * r);
    int64_t half = (int64_t)ceil(3 * r);
    double nn = det->lattice_nn, occ = 0.7 * nn, step = fmax(dx, 0.05 * nn);
    int64_t added = 0, cap = n;
    double *add = NULL;
    for (int64_t c = 0; c < n && !*err; c++)
        for (int q = 0; q < det->nvec; q++) {
            double sx = xy[2 * c] + det->vec[q][0], sy = xy[2 * c + 1] + det->vec[q][1];
            int occupied = 0;
            for (int64_t d = 0; d < n && !occupied; d++)
                occupied = hypot(xy[2 * d] - sx, xy[2 * d + 1] - sy) < occ;
            for (int64_t d = 0; d < added && !occupied; d++)
                occupied = hypot(add[2 * d] - sx, add[2 * d + 1] - sy) < occ;
            if (occupied) continue;
            double best = -INFINITY, bx = 0, by = 0;
            int edge = 0;
            int ns = (int)ceil(0.35 * nn / step);
            for (int iy = -ns; iy <= ns; iy++)
                for (int ix = -ns; ix <= ns; ix++) {
                    double px = sx + ix * step, py = sy + iy * step;
                    double X = px / dx, Y = py / dx;
                    int64_t ic = (int64_t)llround(X), jc = (int64_t)llround(Y);
                    if (ic - half < 0 || jc - half < 0 || ic + half >= w || jc + half >= h) continue;
                    double gxv[256], gyv[256], num = 0, sx2 = 0, sy2 = 0;
                    int64_t m = 2 * half + 1;
                    if (m > 256) continue;
                    for (int64_t k = 0; k < m; k++) {
                        double ddx = (double)(ic - half + k) - X, ddy = (double)(jc - half + k) - Y;
                        gxv[k] = exp(-ddx * ddx * a), gyv[k] = exp(-ddy * ddy * a);
                        sx2 += gxv[k] * gxv[k], sy2 += gyv[k] * gyv[k];
                    }
                    for (int64_t k = 0; k < m; k++) {
                        const double *row = model + (jc - half + k) * w + (ic - half);
                        double t = 0;
                        for (int64_t i = 0; i < m; i++) t += gxv[i] * row[i];
                        num += gyv[k] * t;
                    }
                    double den = sx2 * sy2;
                    double hgt = den > 0 ? num / den : 0;
                    if (hgt > best) best = hgt, bx = px, by = py, edge = abs(ix) == ns || abs(iy) == ns;
                }
            if (edge || !(2 * M_PI * rho * rho * best > scs_min)) continue;
            int near = 0;
            for (int64_t d = 0; d < n && !near; d++) near = hypot(xy[2 * d] - bx, xy[2 * d + 1] - by) < occ;
            for (int64_t d = 0; d < added && !near; d++) near = hypot(add[2 * d] - bx, add[2 * d + 1] - by) < occ;
            if (near) continue;
            if (!add || added == cap) {
                cap = cap > 16 ? 2 * cap : 32;
                double *t = realloc(add, (size_t)cap * 2 * sizeof *t);
                if (!t) {
                    *err = SD_ENOMEM;
                    break;
                }
                add = t;
            }
            add[2 * added] = bx, add[2 * added + 1] = by;
            added++;
        }
    free(model);
    if (added && !*err) {
        double *t = realloc(xy, (size_t)(n + added) * 2 * sizeof *t);
        if (!t) *err = SD_ENOMEM;
        else {
            memcpy(t + 2 * n, add, (size_t)added * 2 * sizeof *t);
            *xyp = t;
        }
    }
    free(add);
    return *err ? 0 : added;
}

int recon_count_image(const double *img, int64_t h, int64_t w, double dx, const recon_count_opts_t *o,
                      recon_columns_t *out, recon_count_info_t *info, sd_err_t *e)
{
    if (!img || !o || !out) return sd_err_set(e, SD_EINVAL, "count: NULL argument");
    memset(out, 0, sizeof *out);
    recon_count_info_t dummy;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    double t0 = now_s();
    double *xy = NULL;
    int64_t n = 0;
    int rc = recon_detect_columns(img, h, w, dx, &xy, &n, &info->det, e);
    if (rc) return rc;
    double t1 = now_s();
    info->t_detect = t1 - t0;
    rc = recon_columns_alloc(out, n, e);
    unsigned char *keep = malloc((size_t)(n > 0 ? n : 1));
    if (rc || !keep) {
        free(xy), free(keep), recon_columns_free(out);
        return rc ? rc : sd_err_set(e, SD_ENOMEM, "count: out of memory");
    }
    out->dx = dx;
    double rho = 0, zeta = 0;
    const double *lib = o->lib ? o->lib : recon_lib_pt;
    double scale = o->lib_scale > 0 ? o->lib_scale : 1.0;
    double scs_min = 0.5 * scale * lib[0];
    /* Fit; drop maxima that fitted to less than half an atom or onto a
     * neighbour (closer than half the lattice spacing), and fit again. */
    /* refits start from the converged width: one width search, three sweeps */
    recon_fit_opts_t refit = o->fit;
    refit.outer_iters = 1;
    refit.max_sweeps = 3;
    for (int pass = 0; pass < 2 && n > 0; pass++) {
        rc = recon_fit_gaussians(img, h, w, dx, pass ? &refit : &o->fit, xy, n, out->eta, &rho, &zeta, e);
        if (rc) break;
        refit.rho0 = rho;
        if (pass == 0 && !o->no_residual_completion) {
            int err = 0;
            int64_t add = residual_complete(img, h, w, dx, rho, zeta, &xy, n, out->eta, &info->det, scale * lib[0], &err);
            if (err) {
                rc = sd_err_set(e, SD_ENOMEM, "count: out of memory");
                break;
            }
            if (add > 0) {
                recon_columns_t grown;
                rc = recon_columns_alloc(&grown, n + add, e);
                unsigned char *k2 = malloc((size_t)(n + add));
                if (rc || !k2) {
                    free(k2);
                    rc = rc ? rc : sd_err_set(e, SD_ENOMEM, "count: out of memory");
                    break;
                }
                recon_columns_free(out);
                *out = grown;
                out->dx = dx;
                free(keep);
                keep = k2;
                n += add;
                info->det.n_added += add;
                rc = recon_fit_gaussians(img, h, w, dx, &refit, xy, n, out->eta, &rho, &zeta, e);
                if (rc) break;
            }
        }
        int64_t m = 0;
        double close2 = 0.25 * info->det.spacing * info->det.spacing;
        for (int64_t c = 0; c < n; c++) {
            double scs = 2 * M_PI * out->eta[c] * rho * rho;
            keep[c] = scs >= scs_min;
            for (int64_t d = 0; d < c && keep[c]; d++) {
                double ddx = xy[2 * c] - xy[2 * d], ddy = xy[2 * c + 1] - xy[2 * d + 1];
                if (keep[d] && ddx * ddx + ddy * ddy < close2) {
                    if (out->eta[d] >= out->eta[c]) keep[c] = 0;
                    else keep[d] = 0;
                }
            }
        }
        for (int64_t c = 0; c < n; c++)
            if (keep[c]) {
                xy[2 * m] = xy[2 * c], xy[2 * m + 1] = xy[2 * c + 1], out->eta[m] = out->eta[c];
                m++;
            }
        info->det.n_pruned += n - m;
        int changed = m != n;
        n = m;
        if (!changed) break;
        if (pass == 1 && n > 0) rc = recon_fit_gaussians(img, h, w, dx, &refit, xy, n, out->eta, &rho, &zeta, e);
    }
    double t2 = now_s();
    info->t_fit = t2 - t1;
    if (rc) {
        free(xy), free(keep);
        recon_columns_free(out);
        return rc;
    }
    out->n = n;
    info->zeta = zeta;
    for (int64_t c = 0; c < n; c++) {
        out->x[c] = xy[2 * c];
        out->y[c] = xy[2 * c + 1];
        out->rho[c] = rho;
        out->scs[c] = 2 * M_PI * out->eta[c] * rho * rho;
    }
    free(xy);
    rc = recon_count_scs(out, o, info, e);
    if (!rc) { /* a component read as zero atoms is noise, not columns */
        for (int64_t c = 0; c < out->n; c++) keep[c] = out->count[c] > 0;
        compact(out, keep);
    }
    free(keep);
    info->t_count = now_s() - t2;
    if (rc) recon_columns_free(out);
    return rc;
}

/* ---- series: per-column forward filter over frames ---- */
#define SERIES_NC 96 /* counts 0..SERIES_NC-1 */
struct recon_series {
    double p_stay;
    int64_t n;
    double *x, *y;
    double *post; /* [n][SERIES_NC] */
};

recon_series_t *recon_series_new(double p_stay)
{
    if (!(p_stay > 0 && p_stay <= 1)) return NULL;
    recon_series_t *s = calloc(1, sizeof *s);
    if (s) s->p_stay = p_stay;
    return s;
}

void recon_series_destroy(recon_series_t **s)
{
    if (!s || !*s) return;
    free((*s)->x), free((*s)->y), free((*s)->post);
    free(*s);
    *s = NULL;
}

int recon_series_count(recon_series_t *s, recon_columns_t *cols, const recon_count_opts_t *o, double match_dist,
                       recon_count_info_t *info, sd_err_t *e)
{
    if (!s || !cols || !o) return sd_err_set(e, SD_EINVAL, "series: NULL argument");
    int rc = recon_count_scs(cols, o, info, e);
    if (rc || cols->n == 0 || o->rule == RECON_ORDER_LIBMATCH || o->rule == RECON_ORDER_LIBSCALE || cols->n < 3)
        return rc;
    /* Re-derive the mixture used for this frame and its count ↔ mean map. */
    const double *lib = o->lib ? o->lib : recon_lib_pt;
    int nlib = o->lib ? o->nlib : RECON_LIB_PT_N;
    double scale = o->lib_scale > 0 ? o->lib_scale : 1.0;
    int64_t n = cols->n;
    recon_gmm_t g;
    int map[RECON_GMM_KMAX];
    recon_count_opts_t fo = *o;
    fo.rule = RECON_ORDER_FIXED;
    fo.fixed_k = info ? info->k : 0;
    if (fo.fixed_k <= 0) {
        int kmax = 0;
        for (int64_t i = 0; i < n; i++) kmax = cols->count[i] > kmax ? cols->count[i] : kmax;
        fo.fixed_k = kmax;
    }
    rc = choose_order(cols->scs, n, &fo, lib, nlib, scale, &g, map, NULL, e);
    if (rc) return rc;
    double mean[SERIES_NC], prior0[SERIES_NC];
    double off = 0;
    for (int j = 0; j < g.k; j++) off += g.w[j] * (g.mu[j] - scale * recon_lib_scs(lib, nlib, map[j]));
    for (int c = 0; c < SERIES_NC; c++) {
        mean[c] = scale * recon_lib_scs(lib, nlib, c) + off;
        prior0[c] = 1e-6;
    }
    for (int j = 0; j < g.k; j++)
        if (map[j] < SERIES_NC) prior0[map[j]] += g.w[j];
    double *post = malloc((size_t)n * SERIES_NC * sizeof *post);
    double *nx = malloc((size_t)n * sizeof *nx), *ny = malloc((size_t)n * sizeof *ny);
    if (!post || !nx || !ny) {
        free(post), free(nx), free(ny);
        return sd_err_set(e, SD_ENOMEM, "series: out of memory");
    }
    double a = 1.0 / (2 * g.sigma * g.sigma), ps = s->p_stay, pm = 0.5 * (1 - s->p_stay);
    int64_t atoms = 0;
    for (int64_t i = 0; i < n; i++) {
        const double *prev = NULL;
        double bd = match_dist * match_dist;
        for (int64_t q = 0; q < s->n; q++) {
            double ddx = s->x[q] - cols->x[i], ddy = s->y[q] - cols->y[i], d2 = ddx * ddx + ddy * ddy;
            if (d2 < bd) bd = d2, prev = s->post + q * SERIES_NC;
        }
        double *p = post + i * SERIES_NC, mx = -INFINITY;
        for (int c = 1; c < SERIES_NC; c++) {
            double pr;
            if (prev) pr = ps * prev[c] + pm * (prev[c - 1] + (c + 1 < SERIES_NC ? prev[c + 1] : 0));
            else pr = prior0[c];
            double d = cols->scs[i] - mean[c];
            p[c] = (pr > 0 ? log(pr) : -INFINITY) - d * d * a;
            if (p[c] > mx) mx = p[c];
        }
        p[0] = 0;
        double sum = 0;
        for (int c = 1; c < SERIES_NC; c++) sum += (p[c] = isfinite(mx) ? exp(p[c] - mx) : 0);
        int cb = 1;
        for (int c = 1; c < SERIES_NC; c++) {
            p[c] = sum > 0 ? p[c] / sum : 0;
            if (p[c] > p[cb]) cb = c;
        }
        cols->count[i] = cb;
        cols->prob[i] = p[cb];
        atoms += cb;
        nx[i] = cols->x[i], ny[i] = cols->y[i];
    }
    free(s->post), free(s->x), free(s->y);
    s->post = post, s->x = nx, s->y = ny, s->n = n;
    if (info) info->atoms = atoms;
    return SD_OK;
}
