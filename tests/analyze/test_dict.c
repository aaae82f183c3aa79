/* Dictionary rebuild from the paper's minimised ideal nanoparticles
 * (../shared/oracle/dictionary/ideal_minimized) with the paper's atom indices:
 * the 47 vectors within 1e-6 of the shipped ones and the 10 groups; complete
 * linkage and flat clusters on a hand-checked case. */
#include "analyze.h"
#include "sd_npy.h"
#include "sim.h"
#include "sdtest.h"

#include <stdint.h>

static void test_linkage_small(sdt_t *t)
{
    /* 1-D points 0, 1, 3, 7: merges (0,1)@1, ({0,1},3)@3, (.,7)@7 as scipy */
    const double x[4] = {0, 1, 3, 7};
    double dist[6];
    int q = 0;
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++) dist[q++] = fabs(x[i] - x[j]);
    int za[3], zb[3], zs[3], lab[4];
    double zh[3];
    sd_err_t e;
    CHECK_EQ_INT(t, dict_linkage_complete(4, dist, za, zb, zh, zs, &e), 0);
    CHECK(t, za[0] == 0 && zb[0] == 1 && zh[0] == 1 && zs[0] == 2);
    CHECK(t, za[1] == 2 && zb[1] == 4 && zh[1] == 3 && zs[1] == 3);
    CHECK(t, za[2] == 3 && zb[2] == 5 && zh[2] == 7 && zs[2] == 4);
    CHECK_EQ_INT(t, dict_fcluster(4, za, zb, zh, 2.0, lab), 3);
    CHECK(t, lab[0] == 0 && lab[1] == 0 && lab[2] == 1 && lab[3] == 2);
    CHECK_EQ_INT(t, dict_fcluster(4, za, zb, zh, 3.0, lab), 2); /* inclusive cut */
    CHECK_EQ_INT(t, dict_fcluster(4, za, zb, zh, 0.5, lab), 4);
    CHECK_EQ_INT(t, dict_fcluster(4, za, zb, zh, 100, lab), 1);
    /* complete, not single: points 0, 2, 3.9 — single would join all at 2 */
    const double d3[3] = {2, 3.9, 1.9};
    CHECK_EQ_INT(t, dict_linkage_complete(3, d3, za, zb, zh, NULL, &e), 0);
    CHECK(t, za[0] == 1 && zb[0] == 2 && zh[0] == 1.9 && zh[1] == 3.9);
    double bad[1] = {NAN};
    CHECK(t, dict_linkage_complete(2, bad, za, zb, zh, NULL, &e) == SD_ERANGE);
    CHECK(t, dict_linkage_complete(1, bad, za, zb, zh, NULL, &e) == SD_EINVAL);
}

static void test_rebuild_paper_dictionary(sdt_t *t)
{
    char dir[1024];
    sdt_shared_or_skip("oracle/dictionary/ideal_minimized/ico923_6_minimized.data", dir, sizeof dir);
    *strrchr(dir, '/') = 0;
    sd_err_t e;
    dict_t *paper = NULL;
    CHECK_EQ_INT(t, dict_load(dict_default_path(), &paper, &e), 0);
    if (!paper) return;
    const int n = paper->n_refs, dim = paper->dim;
    dict_t *d = dict_new(n, dim, n);
    d->params = paper->params;
    for (int i = 0; i < n; i++) {
        memcpy(d->ref_name[i], paper->ref_name[i], 64);
        memcpy(d->ref_source[i], paper->ref_source[i], 64);
        d->ref_atom[i] = paper->ref_atom[i];
    }
    CHECK_EQ_INT(t, dict_environments(&d->params, dir, n, (const char (*)[64])d->ref_source, d->ref_atom, d->vec, &e), 0);
    double worst = 0;
    for (int q = 0; q < n * dim; q++) worst = fmax(worst, fabs(d->vec[q] - paper->vec[q]));
    fprintf(stderr, "  rebuilt 47 vectors: max |v - v_paper| = %.3g\n", worst);
    CHECK_MSG(t, worst <= 1e-6, "rebuilt vectors differ by %.3g", worst);
    /* without labels: partition equal to the paper's */
    CHECK_EQ_INT(t, dict_group(d, 0.08, NULL, &e), 0);
    CHECK_EQ_INT(t, d->n_groups, 10);
    int same = 1;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if ((d->group[i] == d->group[j]) != (paper->group[i] == paper->group[j])) same = 0;
    CHECK(t, same);
    /* with the paper's labels: identical groups and labels */
    CHECK_EQ_INT(t, dict_group(d, 0.08, paper, &e), 0);
    for (int i = 0; i < n; i++) CHECK_EQ_INT(t, d->group[i], paper->group[i]);
    for (int g = 0; g < 10; g++) CHECK(t, !strcmp(d->group_label[g], paper->group_label[g]));
    /* another cut gives another grouping, and then the labels are generic */
    CHECK_EQ_INT(t, dict_group(d, 0.02, paper, &e), 1);
    CHECK(t, d->n_groups > 10 && !strcmp(d->group_label[0], "g0"));
    /* a missing structure and an atom out of range are named */
    char src[1][64] = {"nope_1"};
    int64_t at = 0;
    CHECK(t, dict_environments(&d->params, dir, 1, (const char (*)[64])src, &at, d->vec, &e) == SD_ENOTFOUND);
    CHECK_STR_CONTAINS(t, e.msg, "nope_1");
    snprintf(src[0], 64, "ico923_6");
    at = 923;
    CHECK(t, dict_environments(&d->params, dir, 1, (const char (*)[64])src, &at, d->vec, &e) == SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "atom 923");
    dict_destroy(&d);
    dict_destroy(&paper);
}

