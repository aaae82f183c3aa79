/* SMATB energies and forces, the workspace and two kernels on one
 * cell-grid Verlet half list with skin (rows padded to 8 entries with the
 * sentinel atom n, far away): the AVX-512 kernel (compacted(), see its
 * comment) and the portable two-pass kernel, which stays as the path of
 * other machines and the cross-check of the fast one.  Summation order
 * depends only on the list, which depends only on the positions at the last
 * build: results are reproducible. */
#include "sim_internal.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__) && defined(__AVX512VL__)
#include <immintrin.h>
#endif

#if defined(__AVX512F__) && defined(__AVX512VL__)
#include <immintrin.h>
#define SIM_AVX512 1
#else
#define SIM_AVX512 0
#endif

#define SENTINEL_COORD 1.0e100

static void *xrealloc(void *p, size_t n) { return realloc(p, n ? n : 1); }

int sim_nlist_init(sim_nlist_t *nl, int64_t n, double rcut, double skin, sd_err_t *e)
{
    memset(nl, 0, sizeof *nl);
    nl->n = n;
    nl->rcut = rcut;
    nl->skin = skin;
    nl->start = calloc((size_t)n + 1, sizeof *nl->start);
    nl->xr = calloc((size_t)n + 1, sizeof(double));
    nl->yr = calloc((size_t)n + 1, sizeof(double));
    nl->zr = calloc((size_t)n + 1, sizeof(double));
    nl->cell_of = calloc((size_t)n + 1, sizeof(int32_t));
    nl->cell_atoms = calloc((size_t)n + 8, sizeof(int32_t));
    nl->xs = calloc((size_t)n + 8, sizeof(double));
    nl->spos = calloc((size_t)n + 8, sizeof(int32_t));
    nl->ys = calloc((size_t)n + 8, sizeof(double));
    nl->zs = calloc((size_t)n + 8, sizeof(double));
    nl->cap = 48 * (n + 1) + 64;
    nl->j = malloc((size_t)nl->cap * sizeof *nl->j);
    if (!nl->start || !nl->xr || !nl->yr || !nl->zr || !nl->cell_of || !nl->cell_atoms || !nl->j ||
        !nl->xs || !nl->ys || !nl->zs || !nl->spos) {
        sim_nlist_free(nl);
        return sd_err_set(e, SD_ENOMEM, "neighbour list: out of memory for %lld atoms",
                          (long long)n);
    }
    return SD_OK;
}

void sim_nlist_free(sim_nlist_t *nl)
{
    free(nl->start);
    free(nl->j);
    free(nl->xr);
    free(nl->yr);
    free(nl->zr);
    free(nl->cell_of);
    free(nl->cell_start);
    free(nl->cell_atoms);
    free(nl->xs);
    free(nl->spos);
    free(nl->ys);
    free(nl->zs);
    memset(nl, 0, sizeof *nl);
}

