/* dict — environment dictionaries ("stemdyn-dict 1" text + .npy vectors), the
 * SOAP distance, complete linkage (nearest-neighbour chain, as scipy) and
 * flat clusters at a cut height. */
#include "dict.h"

#include "sd_npy.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef STEMDYN_ANALYZE_DATA_DIR
#define STEMDYN_ANALYZE_DATA_DIR "analyze/data"
#endif

#define DICT_MAX_REFS 1000000
#define DICT_MAX_GROUPS 4096

dict_t *dict_new(int n_refs, int dim, int n_groups)
{
    if (n_refs < 0 || n_refs > DICT_MAX_REFS || dim <= 0 || n_groups < 0 || n_groups > DICT_MAX_GROUPS)
        return NULL;
    dict_t *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->n_refs = n_refs;
    d->dim = dim;
    d->n_groups = n_groups;
    size_t nr = n_refs ? (size_t)n_refs : 1, ng = n_groups ? (size_t)n_groups : 1;
    d->vec = calloc(nr * (size_t)dim, sizeof(double));
    d->group = calloc(nr, sizeof(int));
    d->ref_name = calloc(nr, sizeof *d->ref_name);
    d->ref_source = calloc(nr, sizeof *d->ref_source);
    d->ref_atom = calloc(nr, sizeof(int64_t));
    d->group_label = calloc(ng, sizeof *d->group_label);
    if (!d->vec || !d->group || !d->ref_name || !d->ref_source || !d->ref_atom || !d->group_label) {
        dict_destroy(&d);
        return NULL;
    }
    for (int i = 0; i < n_refs; i++) d->ref_atom[i] = -1;
    return d;
}

void dict_destroy(dict_t **pd)
{
    if (!pd || !*pd) return;
    dict_t *d = *pd;
    free(d->vec); free(d->group); free(d->ref_name); free(d->ref_source); free(d->ref_atom);
    free(d->group_label);
    free(d);
    *pd = NULL;
}

const char *dict_default_path(void)
{
    const char *env = getenv("STEMDYN_DICT");
    if (env && *env) return env;
    return STEMDYN_ANALYZE_DATA_DIR "/au_paper47.dict";
}

double dict_distance(int dim, const double *a, const double *b)
{
    double dot = 0;
    for (int f = 0; f < dim; f++) dot += a[f] * b[f];
    return sqrt(fabs(2.0 - 2.0 * dot));
}

/* A token without whitespace, printable, < cap. */
static int token_ok(const char *t, size_t cap)
{
    size_t n = strlen(t);
    if (n == 0 || n >= cap) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isgraph((unsigned char)t[i])) return 0;
    return 1;
}

static void npy_path_for(const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "%s", path);
    char *slash = strrchr(out, '/');
    char *dot = strrchr(out, '.');
    if (dot && (!slash || dot > slash)) *dot = 0;
    size_t n = strlen(out);
    snprintf(out + n, cap - n, ".npy");
}

