/* Classification with the shipped paper dictionary against the SOAPify-path
 * references in ../shared/oracle/lens (meta_soapclass_dh484_jit0.3_20f.json):
 * identical groups and nearest references, distances and TimeSOAP <= 1e-7,
 * on the 20-frame jittered trajectory and on the ideal structures. */
#include "analyze.h"
#include "sd_atoms.h"
#include "sd_lmpdata.h"
#include "sd_npy.h"
#include "sd_xyz.h"
#include "sdtest.h"

#include <stdint.h>
#include <unistd.h>

static dict_t *paper_dict(sdt_t *t)
{
    sd_err_t e;
    dict_t *d = NULL;
    int rc = dict_load(dict_default_path(), &d, &e);
    CHECK_MSG(t, rc == 0, "%s", e.msg);
    return d;
}

static int load_npy(sdt_t *t, const char *rel, sd_npy_t *a, int as_int)
{
    char buf[1024];
    sd_err_t e;
    sdt_shared_or_skip(rel, buf, sizeof buf);
    int rc = as_int ? sd_npy_read_i64(buf, a, &e) : sd_npy_read_f64(buf, a, &e);
    CHECK_MSG(t, rc == 0, "%s: %s", rel, e.msg);
    return rc;
}

static void test_shipped_dictionary(sdt_t *t)
{
    dict_t *d = paper_dict(t);
    if (!d) return;
    CHECK_EQ_INT(t, d->n_refs, 47);
    CHECK_EQ_INT(t, d->n_groups, 10);
    CHECK_EQ_INT(t, d->dim, 576);
    CHECK_NEAR(t, d->params.r_cut, 4.48023312, 0);
    static const char *labels[10] = {"b", "ss", "ss'", "c", "c'", "s", "e", "e'", "v'", "v"};
    for (int g = 0; g < 10; g++) CHECK(t, !strcmp(d->group_label[g], labels[g]));
    static const int groups[47] = {9, 6, 7, 5, 5, 2, 1, 1, 0, 0, 0, 0, 8, 7, 7, 7, 7, 5, 5, 5, 5, 2, 1, 1,
                                   0, 9, 9, 7, 6, 6, 8, 8, 4, 7, 3, 3, 4, 4, 5, 5, 1, 1, 2, 1, 0, 0, 0};
    for (int i = 0; i < 47; i++) CHECK_EQ_INT(t, d->group[i], groups[i]);
    CHECK(t, !strcmp(d->ref_name[0], "v_5f_ih") && !strcmp(d->ref_source[0], "ico923_6") && d->ref_atom[0] == 566);
    sd_npy_t ref;
    if (load_npy(t, "oracle/dictionary/references47_576_f64.npy", &ref, 0) == 0) {
        CHECK(t, ref.count == 47 * 576 && memcmp(ref.data, d->vec, sizeof(double) * 47 * 576) == 0);
        sd_npy_free(&ref);
    }
    /* the paper's 10 groups are complete linkage at 0.08 */
    double *dist = malloc(sizeof(double) * 47 * 46 / 2);
    int q = 0;
    for (int i = 0; i < 47; i++)
        for (int j = i + 1; j < 47; j++) dist[q++] = dict_distance(576, d->vec + i * 576, d->vec + j * 576);
    int za[46], zb[46], zs[46], lab[47];
    double zh[46];
    sd_err_t e;
    CHECK_EQ_INT(t, dict_linkage_complete(47, dist, za, zb, zh, zs, &e), 0);
    CHECK_EQ_INT(t, zs[45], 47);
    for (int m = 1; m < 46; m++) CHECK(t, zh[m] >= zh[m - 1]);
    CHECK_EQ_INT(t, dict_fcluster(47, za, zb, zh, 0.08, lab), 10);
    int ok = 1;
    for (int i = 0; i < 47; i++)
        for (int j = 0; j < 47; j++)
            if ((lab[i] == lab[j]) != (groups[i] == groups[j])) ok = 0;
    CHECK_MSG(t, ok, "complete linkage at 0.08 does not give the paper's 10 groups");
    free(dist);
    dict_destroy(&d);
}

