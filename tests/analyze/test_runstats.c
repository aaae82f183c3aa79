/* runstats: the live accumulator reproduces the offline transition counts of
 * the reference trajectory, whatever the order, duplication or split of the
 * snapshots, and merges runs by adding counts. */
#include "runstats.h"
#include "sd_npy.h"
#include "sd_xyz.h"
#include "sdtest.h"

typedef struct traj {
    int64_t T, n;
    double *pos; /* [T][n][3] */
} traj_t;

static int load_traj(traj_t *tr)
{
    char p[512];
    sdt_shared_or_skip("oracle/lens/dh484_jit0.3_20f.extxyz", p, sizeof p);
    sd_atoms_t **fr = NULL;
    int64_t nf = 0;
    sd_err_t e;
    if (sd_xyz_read_all(p, &fr, &nf, &e) != SD_OK) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    tr->T = nf;
    tr->n = fr[0]->n;
    tr->pos = malloc((size_t)(nf * tr->n * 3) * sizeof(double));
    for (int64_t t = 0; t < nf; t++)
        memcpy(tr->pos + t * tr->n * 3, fr[t]->pos, (size_t)(tr->n * 3) * sizeof(double));
    sd_xyz_frames_free(&fr, nf);
    return 0;
}

static runstats_t *make(dict_t **d, sd_err_t *e)
{
    if (dict_load(dict_default_path(), d, e) != SD_OK)
        return NULL;
    runstats_opts_t o = {.dt_ns = 1.0, .t_first_ns = 0.0, .lens_rcut_A = 4.48, .mask_z_below_A = NAN};
    return runstats_new(*d, &o, e);
}

static void check_counts(sdt_t *t, const int64_t *got, const double *ref, int k, int64_t factor)
{
    int bad = 0;
    for (int i = 0; i < k * k; i++)
        bad += got[i] != (int64_t)ref[i] * factor;
    CHECK_MSG(t, bad == 0, "%d of %d transition counts differ from the reference (x%lld)", bad,
              k * k, (long long)factor);
}

static void test_matches_offline_reference(sdt_t *t)
{
    traj_t tr;
    if (load_traj(&tr))
        { CHECK(t, 0); return; }
    char p[512];
    sd_npy_t ref;
    sd_err_t e;
    CHECK_EQ_INT(t, sd_npy_read_f64(sdt_shared_or_skip("oracle/lens/grouptmat_counts_dh484_jit0.3_20f.npy", p, sizeof p), &ref, &e), SD_OK);
    dict_t *d = NULL;
    runstats_t *s = make(&d, &e);
    CHECK_MSG(t, s != NULL, "%s", e.msg);
    if (!s)
        return;
    int k = d->n_groups;
    /* in order, with every snapshot sent twice (a resend after a restart) */
    for (int64_t f = 0; f < tr.T; f++) {
        int rc = runstats_push(s, 7, (double)f, 20, 100, tr.n, tr.pos + f * tr.n * 3, &e);
        CHECK_MSG(t, rc == 1, "frame %lld: %d (%s)", (long long)f, rc, e.msg);
        CHECK_EQ_INT(t, runstats_push(s, 7, (double)f, 20, 100, tr.n, tr.pos + f * tr.n * 3, &e), 0);
    }
    sd_msg_t m;
    CHECK_EQ_INT(t, runstats_message(s, 7, &m, &e), SD_OK);
    CHECK_EQ_INT(t, m.u.stats.frames, tr.T);
    check_counts(t, m.u.stats.counts, ref.data, k, 1);
    int64_t pop = 0;
    for (int g = 0; g < k; g++)
        pop += m.u.stats.populations[g];
    CHECK_EQ_INT(t, pop, tr.n);
    double fsum = 0;
    for (int g = 0; g < k; g++)
        fsum += m.u.stats.pop_mean[g];
    CHECK_NEAR(t, fsum, 1.0, 1e-12);
    CHECK(t, m.u.stats.lens_fractions[0] + m.u.stats.lens_fractions[1] + m.u.stats.lens_fractions[2] > 0.999);
    sd_err_t ve;
    CHECK_MSG(t, sd_msg_validate(&m, &ve) == SD_OK, "stats message invalid: %s", ve.msg);

    /* a second run fed in reverse order: everything waits until frame 0 arrives */
    for (int64_t f = tr.T - 1; f >= 0; f--) {
        int rc = runstats_push(s, 9, (double)f, 20, 100, tr.n, tr.pos + f * tr.n * 3, &e);
        CHECK_MSG(t, rc == (f == 0 ? (int)tr.T : 0), "reverse frame %lld gave %d", (long long)f, rc);
    }
    CHECK_EQ_INT(t, runstats_message(s, 9, &m, &e), SD_OK);
    check_counts(t, m.u.stats.counts, ref.data, k, 1);
    CHECK_EQ_INT(t, runstats_message(s, -1, &m, &e), SD_OK);
    check_counts(t, m.u.stats.counts, ref.data, k, 2);
    CHECK_EQ_INT(t, m.u.stats.frames, 2 * tr.T);
    int64_t ids[4];
    CHECK_EQ_INT(t, runstats_runs(s, ids, 4), 2);
    CHECK(t, ids[0] == 7 && ids[1] == 9);

    /* the paper's mean of row-normalised matrices equals each run's P here */
    double mp[64 * 64], pr[64 * 64];
    runstats_mean_p(s, mp);
    trans_rownorm(k, ref.data, pr);
    double dmax = 0;
    for (int i = 0; i < k * k; i++)
        dmax = fmax(dmax, fabs(mp[i] - pr[i]));
    CHECK_NEAR(t, dmax, 0, 1e-15);

    char *js = NULL;
    size_t jl = 0;
    CHECK_EQ_INT(t, runstats_json(s, "series-1", &js, &jl, &e), SD_OK);
    CHECK(t, js && jl == strlen(js));
    CHECK_STR_CONTAINS(t, js, "\"session\":\"series-1\"");
    CHECK_STR_CONTAINS(t, js, "\"labels\":[\"b\",\"ss\"");
    CHECK_STR_CONTAINS(t, js, "\"kde\":{\"x\":[");
    CHECK_STR_CONTAINS(t, js, "\"model\":{\"run_id\":");
    free(js);
    runstats_destroy(&s);
    dict_destroy(&d);
    sd_npy_free(&ref);
    free(tr.pos);
}