/* The five ideal nanoparticles of the paper, generated here and minimised with
 * sim (SMATB Au, CG etol 1e-6 ftol 1e-8): classified with the paper's
 * dictionary they give the same per-group atom counts as the paper's own
 * minimised structures (ideal_group_*.npy). */
static void test_generated_nanoparticles(sdt_t *t)
{
    static const char *names[] = {"ico923_6", "to807_11_3", "to976_12_4", "dh1086_7_1_3", "dh1734_5_4_4"};
    sd_err_t e;
    dict_t *d = NULL;
    CHECK_EQ_INT(t, dict_load(dict_default_path(), &d, &e), 0);
    sim_potential_t *pot = sim_potential_new("Au", &e);
    CHECK(t, d && pot);
    if (!d || !pot) { dict_destroy(&d); sim_potential_destroy(&pot); return; }
    classify_t *c = classify_new(d, &e);
    for (int k = 0; k < 5; k++) {
        char rel[256], buf[1024];
        snprintf(rel, sizeof rel, "oracle/lens/ideal_group_%s.npy", names[k]);
        sd_npy_t ref;
        CHECK_EQ_INT(t, sd_npy_read_i64(sdt_shared_or_skip(rel, buf, sizeof buf), &ref, &e), 0);
        int64_t n = 0;
        double *pos = NULL;
        CHECK_EQ_INT(t, npgen_by_name(names[k], 2.88, &n, &pos, &e), 0);
        CHECK_EQ_INT(t, n, ref.count);
        if (!pos || n != ref.count) { free(pos); sd_npy_free(&ref); continue; }
        sim_min_result_t res;
        CHECK_EQ_INT(t, sim_minimize(pot, n, pos, NULL, &res, &e), 0);
        int64_t *g = malloc(sizeof(int64_t) * n);
        classify_reset(c);
        CHECK_EQ_INT(t, classify_frame(c, n, pos, g, NULL, NULL, NULL, NULL, &e), 0);
        int64_t mine[10] = {0}, theirs[10] = {0};
        for (int64_t i = 0; i < n; i++) {
            if (g[i] >= 0 && g[i] < 10) mine[g[i]]++;
            int64_t v = ((int64_t *)ref.data)[i];
            if (v >= 0 && v < 10) theirs[v]++;
        }
        int same = 1;
        for (int q = 0; q < 10; q++) same &= mine[q] == theirs[q];
        CHECK_MSG(t, same, "%s: group counts differ from the paper's minimised structure", names[k]);
        fprintf(stderr, "  %s: %lld atoms, E %.6f eV/atom (%s), group counts %s the paper's\n", names[k], (long long)n,
                res.energy / n, sim_min_stop_name(res.stop), same ? "equal" : "DIFFER from");
        free(g);
        free(pos);
        sd_npy_free(&ref);
    }
    /* names and sizes are checked */
    int64_t n;
    double *pos;
    CHECK(t, npgen_by_name("ico924_6", 2.88, &n, &pos, &e) == SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "923 atoms");
    CHECK(t, npgen_by_name("cube8", 2.88, &n, &pos, &e) == SD_EINVAL);
    CHECK(t, npgen_truncated_octahedron(5, 3, 2.88, &n, &pos, &e) == SD_ERANGE);
    CHECK_EQ_INT(t, npgen_icosahedron(1, 2.88, &n, &pos, &e), 0);
    CHECK_EQ_INT(t, n, 13);
    free(pos);
    classify_destroy(&c);
    sim_potential_destroy(&pot);
    dict_destroy(&d);
}

SDT_MAIN(SDT_CASE(test_linkage_small), SDT_CASE(test_rebuild_paper_dictionary), SDT_CASE(test_generated_nanoparticles))
