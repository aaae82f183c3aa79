/* model3d_truth — ground truth for the 3D reconstruction: columns of a known
 * 3D model (projection along its beam axis) and the z-extent comparison of a
 * reconstructed model with it. */
#include "recon.h"

#include "sd_atoms.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Mean direction of the nearest-neighbour bonds within the cone of a. */
static int refine_axis(int64_t n, const double *pos, double a[3], sd_err_t *e)
{
    if (n < 2) return SD_OK;
    double *nnd = malloc((size_t)n * sizeof *nnd);
    if (!nnd) return sd_err_set(e, SD_ENOMEM, "columns_from_model: out of memory");
    for (int64_t i = 0; i < n; i++) {
        double best = INFINITY;
        for (int64_t j = 0; j < n; j++) {
            if (j == i) continue;
            double dx = pos[3 * j] - pos[3 * i], dy = pos[3 * j + 1] - pos[3 * i + 1],
                   dz = pos[3 * j + 2] - pos[3 * i + 2], d2 = dx * dx + dy * dy + dz * dz;
            if (d2 < best) best = d2;
        }
        nnd[i] = sqrt(best);
    }
    qsort(nnd, (size_t)n, sizeof *nnd, cmp_dbl);
    double rmax = 1.2 * nnd[n / 2], rmax2 = rmax * rmax;
    free(nnd);
    static const double cone[] = {0.95, 0.98, 0.985, 0.985};
    for (size_t it = 0; it < sizeof cone / sizeof cone[0]; it++) {
        double s[3] = {0, 0, 0};
        int64_t nb = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = i + 1; j < n; j++) {
                double v[3] = {pos[3 * j] - pos[3 * i], pos[3 * j + 1] - pos[3 * i + 1],
                               pos[3 * j + 2] - pos[3 * i + 2]};
                double r2 = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
                if (r2 > rmax2 || r2 == 0) continue;
                double r = sqrt(r2), cs = (v[0] * a[0] + v[1] * a[1] + v[2] * a[2]) / r;
                if (fabs(cs) < cone[it]) continue;
                double sg = cs < 0 ? -1.0 : 1.0;
                for (int k = 0; k < 3; k++) s[k] += sg * v[k] / r;
                nb++;
            }
        double l = sqrt(s[0] * s[0] + s[1] * s[1] + s[2] * s[2]);
        if (nb == 0 || !(l > 0)) break; /* no chain along the hint: keep it */
        for (int k = 0; k < 3; k++) a[k] = s[k] / l;
    }
    return SD_OK;
}