static void test_rejects_bad_snapshots(sdt_t *t)
{
    traj_t tr;
    if (load_traj(&tr))
        { CHECK(t, 0); return; }
    sd_err_t e;
    dict_t *d = NULL;
    runstats_t *s = make(&d, &e);
    if (!s)
        { CHECK(t, 0); return; }
    CHECK_EQ_INT(t, runstats_push(s, 1, 0, 10, 0, tr.n, tr.pos, &e), 1);
    CHECK(t, runstats_push(s, 1, 1, 10, 0, tr.n - 1, tr.pos, &e) < 0);
    CHECK_STR_CONTAINS(t, e.msg, "atoms");
    CHECK(t, runstats_push(s, 1, 1.5, 10, 0, tr.n, tr.pos, &e) < 0);
    CHECK_STR_CONTAINS(t, e.msg, "analysis grid");
    CHECK(t, runstats_push(s, -3, 1, 10, 0, tr.n, tr.pos, &e) < 0);
    double *bad = malloc((size_t)(tr.n * 3) * sizeof *bad);
    memcpy(bad, tr.pos, (size_t)(tr.n * 3) * sizeof *bad);
    bad[5] = NAN;
    CHECK(t, runstats_push(s, 1, 1, 10, 0, tr.n, bad, &e) < 0);
    /* the failed push left the run where it was: frame 1 is still expected */
    CHECK_EQ_INT(t, runstats_push(s, 1, 1, 10, 0, tr.n, tr.pos + tr.n * 3, &e), 1);
    /* a gap fills the bounded reorder buffer, then refuses */
    int rc = 0;
    for (int f = 3; f < 3 + RUNSTATS_REORDER + 1 && rc >= 0; f++)
        rc = runstats_push(s, 1, f, 10, 0, tr.n, tr.pos, &e);
    CHECK(t, rc < 0);
    CHECK_STR_CONTAINS(t, e.msg, "reorder buffer full");
    free(bad);
    runstats_destroy(&s);
    dict_destroy(&d);
    free(tr.pos);
}

SDT_MAIN(SDT_CASE(test_matches_offline_reference), SDT_CASE(test_rejects_bad_snapshots))