int sim_nlist_build(sim_nlist_t *nl, const double *x, const double *y, const double *z, int *grew,
                    sd_err_t *e)
{
    const int64_t n = nl->n;
    const double rl = nl->rcut + nl->skin, rl2 = rl * rl;
    if (grew) *grew = 0;
    double lo[3] = {DBL_MAX, DBL_MAX, DBL_MAX}, hi[3] = {-DBL_MAX, -DBL_MAX, -DBL_MAX};
    for (int64_t i = 0; i < n; i++) {
        double c[3] = {x[i], y[i], z[i]};
        if (!isfinite(c[0]) || !isfinite(c[1]) || !isfinite(c[2]))
            return sd_err_set(e, SD_ERANGE, "atom %lld: coordinate not finite (the system blew up?)",
                              (long long)i);
        for (int k = 0; k < 3; k++) {
            if (c[k] < lo[k]) lo[k] = c[k];
            if (c[k] > hi[k]) hi[k] = c[k];
        }
    }
    if (n == 0)
        for (int k = 0; k < 3; k++) lo[k] = hi[k] = 0;
    for (int k = 0; k < 3; k++)
        if (!isfinite(lo[k]) || !isfinite(hi[k]) || hi[k] - lo[k] > 1e9)
            return sd_err_set(e, SD_ERANGE,
                              "neighbour list: coordinates not finite or spread over more than "
                              "1e9 Å (the system blew up?)");
    /* Cells at least rl wide; coarser when the cloud is sparse, so the grid
     * stays O(n) for any input (atoms far apart, a gas …). */
    double cs = rl, ext[3];
    for (int k = 0; k < 3; k++) ext[k] = hi[k] - lo[k];
    const double maxcells = 8.0 * (double)n + 64.0;
    for (;;) {
        double nc = 1;
        for (int k = 0; k < 3; k++) nc *= floor(ext[k] / cs) + 1.0;
        if (nc <= maxcells) break;
        cs *= 1.5;
    }
    int64_t nc3[3];
    for (int k = 0; k < 3; k++) nc3[k] = (int64_t)floor(ext[k] / cs) + 1;
    int64_t ncell = nc3[0] * nc3[1] * nc3[2];
    if (ncell + 1 > nl->ncell_cap) {
        int32_t *cst = xrealloc(nl->cell_start, (size_t)(ncell + 1) * sizeof(int32_t));
        if (!cst) return sd_err_set(e, SD_ENOMEM, "neighbour list: out of memory (cells)");
        nl->cell_start = cst;
        nl->ncell_cap = ncell + 1;
    }
    int32_t *cst = nl->cell_start;
    memset(cst, 0, (size_t)(ncell + 1) * sizeof(int32_t));
    const double inv = 1.0 / cs;
    for (int64_t i = 0; i < n; i++) {
        int64_t ix = (int64_t)((x[i] - lo[0]) * inv), iy = (int64_t)((y[i] - lo[1]) * inv),
                iz = (int64_t)((z[i] - lo[2]) * inv);
        if (ix >= nc3[0]) ix = nc3[0] - 1;
        if (iy >= nc3[1]) iy = nc3[1] - 1;
        if (iz >= nc3[2]) iz = nc3[2] - 1;
        int32_t c = (int32_t)((iz * nc3[1] + iy) * nc3[0] + ix);
        nl->cell_of[i] = c;
        cst[c + 1]++;
    }
    for (int64_t c = 0; c < ncell; c++) cst[c + 1] += cst[c];
    /* fill (stable: atoms ascending within a cell) using start as cursor */
    for (int64_t i = 0; i < n; i++) nl->cell_atoms[cst[nl->cell_of[i]]++] = (int32_t)i;
    for (int64_t c = ncell; c > 0; c--) cst[c] = cst[c - 1];
    cst[0] = 0;

    /* the cell-sorted coordinates: the three cells x-1..x+1 of a row are
     * contiguous, so an atom's candidates are 9 contiguous ranges */
    for (int64_t s = 0; s < n; s++) {
        int32_t a = nl->cell_atoms[s];
        nl->spos[a] = (int32_t)s;
        nl->xs[s] = x[a];
        nl->ys[s] = y[a];
        nl->zs[s] = z[a];
    }
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        nl->start[i] = m;
        int64_t c = nl->cell_of[i];
        int64_t cx = c % nc3[0], cy = (c / nc3[0]) % nc3[1], cz = c / (nc3[0] * nc3[1]);
        int64_t x0 = cx > 0 ? cx - 1 : 0, x1 = cx + 1 < nc3[0] ? cx + 1 : nc3[0] - 1;
        /* half stencil: the rest of i's own cell and cell x+1 of its row,
         * then the whole rows (dz = 0, dy = +1) and (dz = +1, dy = -1..1):
         * every pair of neighbouring cells once */
        int32_t rb[5], re[5];
        int nr = 0;
        int64_t tot = 0;
        rb[0] = nl->spos[i] + 1;
        re[0] = cst[(cz * nc3[1] + cy) * nc3[0] + x1 + 1];
        tot += re[0] - rb[0];
        nr = 1;
        for (int64_t dz = 0; dz <= 1; dz++) {
            int64_t zz = cz + dz;
            if (zz >= nc3[2]) continue;
            for (int64_t dy = -1; dy <= 1; dy++) {
                if (dz == 0 && dy < 1) continue;
                int64_t yy = cy + dy;
                if (yy < 0 || yy >= nc3[1]) continue;
                int64_t row = (zz * nc3[1] + yy) * nc3[0];
                rb[nr] = cst[row + x0];
                re[nr] = cst[row + x1 + 1];
                tot += re[nr] - rb[nr];
                nr++;
            }
        }
        if (m + tot + 16 >= nl->cap) {
            int64_t ncap = (m + tot + 16) + (m + tot + 16) / 2 + 64;
            int32_t *nj = realloc(nl->j, (size_t)ncap * sizeof *nj);
            if (!nj) return sd_err_set(e, SD_ENOMEM, "neighbour list: out of memory");
            nl->j = nj;
            nl->cap = ncap;
            if (grew) *grew = 1;
        }
        const double xi = x[i], yi = y[i], zi = z[i];
#if defined(__AVX512F__) && defined(__AVX512VL__)
        const __m512d vxi = _mm512_set1_pd(xi), vyi = _mm512_set1_pd(yi), vzi = _mm512_set1_pd(zi),
                      vrl2 = _mm512_set1_pd(rl2);
        for (int r = 0; r < nr; r++) {
            for (int32_t a = rb[r]; a < re[r]; a += 8) {
                int rem = re[r] - a;
                __mmask8 valid = rem >= 8 ? 0xFF : (__mmask8)((1u << rem) - 1);
                __m512d dx = _mm512_sub_pd(vxi, _mm512_maskz_loadu_pd(valid, nl->xs + a));
                __m512d dy = _mm512_sub_pd(vyi, _mm512_maskz_loadu_pd(valid, nl->ys + a));
                __m512d dz = _mm512_sub_pd(vzi, _mm512_maskz_loadu_pd(valid, nl->zs + a));
                __m512d r2 = _mm512_fmadd_pd(dx, dx, _mm512_fmadd_pd(dy, dy, _mm512_mul_pd(dz, dz)));
                __m256i jv = _mm256_maskz_loadu_epi32(valid, nl->cell_atoms + a);
                __mmask8 mk = _mm512_mask_cmp_pd_mask(valid, r2, vrl2, _CMP_LT_OQ);
                /* register-form compress + full store: the memory form is
                 * microcoded on Zen 4 (the capacity check leaves 16 spare) */
                _mm256_storeu_si256((__m256i *)(nl->j + m), _mm256_maskz_compress_epi32(mk, jv));
                m += __builtin_popcount((unsigned)mk);
            }
        }
#else
        for (int r = 0; r < nr; r++)
            for (int32_t a = rb[r]; a < re[r]; a++) {
                int32_t j = nl->cell_atoms[a];
                double ddx = xi - nl->xs[a], ddy = yi - nl->ys[a], ddz = zi - nl->zs[a];
                if (ddx * ddx + ddy * ddy + ddz * ddz < rl2) nl->j[m++] = j;
            }
#endif
        while ((m - nl->start[i]) % 8) nl->j[m++] = (int32_t)n;
    }
    nl->start[n] = m;
    memmove(nl->xr, x, (size_t)n * sizeof(double));
    memmove(nl->yr, y, (size_t)n * sizeof(double));
    memmove(nl->zr, z, (size_t)n * sizeof(double));
    nl->nbuilds++;
    return SD_OK;
}

