/* soap — DScribe 2.1.1 SOAP power spectrum (GTO basis, one species, open
 * boundaries), reorganised for speed without changing a single term:
 *
 *   I_nl(r) Y_lm(r̂) = Σ_k β_l[n][k] · C_lk exp(-b_lk r²) · [r^l Y_lm(r̂)]
 *
 * so per centre we accumulate d[l][m][k] = Σ_j G_lk(j) R_lm(j) with G the
 * primitive Gaussians and R the real solid harmonics (polynomials: no division
 * by r, exact at r = 0), as a small GEMM whose (2l+1) accumulators of 8
 * k-values stay in registers; then c = β d and p = pref_l c_l^T c_l per
 * centre.  float64 throughout.  G(s = r²) comes from a table at spacing h
 * times a degree-6 Taylor factor exp(-b δ), |b δ| <= 0.034 (relative error
 * < 1.1e-14; exact exp per pair when the table would be too large).
 * Neighbours: cell list of cell size = the neighbour cutoff, gathered with
 * AVX-512 compress stores. */
#include "soap.h"

/* -std=c11 turns GCC's FMA contraction off; the kernels are written as a*b + c
 * on vectors and want fused multiply-adds (more accurate as well as faster). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast", "no-tree-loop-distribute-patterns")
#endif

#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define SOAP_HAVE_AVX512 1
#endif

#define KV 8 /* k-values per vector block */
#define RAD_DEG 6 /* Taylor degree of exp(-b δ) around a table point */
#define RAD_BDELTA 0.034 /* max |b δ|: truncation (0.034)^7/7! < 1.1e-14 relative */
#define RAD_TABLE_MAX (1 << 22) /* doubles; beyond, exp per pair */
#define SOAP_MAX_NL 20
#define SOAP_MIN_SEP 1e-6 /* Å: closer atoms are "at identical positions" */

typedef double v8d __attribute__((vector_size(64)));

struct soap {
    soap_params_t p;
    int L1;      /* l_max + 1 */
    int nlm;     /* (l_max+1)^2 */
    int nb_k;    /* k-blocks of KV */
    int kpad;    /* nb_k * KV */
    int glen;    /* L1 * kpad: doubles of G per neighbour */
    double rc;   /* neighbour cutoff */
    double *alpha; /* [L1][n_max] */
    double *beta;  /* [L1][n_max][n_max] */
    double *gb;    /* [L1][kpad] -b_lk (0 in padding) */
    double *gc;    /* [L1][kpad] C_lk (0 in padding) */
    double *betat; /* [L1][kpad][kpad]: betat[l][k][n] = beta[l][n][k], zero padded */
    double *pref;  /* [L1] */
    double *ylm_a, *ylm_b; /* recurrence constants [nlm] */
    double *ylm_norm;      /* [nlm] */
    /* workspace */
    int64_t cap;   /* neighbour capacity (multiple of 8) */
    double *x, *y, *z, *s; /* [cap] */
    double *R;     /* [nlm][nbp] solid harmonics (nbp = nb rounded up to 8) */
    double *G;     /* [L1][nbp][kpad] primitive radial Gaussians */
    /* G by table: C_lk exp(-b_lk s) = E[g][lk] · Σ_q cq[q][lk] δ^q, s = g·h + δ, |δ| <= h/2 */
    int64_t ngrid;
    double h, inv_h;
    double *E;     /* [ngrid][glen] or NULL (then exp per pair) */
    double *cq;    /* [RAD_DEG+1][glen] (-b)^q / q! */
    double *d;     /* [nlm][kpad] */
    double *c;     /* [nlm][kpad] */
    /* cell list */
    int64_t ncap;  /* atoms capacity */
    int64_t *cell_of, *order; /* [ncap] */
    double *sx, *sy, *sz;     /* [ncap] sorted positions */
    int64_t ccap;  /* cells capacity */
    int64_t *cstart; /* [ccap+1] */
};

static void *amalloc(size_t bytes)
{
    size_t b = (bytes + 63) & ~(size_t)63;
    if (b == 0) b = 64;
    void *p = aligned_alloc(64, b);
    if (p) memset(p, 0, b);
    return p;
}

static int grow_neigh(soap_t *s, int64_t need)
{
    if (need <= s->cap) return 0;
    int64_t cap = s->cap ? s->cap : 128;
    while (cap < need) cap *= 2;
    free(s->x); free(s->y); free(s->z); free(s->s); free(s->R); free(s->G);
    s->x = amalloc(sizeof(double) * cap);
    s->y = amalloc(sizeof(double) * cap);
    s->z = amalloc(sizeof(double) * cap);
    s->s = amalloc(sizeof(double) * cap);
    s->R = amalloc(sizeof(double) * cap * s->nlm);
    s->G = amalloc(sizeof(double) * cap * s->glen);
    s->cap = cap;
    if (!s->x || !s->y || !s->z || !s->s || !s->R || !s->G) {
        s->cap = 0;
        return -1;
    }
    return 0;
}

const soap_params_t *soap_get_params(const soap_t *s) { return &s->p; }
double soap_neighbour_cutoff(const soap_t *s) { return s->rc; }
const double *soap_alphas(const soap_t *s) { return s->alpha; }
const double *soap_betas(const soap_t *s) { return s->beta; }

