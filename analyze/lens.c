/* LENS with a cell list and sorted neighbour lists (see lens.h). */
#include "lens.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Two atoms closer than this (Å) are "at the same position": no physical
 * structure has them, and they make every neighbour set ambiguous. */
#define LENS_COINCIDENT_A 1e-6
#define LENS_REACH 1

/* Neighbour lists stored in cell order: atom i's list is
 * idx[off[slot[i]] .. off[slot[i]+1]), sorted by atom index. */
typedef struct nlist {
    int64_t *off;  /* [n+1] */
    int32_t *slot; /* [n] */
    int32_t *idx;  /* [cap] */
    int64_t cap;
} nlist_t;

struct lens_state {
    int64_t n;
    double rcut, rc2;
    int64_t frames;
    nlist_t cur, prev;
    /* cell list scratch, grown on demand */
    int64_t *cell_of;    /* [n] */
    int64_t *cell_start; /* [ncell_cap+1] */
    int32_t *cell_atoms; /* [n] atom index, in cell order */
    double *xs, *ys, *zs; /* [n] positions in cell order (contiguous stencil rows) */
    int64_t ncell_cap;
};

static int nlist_init(nlist_t *l, int64_t n)
{
    l->off = calloc((size_t)n + 1, sizeof *l->off);
    l->slot = malloc((size_t)n * sizeof *l->slot);
    l->cap = 32 * n;
    l->idx = malloc((size_t)l->cap * sizeof *l->idx);
    return (l->off && l->slot && l->idx) ? 0 : -1;
}

static void nlist_free(nlist_t *l)
{
    free(l->off);
    free(l->slot);
    free(l->idx);
    l->off = NULL;
    l->slot = NULL;
    l->idx = NULL;
}

lens_state_t *lens_state_new(int64_t n, double rcut, sd_err_t *e)
{
    if (n < 1 || n > (int64_t)INT32_MAX) {
        sd_err_set(e, SD_EINVAL, "LENS: atom count %lld out of range (need 1..%d)", (long long)n,
                   INT32_MAX);
        return NULL;
    }
    if (!isfinite(rcut) || rcut <= 0) {
        sd_err_set(e, SD_ERANGE, "LENS: cut-off %g must be finite and > 0", rcut);
        return NULL;
    }
    lens_state_t *s = calloc(1, sizeof *s);
    if (!s) {
        sd_err_set(e, SD_ENOMEM, "LENS: out of memory");
        return NULL;
    }
    s->n = n;
    s->rcut = rcut;
    s->rc2 = rcut * rcut;
    s->ncell_cap = 4 * n + 64;
    int bad = nlist_init(&s->cur, n) | nlist_init(&s->prev, n);
    s->cell_of = malloc((size_t)n * sizeof *s->cell_of);
    s->cell_atoms = malloc((size_t)n * sizeof *s->cell_atoms);
    s->cell_start = malloc(((size_t)s->ncell_cap + 1) * sizeof *s->cell_start);
    s->xs = malloc((size_t)n * sizeof *s->xs);
    s->ys = malloc((size_t)n * sizeof *s->ys);
    s->zs = malloc((size_t)n * sizeof *s->zs);
    if (bad || !s->cell_of || !s->cell_atoms || !s->cell_start || !s->xs || !s->ys || !s->zs) {
        lens_state_destroy(&s);
        sd_err_set(e, SD_ENOMEM, "LENS: out of memory for %lld atoms", (long long)n);
        return NULL;
    }
    return s;
}

void lens_state_destroy(lens_state_t **ps)
{
    if (!ps || !*ps) return;
    lens_state_t *s = *ps;
    nlist_free(&s->cur);
    nlist_free(&s->prev);
    free(s->cell_of);
    free(s->cell_atoms);
    free(s->cell_start);
    free(s->xs);
    free(s->ys);
    free(s->zs);
    free(s);
    *ps = NULL;
}

void lens_state_reset(lens_state_t *s)
{
    if (s) s->frames = 0;
}

int64_t lens_state_frames(const lens_state_t *s) { return s ? s->frames : 0; }