int sim_nlist_needs_rebuild(const sim_nlist_t *nl, const double *x, const double *y,
                            const double *z)
{
    const double lim = 0.25 * nl->skin * nl->skin;
    double mx = 0;
    for (int64_t i = 0; i < nl->n; i++) {
        double dx = x[i] - nl->xr[i], dy = y[i] - nl->yr[i], dz = z[i] - nl->zr[i];
        double d2 = dx * dx + dy * dy + dz * dz;
        mx = d2 > mx ? d2 : mx;
    }
    return !(mx <= lim); /* NaN → rebuild */
}

/* ---- workspace ---------------------------------------------------------- */

static int ws_alloc_cache(sim_ws_t *w)
{
    size_t c = (size_t)w->nl.cap + 16, c2 = 2 * c;
    double **arr[] = {&w->cdx, &w->cdy, &w->cdz, &w->ca, &w->cx};
    for (size_t k = 0; k < sizeof arr / sizeof arr[0]; k++) {
        double *q = xrealloc(*arr[k], c * sizeof(double));
        if (!q) return SD_ENOMEM;
        *arr[k] = q;
    }
    double **arr2[] = {&w->dr2, &w->da, &w->dx2, &w->dca, &w->dcx};
    for (size_t k = 0; k < sizeof arr2 / sizeof arr2[0]; k++) {
        double *q = xrealloc(*arr2[k], c2 * sizeof(double));
        if (!q) return SD_ENOMEM;
        *arr2[k] = q;
    }
    int32_t **ia[] = {&w->di, &w->dj};
    for (size_t k = 0; k < 2; k++) {
        int32_t *q = xrealloc(*ia[k], (c2 + 16) * sizeof(int32_t));
        if (!q) return SD_ENOMEM;
        *ia[k] = q;
    }
    return SD_OK;
}

sim_ws_t *sim_ws_new(const sim_potential_t *p, int64_t n, double skin, sd_err_t *e)
{
    if (!p) {
        sd_err_set(e, SD_EINVAL, "workspace: NULL potential");
        return NULL;
    }
    if (n < 1 || n > (int64_t)INT32_MAX - 16) {
        sd_err_set(e, SD_EINVAL, "workspace: number of atoms %lld out of range (1 .. 2^31)",
                   (long long)n);
        return NULL;
    }
    if (!(skin > 0)) skin = 0.5;
    if (skin > 5) {
        sd_err_set(e, SD_EINVAL, "workspace: skin %g Å too large (max 5)", skin);
        return NULL;
    }
    sim_ws_t *w = calloc(1, sizeof *w);
    if (!w) {
        sd_err_set(e, SD_ENOMEM, "workspace: out of memory");
        return NULL;
    }
    w->p = p;
    w->n = n;
    w->skin = skin;
    size_t sz = (size_t)(n + 1) * sizeof(double);
    double **arr[] = {&w->x, &w->y, &w->z, &w->rho, &w->g, &w->fx, &w->fy, &w->fz, &w->epair};
    int bad = 0;
    for (size_t k = 0; k < sizeof arr / sizeof arr[0]; k++) {
        *arr[k] = calloc(1, sz);
        if (!*arr[k]) bad = 1;
    }
    w->dstart = calloc((size_t)n + 1, sizeof(int64_t));
    w->dstartt = calloc((size_t)n + 1, sizeof(int64_t));
    /* 64-byte aligned: a 32-byte quadruple never straddles a cache line */
    size_t q4sz = ((size_t)(n + 1) * 4 * sizeof(double) + 63) & ~(size_t)63;
    w->q4 = aligned_alloc(64, q4sz);
    w->f4 = aligned_alloc(64, q4sz);
    if (!w->dstart || !w->dstartt || !w->q4 || !w->f4) bad = 1;
    else {
        memset(w->q4, 0, q4sz);
        memset(w->f4, 0, q4sz);
    }
    if (bad || sim_nlist_init(&w->nl, n, p->rc, skin, e) != SD_OK || ws_alloc_cache(w) != SD_OK) {
        sim_ws_destroy(&w);
        sd_err_set(e, SD_ENOMEM, "workspace: out of memory for %lld atoms", (long long)n);
        return NULL;
    }
    w->x[n] = w->y[n] = w->z[n] = SENTINEL_COORD;
    return w;
}

