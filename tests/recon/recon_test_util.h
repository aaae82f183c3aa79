/* Small helpers shared by the counting tests: a perfect FCC particle, rotations,
 * raw float64 reading (../shared/oracle/stem files) and column matching. */
#ifndef RECON_TEST_UTIL_H
#define RECON_TEST_UTIL_H

#include "recon.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* FCC sphere (lattice a, radius R) with crystal [110] along z: rows of the
 * rotation are the crystal directions [001], [1-10]/√2, [110]/√2.  Returns a
 * malloc'ed [n][3] array. */
static inline double *rt_fcc_sphere(double a, double R, int64_t *n)
{
    const double basis[4][3] = {{0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
    const double s2 = sqrt(0.5);
    const double rot[3][3] = {{0, 0, 1}, {s2, -s2, 0}, {s2, s2, 0}};
    int m = (int)ceil(R / a) + 1;
    double *p = malloc((size_t)(8 * m * m * m + 8) * 4 * 3 * sizeof *p);
    int64_t k = 0;
    for (int i = -m; i <= m; i++)
        for (int j = -m; j <= m; j++)
            for (int l = -m; l <= m; l++)
                for (int b = 0; b < 4; b++) {
                    double c[3] = {(i + basis[b][0]) * a, (j + basis[b][1]) * a, (l + basis[b][2]) * a};
                    if (c[0] * c[0] + c[1] * c[1] + c[2] * c[2] > R * R) continue;
                    for (int q = 0; q < 3; q++)
                        p[3 * k + q] = rot[q][0] * c[0] + rot[q][1] * c[1] + rot[q][2] * c[2] + 90.0;
                    k++;
                }
    *n = k;
    return p;
}

/* Rotates pos[n][3] about its centroid by angle ang around unit axis u. */
static inline void rt_rotate(double *pos, int64_t n, const double u[3], double ang, double out_rot[3][3])
{
    double c = cos(ang), s = sin(ang), t = 1 - c;
    double R[3][3] = {{t * u[0] * u[0] + c, t * u[0] * u[1] - s * u[2], t * u[0] * u[2] + s * u[1]},
                      {t * u[0] * u[1] + s * u[2], t * u[1] * u[1] + c, t * u[1] * u[2] - s * u[0]},
                      {t * u[0] * u[2] - s * u[1], t * u[1] * u[2] + s * u[0], t * u[2] * u[2] + c}};
    double cm[3] = {0, 0, 0};
    for (int64_t i = 0; i < n; i++)
        for (int q = 0; q < 3; q++) cm[q] += pos[3 * i + q] / (double)n;
    for (int64_t i = 0; i < n; i++) {
        double d[3] = {pos[3 * i] - cm[0], pos[3 * i + 1] - cm[1], pos[3 * i + 2] - cm[2]};
        for (int q = 0; q < 3; q++) pos[3 * i + q] = cm[q] + R[q][0] * d[0] + R[q][1] * d[1] + R[q][2] * d[2];
    }
    if (out_rot)
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) out_rot[a][b] = R[a][b];
}

/* Reads n float64 values from a raw file; NULL on failure. */
static inline double *rt_read_f64(const char *path, int64_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    double *d = malloc((size_t)n * sizeof *d);
    if (d && fread(d, sizeof *d, (size_t)n, f) != (size_t)n) free(d), d = NULL;
    fclose(f);
    return d;
}

/* For every reference column, the nearest found column within tol Å (or -1). */
static inline void rt_match(const double *rx, const double *ry, int64_t nr, const recon_columns_t *c, double tol,
                            int64_t *idx)
{
    for (int64_t j = 0; j < nr; j++) {
        double bd = tol;
        idx[j] = -1;
        for (int64_t i = 0; i < c->n; i++) {
            double d = hypot(c->x[i] - rx[j], c->y[i] - ry[j]);
            if (d < bd) bd = d, idx[j] = i;
        }
    }
}

#endif