int recon_columns_from_model(int64_t n, const double *pos, const double axis[3], int refine,
                             double tol, recon_columns_t *cols, int64_t *col_of_atom,
                             double **zlo_out, double **zhi_out, double axis_out[3], sd_err_t *e)
{
    if (!cols || !axis || n < 0 || (n > 0 && !pos))
        return sd_err_set(e, SD_EINVAL, "columns_from_model: bad arguments");
    memset(cols, 0, sizeof *cols);
    if (zlo_out) *zlo_out = NULL;
    if (zhi_out) *zhi_out = NULL;
    double an = sqrt(axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]);
    if (!(an > 0) || !isfinite(an))
        return sd_err_set(e, SD_EINVAL, "columns_from_model: axis must be a non-zero vector");
    for (int64_t i = 0; i < 3 * n; i++)
        if (!isfinite(pos[i]))
            return sd_err_set(e, SD_ERANGE, "columns_from_model: atom %lld not finite",
                              (long long)(i / 3));
    double a[3] = {axis[0] / an, axis[1] / an, axis[2] / an};
    if (refine) {
        int r = refine_axis(n, pos, a, e);
        if (r) return r;
    }
    if (axis_out) memcpy(axis_out, a, sizeof a);
    /* in-plane frame: e1 from the coordinate axis least aligned with a */
    int kmin = 0;
    for (int k = 1; k < 3; k++)
        if (fabs(a[k]) < fabs(a[kmin])) kmin = k;
    double e1[3] = {0, 0, 0}, e2[3];
    e1[kmin] = 1;
    double d = e1[0] * a[0] + e1[1] * a[1] + e1[2] * a[2];
    for (int k = 0; k < 3; k++) e1[k] -= d * a[k];
    double l1 = sqrt(e1[0] * e1[0] + e1[1] * e1[1] + e1[2] * e1[2]);
    for (int k = 0; k < 3; k++) e1[k] /= l1;
    e2[0] = a[1] * e1[2] - a[2] * e1[1];
    e2[1] = a[2] * e1[0] - a[0] * e1[2];
    e2[2] = a[0] * e1[1] - a[1] * e1[0];
    if (tol <= 0) tol = 0.9;
    const double merge_d = 1.6, merge2 = merge_d * merge_d;

    int rc = SD_OK;
    size_t ns = (size_t)(n > 0 ? n : 1);
    double *u = malloc(ns * sizeof *u), *v = malloc(ns * sizeof *v), *w = malloc(ns * sizeof *w);
    double *cu = malloc(ns * sizeof *cu), *cv = malloc(ns * sizeof *cv);
    double *su = malloc(ns * sizeof *su), *sv = malloc(ns * sizeof *sv);
    int64_t *lab = malloc(ns * sizeof *lab), *cn = malloc(ns * sizeof *cn);
    int64_t *remap = malloc(ns * sizeof *remap);
    double *zlo = NULL, *zhi = NULL;
    if (!u || !v || !w || !cu || !cv || !su || !sv || !lab || !cn || !remap) {
        rc = sd_err_set(e, SD_ENOMEM, "columns_from_model: out of memory");
        goto out;
    }
    for (int64_t i = 0; i < n; i++) {
        const double *p = pos + 3 * i;
        u[i] = p[0] * e1[0] + p[1] * e1[1] + p[2] * e1[2];
        v[i] = p[0] * e2[0] + p[1] * e2[1] + p[2] * e2[2];
        w[i] = p[0] * a[0] + p[1] * a[1] + p[2] * a[2];
    }
    /* leader clustering with running centres */
    int64_t nc = 0;
    double tol2 = tol * tol;
    for (int64_t i = 0; i < n; i++) {
        int64_t best = -1;
        double bd = tol2;
        for (int64_t k = 0; k < nc; k++) {
            double du = u[i] - cu[k], dv = v[i] - cv[k], d2 = du * du + dv * dv;
            if (d2 < bd) {
                bd = d2;
                best = k;
            }
        }
        if (best < 0) {
            best = nc++;
            cn[best] = 0;
            su[best] = sv[best] = 0;
        }
        lab[i] = best;
        cn[best]++;
        su[best] += u[i];
        sv[best] += v[i];
        cu[best] = su[best] / (double)cn[best];
        cv[best] = sv[best] / (double)cn[best];
    }
    /* nearest-centre refinement with merging of too-close centres */
    for (int iter = 0; iter < 20; iter++) {
        int changed = 0;
        for (int64_t k = 0; k < nc; k++) {
            if (cn[k] == 0) continue;
            for (int64_t l = k + 1; l < nc; l++) {
                if (cn[l] == 0) continue;
                double du = cu[l] - cu[k], dv = cv[l] - cv[k];
                if (du * du + dv * dv >= merge2) continue;
                double wk = (double)cn[k], wl = (double)cn[l];
                cu[k] = (wk * cu[k] + wl * cu[l]) / (wk + wl);
                cv[k] = (wk * cv[k] + wl * cv[l]) / (wk + wl);
                cn[k] += cn[l];
                cn[l] = 0;
                changed = 1;
            }
        }
        for (int64_t i = 0; i < n; i++) {
            int64_t best = lab[i];
            double bd = INFINITY;
            for (int64_t k = 0; k < nc; k++) {
                if (cn[k] == 0) continue;
                double du = u[i] - cu[k], dv = v[i] - cv[k], d2 = du * du + dv * dv;
                if (d2 < bd) {
                    bd = d2;
                    best = k;
                }
            }
            if (best != lab[i]) changed = 1;
            lab[i] = best;
        }
        for (int64_t k = 0; k < nc; k++) cn[k] = 0, su[k] = sv[k] = 0;
        for (int64_t i = 0; i < n; i++) {
            cn[lab[i]]++;
            su[lab[i]] += u[i];
            sv[lab[i]] += v[i];
        }
        for (int64_t k = 0; k < nc; k++)
            if (cn[k]) cu[k] = su[k] / (double)cn[k], cv[k] = sv[k] / (double)cn[k];
        if (!changed) break;
    }
    int64_t m = 0;
    for (int64_t k = 0; k < nc; k++) remap[k] = cn[k] ? m++ : -1;
    rc = recon_columns_alloc(cols, m, e);
    if (rc == SD_OK) {
        zlo = malloc((size_t)(m > 0 ? m : 1) * sizeof *zlo);
        zhi = malloc((size_t)(m > 0 ? m : 1) * sizeof *zhi);
        if (!zlo || !zhi) rc = sd_err_set(e, SD_ENOMEM, "columns_from_model: out of memory");
    }
    if (rc) {
        recon_columns_free(cols);
        goto out;
    }
    for (int64_t k = 0; k < nc; k++) {
        int64_t j = remap[k];
        if (j < 0) continue;
        cols->x[j] = cu[k];
        cols->y[j] = cv[k];
        cols->count[j] = (int32_t)cn[k];
        cols->prob[j] = 1.0;
        zlo[j] = INFINITY;
        zhi[j] = -INFINITY;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t j = remap[lab[i]];
        if (col_of_atom) col_of_atom[i] = j;
        if (w[i] < zlo[j]) zlo[j] = w[i];
        if (w[i] > zhi[j]) zhi[j] = w[i];
    }
    if (zlo_out) *zlo_out = zlo, zlo = NULL;
    if (zhi_out) *zhi_out = zhi, zhi = NULL;