int soap_n_features(const soap_t *s, soap_layout_t layout)
{
    int n = s->p.n_max;
    return s->L1 * (layout == SOAP_LAYOUT_FULL ? n * n : n * (n + 1) / 2);
}

void soap_destroy(soap_t **ps)
{
    if (!ps || !*ps) return;
    soap_t *s = *ps;
    free(s->alpha); free(s->beta); free(s->gb); free(s->gc); free(s->betat); free(s->pref);
    free(s->ylm_a); free(s->ylm_b); free(s->ylm_norm);
    free(s->x); free(s->y); free(s->z); free(s->s); free(s->R); free(s->G);
    free(s->E); free(s->cq); free(s->d); free(s->c);
    free(s->cell_of); free(s->order); free(s->sx); free(s->sy); free(s->sz); free(s->cstart);
    free(s);
    *ps = NULL;
}

/* β_l = S_l^{-1/2} by the symmetric eigendecomposition (DScribe uses scipy
 * sqrtm(inv(S)); the two agree to ~1e-10 relative in the spectra). */
static int make_basis(soap_t *s, sd_err_t *e)
{
    const int N = s->p.n_max;
    double a[SOAP_MAX_NL];
    for (int k = 0; k < N; k++)
        a[k] = N == 1 ? 1.0 : 1.0 + k * (s->p.r_cut - 1.0) / (N - 1);
    double S[SOAP_MAX_NL * SOAP_MAX_NL], w[SOAP_MAX_NL];
    for (int l = 0; l < s->L1; l++) {
        double *al = s->alpha + l * N;
        for (int k = 0; k < N; k++) al[k] = (log(1000.0) + l * log(a[k])) / (a[k] * a[k]);
        const double g = 0.5 * tgamma(l + 1.5);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) S[i * N + j] = g * pow(al[i] + al[j], -(l + 1.5));
        lapack_int info = LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', N, S, N, w);
        if (info != 0)
            return sd_err_set(e, SD_ERANGE, "soap: eigen-decomposition of the l=%d GTO overlap failed (%d)",
                              l, (int)info);
        if (!(w[0] > 16 * DBL_EPSILON * w[N - 1]))
            return sd_err_set(e, SD_ERANGE,
                              "soap: GTO basis ill-conditioned at l=%d (n_max=%d, r_cut=%g): smallest "
                              "overlap eigenvalue %.3g", l, N, s->p.r_cut, w[0]);
        double *b = s->beta + (size_t)l * N * N;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                double acc = 0;
                for (int q = 0; q < N; q++) acc += S[i * N + q] * S[j * N + q] / sqrt(w[q]);
                b[i * N + j] = acc;
            }
    }
    return SD_OK;
}

/* Real solid harmonics r^l Y_lm via Π_l^m(z, r²) · {Re, Im}(x+iy)^m:
 * Π_m^m = (2m-1)!!, Π_{m+1}^m = (2m+1) z Π_m^m,
 * Π_l^m = ((2l-1) z Π_{l-1}^m - (l+m-1) r² Π_{l-2}^m)/(l-m).
 * Index lm = l² + l + m for m in -l..l (sin for m < 0, cos for m > 0). */
static int make_ylm(soap_t *s)
{
    s->ylm_a = calloc((size_t)s->nlm, sizeof(double));
    s->ylm_b = calloc((size_t)s->nlm, sizeof(double));
    s->ylm_norm = calloc((size_t)s->nlm, sizeof(double));
    if (!s->ylm_a || !s->ylm_b || !s->ylm_norm) return -1;
    for (int l = 0; l < s->L1; l++)
        for (int m = 0; m <= l; m++) {
            /* N_lm = sqrt((2l+1)/(4π) (l-m)!/(l+m)!) (·√2 for m > 0) */
            double f = 1.0;
            for (int q = l - m + 1; q <= l + m; q++) f *= q;
            double nrm = sqrt((2.0 * l + 1) / (4.0 * M_PI) / f);
            if (m > 0) nrm *= sqrt(2.0);
            s->ylm_norm[l * l + l + m] = nrm;
            s->ylm_norm[l * l + l - m] = nrm;
        }
    /* recurrences for the normalised N_lm Π_l^m (index lm = l² + l + m, m >= 0):
     * l = m: the constant N_mm (2m-1)!! in ylm_a; l = m+1: factor of z in ylm_a;
     * l >= m+2: N_lm Π_l^m = ylm_a z (N Π)_{l-1} - ylm_b r² (N Π)_{l-2}. */
    double dfact = 1.0;
    for (int m = 0; m < s->L1; m++) {
        if (m > 0) dfact *= (2.0 * m - 1);
        s->ylm_a[m * m + 2 * m] = s->ylm_norm[m * m + 2 * m] * dfact;
        for (int l = m + 1; l < s->L1; l++) {
            const int i = l * l + l + m, i1 = (l - 1) * (l - 1) + (l - 1) + m;
            if (l == m + 1) {
                s->ylm_a[i] = (2.0 * m + 1) * s->ylm_norm[i] / s->ylm_norm[i1];
            } else {
                const int i2 = (l - 2) * (l - 2) + (l - 2) + m;
                s->ylm_a[i] = (2.0 * l - 1) / (l - m) * s->ylm_norm[i] / s->ylm_norm[i1];
                s->ylm_b[i] = (double)(l + m - 1) / (l - m) * s->ylm_norm[i] / s->ylm_norm[i2];
            }
        }
    }
    return 0;
}