static void test_trajectory(sdt_t *t)
{
    char buf[1024];
    sd_err_t e;
    dict_t *d = paper_dict(t);
    if (!d) return;
    sd_npy_t gref, rref, dref, tref;
    if (load_npy(t, "oracle/lens/group_dh484_jit0.3_20f.npy", &gref, 1) ||
        load_npy(t, "oracle/lens/refidx_dh484_jit0.3_20f.npy", &rref, 1) ||
        load_npy(t, "oracle/lens/dist47_dh484_jit0.3_20f.npy", &dref, 0) ||
        load_npy(t, "oracle/lens/timesoap_dh484_jit0.3_20f.npy", &tref, 0)) {
        dict_destroy(&d);
        return;
    }
    sd_atoms_t **fr = NULL;
    int64_t T = 0;
    CHECK_EQ_INT(t, sd_xyz_read_all(sdt_shared_or_skip("oracle/lens/dh484_jit0.3_20f.extxyz", buf, sizeof buf),
                                    &fr, &T, &e), 0);
    CHECK_EQ_INT(t, T, 20);
    classify_t *c = classify_new(d, &e);
    CHECK(t, c != NULL);
    const int64_t n = 484;
    int64_t g[484], r[484];
    double *dist = malloc(sizeof(double) * n * 47), ts[484];
    int64_t gbad = 0, rbad = 0;
    double dmax = 0, tmax = 0;
    for (int64_t f = 0; f < T && c; f++) {
        CHECK_EQ_INT(t, fr[f]->n, n);
        CHECK_EQ_INT(t, classify_frame(c, n, fr[f]->pos, g, r, dist, NULL, ts, &e), 0);
        for (int64_t i = 0; i < n; i++) {
            gbad += g[i] != ((int64_t *)gref.data)[f * n + i];
            rbad += r[i] != ((int64_t *)rref.data)[f * n + i];
            for (int k = 0; k < 47; k++)
                dmax = fmax(dmax, fabs(dist[i * 47 + k] - ((double *)dref.data)[(f * n + i) * 47 + k]));
            if (f == 0) CHECK(t, isnan(ts[i]));
            else tmax = fmax(tmax, fabs(ts[i] - ((double *)tref.data)[(f - 1) * n + i]));
        }
    }
    fprintf(stderr, "  group mismatches %lld, refidx mismatches %lld, max |d - d_ref| %.3g, max TimeSOAP diff %.3g\n",
            (long long)gbad, (long long)rbad, dmax, tmax);
    CHECK_EQ_INT(t, gbad, 0);
    CHECK_EQ_INT(t, rbad, 0);
    CHECK(t, dmax <= 1e-7);
    CHECK(t, tmax <= 1e-7);
    /* a frame with another atom count inside the same trajectory is refused */
    CHECK(t, classify_frame(c, n - 1, fr[0]->pos, g, NULL, NULL, NULL, NULL, &e) == SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "atom count changed");
    classify_reset(c);
    CHECK_EQ_INT(t, classify_frame(c, n - 1, fr[0]->pos, g, NULL, NULL, NULL, NULL, &e), 0);
    classify_destroy(&c);
    free(dist);
    sd_xyz_frames_free(&fr, T);
    sd_npy_free(&gref); sd_npy_free(&rref); sd_npy_free(&dref); sd_npy_free(&tref);
    dict_destroy(&d);
}

static void check_ideal(sdt_t *t, const dict_t *d, const char *structure, const char *name, int full)
{
    char buf[1024], rel[256];
    sd_err_t e;
    sd_atoms_t *a = NULL;
    CHECK_EQ_INT(t, sd_atoms_read_any(sdt_shared_or_skip(structure, buf, sizeof buf), &a, &e), 0);
    if (!a) return;
    sd_npy_t gref, rref, dref;
    snprintf(rel, sizeof rel, "oracle/lens/ideal_group_%s.npy", name);
    if (load_npy(t, rel, &gref, 1)) { sd_atoms_destroy(&a); return; }
    CHECK_EQ_INT(t, gref.count, a->n);
    classify_t *c = classify_new(d, &e);
    int64_t *g = malloc(sizeof(int64_t) * a->n), *r = malloc(sizeof(int64_t) * a->n);
    double *dist = malloc(sizeof(double) * a->n * 47);
    CHECK_EQ_INT(t, classify_frame(c, a->n, a->pos, g, r, dist, NULL, NULL, &e), 0);
    int64_t gbad = 0, rbad = 0;
    double dmax = 0;
    for (int64_t i = 0; i < a->n && i < gref.count; i++) gbad += g[i] != ((int64_t *)gref.data)[i];
    if (full) {
        snprintf(rel, sizeof rel, "oracle/lens/ideal_refidx_%s.npy", name);
        if (load_npy(t, rel, &rref, 1) == 0) {
            for (int64_t i = 0; i < a->n && i < rref.count; i++) rbad += r[i] != ((int64_t *)rref.data)[i];
            sd_npy_free(&rref);
        }
        snprintf(rel, sizeof rel, "oracle/lens/ideal_dist47_%s.npy", name);
        if (load_npy(t, rel, &dref, 0) == 0) {
            CHECK_EQ_INT(t, dref.count, a->n * 47);
            for (int64_t q = 0; q < a->n * 47 && q < dref.count; q++)
                dmax = fmax(dmax, fabs(dist[q] - ((double *)dref.data)[q]));
            sd_npy_free(&dref);
        }
    }
    fprintf(stderr, "  %s: %lld atoms, group mismatches %lld, refidx mismatches %lld, max |d - d_ref| %.3g\n",
            name, (long long)a->n, (long long)gbad, (long long)rbad, dmax);
    CHECK_EQ_INT(t, gbad, 0);
    CHECK_EQ_INT(t, rbad, 0);
    CHECK(t, dmax <= 1e-7);
    free(g); free(r); free(dist);
    classify_destroy(&c);
    sd_npy_free(&gref);
    sd_atoms_destroy(&a);
}