void sim_ws_destroy(sim_ws_t **pw)
{
    if (!pw || !*pw) return;
    sim_ws_t *w = *pw;
    free(w->x);
    free(w->y);
    free(w->z);
    free(w->rho);
    free(w->g);
    free(w->fx);
    free(w->fy);
    free(w->fz);
    free(w->epair);
    free(w->cdx);
    free(w->cdy);
    free(w->cdz);
    free(w->ca);
    free(w->cx);
    free(w->di);
    free(w->dj);
    free(w->dstart);
    free(w->dstartt);
    free(w->q4);
    free(w->f4);
    free(w->dr2);
    free(w->da);
    free(w->dx2);
    free(w->dca);
    free(w->dcx);
    sim_nlist_free(&w->nl);
    free(w);
    *pw = NULL;
}

int sim_ws_rebuild(sim_ws_t *w, sd_err_t *e) { return sim_ws_rebuild_from(w, w->x, w->y, w->z, e); }

int sim_ws_rebuild_from(sim_ws_t *w, const double *x, const double *y, const double *z, sd_err_t *e)
{
    int grew = 0;
    int rc = sim_nlist_build(&w->nl, x, y, z, &grew, e);
    if (rc) return rc;
    if (grew && ws_alloc_cache(w) != SD_OK)
        return sd_err_set(e, SD_ENOMEM, "workspace: out of memory (pair cache)");
    w->valid = 1;
    return SD_OK;
}

/* ---- kernels ------------------------------------------------------------ */


static double pass1_scalar(sim_ws_t *w, int want_eatom)
{
    const sim_potential_t *p = w->p;
    const int64_t n = w->n;
    const int64_t *st = w->nl.start;
    const int32_t *jl = w->nl.j;
    double etot = 0;
    for (int64_t i = 0; i < n; i++) {
        double ri = 0, ai = 0;
        for (int64_t k = st[i]; k < st[i + 1]; k++) {
            int32_t j = jl[k];
            double dx = w->x[i] - w->x[j], dy = w->y[i] - w->y[j], dz = w->z[i] - w->z[j];
            w->cdx[k] = dx;
            w->cdy[k] = dy;
            w->cdz[k] = dz;
            double r2 = dx * dx + dy * dy + dz * dz;
            if (j == n || !(r2 < p->rc2)) {
                w->ca[k] = w->cx[k] = 0;
                continue;
            }
            double r = sqrt(r2), a, da, x2, dx2;
            sim_pair_eval(p, r, &a, &da, &x2, &dx2);
            w->ca[k] = 2.0 * da / r;
            w->cx[k] = dx2 / r;
            ri += x2;
            ai += a;
            w->rho[j] += x2;
            if (want_eatom) w->epair[j] += a;
        }
        w->rho[i] += ri;
        w->epair[i] += ai;
        etot += ai;
    }
    return 2.0 * etot;
}

static void pass2_scalar(sim_ws_t *w)
{
    const int64_t n = w->n;
    const int64_t *st = w->nl.start;
    const int32_t *jl = w->nl.j;
    for (int64_t i = 0; i < n; i++) {
        double ax = 0, ay = 0, az = 0;
        for (int64_t k = st[i]; k < st[i + 1]; k++) {
            int32_t j = jl[k];
            if (j == n) continue;
            double fs = w->ca[k] + (w->g[i] + w->g[j]) * w->cx[k];
            if (fs == 0) continue;
            double px = fs * w->cdx[k], py = fs * w->cdy[k], pz = fs * w->cdz[k];
            ax += px;
            ay += py;
            az += pz;
            w->fx[j] += px;
            w->fy[j] += py;
            w->fz[j] += pz;
        }
        w->fx[i] -= ax;
        w->fy[i] -= ay;
        w->fz[i] -= az;
    }
}

