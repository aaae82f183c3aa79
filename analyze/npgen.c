/* npgen — ideal nanoparticles for dictionary building: Mackay icosahedra,
 * Marks/Ino decahedra and (truncated) octahedra, centred at the origin, with
 * fcc nearest-neighbour distance d_nn.  Constructions as ase.cluster (the
 * decahedron follows ase.cluster.Decahedron line by line; the icosahedron is
 * built face by face and oriented with vertices at (±1, 0, ±t) and cyclic
 * permutations, as the paper's ico923_6). */
#include "npgen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pts {
    double *p;
    int64_t n, cap;
} pts_t;

static int pts_add(pts_t *a, double x, double y, double z)
{
    if (a->n == a->cap) {
        int64_t c = a->cap ? 2 * a->cap : 256;
        double *q = realloc(a->p, sizeof(double) * 3 * c);
        if (!q) return -1;
        a->p = q;
        a->cap = c;
    }
    a->p[3 * a->n] = x;
    a->p[3 * a->n + 1] = y;
    a->p[3 * a->n + 2] = z;
    a->n++;
    return 0;
}

/* Adds unless a point within tol exists among [from, n). */
static int pts_add_unique(pts_t *a, int64_t from, double x, double y, double z, double tol)
{
    for (int64_t i = from; i < a->n; i++) {
        double dx = a->p[3 * i] - x, dy = a->p[3 * i + 1] - y, dz = a->p[3 * i + 2] - z;
        if (dx * dx + dy * dy + dz * dz < tol * tol) return 0;
    }
    return pts_add(a, x, y, z);
}

static int finish(pts_t *a, int64_t *n, double **pos, sd_err_t *e)
{
    if (!a->p) {
        free(a->p);
        return sd_err_set(e, SD_ENOMEM, "npgen: out of memory");
    }
    *n = a->n;
    *pos = a->p;
    return SD_OK;
}

int npgen_icosahedron(int shells, double d_nn, int64_t *n, double **pos, sd_err_t *e)
{
    *n = 0;
    *pos = NULL;
    if (shells < 0 || shells > 60) return sd_err_set(e, SD_ERANGE, "npgen: icosahedron shells %d outside 0..60", shells);
    if (!(d_nn > 0) || !isfinite(d_nn)) return sd_err_set(e, SD_ERANGE, "npgen: bad nearest-neighbour distance %g", d_nn);
    const double t = 0.5 + sqrt(5.0) / 2.0;
    /* 12 vertices (edge 2): (±1, 0, ±t), (0, ±t, ±1), (±t, ±1, 0) */
    double v[12][3];
    int q = 0;
    for (int s1 = -1; s1 <= 1; s1 += 2)
        for (int s2 = -1; s2 <= 1; s2 += 2) {
            double a = s1, b = s2 * t;
            v[q][0] = a; v[q][1] = 0; v[q][2] = b; q++;
            v[q][0] = 0; v[q][1] = b; v[q][2] = a; q++;
            v[q][0] = b; v[q][1] = a; v[q][2] = 0; q++;
        }
    /* faces: triples of mutually adjacent vertices (distance 2) */
    int faces[20][3], nf = 0;
    for (int i = 0; i < 12; i++)
        for (int j = i + 1; j < 12; j++)
            for (int k = j + 1; k < 12; k++) {
                double dij = 0, dik = 0, djk = 0;
                for (int c = 0; c < 3; c++) {
                    dij += (v[i][c] - v[j][c]) * (v[i][c] - v[j][c]);
                    dik += (v[i][c] - v[k][c]) * (v[i][c] - v[k][c]);
                    djk += (v[j][c] - v[k][c]) * (v[j][c] - v[k][c]);
                }
                if (fabs(dij - 4) < 1e-9 && fabs(dik - 4) < 1e-9 && fabs(djk - 4) < 1e-9 && nf < 20) {
                    faces[nf][0] = i; faces[nf][1] = j; faces[nf][2] = k; nf++;
                }
            }
    pts_t a = {NULL, 0, 0};
    const double sc = d_nn / 2.0;
    if (pts_add(&a, 0, 0, 0)) return finish(&a, n, pos, e);
    for (int k = 1; k <= shells; k++) {
        int64_t from = a.n;
        for (int f = 0; f < nf; f++) {
            const double *A = v[faces[f][0]], *B = v[faces[f][1]], *C = v[faces[f][2]];
            for (int i = 0; i <= k; i++)
                for (int j = 0; i + j <= k; j++) {
                    double x[3];
                    for (int c = 0; c < 3; c++) x[c] = sc * (k * A[c] + i * (B[c] - A[c]) + j * (C[c] - A[c]));
                    if (pts_add_unique(&a, from, x[0], x[1], x[2], 1e-6 * d_nn)) return finish(&a, n, pos, e);
                }
        }
    }
    return finish(&a, n, pos, e);
}