soap_t *soap_new(const soap_params_t *p, sd_err_t *e)
{
    if (!p) { sd_err_set(e, SD_EINVAL, "soap: no parameters"); return NULL; }
    if (!(p->r_cut > 1.0) || !isfinite(p->r_cut) || p->r_cut > 1000) {
        sd_err_set(e, SD_ERANGE, "soap: r_cut must be in (1, 1000] Å (got %g)", p->r_cut);
        return NULL;
    }
    if (!(p->sigma > 0) || !isfinite(p->sigma) || p->sigma > 100) {
        sd_err_set(e, SD_ERANGE, "soap: sigma must be in (0, 100] Å (got %g)", p->sigma);
        return NULL;
    }
    if (p->n_max < 1 || p->n_max > SOAP_MAX_NL || p->l_max < 0 || p->l_max > SOAP_MAX_NL) {
        sd_err_set(e, SD_ERANGE, "soap: need 1 <= n_max <= %d and 0 <= l_max <= %d (got %d, %d)",
                   SOAP_MAX_NL, SOAP_MAX_NL, p->n_max, p->l_max);
        return NULL;
    }
    soap_t *s = calloc(1, sizeof *s);
    if (!s) { sd_err_set(e, SD_ENOMEM, "soap: out of memory"); return NULL; }
    s->p = *p;
    s->L1 = p->l_max + 1;
    s->nlm = s->L1 * s->L1;
    s->nb_k = (p->n_max + KV - 1) / KV;
    s->kpad = s->nb_k * KV;
    s->glen = s->L1 * s->kpad;
    s->rc = p->r_cut + p->sigma * sqrt(-2.0 * log(1e-3));
    const int N = p->n_max;
    s->alpha = calloc((size_t)s->L1 * N, sizeof(double));
    s->beta = calloc((size_t)s->L1 * N * N, sizeof(double));
    s->gb = amalloc(sizeof(double) * s->glen);
    s->gc = amalloc(sizeof(double) * s->glen);
    s->betat = amalloc(sizeof(double) * s->L1 * s->kpad * s->kpad);
    s->pref = calloc((size_t)s->L1, sizeof(double));
    s->d = amalloc(sizeof(double) * s->nlm * s->kpad);
    s->c = amalloc(sizeof(double) * s->nlm * s->kpad);
    if (!s->alpha || !s->beta || !s->gb || !s->gc || !s->betat || !s->pref || !s->d || !s->c ||
        make_ylm(s)) {
        sd_err_set(e, SD_ENOMEM, "soap: out of memory");
        soap_destroy(&s);
        return NULL;
    }
    if (make_basis(s, e)) { soap_destroy(&s); return NULL; }
    const double eta = 1.0 / (2.0 * p->sigma * p->sigma);
    for (int l = 0; l < s->L1; l++) {
        for (int k = 0; k < N; k++) {
            double al = s->alpha[l * N + k];
            s->gb[l * s->kpad + k] = -al * eta / (al + eta);
            s->gc[l * s->kpad + k] = pow(M_PI, 1.5) * pow(eta, l) * pow(al + eta, -(l + 1.5));
        }
        for (int n = 0; n < N; n++)
            for (int k = 0; k < N; k++)
                s->betat[((size_t)l * s->kpad + k) * s->kpad + n] = s->beta[((size_t)l * N + n) * N + k];
        s->pref[l] = M_PI * sqrt(8.0 / (2.0 * l + 1));
    }
    /* radial table over s = r² in [0, rc²] */
    double bmax = 0;
    for (int q = 0; q < s->glen; q++) bmax = fmax(bmax, -s->gb[q]);
    const double smax = s->rc * s->rc * (1 + 1e-12);
    s->h = 2.0 * RAD_BDELTA / bmax;
    s->ngrid = (int64_t)ceil(smax / s->h) + 2;
    if ((double)s->ngrid * s->glen <= RAD_TABLE_MAX) {
        s->inv_h = 1.0 / s->h;
        s->E = amalloc(sizeof(double) * s->ngrid * s->glen);
        s->cq = amalloc(sizeof(double) * (RAD_DEG + 1) * s->glen);
        if (!s->E || !s->cq) {
            sd_err_set(e, SD_ENOMEM, "soap: out of memory for the radial table");
            soap_destroy(&s);
            return NULL;
        }
        for (int64_t g = 0; g < s->ngrid; g++)
            for (int q = 0; q < s->glen; q++) s->E[g * s->glen + q] = s->gc[q] * exp(s->gb[q] * (g * s->h));
        for (int q = 0; q < s->glen; q++) {
            double c = 1.0;
            for (int k = 0; k <= RAD_DEG; k++) {
                s->cq[k * s->glen + q] = c;
                c *= s->gb[q] / (k + 1);
            }
        }
    }
    return s;
}

