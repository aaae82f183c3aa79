/* Transition counts, row-normalised P and τ against the SOAPify references
 * (grouptmat_counts_, grouptmat_norm_, grouptau_ of dh484_jit0.3_20f), run
 * merging, the paper's run average, the z mask and bad labels. */
#include "analyze.h"
#include "sd_npy.h"
#include "sdtest.h"

#include <stdint.h>

static int load(sdt_t *t, const char *rel, sd_npy_t *a, int as_int)
{
    char buf[1024];
    sd_err_t e;
    sdt_shared_or_skip(rel, buf, sizeof buf);
    int rc = as_int ? sd_npy_read_i64(buf, a, &e) : sd_npy_read_f64(buf, a, &e);
    CHECK_MSG(t, rc == 0, "%s: %s", rel, e.msg);
    return rc;
}

static void test_reference_matrices(sdt_t *t)
{
    sd_npy_t g, cref, pref, tref;
    if (load(t, "oracle/lens/group_dh484_jit0.3_20f.npy", &g, 1) ||
        load(t, "oracle/lens/grouptmat_counts_dh484_jit0.3_20f.npy", &cref, 0) ||
        load(t, "oracle/lens/grouptmat_norm_dh484_jit0.3_20f.npy", &pref, 0) ||
        load(t, "oracle/lens/grouptau_dh484_jit0.3_20f.npy", &tref, 0))
        return;
    const int k = 10;
    const int64_t T = g.shape[0], n = g.shape[1];
    double counts[100] = {0}, p[100], tau[100], *pop = malloc(sizeof(double) * T * k);
    sd_err_t e;
    CHECK_EQ_INT(t, trans_count(k, T, n, g.data, NULL, counts, pop, &e), 0);
    for (int q = 0; q < 100; q++) CHECK(t, counts[q] == ((double *)cref.data)[q]);
    trans_rownorm(k, counts, p);
    trans_tau(k, p, 1.0, tau);
    double pe = 0, te = 0;
    for (int q = 0; q < 100; q++) {
        pe = fmax(pe, fabs(p[q] - ((double *)pref.data)[q]));
        double r = ((double *)tref.data)[q];
        te = fmax(te, r > 0 ? fabs(tau[q] - r) / r : fabs(tau[q]));
    }
    CHECK_MSG(t, pe <= 1e-15, "P differs by %.3g", pe);
    CHECK_MSG(t, te <= 1e-14, "tau differs by %.3g (relative)", te);
    /* populations: frame 0 as in the meta file (b 119, ss 85, ss' 39, c 10, c' 36, s 79, e 23, e' 61, v' 26, v 6) */
    static const double pop0[10] = {119, 85, 39, 10, 36, 79, 23, 61, 26, 6};
    for (int q = 0; q < 10; q++) CHECK(t, pop[q] == pop0[q]);
    for (int64_t f = 0; f < T; f++) {
        double s = 0;
        for (int q = 0; q < k; q++) s += pop[f * k + q];
        CHECK(t, s == (double)n);
    }
    /* merging runs = adding counts: the same run twice doubles the counts, P unchanged */
    double c2[100] = {0}, p2[100];
    CHECK_EQ_INT(t, trans_count(k, T, n, g.data, NULL, c2, NULL, &e), 0);
    CHECK_EQ_INT(t, trans_count(k, T, n, g.data, NULL, c2, NULL, &e), 0);
    trans_rownorm(k, c2, p2);
    for (int q = 0; q < 100; q++) CHECK(t, c2[q] == 2 * counts[q] && fabs(p2[q] - p[q]) < 1e-15);
    free(pop);
    sd_npy_free(&g); sd_npy_free(&cref); sd_npy_free(&pref); sd_npy_free(&tref);
}

static void test_small_cases(sdt_t *t)
{
    /* 2 atoms, 3 frames, 3 groups: atom 0: 0→1→1, atom 1: 2→2→0 */
    const int64_t g[6] = {0, 2, 1, 2, 1, 0};
    double c[9] = {0}, p[9], tau[9];
    sd_err_t e;
    CHECK_EQ_INT(t, trans_count(3, 3, 2, g, NULL, c, NULL, &e), 0);
    const double want[9] = {0, 1, 0, 0, 1, 0, 1, 0, 1};
    for (int q = 0; q < 9; q++) CHECK(t, c[q] == want[q]);
    trans_rownorm(3, c, p);
    CHECK(t, p[1] == 1.0 && p[4] == 1.0 && p[6] == 0.5 && p[8] == 0.5);
    trans_tau(3, p, 2.5, tau);
    CHECK(t, tau[1] == 2.5 && tau[4] == 0 && tau[6] == 5.0 && tau[8] == 0 && tau[0] == 0);
    /* mask: atom 1 excluded */
    unsigned char mask[2];
    const double pos0[6] = {0, 0, 5.0, 0, 0, -3.0};
    trans_mask_z_below(2, pos0, 0.0, mask);
    CHECK(t, mask[0] == 1 && mask[1] == 0);
    double cm[9] = {0}, pop[9];
    CHECK_EQ_INT(t, trans_count(3, 3, 2, g, mask, cm, pop, &e), 0);
    CHECK(t, cm[1] == 1 && cm[4] == 1 && cm[6] == 0 && cm[8] == 0);
    CHECK(t, pop[0] == 1 && pop[2] == 0 && pop[3 + 1] == 1);
    /* the paper's run average: mean of the runs' row-normalised matrices */
    double runs[2 * 4] = {3, 1, 0, 0, /* run 2: */ 1, 1, 2, 2}, mean[4];
    trans_mean_rownorm(2, 2, runs, mean);
    CHECK_NEAR(t, mean[0], (0.75 + 0.5) / 2, 1e-15);
    CHECK_NEAR(t, mean[1], (0.25 + 0.5) / 2, 1e-15);
    CHECK_NEAR(t, mean[2], (0 + 0.5) / 2, 1e-15);
    /* a label out of range is refused with a message naming frame and atom */
    const int64_t bad[2] = {0, 7};
    CHECK(t, trans_count(3, 1, 2, bad, NULL, c, NULL, &e) == SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "frame 0 atom 1");
    /* ... unless that atom is masked out */
    unsigned char m2[2] = {1, 0};
    CHECK_EQ_INT(t, trans_count(3, 1, 2, bad, m2, c, NULL, &e), 0);
}

/* dtimesoap = diff of TimeSOAP along time, transposed (SOAPify's deltaTimeSOAP). */
static void test_dtimesoap_definition(sdt_t *t)
{
    sd_npy_t ts, dts;
    if (load(t, "oracle/lens/timesoap_dh484_jit0.3_20f.npy", &ts, 0) ||
        load(t, "oracle/lens/dtimesoap_dh484_jit0.3_20f.npy", &dts, 0))
        return;
    const int64_t T1 = ts.shape[0], n = ts.shape[1];
    CHECK(t, dts.shape[0] == n && dts.shape[1] == T1 - 1);
    double *d = malloc(sizeof(double) * n * (T1 - 1));
    trans_timesoap_delta(T1, n, ts.data, d);
    double err = 0;
    for (int64_t q = 0; q < n * (T1 - 1); q++) err = fmax(err, fabs(d[q] - ((double *)dts.data)[q]));
    CHECK(t, err == 0);
    free(d);
    sd_npy_free(&ts);
    sd_npy_free(&dts);
}

SDT_MAIN(SDT_CASE(test_reference_matrices), SDT_CASE(test_small_cases), SDT_CASE(test_dtimesoap_definition))