int npgen_decahedron(int p, int q, int r, double d_nn, int64_t *n, double **pos, sd_err_t *e)
{
    *n = 0;
    *pos = NULL;
    if (p < 1 || q < 1 || r < 0 || p > 60 || q > 60 || r > 60)
        return sd_err_set(e, SD_ERANGE, "npgen: decahedron needs p, q >= 1 and r >= 0 (got %d, %d, %d)", p, q, r);
    if (!(d_nn > 0) || !isfinite(d_nn)) return sd_err_set(e, SD_ERANGE, "npgen: bad nearest-neighbour distance %g", d_nn);
    const double t = 2.0 * M_PI / 5.0, b = d_nn, aa = b * sqrt(3.0) / 2.0;
    double vx[5], vy[5];
    for (int m = 0; m < 5; m++) {
        vx[m] = aa * cos(t * m + M_PI / 2.0);
        vy[m] = aa * sin(t * m + M_PI / 2.0);
    }
    const int h = p + q + 2 * r - 1, g = h - q + 1;
    pts_t a = {NULL, 0, 0};
    for (int j = 0; j < h; j++)
        if (pts_add(&a, 0, 0, j * b - (h - 1) * b / 2.0)) return finish(&a, n, pos, e);
    for (int nn = 1; nn < h; nn++) {
        if (nn >= g) continue;
        for (int m = 0; m < 5; m++) {
            const int m1 = (m + 4) % 5; /* verticies[m - 1] with python's wrap-around */
            for (int i = 0; i < nn; i++) {
                if (!(nn - i < g - r && i < g - r)) continue;
                for (int j = 0; j < h - nn; j++) {
                    double x = (nn - i) * vx[m1] + i * vx[m], y = (nn - i) * vy[m1] + i * vy[m];
                    double z = j * b - (h - nn - 1) * b / 2.0;
                    if (pts_add(&a, x, y, z)) return finish(&a, n, pos, e);
                }
            }
        }
    }
    return finish(&a, n, pos, e);
}

int npgen_truncated_octahedron(int length, int cut, double d_nn, int64_t *n, double **pos, sd_err_t *e)
{
    *n = 0;
    *pos = NULL;
    if (length < 1 || length > 200 || cut < 0 || length < 2 * cut + 1)
        return sd_err_set(e, SD_ERANGE, "npgen: octahedron needs length >= 1 and 0 <= cut <= (length-1)/2 (got %d, %d)",
                          length, cut);
    if (!(d_nn > 0) || !isfinite(d_nn)) return sd_err_set(e, SD_ERANGE, "npgen: bad nearest-neighbour distance %g", d_nn);
    /* fcc sites (i, j, k)·a/2 with i+j+k ≡ length-1 (mod 2): the vertex (length-1, 0, 0)
     * is a site; octahedron |i|+|j|+|k| <= length-1; (100) cuts max|.| <= length-1-cut */
    const int L = length - 1, M = L - cut, par = L & 1;
    const double h = d_nn / sqrt(2.0);
    pts_t a = {NULL, 0, 0};
    for (int i = -M; i <= M; i++)
        for (int j = -M; j <= M; j++)
            for (int k = -M; k <= M; k++) {
                if ((((i + j + k) % 2) + 2) % 2 != par) continue;
                if (abs(i) + abs(j) + abs(k) > L) continue;
                if (pts_add(&a, i * h, j * h, k * h)) return finish(&a, n, pos, e);
            }
    return finish(&a, n, pos, e);
}

int npgen_by_name(const char *name, double d_nn, int64_t *n, double **pos, sd_err_t *e)
{
    *n = 0;
    *pos = NULL;
    long long want = 0;
    int x = 0, y = 0, z = 0, c = 0, rc;
    char tail[8];
    if (sscanf(name, "ico%lld_%d%n", &want, &x, &c) == 2 && name[c] == 0) {
        rc = npgen_icosahedron(x, d_nn, n, pos, e);
    } else if (sscanf(name, "to%lld_%d_%d%n", &want, &x, &y, &c) == 3 && name[c] == 0) {
        rc = npgen_truncated_octahedron(x, y, d_nn, n, pos, e);
    } else if (sscanf(name, "dh%lld_%d_%d_%d%n", &want, &x, &y, &z, &c) == 4 && name[c] == 0) {
        /* the paper's names count the Marks re-entrance from 1 (dh1086_7_1_3 = p 7, q 1, r 2) */
        rc = npgen_decahedron(x, y, z - 1, d_nn, n, pos, e);
    } else {
        (void)tail;
        return sd_err_set(e, SD_EINVAL,
                          "npgen: unknown nanoparticle name '%s' (ico<N>_<shells>, to<N>_<length>_<cut>, "
                          "dh<N>_<p>_<q>_<r>)", name);
    }
    if (rc) return rc;
    if (*n != want) {
        long long got = (long long)*n;
        free(*pos);
        *pos = NULL;
        *n = 0;
        return sd_err_set(e, SD_EINVAL, "npgen: '%s' has %lld atoms, not %lld", name, got, want);
    }
    return SD_OK;
}