int dict_save(const char *path, const dict_t *d, sd_err_t *e)
{
    char npy[4096];
    npy_path_for(path, npy, sizeof npy);
    if (!strcmp(npy, path))
        return sd_err_set(e, SD_EINVAL, "dict: %s: give the dictionary a name not ending in .npy (the vectors go there)", path);
    const char *base = strrchr(npy, '/');
    base = base ? base + 1 : npy;
    int64_t shape[2] = {d->n_refs, d->dim};
    int rc = sd_npy_write(npy, SD_NPY_F64, 2, shape, d->vec, e);
    if (rc) return rc;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return sd_err_set(e, SD_EIO, "dict: cannot write %s", tmp);
    fprintf(f, "stemdyn-dict 1\n");
    fprintf(f, "# SOAP environment dictionary: unit vectors (full [l][n][n'] layout) in the .npy named below\n");
    fprintf(f, "name %s\nvectors %s\n", d->name[0] ? d->name : "unnamed", base);
    fprintf(f, "r_cut %.17g\nsigma %.17g\nn_max %d\nl_max %d\ndim %d\n", d->params.r_cut,
            d->params.sigma, d->params.n_max, d->params.l_max, d->dim);
    fprintf(f, "groups %d\n", d->n_groups);
    for (int g = 0; g < d->n_groups; g++) fprintf(f, "group %d %s\n", g, d->group_label[g]);
    fprintf(f, "refs %d\n# ref index group source atom name\n", d->n_refs);
    for (int i = 0; i < d->n_refs; i++)
        fprintf(f, "ref %d %d %s %lld %s\n", i, d->group[i], d->ref_source[i][0] ? d->ref_source[i] : "-",
                (long long)d->ref_atom[i], d->ref_name[i][0] ? d->ref_name[i] : "-");
    int bad = ferror(f);
    if (fclose(f) || bad) {
        remove(tmp);
        return sd_err_set(e, SD_EIO, "dict: write error on %s", tmp);
    }
    if (rename(tmp, path)) {
        remove(tmp);
        return sd_err_set(e, SD_EIO, "dict: cannot rename %s to %s", tmp, path);
    }
    return SD_OK;
}

int dict_load(const char *path, dict_t **out, sd_err_t *e)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) return sd_err_set(e, SD_ENOTFOUND, "dictionary %s: cannot open", path);
    char line[1024], vecname[512] = "", name[64] = "";
    soap_params_t p = {0, 0, 0, 0};
    int dim = -1, ngroups = -1, nrefs = -1, lineno = 0, have_magic = 0;
    char *grp = NULL; /* [ngroups][16] labels */
    dict_t *d = NULL;
    int gseen = 0, rseen = 0, rc = SD_OK;