out:
    free(u);
    free(v);
    free(w);
    free(cu);
    free(cv);
    free(su);
    free(sv);
    free(lab);
    free(cn);
    free(remap);
    free(zlo);
    free(zhi);
    return rc;
}

int recon_model3d_extent_match(const sd_atoms_t *model, int64_t ncol, const double *zlo,
                               const double *zhi, double c, double *fraction, int *mirrored,
                               sd_err_t *e)
{
    if (!model || ncol < 0 || (ncol > 0 && (!zlo || !zhi)) || !(c > 0) || !fraction)
        return sd_err_set(e, SD_EINVAL, "extent_match: bad arguments");
    const sd_prop_t *pr = sd_atoms_get_prop(model, "column_id");
    if (!pr || pr->kind != SD_PROP_INT || pr->ncols != 1)
        return sd_err_set(e, SD_ENOTFOUND, "extent_match: model has no column_id:I:1 property");
    *fraction = 0;
    if (mirrored) *mirrored = 0;
    if (ncol == 0) return SD_OK;
    double *lo = malloc((size_t)ncol * sizeof *lo), *hi = malloc((size_t)ncol * sizeof *hi);
    if (!lo || !hi) {
        free(lo);
        free(hi);
        return sd_err_set(e, SD_ENOMEM, "extent_match: out of memory");
    }
    for (int64_t j = 0; j < ncol; j++) lo[j] = INFINITY, hi[j] = -INFINITY;
    for (int64_t a = 0; a < model->n; a++) {
        int64_t j = pr->ints[a];
        if (j < 0 || j >= ncol) continue;
        double z = model->pos[3 * a + 2];
        if (z < lo[j]) lo[j] = z;
        if (z > hi[j]) hi[j] = z;
    }
    double tol = 0.5 * c;
    int64_t best = -1;
    int bestm = 0;
    for (int mir = 0; mir < 2; mir++) {
        for (int64_t s = 0; s < ncol; s++) {
            if (!isfinite(lo[s])) continue;
            for (int end = 0; end < 2; end++) {
                double ls = mir ? -hi[s] : lo[s], hs = mir ? -lo[s] : hi[s];
                double shift = end ? zhi[s] - hs : zlo[s] - ls;
                int64_t ok = 0;
                for (int64_t j = 0; j < ncol; j++) {
                    if (!isfinite(lo[j])) continue;
                    double l = (mir ? -hi[j] : lo[j]) + shift, h = (mir ? -lo[j] : hi[j]) + shift;
                    if (fabs(l - zlo[j]) < tol && fabs(h - zhi[j]) < tol) ok++;
                }
                if (ok > best) {
                    best = ok;
                    bestm = mir;
                }
            }
        }
    }
    free(lo);
    free(hi);
    *fraction = best > 0 ? (double)best / (double)ncol : 0;
    if (mirrored) *mirrored = bestm;
    return SD_OK;
}