void soap_radial_integrals(const soap_t *s, double r, double *out)
{
    const int N = s->p.n_max;
    for (int l = 0; l < s->L1; l++)
        for (int n = 0; n < N; n++) {
            double acc = 0;
            for (int k = 0; k < N; k++)
                acc += s->beta[((size_t)l * N + n) * N + k] * s->gc[l * s->kpad + k] *
                       exp(s->gb[l * s->kpad + k] * r * r);
            out[l * N + n] = acc * (l ? pow(r, l) : 1.0);
        }
}

void soap_tri_to_full(int n_max, int l_max, int64_t nrows, const double *tri, double *full)
{
    const int N = n_max, T = N * (N + 1) / 2, L1 = l_max + 1;
    for (int64_t r = 0; r < nrows; r++) {
        const double *a = tri + r * (int64_t)L1 * T;
        double *b = full + r * (int64_t)L1 * N * N;
        for (int l = 0; l < L1; l++) {
            int t = 0;
            for (int n = 0; n < N; n++)
                for (int q = n; q < N; q++, t++) {
                    b[l * N * N + n * N + q] = a[l * T + t];
                    b[l * N * N + q * N + n] = a[l * T + t];
                }
        }
    }
}

/* ---- per-frame cell list ---- */
static int build_cells(soap_t *s, int64_t n, const double *pos, int dims[3], double lo[3],
                       double *edge_out, sd_err_t *e)
{
    double hi[3];
    for (int k = 0; k < 3; k++) lo[k] = hi[k] = pos[k];
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) {
            double v = pos[3 * i + k];
            if (!isfinite(v))
                return sd_err_set(e, SD_ERANGE, "soap: atom %lld has a non-finite coordinate",
                                  (long long)i);
            if (v < lo[k]) lo[k] = v;
            if (v > hi[k]) hi[k] = v;
        }
    for (int k = 0; k < 3; k++)
        if (!(hi[k] - lo[k] <= 1e9))
            return sd_err_set(e, SD_ERANGE, "soap: the atoms span %.3g Å along %c (more than 1e9 Å)",
                              hi[k] - lo[k], "xyz"[k]);
    /* Cells of edge >= rc; coarsen when the box is sparse so memory stays O(n). */
    double edge = s->rc;
    int64_t total;
    for (;;) {
        total = 1;
        for (int k = 0; k < 3; k++) {
            double ext = hi[k] - lo[k];
            double nd = floor(ext / edge) + 1;
            if (nd > 1e6) nd = 1e6;
            dims[k] = (int)nd;
            total *= dims[k];
        }
        if (total <= 8 * n + 64) break;
        edge *= 2;
    }
    if (n > s->ncap) {
        free(s->cell_of); free(s->order); free(s->sx); free(s->sy); free(s->sz);
        s->cell_of = malloc(sizeof(int64_t) * n);
        s->order = malloc(sizeof(int64_t) * n);
        s->sx = malloc(sizeof(double) * n);
        s->sy = malloc(sizeof(double) * n);
        s->sz = malloc(sizeof(double) * n);
        s->ncap = n;
        if (!s->cell_of || !s->order || !s->sx || !s->sy || !s->sz) {
            s->ncap = 0;
            return sd_err_set(e, SD_ENOMEM, "soap: out of memory for %lld atoms", (long long)n);
        }
    }
    if (total + 1 > s->ccap) {
        free(s->cstart);
        s->cstart = malloc(sizeof(int64_t) * (total + 1));
        s->ccap = total + 1;
        if (!s->cstart) {
            s->ccap = 0;
            return sd_err_set(e, SD_ENOMEM, "soap: out of memory for the cell list");
        }
    }
    memset(s->cstart, 0, sizeof(int64_t) * (total + 1));
    for (int64_t i = 0; i < n; i++) {
        int64_t c = 0;
        for (int k = 0; k < 3; k++) {
            int q = (int)((pos[3 * i + k] - lo[k]) / edge);
            if (q >= dims[k]) q = dims[k] - 1;
            if (q < 0) q = 0;
            c = c * dims[k] + q;
        }
        s->cell_of[i] = c;
        s->cstart[c + 1]++;
    }
    for (int64_t c = 0; c < total; c++) s->cstart[c + 1] += s->cstart[c];
    /* stable fill: within a cell atoms keep their input order */
    for (int64_t i = 0; i < n; i++) {
        int64_t slot = s->cstart[s->cell_of[i]]++;
        s->order[slot] = i;
    }
    for (int64_t c = total; c > 0; c--) s->cstart[c] = s->cstart[c - 1];
    s->cstart[0] = 0;
    for (int64_t q = 0; q < n; q++) {
        int64_t i = s->order[q];
        s->sx[q] = pos[3 * i];
        s->sy[q] = pos[3 * i + 1];
        s->sz[q] = pos[3 * i + 2];
    }
    *edge_out = edge;
    return SD_OK;
}

/* ---- kernels ---- */

#if defined(SOAP_HAVE_AVX512)
/* exp(x) for x <= 0, inlined so the 9 vectors of a neighbour overlap:
 * x = n ln2 + r, |r| <= ln2/2, degree-11 Taylor (truncation < 1e-14
 * relative), 2^n by vscalefpd (underflows to 0 cleanly). */
