/* SMATB energies and forces, the workspace, and the portable kernel:
 * cell-grid Verlet half list with skin, two passes (density, then forces)
 * with the pair quantities of the first pass cached per list entry.  Rows are
 * padded to 8 entries with the sentinel atom n (far away).  AVX-512 builds
 * use the cluster-pair kernel of sim_cluster.c instead; this one stays as the
 * portable path and the cross-check of the fast one.  Summation order
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
                _mm256_mask_compressstoreu_epi32(nl->j + m, mk, jv);
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
    size_t c = (size_t)w->nl.cap + 16;
    double **arr[] = {&w->cdx, &w->cdy, &w->cdz, &w->ca,  &w->cx,  &w->ddx, &w->ddy,
                      &w->ddz, &w->dr2, &w->da,  &w->dx2, &w->dca, &w->dcx};
    for (size_t k = 0; k < sizeof arr / sizeof arr[0]; k++) {
        double *q = xrealloc(*arr[k], c * sizeof(double));
        if (!q) return SD_ENOMEM;
        *arr[k] = q;
    }
    int32_t **ia[] = {&w->di, &w->dj};
    for (size_t k = 0; k < 2; k++) {
        int32_t *q = xrealloc(*ia[k], c * sizeof(int32_t));
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
    w->q4 = calloc((size_t)(n + 1) * 4, sizeof(double));
    if (!w->dstart || !w->q4) bad = 1;
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
    free(w->q4);
    free(w->ddx);
    free(w->ddy);
    free(w->ddz);
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
    /* Cody–Waite reduction to |r| <= ln2/2, degree-11 Taylor (truncation
     * (ln2/2)^12/12! = 6e-15 relative), scalef: the oracle tolerance is
     * 1e-10 eV per atom, 3e-11 relative */
    const __m512d log2e = _mm512_set1_pd(1.4426950408889634074);
    const __m512d ln2hi = _mm512_set1_pd(6.93147180369123816490e-01);
    const __m512d ln2lo = _mm512_set1_pd(1.90821492927058770002e-10);
    __m512d k = _mm512_roundscale_pd(_mm512_mul_pd(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(k, ln2hi, x);
    r = _mm512_fnmadd_pd(k, ln2lo, r);
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
    return _mm512_scalef_pd(p, k);
}

/* AVX-512 path.  A: gather the half-list neighbours, keep those within Rc
 * (compress-store: ~45% of the entries).  B: the pair functions on the dense
 * pairs, contiguous vectors, no gathers.  C: densities (scalar scatter-add).
 * D+E: pair forces and their accumulation (scalar, per row). */
static double compacted(sim_ws_t *w, double *eatom)
{
    const sim_potential_t *p = w->p;
    const sim_smatb_params_t *q = &p->prm;
    const int64_t n = w->n;
    const int64_t *restrict st = w->nl.start;
    const int32_t *restrict jl = w->nl.j;
    const __m512d vrc2 = _mm512_set1_pd(p->rc2);
    /* local restrict copies: stores through them cannot alias w's fields,
     * so the compiler keeps the pointers in registers */
    double *restrict ddx = w->ddx, *restrict ddy = w->ddy, *restrict ddz = w->ddz,
                     *restrict da = w->da, *restrict qx2 = w->dx2,
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
    int64_t m = 0;
    int64_t *restrict ds = w->dstart;
    for (int64_t i = 0; i < n; i++) {
        ds[i] = m;
        const __m512d xi = _mm512_set1_pd(x[i]), yi = _mm512_set1_pd(y[i]),
                      zi = _mm512_set1_pd(z[i]);
        for (int64_t k = st[i]; k < st[i + 1]; k += 8) {
            const int32_t *jk = jl + k;
            __m256i jv = _mm256_loadu_si256((const __m256i *)jk);
            __m512d v0 = _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_loadu_pd(q4 + 4 * jk[0])),
                                            _mm256_loadu_pd(q4 + 4 * jk[1]), 1);
            __m512d v1 = _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_loadu_pd(q4 + 4 * jk[2])),
                                            _mm256_loadu_pd(q4 + 4 * jk[3]), 1);
            __m512d v2 = _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_loadu_pd(q4 + 4 * jk[4])),
                                            _mm256_loadu_pd(q4 + 4 * jk[5]), 1);
            __m512d v3 = _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_loadu_pd(q4 + 4 * jk[6])),
                                            _mm256_loadu_pd(q4 + 4 * jk[7]), 1);
            __m512d t0 = _mm512_unpacklo_pd(v0, v1), t1 = _mm512_unpackhi_pd(v0, v1);
            __m512d t2 = _mm512_unpacklo_pd(v2, v3), t3 = _mm512_unpackhi_pd(v2, v3);
            __m512d dx = _mm512_sub_pd(xi, _mm512_permutex2var_pd(t0, ix, t2));
            __m512d dy = _mm512_sub_pd(yi, _mm512_permutex2var_pd(t1, ix, t3));
            __m512d dz = _mm512_sub_pd(zi, _mm512_permutex2var_pd(t0, iz, t2));
            __m512d r2 = _mm512_fmadd_pd(dx, dx, _mm512_fmadd_pd(dy, dy, _mm512_mul_pd(dz, dz)));
            __mmask8 mk = _mm512_cmp_pd_mask(r2, vrc2, _CMP_LT_OQ);
            _mm512_mask_compressstoreu_pd(ddx + m, mk, dx);
            _mm512_mask_compressstoreu_pd(ddy + m, mk, dy);
            _mm512_mask_compressstoreu_pd(ddz + m, mk, dz);
            _mm256_mask_compressstoreu_epi32(dj + m, mk, jv);
            m += __builtin_popcount((unsigned)mk);
        }
    }
    ds[n] = m;
    const int64_t mpad = (m + 7) & ~(int64_t)7;
    for (int64_t k = m; k < mpad; k++) {
        ddx[k] = 2.0 * p->rc; /* beyond Rc: masked out in B */
        ddy[k] = ddz[k] = 0;
        dj[k] = (int32_t)n;
    }
    /* B */
    const __m512d vrs2 = _mm512_set1_pd(p->rs2), vr0 = _mm512_set1_pd(q->r0),
                  vpr0 = _mm512_set1_pd(p->p_r0), vqr0 = _mm512_set1_pd(p->q2_r0),
                  vA = _mm512_set1_pd(q->A), vxi2 = _mm512_set1_pd(q->xi * q->xi),
                  vrc = _mm512_set1_pd(p->rc);
    const __m512d a3 = _mm512_set1_pd(q->a3), a4 = _mm512_set1_pd(q->a4), a5 = _mm512_set1_pd(q->a5),
                  x3 = _mm512_set1_pd(q->x3), x4 = _mm512_set1_pd(q->x4), x5 = _mm512_set1_pd(q->x5);
    const __m512d a3d = _mm512_set1_pd(3 * q->a3), a4d = _mm512_set1_pd(4 * q->a4),
                  a5d = _mm512_set1_pd(5 * q->a5), x3d = _mm512_set1_pd(3 * q->x3),
                  x4d = _mm512_set1_pd(4 * q->x4), x5d = _mm512_set1_pd(5 * q->x5);
    const __m512d mpr0 = _mm512_set1_pd(-2.0 * p->p_r0), mqr0 = _mm512_set1_pd(-p->q2_r0);
    const __m512d two = _mm512_set1_pd(2.0);
    __m512d vea = _mm512_setzero_pd();
    for (int64_t k = 0; k < mpad; k += 8) {
        const __m512d bx = _mm512_loadu_pd(ddx + k), by = _mm512_loadu_pd(ddy + k),
                      bz = _mm512_loadu_pd(ddz + k);
        __m512d r2 = _mm512_fmadd_pd(bx, bx, _mm512_fmadd_pd(by, by, _mm512_mul_pd(bz, bz)));
        __mmask8 mk = _mm512_cmp_pd_mask(r2, vrc2, _CMP_LT_OQ);
        __m512d r = _mm512_sqrt_pd(r2);
        __m512d rinv = _mm512_maskz_div_pd(mk, _mm512_set1_pd(1.0), r);
        __m512d d0 = _mm512_sub_pd(vr0, r);
        __m512d ea = _mm512_mul_pd(vA, vexp(_mm512_mul_pd(vpr0, d0)));
        __m512d ex = _mm512_mul_pd(vxi2, vexp(_mm512_mul_pd(vqr0, d0)));
        __m512d a = ea, da2 = _mm512_mul_pd(mpr0, ea);
        __m512d x2 = ex, dx2 = _mm512_mul_pd(mqr0, ex);
        __mmask8 mt = _mm512_mask_cmp_pd_mask(mk, r2, vrs2, _CMP_GE_OQ);
        if (mt) {
            __m512d t = _mm512_sub_pd(r, vrc);
            __m512d t2 = _mm512_mul_pd(t, t), t3 = _mm512_mul_pd(t2, t);
            __m512d ta = _mm512_mul_pd(t3, _mm512_fmadd_pd(t, _mm512_fmadd_pd(t, a5, a4), a3));
            __m512d tda = _mm512_mul_pd(t2, _mm512_fmadd_pd(t, _mm512_fmadd_pd(t, a5d, a4d), a3d));
            __m512d tx = _mm512_mul_pd(t3, _mm512_fmadd_pd(t, _mm512_fmadd_pd(t, x5, x4), x3));
            __m512d tdx = _mm512_mul_pd(t2, _mm512_fmadd_pd(t, _mm512_fmadd_pd(t, x5d, x4d), x3d));
            a = _mm512_mask_mov_pd(a, mt, ta);
            da2 = _mm512_mask_mov_pd(da2, mt, _mm512_mul_pd(two, tda));
            x2 = _mm512_mask_mov_pd(x2, mt, _mm512_mul_pd(tx, tx));
            dx2 = _mm512_mask_mov_pd(dx2, mt, _mm512_mul_pd(two, _mm512_mul_pd(tx, tdx)));
        }
        a = _mm512_maskz_mov_pd(mk, a);
        _mm512_storeu_pd(da + k, a);
        _mm512_storeu_pd(qx2 + k, _mm512_maskz_mov_pd(mk, x2));
        _mm512_storeu_pd(dca + k, _mm512_mul_pd(da2, rinv));
        _mm512_storeu_pd(dcx + k, _mm512_mul_pd(dx2, rinv));
        vea = _mm512_add_pd(vea, a);
    }
    /* C */
    size_t sz = (size_t)(n + 1) * sizeof(double);
    memset(w->rho, 0, sz);
    /* i's own sum in a register: consecutive entries share i, and a
     * read-modify-write through memory would serialise them */
    for (int64_t i = 0; i < n; i++) {
        double ri = 0;
        for (int64_t k = ds[i]; k < ds[i + 1]; k++) {
            ri += qx2[k];
            rho[dj[k]] += qx2[k];
        }
        rho[i] += ri;
    }
    if (eatom) {
        memset(ep, 0, sz);
        for (int64_t i = 0; i < n; i++) {
            double ai = 0;
            for (int64_t k = ds[i]; k < ds[i + 1]; k++) {
                ai += da[k];
                ep[dj[k]] += da[k];
            }
            ep[i] += ai;
        }
    }
    double emb = 0;
    for (int64_t i = 0; i < n; i++) {
        double s = sqrt(rho[i]);
        g[i] = s > 0 ? -0.5 / s : 0.0;
        emb += s;
        if (eatom) eatom[i] = ep[i] - s;
    }
    g[n] = 0;
    /* D+E: pair forces and their accumulation, one pass per row */
    memset(fx, 0, sz);
    memset(fy, 0, sz);
    memset(fz, 0, sz);
    for (int64_t i = 0; i < n; i++) {
        const double gi = g[i];
        double ax = 0, ay = 0, az = 0;
        for (int64_t k = ds[i]; k < ds[i + 1]; k++) {
            const int32_t j = dj[k];
            const double fs = dca[k] + (gi + g[j]) * dcx[k];
            const double px = fs * ddx[k], py = fs * ddy[k], pz = fs * ddz[k];
            ax += px;
            ay += py;
            az += pz;
            fx[j] += px;
            fy[j] += py;
            fz[j] += pz;
        }
        fx[i] -= ax;
        fy[i] -= ay;
        fz[i] -= az;
    }
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
