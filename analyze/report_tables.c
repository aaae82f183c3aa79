#include "report_tables.h"

#include "sd_npy.h"
#include "sjson.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAXK 64
#define LABEL_MAX 64

typedef struct ctx {
    const sjson_t *j;
    const char *dir;
    int k;
    char labels[MAXK][LABEL_MAX];
    int nfiles;
    sd_err_t *e;
} ctx_t;

static FILE *open_csv(ctx_t *c, const char *name)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s.csv", c->dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        sd_err_set(c->e, SD_EIO, "cannot write %s: %s", path, strerror(errno));
    return f;
}

static int close_csv(ctx_t *c, FILE *f, const char *name)
{
    if (fclose(f) != 0)
        return sd_err_set(c->e, SD_EIO, "cannot write %s/%s.csv", c->dir, name);
    c->nfiles++;
    return SD_OK;
}

static int npy(ctx_t *c, const char *name, sd_npy_dtype_t t, int ndim, const int64_t *shape,
               const void *data)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s.npy", c->dir, name);
    int rc = sd_npy_write(path, t, ndim, shape, data, c->e);
    if (!rc)
        c->nfiles++;
    return rc;
}

static void put_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.10g", v);
}

static void put_label(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\n")) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
}

/* A k×k matrix with environment labels on both axes: CSV (rows "from",
 * columns "to") and .npy. */
static int matrix(ctx_t *c, const char *name, const double *m, int as_int)
{
    int k = c->k;
    FILE *f = open_csv(c, name);
    if (!f)
        return SD_EIO;
    fputs("from\\to", f);
    for (int j = 0; j < k; j++) {
        fputc(',', f);
        put_label(f, c->labels[j]);
    }
    fputc('\n', f);
    for (int i = 0; i < k; i++) {
        put_label(f, c->labels[i]);
        for (int j = 0; j < k; j++) {
            fputc(',', f);
            if (as_int)
                fprintf(f, "%lld", (long long)m[i * k + j]);
            else
                put_num(f, m[i * k + j]);
        }
        fputc('\n', f);
    }
    int rc = close_csv(c, f, name);
    if (rc)
        return rc;
    int64_t shape[2] = {k, k};
    if (!as_int)
        return npy(c, name, SD_NPY_F64, 2, shape, m);
    int64_t iv[MAXK * MAXK];
    for (int i = 0; i < k * k; i++)
        iv[i] = (int64_t)m[i];
    return npy(c, name, SD_NPY_I64, 2, shape, iv);
}

/* node (an array of k arrays of k numbers) into m [k][k]. */
static int read_matrix(ctx_t *c, int node, const char *what, double *m)
{
    if (sjson_len(c->j, node) != c->k || sjson_type(c->j, node) != SJSON_ARRAY)
        return sd_err_set(c->e, SD_EFORMAT, "%s: expected %d rows", what, c->k);
    for (int i = 0; i < c->k; i++)
        if (sjson_numbers(c->j, sjson_at(c->j, node, i), m + i * c->k, c->k, c->e))
            return sd_err_prefix(c->e, "%s row %d", what, i);
    return SD_OK;
}

static void rownorm(int k, const double *cnt, double *p)
{
    for (int i = 0; i < k; i++) {
        double s = 0;
        for (int j = 0; j < k; j++)
            s += cnt[i * k + j];
        for (int j = 0; j < k; j++)
            p[i * k + j] = s > 0 ? cnt[i * k + j] / s : NAN;
    }
}