#if SIM_AVX512
static inline __m512d vexp(__m512d x)
{
    /* exp(x) = 2^(k/8) exp(r), k = round(8 x / ln2), |r| <= ln2/16: the
     * eight 2^(j/8) sit in one register (a permute, not an FMA-pipe op),
     * Cody–Waite reduction, degree-7 Taylor (truncation (ln2/16)^8/8! =
     * 3e-16 relative), scalef by floor(k/8).  k comes out of the shifter
     * trick: the low mantissa bits of x 8/ln2 + 1.5 2^52 are k (two's
     * complement), and the permute reads the low three of them.  The
     * oracle tolerance is 1e-10 eV per atom, 3e-11 relative. */
    const __m512d tab = _mm512_setr_pd(0x1.0000000000000p+0, 0x1.172b83c7d517bp+0, 0x1.306fe0a31b715p+0,
                                       0x1.4bfdad5362a27p+0, 0x1.6a09e667f3bcdp+0, 0x1.8ace5422aa0dbp+0,
                                       0x1.ae89f995ad3adp+0, 0x1.d5818dcfba487p+0);
    const __m512d shifter = _mm512_set1_pd(0x1.8p52);
    const __m512d l2e8 = _mm512_set1_pd(8.0 * 1.4426950408889634074);
    /* fdlibm's ln2_hi (low 32 bits zero: k ln2_hi/8 is exact) and ln2_lo, over 8 */
    const __m512d ln2hi8 = _mm512_set1_pd(6.93147180369123816490e-01 / 8.0);
    const __m512d ln2lo8 = _mm512_set1_pd(1.90821492927058770002e-10 / 8.0);
    const __m512d kd = _mm512_fmadd_pd(x, l2e8, shifter);
    const __m512d kf = _mm512_sub_pd(kd, shifter);
    __m512d r = _mm512_fnmadd_pd(kf, ln2hi8, x);
    r = _mm512_fnmadd_pd(kf, ln2lo8, r);
    __m512d p = _mm512_set1_pd(1.0 / 5040.0);
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 720.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 120.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 24.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 6.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(0.5));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
    const __m512d t = _mm512_permutexvar_pd(_mm512_castpd_si512(kd), tab);
    return _mm512_scalef_pd(_mm512_mul_pd(t, p), _mm512_mul_pd(kf, _mm512_set1_pd(0.125)));
}

/* AVX-512 path.  A: gather the half-list neighbours, keep those within Rc
 * (~45% of the entries), compress-stored (r², j) into two streams by region:
 * r < Rsc needs the two exponentials, Rsc <= r < Rc (~45% of the pairs) only
 * the quintic tail, so no lane computes both.  B: the pair functions on each
 * stream, contiguous vectors, no gathers.  C: densities (scalar scatter-add,
 * flat over the pairs).  D+E: pair forces and their accumulation (flat over
 * the pairs, on (x, y, z, -) quadruples).  Why this shape (measured on the
 * Zen 4 host, np1038 MD): B is FMA-bound, A shuffle-bound, C and D bound by
 * uops; per-row loops in C and D mispredict their exits (the row lengths
 * change every step). */