static inline __attribute__((always_inline)) __m512d exp8(__m512d x)
{
    const __m512d lo = _mm512_set1_pd(-745.0);
    x = _mm512_max_pd(x, lo);
    __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(1.4426950408889634)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(6.93147180369123816490e-01), x);
    r = _mm512_fnmadd_pd(n, _mm512_set1_pd(1.90821492927058770002e-10), r);
    __m512d p = _mm512_set1_pd(1.0 / 39916800.0);
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 3628800.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 362880.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 40320.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 5040.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 720.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 120.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 24.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 6.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(0.5));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
    return _mm512_scalef_pd(p, n);
}
#endif

static inline int64_t round8(int64_t n) { return (n + 7) & ~(int64_t)7; }

/* G[l][j][k] = C_lk exp(-b_lk s_j) for the nb neighbours. */
static void radial_block(const soap_t *s, int64_t nb)
{
    const int glen = s->glen, kpad = s->kpad, L1 = s->L1;
    const int64_t nbp = round8(nb), lstride = nbp * kpad;
    if (s->E) {
        /* two neighbours at a time share the coefficient loads */
        const double *c = s->cq;
        for (int64_t j = 0; j < nb; j += 2) {
            const int64_t j2 = j + 1 < nb ? j + 1 : j;
            const double sa = s->s[j], sb = s->s[j2];
            int64_t ga = (int64_t)(sa * s->inv_h + 0.5), gb = (int64_t)(sb * s->inv_h + 0.5);
            if (ga > s->ngrid - 1) ga = s->ngrid - 1;
            if (gb > s->ngrid - 1) gb = s->ngrid - 1;
            const double a1 = sa - ga * s->h, a2 = a1 * a1, a3 = a2 * a1, a4 = a2 * a2, a5 = a4 * a1, a6 = a3 * a3;
            const double b1 = sb - gb * s->h, b2 = b1 * b1, b3 = b2 * b1, b4 = b2 * b2, b5 = b4 * b1, b6 = b3 * b3;
            const double *ra = s->E + ga * glen, *rb = s->E + gb * glen;
            double *oa = s->G + j * kpad, *ob = s->G + j2 * kpad;
            if (j + 3 < nb) {
                int64_t gn = (int64_t)(s->s[j + 2] * s->inv_h + 0.5), gm = (int64_t)(s->s[j + 3] * s->inv_h + 0.5);
                if (gn > s->ngrid - 1) gn = s->ngrid - 1;
                if (gm > s->ngrid - 1) gm = s->ngrid - 1;
                for (int q = 0; q < glen; q += KV) {
                    __builtin_prefetch(s->E + gn * glen + q);
                    __builtin_prefetch(s->E + gm * glen + q);
                }
            }
            for (int l = 0; l < L1; l++)
                for (int kb = 0; kb < kpad; kb += KV) {
                    const int q = l * kpad + kb;
                    v8d t, pa = (v8d){1, 1, 1, 1, 1, 1, 1, 1}, pb = pa, r;
                    memcpy(&t, c + glen + q, sizeof t); pa += t * a1; pb += t * b1;
                    memcpy(&t, c + 2 * glen + q, sizeof t); pa += t * a2; pb += t * b2;
                    memcpy(&t, c + 3 * glen + q, sizeof t); pa += t * a3; pb += t * b3;
                    memcpy(&t, c + 4 * glen + q, sizeof t); pa += t * a4; pb += t * b4;
                    memcpy(&t, c + 5 * glen + q, sizeof t); pa += t * a5; pb += t * b5;
                    memcpy(&t, c + 6 * glen + q, sizeof t); pa += t * a6; pb += t * b6;
                    memcpy(&r, rb + q, sizeof r);
                    r *= pb;
                    memcpy(ob + l * lstride + kb, &r, sizeof r);
                    memcpy(&r, ra + q, sizeof r);
                    r *= pa;
                    memcpy(oa + l * lstride + kb, &r, sizeof r);
                }
        }
        return;
    }
    for (int64_t j = 0; j < nb; j++) {
        const double sj = s->s[j];
        double *gj = s->G + j * kpad;
        {
            for (int l = 0; l < L1; l++)
                for (int kb = 0; kb < kpad; kb += KV) {
                    const int q = l * kpad + kb;
#if defined(SOAP_HAVE_AVX512)
                    const __m512d x = _mm512_mul_pd(_mm512_load_pd(s->gb + q), _mm512_set1_pd(sj));
                    _mm512_storeu_pd(gj + l * lstride + kb, _mm512_mul_pd(exp8(x), _mm512_load_pd(s->gc + q)));
#else
                    for (int k = 0; k < KV; k++) gj[l * lstride + kb + k] = s->gc[q + k] * exp(s->gb[q + k] * sj);
#endif
                }
        }
    }
}

/* Real solid harmonics r^l Y_lm of the neighbours into R[lm][j], 8 neighbours
 * at a time in registers: (x+iy)^m by recurrence, Π_l^m(z, r²) by
 * Π_m^m = (2m-1)!!, Π_{m+1}^m = (2m+1) z Π_m^m,
 * Π_l^m = ((2l-1) z Π_{l-1}^m - (l+m-1) r² Π_{l-2}^m)/(l-m),
 * R_{l,m} = N_lm Π_l^m Re(x+iy)^m, R_{l,-m} = N_lm Π_l^m Im(x+iy)^m. */