int32_t lens_state_neighbours(const lens_state_t *s, int64_t i, const int32_t **idx)
{
    if (!s || s->frames == 0 || i < 0 || i >= s->n) return -1;
    /* after a push the newest lists live in prev (swapped) */
    const int64_t k = s->prev.slot[i];
    *idx = s->prev.idx + s->prev.off[k];
    return (int32_t)(s->prev.off[k + 1] - s->prev.off[k]);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Insertion sort for the usual ~20 neighbours; qsort for huge cut-offs. */
static void sort_small(int32_t *a, int64_t m)
{
    if (m > 48) {
        qsort(a, (size_t)m, sizeof *a, cmp_i32);
        return;
    }
    for (int64_t i = 1; i < m; i++) {
        int32_t v = a[i];
        int64_t j = i - 1;
        while (j >= 0 && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

/* Builds s->cur from pos; SD_OK or an error naming the atoms. */
static int build_neighbours(lens_state_t *s, const double *pos, sd_err_t *e)
{
    const int64_t n = s->n;
    double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) {
            double v = pos[3 * i + k];
            if (!isfinite(v))
                return sd_err_set(e, SD_ERANGE, "LENS: atom %lld has a non-finite coordinate (%g)",
                                  (long long)i, v);
            if (v < lo[k]) lo[k] = v;
            if (v > hi[k]) hi[k] = v;
        }
    /* Cells at least rcut/LENS_REACH wide (a stencil of 2*LENS_REACH+1
     * cells per axis covers rcut; REACH 2 scans fewer candidates but was
     * 30% slower at Au density: shorter rows); widened when a few outlying
     * atoms would make the grid mostly empty (bounded memory whatever the
     * input). */
    for (int k = 0; k < 3; k++)
        if (!isfinite(hi[k] - lo[k]) || hi[k] - lo[k] > 1e15)
            return sd_err_set(e, SD_ERANGE, "LENS: coordinates span %g Å along axis %d (too large)",
                              hi[k] - lo[k], k);
    double h = s->rcut / LENS_REACH;
    int64_t dim[3];
    for (;;) {
        double cells = 1;
        for (int k = 0; k < 3; k++) {
            double d = floor((hi[k] - lo[k]) / h) + 1;
            cells *= d;
            dim[k] = (int64_t)d;
        }
        if (cells <= (double)s->ncell_cap) break;
        h *= 1.25;
    }
    const int64_t ncell = dim[0] * dim[1] * dim[2];
    int64_t *start = s->cell_start;
    memset(start, 0, ((size_t)ncell + 1) * sizeof *start);
    for (int64_t i = 0; i < n; i++) {
        int64_t c[3];
        for (int k = 0; k < 3; k++) {
            c[k] = (int64_t)((pos[3 * i + k] - lo[k]) / h);
            if (c[k] >= dim[k]) c[k] = dim[k] - 1;
        }
        int64_t id = (c[2] * dim[1] + c[1]) * dim[0] + c[0];
        s->cell_of[i] = id;
        start[id + 1]++;
    }
    for (int64_t c = 0; c < ncell; c++) start[c + 1] += start[c];
    /* counting sort; atoms inside a cell stay in index order */
    for (int64_t i = 0; i < n; i++) s->cell_atoms[start[s->cell_of[i]]++] = (int32_t)i;
    for (int64_t c = ncell; c > 0; c--) start[c] = start[c - 1];
    start[0] = 0;

    for (int64_t p = 0; p < n; p++) {
        const int32_t i = s->cell_atoms[p];
        s->xs[p] = pos[3 * i];
        s->ys[p] = pos[3 * i + 1];
        s->zs[p] = pos[3 * i + 2];
    }

    /* Atoms in cell order; the cells of a stencil row (x-R..x+R) are one
     * contiguous range of the sorted arrays, so each atom scans (2R+1)^2
     * ranges. */
    nlist_t *l = &s->cur;
    int64_t used = 0;
    const double rc2 = s->rc2, tiny2 = LENS_COINCIDENT_A * LENS_COINCIDENT_A;
    const double *xs = s->xs, *ys = s->ys, *zs = s->zs;
    for (int64_t cz = 0; cz < dim[2]; cz++)
        for (int64_t cy = 0; cy < dim[1]; cy++)
            for (int64_t cx = 0; cx < dim[0]; cx++) {
                const int64_t c = (cz * dim[1] + cy) * dim[0] + cx;
                if (start[c] == start[c + 1]) continue;
                int64_t rlo[(2 * LENS_REACH + 1) * (2 * LENS_REACH + 1)],
                    rhi[(2 * LENS_REACH + 1) * (2 * LENS_REACH + 1)];
                int nr = 0;
                const int64_t x0 = cx >= LENS_REACH ? cx - LENS_REACH : 0,
                              x1 = cx + LENS_REACH < dim[0] ? cx + LENS_REACH : dim[0] - 1;
                for (int64_t z = cz - LENS_REACH; z <= cz + LENS_REACH; z++) {
                    if (z < 0 || z >= dim[2]) continue;
                    for (int64_t y = cy - LENS_REACH; y <= cy + LENS_REACH; y++) {
                        if (y < 0 || y >= dim[1]) continue;
                        const int64_t row = (z * dim[1] + y) * dim[0];
                        rlo[nr] = start[row + x0];
                        rhi[nr] = start[row + x1 + 1];
                        nr++;
                    }
                }
                int64_t cand = 0;
                for (int r = 0; r < nr; r++) cand += rhi[r] - rlo[r];
                for (int64_t p = start[c]; p < start[c + 1]; p++) {
                    if (used + cand > l->cap) { /* room for every candidate */
                        int64_t nc = 2 * l->cap > used + cand ? 2 * l->cap : used + cand;
                        int32_t *q = realloc(l->idx, (size_t)nc * sizeof *q);
                        if (!q) return sd_err_set(e, SD_ENOMEM, "LENS: out of memory");
                        l->idx = q;
                        l->cap = nc;
                    }
                    const int32_t i = s->cell_atoms[p];
                    const double xi = xs[p], yi = ys[p], zi = zs[p];
                    l->slot[i] = (int32_t)p;
                    l->off[p] = used;
                    int32_t *out = l->idx;
                    for (int r = 0; r < nr; r++)
                        for (int64_t a = rlo[r]; a < rhi[r]; a++) {
                            const double dx = xs[a] - xi, dy = ys[a] - yi, dz = zs[a] - zi;
                            const double d2 = dx * dx + dy * dy + dz * dz;
                            out[used] = s->cell_atoms[a]; /* branch-free append */
                            used += d2 <= rc2;
                        }
                    /* drop i itself, check for a coincident atom, sort */
                    int64_t m = l->off[p];
                    for (int64_t q = l->off[p]; q < used; q++) {
                        const int32_t j = out[q];
                        if (j == i) continue;
                        const double dx = pos[3 * j] - xi, dy = pos[3 * j + 1] - yi,
                                     dz = pos[3 * j + 2] - zi;
                        const double d2 = dx * dx + dy * dy + dz * dz;
                        if (d2 < tiny2)
                            return sd_err_set(e, SD_EPHYS,
                                              "LENS: atoms %d and %d are at the same position "
                                              "(distance %.3g Å)",
                                              i < j ? i : j, i < j ? j : i, sqrt(d2));
                        out[m++] = j;
                    }
                    used = m;
                    sort_small(out + l->off[p], used - l->off[p]);
                }
            }
    l->off[n] = used;
    return SD_OK;
}

/* |a xor b| of two sorted index lists. */
static int32_t symdiff_count(const int32_t *a, int64_t na, const int32_t *b, int64_t nb)
{
    int64_t i = 0, j = 0, common = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j]) i++;
        else if (a[i] > b[j]) j++;
        else {
            common++;
            i++;
            j++;
        }
    }
    return (int32_t)(na + nb - 2 * common);
}