#define FAIL(...) do { rc = sd_err_set(e, SD_EFORMAT, __VA_ARGS__); goto done; } while (0)
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) FAIL("dictionary %s:%d: line too long", path, lineno);
        char *h = strchr(line, '#');
        if (h) *h = 0;
        char k[64], a[256], b[256], c[256], dd[256], ee[256];
        int nt = sscanf(line, "%63s %255s %255s %255s %255s %255s", k, a, b, c, dd, ee);
        if (nt <= 0) continue;
        if (!have_magic) {
            if (strcmp(k, "stemdyn-dict") || nt < 2)
                FAIL("dictionary %s: not a stemdyn dictionary (first line must be 'stemdyn-dict 1')", path);
            if (strcmp(a, "1"))
                { rc = sd_err_set(e, SD_EVERSION, "dictionary %s: format version %s not supported (1)", path, a); goto done; }
            have_magic = 1;
            continue;
        }
        char *end;
        if (!strcmp(k, "name") && nt >= 2) snprintf(name, sizeof name, "%.63s", a);
        else if (!strcmp(k, "vectors") && nt >= 2) snprintf(vecname, sizeof vecname, "%s", a);
        else if (!strcmp(k, "r_cut") && nt >= 2) { p.r_cut = strtod(a, &end); if (*end) FAIL("dictionary %s:%d: bad r_cut '%s'", path, lineno, a); }
        else if (!strcmp(k, "sigma") && nt >= 2) { p.sigma = strtod(a, &end); if (*end) FAIL("dictionary %s:%d: bad sigma '%s'", path, lineno, a); }
        else if (!strcmp(k, "n_max") && nt >= 2) { p.n_max = (int)strtol(a, &end, 10); if (*end) FAIL("dictionary %s:%d: bad n_max", path, lineno); }
        else if (!strcmp(k, "l_max") && nt >= 2) { p.l_max = (int)strtol(a, &end, 10); if (*end) FAIL("dictionary %s:%d: bad l_max", path, lineno); }
        else if (!strcmp(k, "dim") && nt >= 2) { dim = (int)strtol(a, &end, 10); if (*end) FAIL("dictionary %s:%d: bad dim", path, lineno); }
        else if (!strcmp(k, "groups") && nt >= 2) {
            if (ngroups > 0) FAIL("dictionary %s:%d: duplicate 'groups' line", path, lineno);
            ngroups = (int)strtol(a, &end, 10);
            if (*end || ngroups < 1 || ngroups > DICT_MAX_GROUPS) FAIL("dictionary %s:%d: bad group count '%s'", path, lineno, a);
        } else if (!strcmp(k, "refs") && nt >= 2) {
            if (d) FAIL("dictionary %s:%d: duplicate 'refs' line", path, lineno);
            nrefs = (int)strtol(a, &end, 10);
            if (*end || nrefs < 1 || nrefs > DICT_MAX_REFS) FAIL("dictionary %s:%d: bad reference count '%s'", path, lineno, a);
            if (ngroups < 1) FAIL("dictionary %s:%d: 'groups' must come before 'refs'", path, lineno);
            if (p.n_max < 1 || p.n_max > 20 || p.l_max < 0 || p.l_max > 20)
                FAIL("dictionary %s: n_max/l_max missing or out of range before 'refs'", path);
            int expect = (p.l_max + 1) * p.n_max * p.n_max;
            if (dim != expect)
                FAIL("dictionary %s: dim %d does not match n_max %d, l_max %d (expected %d)", path, dim,
                     p.n_max, p.l_max, expect);
            if (!d) {
                d = dict_new(nrefs, dim, ngroups);
                if (!d) { rc = sd_err_set(e, SD_ENOMEM, "dictionary %s: out of memory", path); goto done; }
                for (int g = 0; g < ngroups; g++) snprintf(d->group_label[g], sizeof d->group_label[g], "g%d", g);
            }
        } else if (!strcmp(k, "group") && nt >= 3) {
            if (ngroups < 1) FAIL("dictionary %s:%d: 'group' before 'groups'", path, lineno);
            int g = (int)strtol(a, &end, 10);
            if (*end || g < 0 || g >= ngroups) FAIL("dictionary %s:%d: group index '%s' outside 0..%d", path, lineno, a, ngroups - 1);
            if (!token_ok(b, 16)) FAIL("dictionary %s:%d: bad group label", path, lineno);
            if (!grp) { grp = calloc((size_t)ngroups, 16); if (!grp) { rc = sd_err_set(e, SD_ENOMEM, "out of memory"); goto done; } }
            memcpy(grp + (size_t)g * 16, b, strlen(b) + 1);
            gseen++;
        } else if (!strcmp(k, "ref") && nt >= 6) {
            if (!d) FAIL("dictionary %s:%d: 'ref' before 'refs'", path, lineno);
            int i = (int)strtol(a, &end, 10);
            if (*end || i < 0 || i >= nrefs) FAIL("dictionary %s:%d: reference index '%s' outside 0..%d", path, lineno, a, nrefs - 1);
            int g = (int)strtol(b, &end, 10);
            if (*end || g < 0 || g >= ngroups) FAIL("dictionary %s:%d: group '%s' of reference %d outside 0..%d", path, lineno, b, i, ngroups - 1);
            long long atom = strtoll(dd, &end, 10);
            if (*end || atom < -1) FAIL("dictionary %s:%d: bad atom index '%s'", path, lineno, dd);
            if (!token_ok(c, 64) || !token_ok(ee, 64)) FAIL("dictionary %s:%d: bad source or name", path, lineno);
            d->group[i] = g;
            snprintf(d->ref_source[i], sizeof d->ref_source[i], "%.63s", strcmp(c, "-") ? c : "");
            snprintf(d->ref_name[i], sizeof d->ref_name[i], "%.63s", ee);
            d->ref_atom[i] = atom;
            rseen++;
        } else {
            FAIL("dictionary %s:%d: unexpected line starting with '%s'", path, lineno, k);
        }
    }
    if (!have_magic) FAIL("dictionary %s: empty file", path);
    if (!d) FAIL("dictionary %s: no 'refs' line", path);
    if (rseen != nrefs) FAIL("dictionary %s: %d 'ref' lines for %d references", path, rseen, nrefs);
    if (gseen != ngroups) FAIL("dictionary %s: %d 'group' lines for %d groups", path, gseen, ngroups);
    if (!(p.r_cut > 1) || !(p.sigma > 0)) FAIL("dictionary %s: r_cut/sigma missing or invalid", path);
    if (!vecname[0]) FAIL("dictionary %s: no 'vectors' line", path);
    for (int g = 0; g < ngroups; g++) {
        const char *lab = grp ? grp + (size_t)g * 16 : "";
        if (!lab[0]) FAIL("dictionary %s: group %d has no label", path, g);
        snprintf(d->group_label[g], sizeof d->group_label[g], "%s", lab);
    }
    d->params = p;
    snprintf(d->name, sizeof d->name, "%s", name[0] ? name : "unnamed");
    {
        char vp[4096];
        if (vecname[0] == '/') snprintf(vp, sizeof vp, "%s", vecname);
        else {
            const char *sl = strrchr(path, '/');
            if (sl) snprintf(vp, sizeof vp, "%.*s/%s", (int)(sl - path), path, vecname);
            else snprintf(vp, sizeof vp, "%s", vecname);
        }
        sd_npy_t a;
        memset(&a, 0, sizeof a);
        rc = sd_npy_read_f64(vp, &a, e);
        if (rc) { sd_err_prefix(e, "dictionary %s", path); goto done; }
        if (a.ndim != 2 || a.shape[0] != nrefs) {
            rc = sd_err_set(e, SD_EFORMAT, "dictionary %s: vectors %s have shape %s%lld%s, expected (%d, %d)",
                            path, vp, a.ndim == 2 ? "(" : "ndim ", (long long)(a.ndim >= 1 ? a.shape[0] : 0),
                            a.ndim == 2 ? ", …)" : "", nrefs, dim);
            sd_npy_free(&a);
            goto done;
        }
        if (a.shape[1] != dim) {
            rc = sd_err_set(e, SD_EFORMAT, "dictionary %s has %lld-vectors, expected %d", path,
                            (long long)a.shape[1], dim);
            sd_npy_free(&a);
            goto done;
        }
        memcpy(d->vec, a.data, sizeof(double) * (size_t)nrefs * dim);
        sd_npy_free(&a);
    }
    for (int i = 0; i < nrefs; i++) {
        double nn = 0;
        for (int q = 0; q < dim; q++) {
            double v = d->vec[(size_t)i * dim + q];
            if (!isfinite(v)) FAIL("dictionary %s: reference %d has a non-finite entry", path, i);
            nn += v * v;
        }
        if (fabs(sqrt(nn) - 1.0) > 1e-5)
            FAIL("dictionary %s: reference %d is not unit length (|x| = %.9g)", path, i, sqrt(nn));
    }
