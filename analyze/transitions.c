/* transitions — counts C_ij of (group at t-1 → group at t) per atom, P, τ.
 * Counts stay raw (they add across runs); normalisation is a separate step. */
#include "transitions.h"

#include <string.h>

int trans_count(int k, int64_t T, int64_t n, const int64_t *g, const unsigned char *mask,
                double *counts, double *pop, sd_err_t *e)
{
    if (k < 1) return sd_err_set(e, SD_EINVAL, "transitions: need at least one group");
    if (T < 0 || n < 0) return sd_err_set(e, SD_EINVAL, "transitions: negative frame or atom count");
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < n; i++) {
            int64_t v = g[t * n + i];
            if ((!mask || mask[i]) && (v < 0 || v >= k))
                return sd_err_set(e, SD_ERANGE, "transitions: frame %lld atom %lld has group %lld, outside 0..%d",
                                  (long long)t, (long long)i, (long long)v, k - 1);
        }
    if (pop) {
        memset(pop, 0, sizeof(double) * (size_t)T * k);
        for (int64_t t = 0; t < T; t++)
            for (int64_t i = 0; i < n; i++)
                if (!mask || mask[i]) pop[t * k + g[t * n + i]] += 1;
    }
    for (int64_t t = 1; t < T; t++)
        for (int64_t i = 0; i < n; i++)
            if (!mask || mask[i]) counts[g[(t - 1) * n + i] * k + g[t * n + i]] += 1;
    return SD_OK;
}

void trans_rownorm(int k, const double *counts, double *p)
{
    for (int i = 0; i < k; i++) {
        double s = 0;
        for (int j = 0; j < k; j++) s += counts[i * k + j];
        for (int j = 0; j < k; j++) p[i * k + j] = s > 0 ? counts[i * k + j] / s : 0.0;
    }
}

void trans_tau(int k, const double *p, double dt, double *tau)
{
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
            tau[i * k + j] = (i != j && p[i * k + j] > 0) ? dt / p[i * k + j] : 0.0;
}

void trans_mean_rownorm(int k, int nruns, const double *counts, double *p)
{
    memset(p, 0, sizeof(double) * (size_t)k * k);
    if (nruns < 1) return;
    for (int r = 0; r < nruns; r++) {
        const double *c = counts + (size_t)r * k * k;
        for (int i = 0; i < k; i++) {
            double s = 0;
            for (int j = 0; j < k; j++) s += c[i * k + j];
            if (s > 0)
                for (int j = 0; j < k; j++) p[i * k + j] += c[i * k + j] / s;
        }
    }
    for (int q = 0; q < k * k; q++) p[q] /= nruns;
}

void trans_mask_z_below(int64_t n, const double *pos0, double z_min, unsigned char *mask)
{
    for (int64_t i = 0; i < n; i++) mask[i] = pos0[3 * i + 2] >= z_min;
}

void trans_timesoap_delta(int64_t T1, int64_t n, const double *ts, double *d)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t t = 0; t + 1 < T1; t++) d[i * (T1 - 1) + t] = ts[(t + 1) * n + i] - ts[t * n + i];
}