static void solid_harmonics(soap_t *s, int64_t nb)
{
    const int L1 = s->L1;
    const int64_t nbp = round8(nb);
    for (int64_t j = nb; j < nbp; j++) s->x[j] = s->y[j] = s->z[j] = s->s[j] = 0;
    double *R = s->R;
    for (int64_t jb = 0; jb < nbp; jb += 8) {
        v8d X, Y, Z, S, C[SOAP_MAX_NL + 1], Sn[SOAP_MAX_NL + 1];
        memcpy(&X, s->x + jb, sizeof X);
        memcpy(&Y, s->y + jb, sizeof Y);
        memcpy(&Z, s->z + jb, sizeof Z);
        memcpy(&S, s->s + jb, sizeof S);
        C[0] = (v8d){1, 1, 1, 1, 1, 1, 1, 1};
        Sn[0] = (v8d){0, 0, 0, 0, 0, 0, 0, 0};
        for (int m = 1; m < L1; m++) {
            C[m] = X * C[m - 1] - Y * Sn[m - 1];
            Sn[m] = X * Sn[m - 1] + Y * C[m - 1];
        }
        for (int m = 0; m < L1; m++) {
            v8d P2 = (v8d){0, 0, 0, 0, 0, 0, 0, 0}, P1 = P2;
            for (int l = m; l < L1; l++) {
                const int i = l * l + l + m;
                v8d P;
                if (l == m) P = P2 + s->ylm_a[i];
                else if (l == m + 1) P = s->ylm_a[i] * Z * P1;
                else P = s->ylm_a[i] * Z * P1 - s->ylm_b[i] * S * P2;
                P2 = P1;
                P1 = P;
                if (m == 0) {
                    memcpy(R + (int64_t)i * nbp + jb, &P, sizeof P);
                } else {
                    const v8d a = P * C[m], b = P * Sn[m];
                    memcpy(R + (int64_t)i * nbp + jb, &a, sizeof a);
                    memcpy(R + (int64_t)(l * l + l - m) * nbp + jb, &b, sizeof b);
                }
            }
        }
    }
}

/* d[lm][kb·8 .. +8] = Σ_j R[lm][j] G[l][j][kb] with M = 2l+1 accumulators. */
static inline __attribute__((always_inline)) void accum_l(int M, int64_t nb, const double *G,
                                                         int kpad, const double *R, int64_t nbp,
                                                         double *out)
{
    v8d acc[17];
#pragma GCC unroll 17
    for (int m = 0; m < M; m++) acc[m] = (v8d){0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t j = 0; j < nb; j++) {
        v8d g;
        memcpy(&g, G + j * kpad, sizeof g);
#pragma GCC unroll 17
        for (int m = 0; m < M; m++) acc[m] += g * R[m * nbp + j];
    }
#pragma GCC unroll 17
    for (int m = 0; m < M; m++) memcpy(out + (int64_t)m * kpad, &acc[m], sizeof(v8d));
}

static void accum_generic(int M, int64_t nb, const double *G, int kpad, const double *R,
                          int64_t nbp, double *out)
{
    for (int m = 0; m < M; m++) memset(out + (int64_t)m * kpad, 0, sizeof(v8d));
    for (int64_t j = 0; j < nb; j++) {
        v8d g;
        memcpy(&g, G + j * kpad, sizeof g);
        for (int m = 0; m < M; m++) {
            v8d a;
            memcpy(&a, out + (int64_t)m * kpad, sizeof a);
            a += g * R[m * nbp + j];
            memcpy(out + (int64_t)m * kpad, &a, sizeof a);
        }
    }
}

static void accumulate(soap_t *s, int64_t nb)
{
    const int kpad = s->kpad;
    const int64_t nbp = round8(nb);
    for (int l = 0; l < s->L1; l++)
        for (int kb = 0; kb < s->nb_k; kb++) {
            const double *G = s->G + (int64_t)l * nbp * kpad + kb * KV;
            const double *R = s->R + (int64_t)l * l * nbp;
            double *out = s->d + (int64_t)l * l * kpad + kb * KV;
#if !defined(SOAP_HAVE_AVX512)
            /* without AVX-512 the 8-wide register accumulators spill: plain loops */
            for (int m = 0; m < 2 * l + 1; m++) {
                double acc[KV] = {0, 0, 0, 0, 0, 0, 0, 0};
                const double *Rm = R + (int64_t)m * nbp;
                for (int64_t j = 0; j < nb; j++) {
                    const double r = Rm[j];
                    const double *g = G + j * kpad;
                    for (int k = 0; k < KV; k++) acc[k] += g[k] * r;
                }
                for (int k = 0; k < KV; k++) out[(int64_t)m * kpad + k] = acc[k];
            }
            continue;
#endif
            switch (2 * l + 1) {
            case 1: accum_l(1, nb, G, kpad, R, nbp, out); break;
            case 3: accum_l(3, nb, G, kpad, R, nbp, out); break;
            case 5: accum_l(5, nb, G, kpad, R, nbp, out); break;
            case 7: accum_l(7, nb, G, kpad, R, nbp, out); break;
            case 9: accum_l(9, nb, G, kpad, R, nbp, out); break;
            case 11: accum_l(11, nb, G, kpad, R, nbp, out); break;
            case 13: accum_l(13, nb, G, kpad, R, nbp, out); break;
            case 15: accum_l(15, nb, G, kpad, R, nbp, out); break;
            case 17: accum_l(17, nb, G, kpad, R, nbp, out); break;
            default: accum_generic(2 * l + 1, nb, G, kpad, R, nbp, out); break;
            }
        }
}