#undef FAIL
done:
    fclose(f);
    free(grp);
    if (rc) dict_destroy(&d);
    *out = d;
    return rc;
}

/* ---- hierarchical clustering ---- */

static size_t cidx(int n, int i, int j)
{
    if (i > j) { int t = i; i = j; j = t; }
    return (size_t)n * i - (size_t)i * (i + 1) / 2 + (size_t)(j - i - 1);
}

typedef struct { int a, b; double h; int order; } merge_t;

static int merge_cmp(const void *x, const void *y)
{
    const merge_t *p = x, *q = y;
    if (p->h < q->h) return -1;
    if (p->h > q->h) return 1;
    return p->order - q->order;
}

static int uf_find(int *parent, int x)
{
    while (parent[x] != x) { parent[x] = parent[parent[x]]; x = parent[x]; }
    return x;
}

int dict_linkage_complete(int n, const double *dist, int *za, int *zb, double *zh, int *zsize,
                          sd_err_t *e)
{
    if (n < 2) return sd_err_set(e, SD_EINVAL, "linkage: need at least 2 items (got %d)", n);
    if (n > 60000) return sd_err_set(e, SD_ENOMEM, "linkage: %d items is too many", n);
    size_t np = (size_t)n * (n - 1) / 2;
    for (size_t q = 0; q < np; q++)
        if (!isfinite(dist[q]) || dist[q] < 0)
            return sd_err_set(e, SD_ERANGE, "linkage: distance %zu is negative or not finite", q);
    double *D = malloc(sizeof(double) * np);
    int *chain = malloc(sizeof(int) * n), *size = malloc(sizeof(int) * n), *active = malloc(sizeof(int) * n);
    merge_t *mg = malloc(sizeof(merge_t) * (n - 1));
    int *parent = malloc(sizeof(int) * (2 * n)), *cl = malloc(sizeof(int) * (2 * n));
    if (!D || !chain || !size || !active || !mg || !parent || !cl) {
        free(D); free(chain); free(size); free(active); free(mg); free(parent); free(cl);
        return sd_err_set(e, SD_ENOMEM, "linkage: out of memory for %d items", n);
    }
    memcpy(D, dist, sizeof(double) * np);
    for (int i = 0; i < n; i++) { size[i] = 1; active[i] = 1; }
    int clen = 0, nm = 0;
    /* nearest-neighbour chain (valid for complete linkage: reducible) */
    while (nm < n - 1) {
        if (clen == 0) {
            int first = 0;
            while (!active[first]) first++;
            chain[clen++] = first;
        }
        int a, b;
        for (;;) {
            a = chain[clen - 1];
            int prev = clen >= 2 ? chain[clen - 2] : -1;
            double best = INFINITY;
            b = -1;
            if (prev >= 0) { best = D[cidx(n, a, prev)]; b = prev; }
            for (int k = 0; k < n; k++) {
                if (!active[k] || k == a) continue;
                double v = D[cidx(n, a, k)];
                if (v < best) { best = v; b = k; }
            }
            if (b == prev) break;
            chain[clen++] = b;
        }
        clen -= 2;
        double h = D[cidx(n, a, b)];
        int lo = a < b ? a : b, hi = a < b ? b : a;
        mg[nm].a = lo;
        mg[nm].b = hi;
        mg[nm].h = h;
        mg[nm].order = nm;
        nm++;
        /* merged cluster lives in slot hi (as scipy's nn_chain) */
        active[lo] = 0;
        for (int k = 0; k < n; k++) {
            if (!active[k] || k == hi) continue;
            double v1 = D[cidx(n, lo, k)], v2 = D[cidx(n, hi, k)];
            D[cidx(n, hi, k)] = v1 > v2 ? v1 : v2;
        }
        size[hi] += size[lo];
    }
    /* scipy: stable sort by height, then relabel with union-find */
    qsort(mg, (size_t)(n - 1), sizeof(merge_t), merge_cmp);
    for (int i = 0; i < 2 * n; i++) { parent[i] = i; cl[i] = 1; }
    for (int m = 0; m < n - 1; m++) {
        int x = uf_find(parent, mg[m].a), y = uf_find(parent, mg[m].b);
        int ix = x, iy = y;
        if (ix > iy) { int t = ix; ix = iy; iy = t; }
        za[m] = ix;
        zb[m] = iy;
        zh[m] = mg[m].h;
        int nw = n + m;
        parent[x] = nw;
        parent[y] = nw;
        cl[nw] = cl[x] + cl[y];
        if (zsize) zsize[m] = cl[nw];
    }
    free(D); free(chain); free(size); free(active); free(mg); free(parent); free(cl);
    return SD_OK;
}