static void test_ideal_structures(sdt_t *t)
{
    dict_t *d = paper_dict(t);
    if (!d) return;
    check_ideal(t, d, "oracle/structures/dh484.xyz", "dh484", 1);
    check_ideal(t, d, "oracle/structures/ih923.xyz", "ih923", 1);
    check_ideal(t, d, "oracle/structures/to976.xyz", "to976", 1);
    static const char *np5[] = {"ico923_6", "to807_11_3", "to976_12_4", "dh1086_7_1_3", "dh1734_5_4_4"};
    for (int i = 0; i < 5; i++) {
        char s[256];
        snprintf(s, sizeof s, "oracle/dictionary/ideal_minimized/%s_minimized.data", np5[i]);
        check_ideal(t, d, s, np5[i], 0);
    }
    dict_destroy(&d);
}

static void test_bad_dictionaries(sdt_t *t)
{
    sd_err_t e;
    dict_t *d = NULL;
    CHECK(t, dict_load("/nonexistent/x.dict", &d, &e) == SD_ENOTFOUND && d == NULL);
    /* a 324-dimensional dictionary: rewrite the paper's with its header claiming dim 324 */
    dict_t *p = paper_dict(t);
    if (!p) return;
    char dir[] = "/tmp/sdt_dict_XXXXXX";
    CHECK(t, mkdtemp(dir) != NULL);
    char path[512], npy[512];
    snprintf(path, sizeof path, "%s/small.dict", dir);
    snprintf(npy, sizeof npy, "%s/small.npy", dir);
    dict_t *s = dict_new(3, 324, 1);
    s->params = p->params;
    s->params.n_max = 8;
    for (int i = 0; i < 3; i++) {
        s->vec[i * 324 + i] = 1.0;
        snprintf(s->ref_name[i], sizeof s->ref_name[i], "r%d", i);
    }
    snprintf(s->group_label[0], sizeof s->group_label[0], "x");
    CHECK_EQ_INT(t, dict_save(path, s, &e), 0);
    CHECK(t, dict_load(path, &d, &e) == SD_EFORMAT && d == NULL);
    CHECK_STR_CONTAINS(t, e.msg, "dim 324");
    /* header right (576) but vectors of 324: the message names both */
    FILE *f = fopen(path, "r");
    char txt[8192];
    size_t len = f ? fread(txt, 1, sizeof txt - 1, f) : 0;
    if (f) fclose(f);
    txt[len] = 0;
    char *dl = strstr(txt, "dim 324");
    CHECK(t, dl != NULL);
    if (dl) {
        memcpy(dl, "dim 576", 7);
        f = fopen(path, "w");
        fputs(txt, f);
        fclose(f);
        CHECK(t, dict_load(path, &d, &e) == SD_EFORMAT && d == NULL);
        CHECK_STR_CONTAINS(t, e.msg, "has 324-vectors, expected 576");
    }
    /* classify_new refuses a dictionary whose dim does not match its SOAP parameters */
    s->params.l_max = 7;
    CHECK(t, classify_new(s, &e) == NULL);
    CHECK_STR_CONTAINS(t, e.msg, "324-vectors, expected 512");
    /* round trip of a valid dictionary */
    snprintf(path, sizeof path, "%s/copy.dict", dir);
    CHECK_EQ_INT(t, dict_save(path, p, &e), 0);
    CHECK_EQ_INT(t, dict_load(path, &d, &e), 0);
    if (d) {
        CHECK(t, d->n_refs == 47 && memcmp(d->vec, p->vec, sizeof(double) * 47 * 576) == 0);
        CHECK(t, !strcmp(d->ref_name[13], p->ref_name[13]) && d->ref_atom[46] == p->ref_atom[46]);
        CHECK(t, !strcmp(d->group_label[2], "ss'"));
    }
    dict_destroy(&d);
    /* garbage files */
    f = fopen(path, "w");
    fputs("stemdyn-dict 1\nname x\ngroups 2\nrefs 5\n", f);
    fclose(f);
    CHECK(t, dict_load(path, &d, &e) == SD_EFORMAT);
    f = fopen(path, "w");
    fputs("hello\n", f);
    fclose(f);
    CHECK(t, dict_load(path, &d, &e) == SD_EFORMAT);
    CHECK_STR_CONTAINS(t, e.msg, "not a stemdyn dictionary");
    remove(path);
    snprintf(path, sizeof path, "%s/copy.npy", dir);
    remove(path);
    remove(npy);
    snprintf(path, sizeof path, "%s/small.dict", dir);
    remove(path);
    rmdir(dir);
    dict_destroy(&s);
    dict_destroy(&p);
}

SDT_MAIN(SDT_CASE(test_shipped_dictionary), SDT_CASE(test_trajectory), SDT_CASE(test_ideal_structures),
         SDT_CASE(test_bad_dictionaries))
