/* The paper's LENS clustering pipeline against the scipy/sklearn reference
 * (../shared/oracle/lens/meta_dh484_cnjit_300f.json), plus exactness and
 * bad-input checks of each step. */
#include "cluster.h"
#include "lens.h"
#include "sd_npy.h"
#include "sd_xyz.h"
#include "sdtest.h"

#include <stdint.h>

static int load(sdt_t *t, const char *rel, sd_npy_t *a, int as_int)
{
    char buf[1024];
    sd_err_t e;
    sdt_shared_or_skip(rel, buf, sizeof buf);
    int rc = as_int ? sd_npy_read_i64(buf, a, &e) : sd_npy_read_f64(buf, a, &e);
    CHECK_MSG(t, rc == SD_OK, "%s", e.msg);
    return rc;
}

/* LENS of the 300-frame trajectory as [atom][frame] (the pipeline's layout). */
static void test_lens_300f(sdt_t *t)
{
    char buf[1024];
    sdt_shared_or_skip("oracle/lens/dh484_cnjit_300f.extxyz", buf, sizeof buf);
    sd_atoms_t **fr = NULL;
    int64_t T = 0;
    sd_err_t e;
    int rc = sd_xyz_read_all(buf, &fr, &T, &e);
    CHECK_MSG(t, rc == SD_OK, "%s", e.msg);
    if (rc) return;
    const int64_t n = fr[0]->n;
    lens_state_t *s = lens_state_new(n, 4.48, &e);
    double *lens = malloc((size_t)(T * n) * sizeof *lens);
    for (int64_t f = 0; f < T; f++)
        CHECK(t, lens_state_push(s, fr[f]->n, fr[f]->pos, lens + f * n, NULL, NULL, NULL, &e) ==
                     SD_OK);
    sd_npy_t ref;
    if (!load(t, "oracle/lens/lens_dh484_cnjit_300f.npy", &ref, 0)) {
        CHECK_EQ_INT(t, ref.shape[0], n);
        CHECK_EQ_INT(t, ref.shape[1], T);
        int64_t bad = 0;
        for (int64_t f = 0; f < T; f++)
            for (int64_t i = 0; i < n; i++) bad += lens[f * n + i] != ((double *)ref.data)[i * T + f];
        CHECK_EQ_INT(t, bad, 0);
        sd_npy_free(&ref);
    }
    free(lens);
    lens_state_destroy(&s);
    sd_xyz_frames_free(&fr, T);
}