int dict_fcluster(int n, const int *za, const int *zb, const double *zh, double cut, int *label)
{
    int *parent = malloc(sizeof(int) * (2 * n > 1 ? 2 * n : 2));
    if (!parent) return -1;
    for (int i = 0; i < 2 * n; i++) parent[i] = i;
    for (int m = 0; m < n - 1; m++) {
        if (zh[m] <= cut) {
            int x = uf_find(parent, za[m]), y = uf_find(parent, zb[m]);
            parent[x] = n + m;
            parent[y] = n + m;
        } else {
            /* the merged id must still resolve: point it to itself */
            parent[n + m] = n + m;
        }
    }
    int *root_label = malloc(sizeof(int) * (2 * n > 1 ? 2 * n : 2));
    if (!root_label) { free(parent); return -1; }
    for (int i = 0; i < 2 * n; i++) root_label[i] = -1;
    int k = 0;
    for (int i = 0; i < n; i++) {
        int r = uf_find(parent, i);
        if (root_label[r] < 0) root_label[r] = k++;
        label[i] = root_label[r];
    }
    free(parent);
    free(root_label);
    return k;
}

/* ---- building a dictionary ---- */

#include "sd_atoms.h"

/* DIR/<source>_minimized.data, DIR/<source>.data, .xyz, .extxyz: the first that exists. */
static int find_source(const char *dir, const char *source, char *out, size_t cap)
{
    static const char *fmt[] = {"%s/%s_minimized.data", "%s/%s.data", "%s/%s.xyz", "%s/%s.extxyz",
                                "%s/%s"};
    for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
        snprintf(out, cap, fmt[i], dir, source);
        FILE *f = fopen(out, "rb");
        if (f) {
            fclose(f);
            return 0;
        }
    }
    return -1;
}