static double compacted(sim_ws_t *w, double *eatom)
{
    const sim_potential_t *p = w->p;
    const sim_smatb_params_t *q = &p->prm;
    const int64_t n = w->n;
    const int64_t *restrict st = w->nl.start;
    const int32_t *restrict jl = w->nl.j;
    const __m512d vrc2 = _mm512_set1_pd(p->rc2), vrs2 = _mm512_set1_pd(p->rs2);
    /* local restrict copies: stores through them cannot alias w's fields,
     * so the compiler keeps the pointers in registers */
    double *restrict dr2 = w->dr2, *restrict da = w->da, *restrict qx2 = w->dx2,
                     *restrict dca = w->dca, *restrict dcx = w->dcx;
    int32_t *restrict dj = w->dj;
    const double *restrict x = w->x, *restrict y = w->y, *restrict z = w->z;
    double *restrict g = w->g, *restrict rho = w->rho, *restrict ep = w->epair;
    double *restrict fx = w->fx, *restrict fy = w->fy, *restrict fz = w->fz;
    /* positions as (x, y, z, 0) quadruples: one 32-byte load per neighbour
     * and an in-register transpose beat three 8-way gathers */
    double *restrict q4 = w->q4;
    for (int64_t i = 0; i < n; i++) {
        q4[4 * i] = x[i];
        q4[4 * i + 1] = y[i];
        q4[4 * i + 2] = z[i];
        q4[4 * i + 3] = 0;
    }
    q4[4 * n] = q4[4 * n + 1] = q4[4 * n + 2] = 1.0e100; /* the padding atom */
    q4[4 * n + 3] = 0;
    const __m512i ix = _mm512_setr_epi64(0, 4, 1, 5, 8, 12, 9, 13);
    const __m512i iz = _mm512_setr_epi64(2, 6, 3, 7, 10, 14, 11, 15);
    const int64_t t0 = w->nl.cap + 16; /* start of the tail stream */
    int64_t me = 0, mt = t0;
    int64_t *restrict ds = w->dstart, *restrict dt = w->dstartt;
    for (int64_t i = 0; i < n; i++) {
        ds[i] = me;
        dt[i] = mt;
        const __m512d xi = _mm512_set1_pd(x[i]), yi = _mm512_set1_pd(y[i]),
                      zi = _mm512_set1_pd(z[i]);
        for (int64_t k = st[i]; k < st[i + 1]; k += 8) {
            /* unsigned: zero-extension is free, sign-extension an extra uop */
            const uint32_t *jk = (const uint32_t *)(jl + k);
            __m256i jv = _mm256_loadu_si256((const __m256i *)jk);
            __m512d v0 = _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_load_pd(q4 + 4 * (size_t)jk[0])),
                                            _mm256_load_pd(q4 + 4 * (size_t)jk[1]), 1);
            __m512d v1 = _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_load_pd(q4 + 4 * (size_t)jk[2])),
                                            _mm256_load_pd(q4 + 4 * (size_t)jk[3]), 1);
            __m512d v2 = _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_load_pd(q4 + 4 * (size_t)jk[4])),
                                            _mm256_load_pd(q4 + 4 * (size_t)jk[5]), 1);
            __m512d v3 = _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_load_pd(q4 + 4 * (size_t)jk[6])),
                                            _mm256_load_pd(q4 + 4 * (size_t)jk[7]), 1);
            __m512d u0 = _mm512_unpacklo_pd(v0, v1), u1 = _mm512_unpackhi_pd(v0, v1);
            __m512d u2 = _mm512_unpacklo_pd(v2, v3), u3 = _mm512_unpackhi_pd(v2, v3);
            __m512d dx = _mm512_sub_pd(xi, _mm512_permutex2var_pd(u0, ix, u2));
            __m512d dy = _mm512_sub_pd(yi, _mm512_permutex2var_pd(u1, ix, u3));
            __m512d dz = _mm512_sub_pd(zi, _mm512_permutex2var_pd(u0, iz, u2));
            __m512d r2 = _mm512_fmadd_pd(dx, dx, _mm512_fmadd_pd(dy, dy, _mm512_mul_pd(dz, dz)));
            __mmask8 mk = _mm512_cmp_pd_mask(r2, vrc2, _CMP_LT_OQ);
            __mmask8 mex = _mm512_mask_cmp_pd_mask(mk, r2, vrs2, _CMP_LT_OQ);
            __mmask8 mtl = (__mmask8)(mk & ~mex);
            /* register-form compress + full store (the memory form is
             * microcoded on Zen 4); the streams have 16 spare entries */
            _mm512_storeu_pd(dr2 + me, _mm512_maskz_compress_pd(mex, r2));
            _mm256_storeu_si256((__m256i *)(dj + me), _mm256_maskz_compress_epi32(mex, jv));
            me += __builtin_popcount((unsigned)mex);
            _mm512_storeu_pd(dr2 + mt, _mm512_maskz_compress_pd(mtl, r2));
            _mm256_storeu_si256((__m256i *)(dj + mt), _mm256_maskz_compress_epi32(mtl, jv));
            mt += __builtin_popcount((unsigned)mtl);
        }
    }
    ds[n] = me;
    dt[n] = mt;
    /* pad both streams to whole vectors with harmless in-range values; the
     * padding is outside every row and masked out of the energy sum */
    const int64_t mepad = (me + 7) & ~(int64_t)7, mtpad = t0 + ((mt - t0 + 7) & ~(int64_t)7);
    for (int64_t k = me; k < mepad; k++) dr2[k] = q->r0 * q->r0;
    for (int64_t k = mt; k < mtpad; k++) dr2[k] = p->rs2;
    /* B */
    const __m512d vr0 = _mm512_set1_pd(q->r0), vpr0 = _mm512_set1_pd(p->p_r0),
                  vqr0 = _mm512_set1_pd(p->q2_r0), vlnA = _mm512_set1_pd(log(q->A)),
                  vlnxi2 = _mm512_set1_pd(2.0 * log(q->xi)), vrc = _mm512_set1_pd(p->rc),
                  one = _mm512_set1_pd(1.0);
    const __m512d a3 = _mm512_set1_pd(q->a3), a4 = _mm512_set1_pd(q->a4), a5 = _mm512_set1_pd(q->a5),
                  x3 = _mm512_set1_pd(q->x3), x4 = _mm512_set1_pd(q->x4), x5 = _mm512_set1_pd(q->x5);
    /* twice the derivative coefficients (the factor 2 of the force terms,
     * exact in binary, folded in) */
    const __m512d a3d = _mm512_set1_pd(2.0 * (3 * q->a3)), a4d = _mm512_set1_pd(2.0 * (4 * q->a4)),
                  a5d = _mm512_set1_pd(2.0 * (5 * q->a5)), x3d = _mm512_set1_pd(2.0 * (3 * q->x3)),
                  x4d = _mm512_set1_pd(2.0 * (4 * q->x4)), x5d = _mm512_set1_pd(2.0 * (5 * q->x5));
    const __m512d mpr0 = _mm512_set1_pd(-2.0 * p->p_r0), mqr0 = _mm512_set1_pd(-p->q2_r0);
    __m512d vea = _mm512_setzero_pd();
    for (int64_t k = 0; k < mepad; k += 8) {
        const __m512d r2 = _mm512_loadu_pd(dr2 + k);
        const __m512d r = _mm512_sqrt_pd(r2);
        const __m512d rinv = _mm512_div_pd(one, r);
        const __m512d d0 = _mm512_sub_pd(vr0, r);
        /* the prefactors ride in the exponents: A e^u = e^(u + ln A) */
        const __m512d a = vexp(_mm512_fmadd_pd(vpr0, d0, vlnA));
        const __m512d x2 = vexp(_mm512_fmadd_pd(vqr0, d0, vlnxi2));
        _mm512_storeu_pd(da + k, a);
        _mm512_storeu_pd(qx2 + k, x2);
        _mm512_storeu_pd(dca + k, _mm512_mul_pd(_mm512_mul_pd(mpr0, a), rinv));
        _mm512_storeu_pd(dcx + k, _mm512_mul_pd(_mm512_mul_pd(mqr0, x2), rinv));
        const __mmask8 live = me - k >= 8 ? 0xFF : (__mmask8)((1u << (me - k)) - 1);
        vea = _mm512_mask_add_pd(vea, live, vea, a);
    }
    for (int64_t k = t0; k < mtpad; k += 8) {
        const __m512d r2 = _mm512_loadu_pd(dr2 + k);
        const __m512d r = _mm512_sqrt_pd(r2);
        const __m512d rinv = _mm512_div_pd(one, r);
        const __m512d t = _mm512_sub_pd(r, vrc);
        const __m512d t2 = _mm512_mul_pd(t, t), t3 = _mm512_mul_pd(t2, t);
        const __m512d a = _mm512_mul_pd(t3, _mm512_fmadd_pd(t, _mm512_fmadd_pd(t, a5, a4), a3));
        const __m512d tda = _mm512_mul_pd(t2, _mm512_fmadd_pd(t, _mm512_fmadd_pd(t, a5d, a4d), a3d));
        const __m512d tx = _mm512_mul_pd(t3, _mm512_fmadd_pd(t, _mm512_fmadd_pd(t, x5, x4), x3));
        const __m512d tdx = _mm512_mul_pd(t2, _mm512_fmadd_pd(t, _mm512_fmadd_pd(t, x5d, x4d), x3d));
        _mm512_storeu_pd(da + k, a);
        _mm512_storeu_pd(qx2 + k, _mm512_mul_pd(tx, tx));
        _mm512_storeu_pd(dca + k, _mm512_mul_pd(tda, rinv));
        _mm512_storeu_pd(dcx + k, _mm512_mul_pd(_mm512_mul_pd(tx, tdx), rinv));
        const __mmask8 live = mt - k >= 8 ? 0xFF : (__mmask8)((1u << (mt - k)) - 1);
        vea = _mm512_mask_add_pd(vea, live, vea, a);
    }
    /* the i of every entry: rows ascending, each writes 16 copies from its
     * start and the next row overwrites the excess (no data-dependent
     * branch: the row lengths change every step and mispredicted loop exits
     * cost more than the work); longer rows (rare) are completed */
    int32_t *restrict di = w->di;
    for (int64_t i = 0; i < n; i++) {
        const __m512i vi = _mm512_set1_epi32((int32_t)i);
        _mm512_storeu_si512((void *)(di + ds[i]), vi);
        _mm512_storeu_si512((void *)(di + dt[i]), vi);
    }
    for (int64_t i = 0; i < n; i++) {
        if (ds[i + 1] - ds[i] > 16)
            for (int64_t k = ds[i] + 16; k < ds[i + 1]; k++) di[k] = (int32_t)i;
        if (dt[i + 1] - dt[i] > 16)
            for (int64_t k = dt[i] + 16; k < dt[i + 1]; k++) di[k] = (int32_t)i;
    }
    /* C, D+E walk the pairs flat (no per-row loop), each pair updating both
     * of its atoms in memory.  Consecutive pairs of a row share atom i, a
     * chain through store-to-load forwarding; four cursors (each stream
     * split in two at a row boundary) interleave four independent chains. */
    int64_t cb[4], ce[4];
    {
        int64_t lo = 0, hi = n; /* first row starting at or past the middle */
        while (lo < hi) {
            int64_t mid = (lo + hi) / 2;
            if (ds[mid] < me / 2) lo = mid + 1;
            else hi = mid;
        }
        cb[0] = 0, ce[0] = ds[lo], cb[1] = ds[lo], ce[1] = me;
        lo = 0, hi = n;
        while (lo < hi) {
            int64_t mid = (lo + hi) / 2;
            if (dt[mid] < t0 + (mt - t0) / 2) lo = mid + 1;
            else hi = mid;
        }
        cb[2] = t0, ce[2] = dt[lo], cb[3] = dt[lo], ce[3] = mt;
    }