static void test_pipeline(sdt_t *t)
{
    sd_npy_t L, S, K, C, TC, TN;
    if (load(t, "oracle/lens/lens_dh484_cnjit_300f.npy", &L, 0)) return;
    const int64_t n = L.shape[0], T = L.shape[1];
    sd_err_t e;
    /* 1. Savitzky-Golay (100, 2, interp) <= 1e-12 */
    double *sg = malloc((size_t)(n * T) * sizeof *sg);
    CHECK(t, cluster_savgol_rows(L.data, n, T, 100, 2, sg, &e) == SD_OK);
    if (!load(t, "oracle/lens/savgol_dh484_cnjit_300f.npy", &S, 0)) {
        double md = 0;
        for (int64_t i = 0; i < n * T; i++) md = fmax(md, fabs(sg[i] - ((double *)S.data)[i]));
        CHECK_MSG(t, md <= 1e-12, "savgol max |diff| %.3g", md);
        printf("savgol max |diff| vs scipy: %.3g\n", md);
        sd_npy_free(&S);
    }
    /* 2. K-means on frames 50..T-51, flattened frame-major */
    const int64_t nf = T - 100, m = n * nf;
    double *x = malloc((size_t)m * sizeof *x);
    for (int64_t k = 0; k < m; k++) x[k] = sg[(k % n) * T + 50 + k / n];
    int32_t *lab = malloc((size_t)m * sizeof *lab);
    double cen[3], inertia = 0;
    CHECK(t, cluster_kmeans_1d(x, m, 3, 10, 12345, lab, cen, &inertia, &e) == SD_OK);
    CHECK_NEAR(t, inertia, 22.094238507038177, 1e-9);
    CHECK_NEAR(t, cen[0], 0.02155612207802688, 1e-12);
    CHECK_NEAR(t, cen[1], 0.15609337257252498, 1e-12);
    CHECK_NEAR(t, cen[2], 0.06965588776357293, 1e-12);
    if (!load(t, "oracle/lens/kmlabels_dh484_cnjit_300f.npy", &K, 1)) {
        CHECK_EQ_INT(t, K.count, m);
        int64_t bad = 0, map[3][3] = {{0}};
        for (int64_t k = 0; k < m; k++) {
            int64_t r = ((int64_t *)K.data)[k];
            bad += r != lab[k];
            if (r >= 0 && r < 3) map[lab[k]][r]++;
        }
        /* equal up to relabelling: each of our clusters maps to one reference cluster */
        int64_t off = 0;
        for (int a = 0; a < 3; a++) {
            int64_t mx = 0, tot = 0;
            for (int b = 0; b < 3; b++) {
                mx = map[a][b] > mx ? map[a][b] : mx;
                tot += map[a][b];
            }
            off += tot - mx;
        }
        CHECK_EQ_INT(t, off, 0);
        CHECK_EQ_INT(t, bad, 0); /* sklearn's own labelling reproduced */
        sd_npy_free(&K);
    }
    /* 3. thresholds = per-cluster max; classes of every frame */
    double cmin[3], cmax[3];
    CHECK(t, cluster_label_range(x, m, lab, 3, cmin, cmax, &e) == SD_OK);
    CHECK_NEAR(t, cmin[0], -0.002250668220956348, 1e-13);
    CHECK_NEAR(t, cmax[0], 0.045602134347593345, 1e-13);
    CHECK_NEAR(t, cmax[1], 0.22715300378763761, 1e-13);
    CHECK_NEAR(t, cmax[2], 0.11287086758289604, 1e-13);
    int32_t *cls = malloc((size_t)(n * T) * sizeof *cls);
    CHECK(t, cluster_classify(sg, n * T, 3, cmax, cls, &e) == SD_OK);
    if (!load(t, "oracle/lens/lensclass_dh484_cnjit_300f.npy", &C, 1)) {
        int64_t bad = 0;
        for (int64_t i = 0; i < n * T; i++) bad += cls[i] != ((int64_t *)C.data)[i];
        CHECK_EQ_INT(t, bad, 0);
        sd_npy_free(&C);
    }
    /* 4. transition matrix over t = 1..T-1, all atoms */
    double cnt[9], nrm[9];
    CHECK(t, cluster_transitions(cls, n, T, 3, cnt, nrm, &e) == SD_OK);
    if (!load(t, "oracle/lens/lenstmat_counts_dh484_cnjit_300f.npy", &TC, 0)) {
        for (int i = 0; i < 9; i++) CHECK_NEAR(t, cnt[i], ((double *)TC.data)[i], 0);
        sd_npy_free(&TC);
    }
    if (!load(t, "oracle/lens/lenstmat_norm_dh484_cnjit_300f.npy", &TN, 0)) {
        for (int i = 0; i < 9; i++) CHECK_NEAR(t, nrm[i], ((double *)TN.data)[i], 1e-15);
        sd_npy_free(&TN);
    }
    /* 5. KDE of the smoothed distribution: a density */
    double grid[512], dens[512], bw = 0;
    CHECK(t, cluster_kde_gauss(x, m, 0, 512, grid, dens, &bw, &e) == SD_OK);
    double area = 0;
    for (int g = 1; g < 512; g++) area += 0.5 * (dens[g] + dens[g - 1]) * (grid[g] - grid[g - 1]);
    /* the grid stops 3 kernel sd beyond the data: at most 0.135% of the mass is outside */
    CHECK_MSG(t, area > 0.9986 && area < 1.0 + 1e-9, "area %.9g", area);
    CHECK(t, bw > 0 && bw < 0.01);
    /* one grid point against the plain double sum over all points */
    double direct = 0;
    for (int64_t q = 0; q < m; q++) direct += exp(-0.5 * pow((grid[200] - x[q]) / bw, 2));
    direct /= (double)m * bw * sqrt(2 * 3.14159265358979323846);
    CHECK_NEAR(t, dens[200], direct, 1e-9 * direct);
    free(sg), free(x), free(lab), free(cls);
    sd_npy_free(&L);
}