int dict_environments(const soap_params_t *p, const char *dir, int n, const char (*sources)[64],
                      const int64_t *atoms, double *vec, sd_err_t *e)
{
    sd_err_t e2;
    soap_t *s = soap_new(p, e);
    if (!s) return e ? e->code : SD_EINVAL;
    const int dim = soap_n_features(s, SOAP_LAYOUT_FULL);
    int rc = SD_OK;
    char *done = calloc((size_t)(n > 0 ? n : 1), 1);
    int64_t *cen = malloc(sizeof(int64_t) * (n > 0 ? n : 1));
    int *who = malloc(sizeof(int) * (n > 0 ? n : 1));
    double *buf = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1) * dim);
    if (!done || !cen || !who || !buf) { rc = sd_err_set(e, SD_ENOMEM, "dict: out of memory"); goto out; }
    for (int i = 0; i < n; i++) {
        if (done[i]) continue;
        char path[4096];
        if (find_source(dir, sources[i], path, sizeof path))
            { rc = sd_err_set(e, SD_ENOTFOUND, "dict: no structure for '%s' in %s (looked for %s_minimized.data, %s.data, %s.xyz)",
                              sources[i], dir, sources[i], sources[i], sources[i]); goto out; }
        sd_atoms_t *a = NULL;
        rc = sd_atoms_read_any(path, &a, &e2);
        if (rc) { rc = sd_err_set(e, rc, "dict: %s: %s", path, e2.msg); goto out; }
        int nc = 0;
        for (int j = i; j < n; j++) {
            if (done[j] || strcmp(sources[j], sources[i])) continue;
            if (atoms[j] < 0 || atoms[j] >= a->n) {
                rc = sd_err_set(e, SD_ERANGE, "dict: atom %lld of '%s' outside 0..%lld (%s)",
                                (long long)atoms[j], sources[j], (long long)a->n - 1, path);
                sd_atoms_destroy(&a);
                goto out;
            }
            cen[nc] = atoms[j];
            who[nc++] = j;
            done[j] = 1;
        }
        rc = soap_compute(s, a->n, a->pos, nc, cen, SOAP_LAYOUT_FULL, buf, e);
        sd_atoms_destroy(&a);
        if (rc) { sd_err_prefix(e, "dict: %s", path); goto out; }
        for (int c = 0; c < nc; c++) {
            double *v = vec + (size_t)who[c] * dim, nn = 0;
            memcpy(v, buf + (size_t)c * dim, sizeof(double) * dim);
            for (int f = 0; f < dim; f++) nn += v[f] * v[f];
            if (!(nn > 0)) { rc = sd_err_set(e, SD_ERANGE, "dict: zero SOAP vector for atom %lld of %s", (long long)cen[c], sources[who[c]]); goto out; }
            for (int f = 0; f < dim; f++) v[f] /= sqrt(nn);
        }
    }