#define SIM_SEG4(BODY)                                                                         \
    do {                                                                                       \
        int64_t l4 = ce[0] - cb[0];                                                            \
        for (int c_ = 1; c_ < 4; c_++) l4 = ce[c_] - cb[c_] < l4 ? ce[c_] - cb[c_] : l4;       \
        for (int64_t t_ = 0; t_ < l4; t_++) {                                                  \
            { const int64_t k = cb[0] + t_; BODY }                                             \
            { const int64_t k = cb[1] + t_; BODY }                                             \
            { const int64_t k = cb[2] + t_; BODY }                                             \
            { const int64_t k = cb[3] + t_; BODY }                                             \
        }                                                                                      \
        for (int h_ = 0; h_ < 4; h_ += 2) {                                                    \
            const int64_t b0_ = cb[h_] + l4, b1_ = cb[h_ + 1] + l4;                            \
            const int64_t n0_ = ce[h_] - b0_, n1_ = ce[h_ + 1] - b1_;                          \
            const int64_t l2 = n0_ < n1_ ? n0_ : n1_;                                          \
            for (int64_t t_ = 0; t_ < l2; t_++) {                                              \
                { const int64_t k = b0_ + t_; BODY }                                           \
                { const int64_t k = b1_ + t_; BODY }                                           \
            }                                                                                  \
            for (int64_t k = b0_ + l2; k < ce[h_]; k++) { BODY }                               \
            for (int64_t k = b1_ + l2; k < ce[h_ + 1]; k++) { BODY }                           \
        }                                                                                      \
    } while (0)
    /* C: densities */
    size_t sz = (size_t)(n + 1) * sizeof(double);
    memset(w->rho, 0, sz);
    SIM_SEG4(rho[(uint32_t)di[k]] += qx2[k]; rho[(uint32_t)dj[k]] += qx2[k];);
    if (eatom) {
        memset(ep, 0, sz);
        SIM_SEG4(ep[(uint32_t)di[k]] += da[k]; ep[(uint32_t)dj[k]] += da[k];);
    }
    /* embedding: sqrt and the derivative factor, eight atoms at a time
     * (the scalar loop is bound by the divider's latency) */
    __m512d vemb = _mm512_setzero_pd();
    const __m512d mhalf = _mm512_set1_pd(-0.5);
    for (int64_t i = 0; i < n; i += 8) {
        const __mmask8 live = n - i >= 8 ? 0xFF : (__mmask8)((1u << (n - i)) - 1);
        const __m512d sq = _mm512_sqrt_pd(_mm512_maskz_loadu_pd(live, rho + i));
        const __mmask8 pos = _mm512_mask_cmp_pd_mask(live, sq, _mm512_setzero_pd(), _CMP_GT_OQ);
        _mm512_mask_storeu_pd(g + i, live, _mm512_maskz_div_pd(pos, mhalf, sq));
        vemb = _mm512_add_pd(vemb, sq);
        if (eatom)
            _mm512_mask_storeu_pd(eatom + i, live,
                                  _mm512_sub_pd(_mm512_maskz_loadu_pd(live, ep + i), sq));
    }
    const double emb = _mm512_reduce_add_pd(vemb);
    g[n] = 0;
    /* D+E: pair forces and their accumulation on (x, y, z, -) quadruples:
     * one 32-byte load-add-store per atom of the pair; the separation comes
     * again from q4 (the same subtraction as pass A) */
    double *restrict f4 = w->f4;
    memset(f4, 0, (size_t)(n + 1) * 4 * sizeof(double));
    SIM_SEG4(
        const size_t i = (uint32_t)di[k];
        const size_t j = (uint32_t)dj[k];
        const double fs = fma(g[i] + g[j], dcx[k], dca[k]);
        const __m256d pf = _mm256_mul_pd(
            _mm256_set1_pd(fs), _mm256_sub_pd(_mm256_load_pd(q4 + 4 * i), _mm256_load_pd(q4 + 4 * j)));
        _mm256_store_pd(f4 + 4 * j, _mm256_add_pd(_mm256_load_pd(f4 + 4 * j), pf));
        _mm256_store_pd(f4 + 4 * i, _mm256_sub_pd(_mm256_load_pd(f4 + 4 * i), pf)););