static void test_savgol_exact(sdt_t *t)
{
    /* a quadratic is its own least-squares fit: reproduced everywhere,
     * for even and odd windows, at the edges too */
    const int64_t n = 257;
    double x[257], y[257];
    for (int64_t i = 0; i < n; i++) x[i] = 0.3 - 0.01 * i + 2e-4 * (double)(i * i);
    sd_err_t e;
    for (int w = 3; w <= 120; w += 13) {
        CHECK(t, cluster_savgol(x, n, w, 2, y, &e) == SD_OK);
        /* scipy's even windows fit the window centred on i + 1/2: interior
         * values are q(i + 1/2); the 'interp' edges are q(i) */
        const double sh = w % 2 ? 0 : 0.5;
        double md = 0;
        for (int64_t i = 0; i < n; i++) {
            const double u = (i >= w / 2 && i < n - w / 2) ? i + sh : (double)i;
            md = fmax(md, fabs(y[i] - (0.3 - 0.01 * u + 2e-4 * u * u)));
        }
        CHECK_MSG(t, md < 1e-11, "window %d: %.3g", w, md);
    }
    /* window 5, order 2 on a spike: the classic (-3 12 17 12 -3)/35 stencil */
    double s[9] = {0, 0, 0, 0, 1, 0, 0, 0, 0}, r[9];
    CHECK(t, cluster_savgol(s, 9, 5, 2, r, &e) == SD_OK);
    CHECK_NEAR(t, r[4], 17.0 / 35.0, 1e-15);
    CHECK_NEAR(t, r[3], 12.0 / 35.0, 1e-15);
    CHECK_NEAR(t, r[2], -3.0 / 35.0, 1e-15);
    /* bad arguments */
    CHECK_EQ_INT(t, cluster_savgol(x, 50, 100, 2, y, &e), SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "shorter than the window");
    CHECK_EQ_INT(t, cluster_savgol(x, n, 2, 2, y, &e), SD_EINVAL);
    CHECK_EQ_INT(t, cluster_savgol(x, n, 10, 0, y, &e), SD_EINVAL);
}