/* c[lm][n] = Σ_k β_l[n][k] d[lm][k]; then the power spectrum into out. */
static void power_spectrum(soap_t *s, soap_layout_t layout, double *out)
{
    const int N = s->p.n_max, kpad = s->kpad, T = N * (N + 1) / 2;
    if (kpad == KV) { /* one vector of k (n_max <= 8): fully vectorised */
        for (int l = 0; l < s->L1; l++) {
            const double *bt = s->betat + (size_t)l * KV * KV;
            v8d B[KV];
            for (int k = 0; k < KV; k++) memcpy(&B[k], bt + k * KV, sizeof(v8d));
            const int M = 2 * l + 1;
            v8d P[KV];
            for (int q = 0; q < KV; q++) P[q] = (v8d){0, 0, 0, 0, 0, 0, 0, 0};
            for (int m = 0; m < M; m++) {
                const double *dv = s->d + (int64_t)(l * l + m) * KV;
                v8d c = (v8d){0, 0, 0, 0, 0, 0, 0, 0};
                for (int k = 0; k < N; k++) c += dv[k] * B[k];
                double cs[KV];
                memcpy(cs, &c, sizeof c);
                for (int q = 0; q < N; q++) P[q] += cs[q] * c;
            }
            const double pf = s->pref[l];
            if (layout == SOAP_LAYOUT_FULL) {
                double *o = out + (int64_t)l * N * N;
                for (int q = 0; q < N; q++) {
                    double row[KV];
                    v8d v = pf * P[q];
                    memcpy(row, &v, sizeof v);
                    for (int n = 0; n < N; n++) o[q * N + n] = row[n];
                }
            } else {
                double *o = out + (int64_t)l * T;
                int t = 0;
                for (int q = 0; q < N; q++) {
                    double row[KV];
                    v8d v = pf * P[q];
                    memcpy(row, &v, sizeof v);
                    for (int n = q; n < N; n++) o[t++] = row[n];
                }
            }
        }
        return;
    }
    for (int l = 0; l < s->L1; l++) {
        const double *bt = s->betat + (size_t)l * kpad * kpad;
        for (int m = 0; m < 2 * l + 1; m++) {
            const double *dv = s->d + (int64_t)(l * l + m) * kpad;
            double *cv = s->c + (int64_t)(l * l + m) * kpad;
            for (int n = 0; n < kpad; n++) cv[n] = 0;
            for (int k = 0; k < N; k++) {
                const double dk = dv[k];
                const double *row = bt + (size_t)k * kpad;
                for (int n = 0; n < kpad; n++) cv[n] += dk * row[n];
            }
        }
        double P[SOAP_MAX_NL * 24];
        for (int q = 0; q < N; q++) {
            double *pq = P + q * kpad;
            for (int n = 0; n < kpad; n++) pq[n] = 0;
            for (int m = 0; m < 2 * l + 1; m++) {
                const double *cv = s->c + (int64_t)(l * l + m) * kpad;
                const double cq = cv[q];
                for (int n = 0; n < kpad; n++) pq[n] += cq * cv[n];
            }
        }
        const double pf = s->pref[l];
        if (layout == SOAP_LAYOUT_FULL) {
            double *o = out + (int64_t)l * N * N;
            for (int n = 0; n < N; n++)
                for (int q = 0; q < N; q++) o[n * N + q] = pf * P[(n <= q ? n : q) * kpad + (n <= q ? q : n)];
        } else {
            double *o = out + (int64_t)l * T;
            int t = 0;
            for (int n = 0; n < N; n++)
                for (int q = n; q < N; q++) o[t++] = pf * P[n * kpad + q];
        }
    }
}