out:
    free(done); free(cen); free(who); free(buf);
    soap_destroy(&s);
    return rc;
}

int dict_group(dict_t *d, double cut, const dict_t *like, sd_err_t *e)
{
    const int n = d->n_refs, dim = d->dim;
    if (n < 1) return sd_err_set(e, SD_EINVAL, "dict: no references to group");
    int *lab = malloc(sizeof(int) * n);
    if (!lab) return sd_err_set(e, SD_ENOMEM, "dict: out of memory");
    int k = 1;
    if (n == 1) lab[0] = 0;
    else {
        double *dist = malloc(sizeof(double) * (size_t)n * (n - 1) / 2);
        int *za = malloc(sizeof(int) * (n - 1)), *zb = malloc(sizeof(int) * (n - 1));
        double *zh = malloc(sizeof(double) * (n - 1));
        if (!dist || !za || !zb || !zh) {
            free(dist); free(za); free(zb); free(zh); free(lab);
            return sd_err_set(e, SD_ENOMEM, "dict: out of memory for %d references", n);
        }
        size_t q = 0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) dist[q++] = dict_distance(dim, d->vec + (size_t)i * dim, d->vec + (size_t)j * dim);
        int rc = dict_linkage_complete(n, dist, za, zb, zh, NULL, e);
        if (rc == 0) k = dict_fcluster(n, za, zb, zh, cut, lab);
        free(dist); free(za); free(zb); free(zh);
        if (rc) { free(lab); return rc; }
        if (k < 0) { free(lab); return sd_err_set(e, SD_ENOMEM, "dict: out of memory"); }
    }
    /* Labels: a cluster whose members all carry the same group in `like` (matched
     * by reference name) takes that group's label and index order; else g<k>. */
    int *map = malloc(sizeof(int) * k);
    if (!map) { free(lab); return sd_err_set(e, SD_ENOMEM, "dict: out of memory"); }
    int bijective = like != NULL;
    for (int c = 0; c < k && like; c++) {
        map[c] = -2;
        for (int i = 0; i < n; i++) {
            if (lab[i] != c) continue;
            int lg = -1;
            for (int r = 0; r < like->n_refs; r++)
                if (!strcmp(like->ref_name[r], d->ref_name[i])) { lg = like->group[r]; break; }
            if (lg < 0 || (map[c] != -2 && map[c] != lg)) { map[c] = -1; break; }
            map[c] = lg;
        }
        if (map[c] < 0) bijective = 0;
        for (int c2 = 0; c2 < c && bijective; c2++)
            if (map[c2] == map[c]) bijective = 0;
    }
    if (bijective && k == like->n_groups) {
        d->n_groups = k;
        for (int g = 0; g < k; g++) snprintf(d->group_label[g], sizeof d->group_label[g], "%s", like->group_label[g]);
        for (int i = 0; i < n; i++) d->group[i] = map[lab[i]];
    } else {
        d->n_groups = k;
        for (int g = 0; g < k; g++) snprintf(d->group_label[g], sizeof d->group_label[g], "g%d", g);
        for (int i = 0; i < n; i++) d->group[i] = lab[i];
    }
    free(map);
    free(lab);
    return (bijective || !like) ? SD_OK : 1; /* 1: grouped, but labels not those of `like` */
}