/* A table of n rows × w numbers under the given CSV header, and its .npy. */
static int series(ctx_t *c, const char *name, const char *header, int node, int w)
{
    int n = sjson_len(c->j, node);
    double *v = malloc((size_t)(n ? n : 1) * (size_t)w * sizeof *v);
    if (!v)
        return sd_err_set(c->e, SD_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        if (sjson_numbers(c->j, sjson_at(c->j, node, i), v + (size_t)i * w, w, c->e)) {
            free(v);
            return sd_err_prefix(c->e, "%s row %d", name, i);
        }
    FILE *f = open_csv(c, name);
    int rc = f ? SD_OK : SD_EIO;
    if (f) {
        fprintf(f, "%s\n", header);
        for (int i = 0; i < n; i++)
            for (int q = 0; q < w; q++) {
                put_num(f, v[(size_t)i * w + q]);
                fputc(q + 1 < w ? ',' : '\n', f);
            }
        rc = close_csv(c, f, name);
    }
    int64_t shape[2] = {n, w};
    if (!rc)
        rc = npy(c, name, SD_NPY_F64, 2, shape, v);
    free(v);
    return rc;
}

int report_tables_write(const char *json, size_t len, const char *dir, int *nfiles, sd_err_t *e)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return sd_err_set(e, SD_EIO, "cannot create %s: %s", dir, strerror(errno));
    sjson_t *j = sjson_parse(json, len, e);
    if (!j)
        return SD_EFORMAT;
    ctx_t c = {.j = j, .dir = dir, .e = e};
    int st = sjson_get(j, 0, "stats"), rc = SD_OK;
    int lab = sjson_get(j, st, "labels");
    c.k = sjson_len(j, lab);
    double dt = sjson_num(j, sjson_get(j, st, "dt_ns"));
    int runs = sjson_get(j, st, "runs"), nr = sjson_len(j, runs);
    double *buf = NULL, *cnt = NULL;
    if (sjson_type(j, st) != SJSON_OBJECT || c.k < 1 || c.k > MAXK ||
        sjson_type(j, runs) != SJSON_ARRAY) {
        rc = sd_err_set(e, SD_EFORMAT, "not a stemdyn state document (stats.labels/runs missing)");
        goto out;
    }
    if (!isfinite(dt) || dt <= 0)
        dt = 1;
    for (int g = 0; g < c.k; g++)
        if (sjson_str(j, sjson_at(j, lab, g), c.labels[g], LABEL_MAX) < 0) {
            rc = sd_err_set(e, SD_EFORMAT, "stats.labels[%d] is not a short string", g);
            goto out;
        }
    int k = c.k, kk = k * k;
    /* runs table, per-run counts and populations */
    buf = calloc((size_t)(nr + 1) * (size_t)(8 + 2 * k + kk), sizeof *buf);
    cnt = calloc((size_t)(nr ? nr : 1) * (size_t)kk, sizeof *cnt);
    if (!buf || !cnt) {
        rc = sd_err_set(e, SD_ENOMEM, "out of memory");
        goto out;
    }
    double *rows = buf, *pm = rows + 8 * nr, *ps = pm + (size_t)(nr + 1) * k;
    char name[64];
    for (int r = 0; r < nr && !rc; r++) {
        int q = sjson_at(j, runs, r);
        double *row = rows + 8 * r, lf[3] = {NAN, NAN, NAN};
        row[0] = sjson_num(j, sjson_get(j, q, "run_id"));
        row[1] = sjson_num(j, sjson_get(j, q, "frames"));
        row[2] = sjson_num(j, sjson_get(j, q, "sim_ns"));
        row[3] = sjson_num(j, sjson_get(j, q, "target_ns"));
        row[4] = sjson_num(j, sjson_get(j, q, "ns_per_day"));
        if (sjson_get(j, q, "lens_fractions") >= 0)
            sjson_numbers(j, sjson_get(j, q, "lens_fractions"), lf, 3, NULL);
        memcpy(row + 5, lf, sizeof lf);
        if (!isfinite(row[0])) {
            rc = sd_err_set(e, SD_EFORMAT, "stats.runs[%d].run_id missing", r);
            break;
        }
        snprintf(name, sizeof name, "stats.runs[%d].counts", r);
        rc = read_matrix(&c, sjson_get(j, q, "counts"), name, cnt + (size_t)r * kk);
        if (!rc && sjson_numbers(j, sjson_get(j, q, "populations_mean"), pm + (size_t)r * k, k, e))
            rc = sd_err_prefix(e, "stats.runs[%d].populations_mean", r);
        if (!rc && sjson_numbers(j, sjson_get(j, q, "populations_std"), ps + (size_t)r * k, k, e))
            rc = sd_err_prefix(e, "stats.runs[%d].populations_std", r);
        if (!rc) {
            snprintf(name, sizeof name, "counts_run_%lld", (long long)row[0]);
            rc = matrix(&c, name, cnt + (size_t)r * kk, 1);
        }
    }
    if (rc)
        goto out;
    FILE *f = open_csv(&c, "runs");
    if (!f) {
        rc = SD_EIO;
        goto out;
    }
    fputs("run_id,frames,sim_ns,target_ns,ns_per_day,lens_static,lens_intermediate,lens_dynamic\n", f);
    for (int r = 0; r < nr; r++)
        for (int q = 0; q < 8; q++) {
            put_num(f, rows[8 * r + q]);
            fputc(q < 7 ? ',' : '\n', f);
        }
    if ((rc = close_csv(&c, f, "runs")))
        goto out;
    int64_t sh[3] = {nr, 8, 0};
    if ((rc = npy(&c, "runs", SD_NPY_F64, 2, sh, rows)))
        goto out;
    {
        int64_t *ic = malloc((size_t)(nr ? nr : 1) * (size_t)kk * sizeof *ic);
        if (!ic) {
            rc = sd_err_set(e, SD_ENOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < (size_t)nr * (size_t)kk; i++)
            ic[i] = (int64_t)cnt[i];
        int64_t sh3[3] = {nr, k, k};
        rc = npy(&c, "counts_runs", SD_NPY_I64, 3, sh3, ic);
        free(ic);
        if (rc)
            goto out;
    }
    /* merged */
    int m = sjson_get(j, st, "merged");
    double mc[MAXK * MAXK], P[MAXK * MAXK], tau[MAXK * MAXK];
    if ((rc = read_matrix(&c, sjson_get(j, m, "counts"), "stats.merged.counts", mc)) ||
        (rc = matrix(&c, "counts_merged", mc, 1)))
        goto out;
    rownorm(k, mc, P);
    for (int i = 0; i < k; i++)
        for (int q = 0; q < k; q++)
            tau[i * k + q] = i != q && P[i * k + q] > 0 ? dt / P[i * k + q] : NAN;
    if ((rc = matrix(&c, "P_merged", P, 0)) || (rc = matrix(&c, "tau_merged", tau, 0)))
        goto out;
    int mp = sjson_get(j, st, "mean_P");
    if (mp >= 0 && ((rc = read_matrix(&c, mp, "stats.mean_P", P)) || (rc = matrix(&c, "P_mean_runs", P, 0))))
        goto out;
    if (sjson_numbers(j, sjson_get(j, m, "populations_mean"), pm + (size_t)nr * k, k, e) ||
        sjson_numbers(j, sjson_get(j, m, "populations_std"), ps + (size_t)nr * k, k, e)) {
        rc = sd_err_prefix(e, "stats.merged.populations");
        goto out;
    }
    if (!(f = open_csv(&c, "populations"))) {
        rc = SD_EIO;
        goto out;
    }
    fputs("scope,environment,mean,std\n", f);
    for (int r = 0; r <= nr; r++)
        for (int g = 0; g < k; g++) {
            if (r < nr)
                fprintf(f, "run %lld,", (long long)rows[8 * r]);
            else
                fputs("merged,", f);
            put_label(f, c.labels[g]);
            fputc(',', f);
            put_num(f, pm[(size_t)r * k + g]);
            fputc(',', f);
            put_num(f, ps[(size_t)r * k + g]);
            fputc('\n', f);
        }
    if ((rc = close_csv(&c, f, "populations")))
        goto out;
    int64_t shp[2] = {nr + 1, k};
    if ((rc = npy(&c, "populations_mean", SD_NPY_F64, 2, shp, pm)) ||
        (rc = npy(&c, "populations_std", SD_NPY_F64, 2, shp, ps)))
        goto out;
    /* LENS */
    int lens = sjson_get(j, st, "lens");
    if (sjson_type(j, sjson_get(j, lens, "fractions_t")) == SJSON_ARRAY &&
        (rc = series(&c, "lens_fractions_t", "t_ns,static,intermediate,dynamic",
                     sjson_get(j, lens, "fractions_t"), 4)))
        goto out;
    int kde = sjson_get(j, lens, "kde");
    if (sjson_type(j, kde) == SJSON_OBJECT) {
        int kx = sjson_get(j, kde, "x"), ky = sjson_get(j, kde, "y"), n = sjson_len(j, kx);
        double *xy = malloc((size_t)(2 * n + 2 * (n ? n : 1)) * sizeof *xy);
        if (!xy) {
            rc = sd_err_set(e, SD_ENOMEM, "out of memory");
            goto out;
        }
        double *x = xy + 2 * n, *y = x + n;
        if (sjson_numbers(j, kx, x, n, e) || sjson_numbers(j, ky, y, n, e)) {
            free(xy);
            rc = sd_err_prefix(e, "stats.lens.kde");
            goto out;
        }
        for (int i = 0; i < n; i++) {
            xy[2 * i] = x[i];
            xy[2 * i + 1] = y[i];
        }
        if ((f = open_csv(&c, "lens_kde"))) {
            fputs("lens,density\n", f);
            for (int i = 0; i < n; i++) {
                put_num(f, x[i]);
                fputc(',', f);
                put_num(f, y[i]);
                fputc('\n', f);
            }
            rc = close_csv(&c, f, "lens_kde");
        } else {
            rc = SD_EIO;
        }
        int64_t shk[2] = {n, 2};
        if (!rc)
            rc = npy(&c, "lens_kde", SD_NPY_F64, 2, shk, xy);
        free(xy);
    }
out:
    free(buf);
    free(cnt);
    sjson_destroy(&j);
    if (nfiles)
        *nfiles = c.nfiles;
    return rc;
}
