/* classify — the paper's two-step classification: full 576 vector, unit
 * length, d = sqrt(|2 - 2 x·r|) to every reference, first minimum, its group.
 * The classifier keeps the previous frame's unit vectors for TimeSOAP. */
#include "classify.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct classify {
    const dict_t *d;
    soap_t *soap;
    int64_t cap;     /* atoms the buffers hold */
    double *cur, *prev; /* [cap][dim] unit vectors */
    int64_t nprev;   /* atoms in prev, -1 none */
};

int classify_normalise(int64_t nrows, int dim, double *x, sd_err_t *e)
{
    for (int64_t i = 0; i < nrows; i++) {
        double *v = x + i * dim, nn = 0;
        for (int f = 0; f < dim; f++) nn += v[f] * v[f];
        if (!(nn > 0) || !isfinite(nn))
            return sd_err_set(e, SD_ERANGE, "classify: vector %lld has zero or non-finite norm",
                              (long long)i);
        double s = 1.0 / sqrt(nn);
        for (int f = 0; f < dim; f++) v[f] *= s;
    }
    return SD_OK;
}

typedef double v8d __attribute__((vector_size(64)));

/* Dot product in 8 lanes (dim a multiple of 8): vectorised, summation order
 * differs from a serial loop by rounding only. */
static double dot8(int dim, const double *a, const double *b)
{
    v8d acc0 = {0, 0, 0, 0, 0, 0, 0, 0}, acc1 = acc0;
    int f = 0;
    for (; f + 16 <= dim; f += 16) {
        v8d x0, y0, x1, y1;
        memcpy(&x0, a + f, sizeof x0);
        memcpy(&y0, b + f, sizeof y0);
        memcpy(&x1, a + f + 8, sizeof x1);
        memcpy(&y1, b + f + 8, sizeof y1);
        acc0 += x0 * y0;
        acc1 += x1 * y1;
    }
    for (; f < dim; f += 8) {
        v8d x0, y0;
        memcpy(&x0, a + f, sizeof x0);
        memcpy(&y0, b + f, sizeof y0);
        acc0 += x0 * y0;
    }
    acc0 += acc1;
    double r = 0;
    for (int k = 0; k < 8; k++) r += acc0[k];
    return r;
}

int classify_vectors(const dict_t *d, int64_t n, const double *x, int64_t *group, int64_t *refidx,
                     double *dist, sd_err_t *e)
{
    if (!d || d->n_refs < 1) return sd_err_set(e, SD_EINVAL, "classify: empty dictionary");
    const int dim = d->dim, R = d->n_refs;
    for (int64_t i = 0; i < n; i++) {
        const double *v = x + i * dim;
        double best = INFINITY;
        int bi = -1;
        for (int r = 0; r < R; r++) {
            const double *ref = d->vec + (size_t)r * dim;
            double dot = dim % 8 == 0 ? dot8(dim, v, ref) : 0;
            if (dim % 8) for (int f = 0; f < dim; f++) dot += v[f] * ref[f];
            double dd = sqrt(fabs(2.0 - 2.0 * dot));
            if (dist) dist[i * R + r] = dd;
            if (dd < best) { best = dd; bi = r; }
        }
        if (bi < 0)
            return sd_err_set(e, SD_ERANGE, "classify: atom %lld has a non-finite SOAP vector",
                              (long long)i);
        if (refidx) refidx[i] = bi;
        if (group) group[i] = d->group[bi];
    }
    return SD_OK;
}

classify_t *classify_new(const dict_t *d, sd_err_t *e)
{
    if (!d) { sd_err_set(e, SD_EINVAL, "classify: no dictionary"); return NULL; }
    int expect = (d->params.l_max + 1) * d->params.n_max * d->params.n_max;
    if (d->dim != expect) {
        sd_err_set(e, SD_EINVAL, "classify: dictionary has %d-vectors, expected %d", d->dim, expect);
        return NULL;
    }
    classify_t *c = calloc(1, sizeof *c);
    if (!c) { sd_err_set(e, SD_ENOMEM, "classify: out of memory"); return NULL; }
    c->d = d;
    c->nprev = -1;
    c->soap = soap_new(&d->params, e);
    if (!c->soap) { free(c); return NULL; }
    return c;
}

void classify_destroy(classify_t **pc)
{
    if (!pc || !*pc) return;
    soap_destroy(&(*pc)->soap);
    free((*pc)->cur);
    free((*pc)->prev);
    free(*pc);
    *pc = NULL;
}

void classify_reset(classify_t *c) { c->nprev = -1; }

int classify_frame(classify_t *c, int64_t n, const double *pos, int64_t *group, int64_t *refidx,
                   double *dist, double *unit, double *timesoap, sd_err_t *e)
{
    const int dim = c->d->dim;
    if (n <= 0) return sd_err_set(e, SD_EINVAL, "classify: empty frame (0 atoms)");
    if (c->nprev >= 0 && n != c->nprev)
        return sd_err_set(e, SD_EINVAL,
                          "classify: the atom count changed from %lld to %lld within a trajectory",
                          (long long)c->nprev, (long long)n);
    if (n > c->cap) {
        double *a = realloc(c->cur, sizeof(double) * (size_t)n * dim);
        if (!a) return sd_err_set(e, SD_ENOMEM, "classify: out of memory for %lld atoms", (long long)n);
        c->cur = a;
        double *b = realloc(c->prev, sizeof(double) * (size_t)n * dim);
        if (!b) return sd_err_set(e, SD_ENOMEM, "classify: out of memory for %lld atoms", (long long)n);
        c->prev = b;
        c->cap = n;
    }
    int rc = soap_compute(c->soap, n, pos, 0, NULL, SOAP_LAYOUT_FULL, c->cur, e);
    if (rc) return rc;
    rc = classify_normalise(n, dim, c->cur, e);
    if (rc) return rc;
    rc = classify_vectors(c->d, n, c->cur, group, refidx, dist, e);
    if (rc) return rc;
    if (timesoap)
        for (int64_t i = 0; i < n; i++)
            timesoap[i] = c->nprev >= 0 ? dict_distance(dim, c->cur + i * dim, c->prev + i * dim) : NAN;
    if (unit) memcpy(unit, c->cur, sizeof(double) * (size_t)n * dim);
    double *t = c->prev;
    c->prev = c->cur;
    c->cur = t;
    c->nprev = n;
    return SD_OK;
}