int soap_compute(soap_t *s, int64_t n, const double *pos, int64_t ncent, const int64_t *centres,
                 soap_layout_t layout, double *out, sd_err_t *e)
{
    if (n <= 0) return sd_err_set(e, SD_EINVAL, "soap: empty frame (0 atoms)");
    if (!pos || !out) return sd_err_set(e, SD_EINVAL, "soap: NULL positions or output");
    if (layout != SOAP_LAYOUT_TRI && layout != SOAP_LAYOUT_FULL)
        return sd_err_set(e, SD_EINVAL, "soap: unknown layout %d", (int)layout);
    if (!centres) ncent = n;
    if (ncent < 0) return sd_err_set(e, SD_EINVAL, "soap: negative number of centres");
    for (int64_t c = 0; centres && c < ncent; c++)
        if (centres[c] < 0 || centres[c] >= n)
            return sd_err_set(e, SD_ERANGE, "soap: centre %lld is atom %lld, outside 0..%lld",
                              (long long)c, (long long)centres[c], (long long)n - 1);
    int dims[3] = {1, 1, 1};
    double lo[3];
    double edge = 1.0;
    int rc = build_cells(s, n, pos, dims, lo, &edge, e);
    if (rc) return rc;
    const double rc2 = s->rc * s->rc, sep2 = SOAP_MIN_SEP * SOAP_MIN_SEP;
    const int F = soap_n_features(s, layout);
    const int reach = (int)ceil(s->rc / edge);
    for (int64_t ci = 0; ci < ncent; ci++) {
        const int64_t i = centres ? centres[ci] : ci;
        const double xi = pos[3 * i], yi = pos[3 * i + 1], zi = pos[3 * i + 2];
        int q[3];
        for (int k = 0; k < 3; k++) {
            q[k] = (int)((pos[3 * i + k] - lo[k]) / edge);
            if (q[k] >= dims[k]) q[k] = dims[k] - 1;
            if (q[k] < 0) q[k] = 0;
        }
        int64_t cand = 0, nbf = 0;
        for (int pass = 0; pass < 2; pass++) {
            int64_t nb = 0;
            for (int a = q[0] - reach; a <= q[0] + reach; a++) {
                if (a < 0 || a >= dims[0]) continue;
                for (int b = q[1] - reach; b <= q[1] + reach; b++) {
                    if (b < 0 || b >= dims[1]) continue;
                    const int c0 = q[2] - reach < 0 ? 0 : q[2] - reach;
                    const int c1 = q[2] + reach >= dims[2] ? dims[2] - 1 : q[2] + reach;
                    const int64_t row = ((int64_t)a * dims[1] + b) * dims[2];
                    const int64_t b0 = s->cstart[row + c0], b1 = s->cstart[row + c1 + 1];
                    if (pass == 0) {
                        cand += b1 - b0;
                        continue;
                    }
                    int64_t t = b0;
#if defined(SOAP_HAVE_AVX512)
                    for (; t < b1; t += 8) {
                        const __mmask8 lm = t + 8 <= b1 ? (__mmask8)0xFF : (__mmask8)((1u << (b1 - t)) - 1);
                        const __m512d dx = _mm512_sub_pd(_mm512_maskz_loadu_pd(lm, s->sx + t), _mm512_set1_pd(xi));
                        const __m512d dy = _mm512_sub_pd(_mm512_maskz_loadu_pd(lm, s->sy + t), _mm512_set1_pd(yi));
                        const __m512d dz = _mm512_sub_pd(_mm512_maskz_loadu_pd(lm, s->sz + t), _mm512_set1_pd(zi));
                        const __m512d d2 = _mm512_add_pd(_mm512_add_pd(_mm512_mul_pd(dx, dx), _mm512_mul_pd(dy, dy)),
                                                         _mm512_mul_pd(dz, dz));
                        const __mmask8 in = _mm512_mask_cmp_pd_mask(lm, d2, _mm512_set1_pd(rc2), _CMP_LE_OQ);
                        const __mmask8 close = _mm512_mask_cmp_pd_mask(in, d2, _mm512_set1_pd(sep2), _CMP_LT_OQ);
                        for (int lane = 0; close && lane < 8; lane++)
                            if (((close >> lane) & 1) && s->order[t + lane] != i) {
                                const int64_t o = s->order[t + lane];
                                return sd_err_set(e, SD_EPHYS,
                                                  "soap: atoms %lld and %lld are at identical positions (%.3g Å apart)",
                                                  (long long)i, (long long)o,
                                                  sqrt((pos[3 * o] - xi) * (pos[3 * o] - xi) +
                                                       (pos[3 * o + 1] - yi) * (pos[3 * o + 1] - yi) +
                                                       (pos[3 * o + 2] - zi) * (pos[3 * o + 2] - zi)));
                            }
                        _mm512_mask_compressstoreu_pd(s->x + nb, in, dx);
                        _mm512_mask_compressstoreu_pd(s->y + nb, in, dy);
                        _mm512_mask_compressstoreu_pd(s->z + nb, in, dz);
                        _mm512_mask_compressstoreu_pd(s->s + nb, in, d2);
                        nb += __builtin_popcount((unsigned)in);
                    }
#endif
                    for (; t < b1; t++) {
                        const double dx = s->sx[t] - xi, dy = s->sy[t] - yi, dz = s->sz[t] - zi;
                        const double d2 = dx * dx + dy * dy + dz * dz;
                        if (d2 <= rc2) {
                            if (d2 < sep2 && s->order[t] != i)
                                return sd_err_set(e, SD_EPHYS,
                                                  "soap: atoms %lld and %lld are at identical positions "
                                                  "(%.3g Å apart)",
                                                  (long long)i, (long long)s->order[t], sqrt(d2));
                            s->x[nb] = dx;
                            s->y[nb] = dy;
                            s->z[nb] = dz;
                            s->s[nb] = d2;
                            nb++;
                        }
                    }
                }
            }
            if (pass == 0) {
                if (cand > s->cap && grow_neigh(s, cand))
                    return sd_err_set(e, SD_ENOMEM, "soap: out of memory for %lld neighbours",
                                      (long long)cand);
            } else {
                nbf = nb;
            }
        }
        const int64_t nb = nbf;
        radial_block(s, nb);
        solid_harmonics(s, nb);
        accumulate(s, nb);
        power_spectrum(s, layout, out + ci * (int64_t)F);
    }
    return SD_OK;
}