#undef SIM_SEG4
    for (int64_t i = 0; i < n; i++) {
        fx[i] = f4[4 * i];
        fy[i] = f4[4 * i + 1];
        fz[i] = f4[4 * i + 2];
    }
    fx[n] = fy[n] = fz[n] = 0;
    return 2.0 * _mm512_reduce_add_pd(vea) - emb;
}
#endif

static double portable(sim_ws_t *w, double *eatom)
{
    const int64_t n = w->n;
    size_t sz = (size_t)(n + 1) * sizeof(double);
    memset(w->rho, 0, sz);
    memset(w->epair, 0, sz);
    memset(w->fx, 0, sz);
    memset(w->fy, 0, sz);
    memset(w->fz, 0, sz);
    double epair = pass1_scalar(w, eatom != NULL);
    double emb = 0;
    for (int64_t i = 0; i < n; i++) {
        double s = sqrt(w->rho[i]);
        w->g[i] = s > 0 ? -0.5 / s : 0.0;
        emb += s;
        if (eatom) eatom[i] = w->epair[i] - s;
    }
    w->g[n] = 0;
    pass2_scalar(w);
    return epair - emb;
}

int sim_ws_force_soa(sim_ws_t *w, double *etot, double *eatom, sd_err_t *e)
{
    if (!w->valid || sim_nlist_needs_rebuild(&w->nl, w->x, w->y, w->z)) {
        int rc = sim_ws_rebuild(w, e);
        if (rc) return rc;
    }
    double en;
#if SIM_AVX512
    en = compacted(w, eatom);
    (void)portable;
#else
    en = portable(w, eatom);
#endif
    if (etot) *etot = en;
    return SD_OK;
}

int sim_ws_force_soa_scalar(sim_ws_t *w, double *etot, double *eatom, sd_err_t *e)
{
    int grew = 0;
    int rc = sim_nlist_build(&w->nl, w->x, w->y, w->z, &grew, e);
    if (rc) return rc;
    if (grew && ws_alloc_cache(w) != SD_OK)
        return sd_err_set(e, SD_ENOMEM, "workspace: out of memory (pair cache)");
    w->valid = 0; /* the fast kernel's list must be rebuilt next time */
    double en = portable(w, eatom);
    if (etot) *etot = en;
    return SD_OK;
}