int lens_state_push(lens_state_t *s, int64_t n, const double *pos, double *lens_out,
                    int32_t *nneigh_out, int32_t *num_out, int32_t *den_out, sd_err_t *e)
{
    if (!s || !pos) return sd_err_set(e, SD_EINVAL, "LENS: NULL state or positions");
    if (n != s->n)
        return sd_err_set(e, SD_EINVAL,
                          "LENS: frame %lld has %lld atoms but the trajectory has %lld",
                          (long long)s->frames, (long long)n, (long long)s->n);
    int rc = build_neighbours(s, pos, e);
    if (rc) {
        sd_err_prefix(e, "frame %lld", (long long)s->frames);
        return rc;
    }
    const nlist_t *c = &s->cur, *p = &s->prev;
    for (int64_t i = 0; i < n; i++) {
        const int64_t ci = c->slot[i];
        const int64_t nc = c->off[ci + 1] - c->off[ci];
        int32_t num = 0, den = 0;
        if (s->frames > 0) {
            const int64_t pi = p->slot[i];
            const int64_t np = p->off[pi + 1] - p->off[pi];
            num = symdiff_count(c->idx + c->off[ci], nc, p->idx + p->off[pi], np);
            den = (int32_t)(nc + np);
        }
        if (lens_out) lens_out[i] = den > 0 ? (double)num / (double)den : 0.0;
        if (nneigh_out) nneigh_out[i] = (int32_t)nc;
        if (num_out) num_out[i] = num;
        if (den_out) den_out[i] = den;
    }
    nlist_t t = s->prev;
    s->prev = s->cur;
    s->cur = t;
    s->frames++;
    return SD_OK;
}

int lens_compute(int64_t nframes, int64_t n, const double *pos, double rcut, double *lens,
                 int32_t *nneigh, int32_t *num, int32_t *den, sd_err_t *e)
{
    if (nframes < 1) return sd_err_set(e, SD_EINVAL, "LENS: trajectory has no frames");
    if (!pos || !lens) return sd_err_set(e, SD_EINVAL, "LENS: NULL positions or output");
    lens_state_t *s = lens_state_new(n, rcut, e);
    if (!s) return e ? e->code : SD_EINVAL;
    int rc = SD_OK;
    for (int64_t t = 0; t < nframes && rc == SD_OK; t++) {
        const size_t o = (size_t)(t * n);
        rc = lens_state_push(s, n, pos + 3 * o, lens + o, nneigh ? nneigh + o : NULL,
                             num ? num + o : NULL, den ? den + o : NULL, e);
    }
    lens_state_destroy(&s);
    return rc;
}