static void test_kmeans_small(sdt_t *t)
{
    /* three well separated groups: recovered whatever the seed */
    double x[30];
    for (int i = 0; i < 30; i++) x[i] = (i % 3) * 10.0 + 0.01 * i;
    int32_t lab[30];
    double c[3], in;
    sd_err_t e;
    for (uint32_t seed = 0; seed < 5; seed++) {
        CHECK(t, cluster_kmeans_1d(x, 30, 3, 3, seed, lab, c, &in, &e) == SD_OK);
        int ok = 1;
        for (int i = 3; i < 30; i++) ok &= lab[i] == lab[i % 3];
        CHECK(t, ok && lab[0] != lab[1] && lab[1] != lab[2] && lab[0] != lab[2]);
        CHECK(t, in < 3 * 10 * 0.3 * 0.3);
    }
    CHECK_EQ_INT(t, cluster_kmeans_1d(x, 2, 3, 1, 0, lab, c, &in, &e), SD_EINVAL);
    CHECK_EQ_INT(t, cluster_kmeans_1d(x, 30, 0, 1, 0, lab, c, &in, &e), SD_EINVAL);
    x[4] = NAN;
    CHECK_EQ_INT(t, cluster_kmeans_1d(x, 30, 3, 1, 0, lab, c, &in, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "value 4");
}

static void test_classify_transitions(sdt_t *t)
{
    sd_err_t e;
    const double cmax[3] = {0.5, 2.0, 1.0}; /* cluster 0 low, 2 middle, 1 high */
    const double x[6] = {-1, 0.5, 0.7, 1.0, 1.9, 2.0};
    int32_t c[6];
    CHECK(t, cluster_classify(x, 6, 3, cmax, c, &e) == SD_OK);
    /* strict '<' against each maximum; >= every maximum -> label k-1 */
    CHECK(t, c[0] == 0 && c[1] == 2 && c[2] == 2 && c[3] == 1 && c[4] == 1 && c[5] == 2);
    const int32_t seq[2][4] = {{0, 0, 1, 1}, {1, 0, 0, 0}};
    double cnt[4], nrm[4];
    CHECK(t, cluster_transitions(&seq[0][0], 2, 4, 2, cnt, nrm, &e) == SD_OK);
    CHECK(t, cnt[0] == 3 && cnt[1] == 1 && cnt[2] == 1 && cnt[3] == 1);
    CHECK_NEAR(t, nrm[0], 0.75, 0);
    CHECK_NEAR(t, nrm[3], 0.5, 0);
    const int32_t bad[3] = {0, 3, 0};
    CHECK_EQ_INT(t, cluster_transitions(bad, 1, 3, 2, cnt, NULL, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "class 3");
    const double nanmax[3] = {0.5, NAN, 1};
    CHECK_EQ_INT(t, cluster_classify(x, 6, 3, nanmax, c, &e), SD_ERANGE);
}

static void test_kde(sdt_t *t)
{
    sd_err_t e;
    const double x[2] = {0, 1};
    double g[5], d[5], bw = 0;
    /* fixed bandwidth: value at the grid points by the formula */
    CHECK(t, cluster_kde_gauss(x, 2, 0.5, 5, g, d, &bw, &e) == SD_OK);
    CHECK_NEAR(t, g[0], -1.5, 1e-15);
    CHECK_NEAR(t, g[4], 2.5, 1e-15);
    const double k0 = 1.0 / (2 * 0.5 * sqrt(2 * 3.14159265358979323846));
    CHECK_NEAR(t, d[2], k0 * 2 * exp(-0.5), 1e-15); /* x = 0.5, 1 sd from both */
    /* Scott: std(ddof=1) * n^-1/5 */
    CHECK(t, cluster_kde_gauss(x, 2, 0, 5, g, d, &bw, &e) == SD_OK);
    CHECK_NEAR(t, bw, sqrt(0.5) * pow(2, -0.2), 1e-15);
    const double same[3] = {1, 1, 1};
    CHECK_EQ_INT(t, cluster_kde_gauss(same, 3, 0, 5, g, d, &bw, &e), SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "equal");
}

static void test_pipeline_api(sdt_t *t)
{
    /* 4 atoms x 30 frames: two quiet atoms, one busy, one in between */
    enum { NA = 4, NT = 30 };
    double lens[NA * NT];
    uint64_t st = 12345;
    for (int i = 0; i < NA; i++)
        for (int f = 0; f < NT; f++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            double u = (double)(st >> 11) / 9007199254740992.0;
            lens[i * NT + f] = (i == 2 ? 0.5 : i == 3 ? 0.2 : 0.02) + 0.01 * u;
        }
    cluster_lens_opts_t o = cluster_lens_opts_default();
    CHECK(t, o.window == 100 && o.order == 2 && o.k == 3 && o.n_init == 10 && o.seed == 12345u);
    o.window = 5; /* odd: python slice [5//2 : -5//2] = [2 : -3] */
    cluster_lens_result_t r;
    sd_err_t e;
    CHECK(t, cluster_lens_pipeline(lens, NA, NT, &o, &r, &e) == SD_OK);
    CHECK_EQ_INT(t, r.fit_first, 2);
    CHECK_EQ_INT(t, r.fit_frames, NT - 5);
    int64_t tot = 0;
    for (int j = 0; j < 3; j++) tot += r.csize[j];
    CHECK_EQ_INT(t, tot, NA * (NT - 5));
    /* K-means: atoms 0 and 1 share a cluster, 2 and 3 have their own */
    int ok = 1;
    for (int f = 0; f < r.fit_frames; f++) {
        const int32_t *l = r.fit_labels + f * NA;
        ok &= l[0] == l[1] && l[0] != l[2] && l[2] != l[3] && l[0] != l[3];
    }
    CHECK(t, ok);
    /* classes of fitted values equal their K-means labels, except a cluster's
     * own maximum ('<' is strict in the reference rule) */
    int64_t agree = 0, exempt = 0;
    for (int f = 0; f < r.fit_frames; f++)
        for (int i = 0; i < NA; i++) {
            const int32_t lab = r.fit_labels[f * NA + i];
            const double x = r.smooth[i * NT + r.fit_first + f];
            if (x == r.cmax[lab]) exempt++;
            else agree += r.classes[i * NT + r.fit_first + f] == lab;
        }
    CHECK_EQ_INT(t, exempt, 3);
    CHECK_EQ_INT(t, agree, NA * r.fit_frames - 3);
    double tot_t = 0;
    for (int j = 0; j < 9; j++) tot_t += r.tcounts[j];
    CHECK_NEAR(t, tot_t, NA * (NT - 1), 0);
    cluster_lens_result_free(&r);
    CHECK(t, r.smooth == NULL && r.classes == NULL);
    o.window = 4; /* even: [2 : -2] */
    CHECK(t, cluster_lens_pipeline(lens, NA, NT, &o, &r, &e) == SD_OK);
    CHECK_EQ_INT(t, r.fit_frames, NT - 4);
    cluster_lens_result_free(&r);
    /* errors: too few frames, constant data, k out of range */
    o.window = 100;
    CHECK_EQ_INT(t, cluster_lens_pipeline(lens, NA, NT, &o, &r, &e), SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "fewer than the smoothing window 100");
    cluster_lens_result_free(&r);
    double flat[NA * NT];
    for (int i = 0; i < NA * NT; i++) flat[i] = 0;
    o.window = 5;
    CHECK_EQ_INT(t, cluster_lens_pipeline(flat, NA, NT, &o, &r, &e), SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "distinct values");
    cluster_lens_result_free(&r);
    o.k = 0;
    CHECK_EQ_INT(t, cluster_lens_pipeline(lens, NA, NT, &o, &r, &e), SD_EINVAL);
    cluster_lens_result_free(&r);
}

SDT_MAIN(SDT_CASE(test_lens_300f), SDT_CASE(test_pipeline), SDT_CASE(test_savgol_exact),
         SDT_CASE(test_kmeans_small), SDT_CASE(test_classify_transitions), SDT_CASE(test_kde), SDT_CASE(test_pipeline_api))
