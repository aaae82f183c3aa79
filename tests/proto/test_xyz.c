/* extxyz reader/writer: real reference files, bit-exact round trips, and
 * rejection of malformed input with file+line messages. */
#include "sd_textio.h"
#include "sd_xyz.h"
#include "sdtest.h"

#include <stdint.h>
#include <unistd.h>

static void tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "/tmp/sdtest_xyz_%d_%s", (int)getpid(), name);
}

static void test_real_structures(sdt_t *t)
{
    char p[512];
    sd_err_t e = {0};
    sd_atoms_t *a = NULL;
    CHECK_EQ_INT(t, sd_atoms_read_any(sdt_shared_or_skip("oracle/structures/dh484.xyz", p, sizeof p), &a, &e), SD_OK);
    if (!a)
        return;
    CHECK_EQ_INT(t, a->n, 484);
    CHECK_EQ_INT(t, a->nspecies, 1);
    CHECK(t, !strcmp(a->species[0], "Au"));
    CHECK(t, a->pos[0] == -0.0 && a->pos[1] == -0.56801937 && a->pos[2] == -11.53432581);
    CHECK(t, a->pos[3 * 483] == 13.34300176 && a->pos[3 * 483 + 1] == 1.27012992 && a->pos[3 * 483 + 2] == 2.88358145);
    CHECK(t, !a->has_cell && !a->pbc[0] && !a->pbc[1] && !a->pbc[2]);
    sd_atoms_destroy(&a);
    CHECK(t, a == NULL);

    /* ih923 carries an integer "tags" column */
    CHECK_EQ_INT(t, sd_atoms_read_any(sdt_shared_or_skip("oracle/structures/ih923.xyz", p, sizeof p), &a, &e), SD_OK);
    if (a) {
        CHECK_EQ_INT(t, a->n, 923);
        const sd_prop_t *tg = sd_atoms_get_prop(a, "tags");
        CHECK(t, tg && tg->kind == SD_PROP_INT && tg->ncols == 1);
        if (tg) {
            CHECK_EQ_INT(t, tg->ints[0], 1);
            CHECK_EQ_INT(t, tg->ints[922], 7);
        }
        CHECK(t, a->pos[3 * 922] == -3.96890938 && a->pos[3 * 922 + 2] == -11.32767206);
        sd_atoms_destroy(&a);
    }
    CHECK_EQ_INT(t, sd_atoms_read_any(sdt_shared_or_skip("oracle/structures/to976.xyz", p, sizeof p), &a, &e), SD_OK);
    if (a) {
        CHECK_EQ_INT(t, a->n, 976);
        CHECK(t, a->pos[0] == -14.273 && a->pos[1] == -8.156 && a->pos[2] == 0.0);
        sd_atoms_destroy(&a);
    }
    /* 15-digit minimised structure, info values kept as strings */
    CHECK_EQ_INT(t, sd_atoms_read_any(sdt_shared_or_skip("oracle/smatb/dh484.mintight.xyz", p, sizeof p), &a, &e),
                 SD_OK);
    if (a) {
        CHECK(t, a->pos[1] == -0.568019366921490 && a->pos[2] == -11.351341130384920);
        CHECK(t, a->pos[3 * 483] == 12.896543289023684 && a->pos[3 * 483 + 2] == 2.802302823620723);
        const char *en = sd_atoms_get_info(a, "E_smatb_exact");
        CHECK(t, en && !strcmp(en, "-1778.8828898887"));
        sd_atoms_destroy(&a);
    }
}

static void test_real_trajectory(sdt_t *t)
{
    char p[512];
    sd_err_t e = {0};
    sd_atoms_t **fr = NULL;
    int64_t nf = 0;
    CHECK_EQ_INT(t, sd_xyz_read_all(sdt_shared_or_skip("oracle/lens/dh484_jit0.3_20f.extxyz", p, sizeof p), &fr, &nf, &e),
                 SD_OK);
    CHECK_EQ_INT(t, nf, 20);
    if (nf == 20) {
        for (int i = 0; i < 20; i++) {
            CHECK_EQ_INT(t, fr[i]->n, 484);
            char want[8];
            snprintf(want, sizeof want, "%d", i);
            const char *fv = sd_atoms_get_info(fr[i], "frame");
            CHECK(t, fv && !strcmp(fv, want));
        }
        CHECK(t, fr[0]->pos[0] == 0.21498507261276245 && fr[0]->pos[2] == -12.17010498046875);
        CHECK(t, fr[19]->pos[3 * 483] == 13.144199371337891 && fr[19]->pos[3 * 483 + 1] == 1.2302309274673462 &&
                     fr[19]->pos[3 * 483 + 2] == 3.1518456935882568);
        CHECK(t, !strcmp(sd_atoms_get_info(fr[5], "seed"), "20240101"));
    }
    sd_xyz_frames_free(&fr, nf);
    CHECK(t, fr == NULL);

    /* streaming reader over the 300-frame trajectory */
    sd_xyz_reader_t *r = sd_xyz_reader_new(sdt_shared_or_skip("oracle/lens/dh484_cnjit_300f.extxyz", p, sizeof p), &e);
    CHECK(t, r != NULL);
    int64_t count = 0;
    sd_atoms_t *a = NULL, *last = NULL;
    int rc;
    while (r && (rc = sd_xyz_reader_next(r, &a, &e)) == 1) {
        count++;
        sd_atoms_destroy(&last);
        last = a;
    }
    CHECK_EQ_INT(t, count, 300);
    CHECK(t, last && last->pos[3 * 483] == 13.065977096557617 && last->pos[3 * 483 + 2] == 2.4888677597045898);
    sd_atoms_destroy(&last);
    sd_xyz_reader_destroy(&r);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double rng_double(uint64_t *s)
{
    return ((double)(rng_next(s) >> 11) / 9007199254740992.0 - 0.5) * 40.0;
}

static sd_atoms_t *make_frame(uint64_t *seed, int64_t n)
{
    sd_atoms_t *a = sd_atoms_new(n, "Au");
    int pt = sd_atoms_species_index(a, "Pt");
    for (int64_t i = 0; i < 3 * n; i++)
        a->pos[i] = rng_double(seed);
    a->pos[0] = 1e-300; /* extremes must survive the text round trip */
    a->pos[1] = -123456789.123456789;
    a->pos[2] = 0.1 + 0.2;
    for (int64_t i = 0; i < n; i += 3)
        a->type[i] = pt;
    a->has_cell = 1;
    for (int k = 0; k < 9; k++)
        a->cell[k] = k % 4 == 0 ? 30.0 + k : 0.1 * k;
    a->pbc[0] = 1;
    a->pbc[2] = 1;
    sd_prop_t *f = sd_atoms_add_prop(a, "forces", SD_PROP_REAL, 3);
    sd_prop_t *en = sd_atoms_add_prop(a, "energies", SD_PROP_REAL, 1);
    sd_prop_t *tg = sd_atoms_add_prop(a, "tags", SD_PROP_INT, 1);
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++)
            f->real[3 * i + k] = rng_double(seed) * 1e-3;
        en->real[i] = -3.8 + rng_double(seed) * 1e-4;
        tg->ints[i] = (int64_t)(rng_next(seed) % 2000000) - 1000000;
    }
    tg->ints[0] = INT64_MIN;
    sd_atoms_set_info(a, "energy", "-1759.70969642", NULL);
    sd_atoms_set_info(a, "note", "two words \"quoted\" and a back\\slash", NULL);
    sd_atoms_set_info(a, "empty", "", NULL);
    return a;
}

static void check_same(sdt_t *t, const sd_atoms_t *a, const sd_atoms_t *b)
{
    CHECK_EQ_INT(t, a->n, b->n);
    if (a->n != b->n)
        return;
    CHECK(t, memcmp(a->pos, b->pos, (size_t)(3 * a->n) * sizeof(double)) == 0);
    for (int64_t i = 0; i < a->n; i++)
        if (strcmp(a->species[a->type[i]], b->species[b->type[i]])) {
            CHECK_MSG(t, 0, "species of atom %lld differ", (long long)i);
            break;
        }
    CHECK_EQ_INT(t, a->has_cell, b->has_cell);
    CHECK(t, memcmp(a->cell, b->cell, sizeof a->cell) == 0);
    CHECK(t, memcmp(a->pbc, b->pbc, sizeof a->pbc) == 0);
    CHECK_EQ_INT(t, a->nprops, b->nprops);
    for (int p = 0; p < a->nprops; p++) {
        const sd_prop_t *pb = sd_atoms_get_prop(b, a->props[p].name);
        CHECK(t, pb && pb->kind == a->props[p].kind && pb->ncols == a->props[p].ncols);
        if (!pb || pb->ncols != a->props[p].ncols)
            continue;
        size_t nb = (size_t)(a->n * pb->ncols) * 8;
        CHECK(t, memcmp(pb->kind == SD_PROP_REAL ? (void *)pb->real : (void *)pb->ints,
                        a->props[p].kind == SD_PROP_REAL ? (void *)a->props[p].real : (void *)a->props[p].ints, nb) == 0);
    }
    CHECK_EQ_INT(t, a->ninfo, b->ninfo);
    for (int i = 0; i < a->ninfo; i++) {
        const char *v = sd_atoms_get_info(b, a->info_key[i]);
        CHECK_MSG(t, v && !strcmp(v, a->info_val[i]), "info %s: '%s' vs '%s'", a->info_key[i], a->info_val[i],
                  v ? v : "(missing)");
    }
}

static void test_roundtrip_multiframe(sdt_t *t)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    sd_atoms_t *fr[3] = {make_frame(&seed, 50), make_frame(&seed, 1), sd_atoms_new(0, NULL)};
    char path[256];
    tmp_path(path, sizeof path, "rt.extxyz");
    sd_err_t e = {0};
    CHECK_EQ_INT(t, sd_xyz_write_file(path, fr, 3, &e), SD_OK);
    sd_atoms_t **back = NULL;
    int64_t nb = 0;
    CHECK_EQ_INT(t, sd_xyz_read_all(path, &back, &nb, &e), SD_OK);
    CHECK_EQ_INT(t, nb, 3);
    if (nb == 3) {
        check_same(t, fr[0], back[0]);
        check_same(t, fr[1], back[1]);
        CHECK_EQ_INT(t, back[2]->n, 0);
    }
    sd_xyz_frames_free(&back, nb);
    /* a second write of what was read is byte-identical */
    sd_atoms_t *one = NULL;
    CHECK_EQ_INT(t, sd_atoms_read_any(path, &one, &e), SD_OK);
    char p2[256];
    tmp_path(p2, sizeof p2, "rt2.extxyz");
    CHECK_EQ_INT(t, sd_xyz_write_file(p2, &one, 1, &e), SD_OK);
    FILE *f1 = fopen(path, "rb"), *f2 = fopen(p2, "rb");
    if (f1 && f2) {
        char l1[4096], l2[4096];
        int same = 1;
        for (int i = 0; i < 52 && same; i++)
            same = fgets(l1, sizeof l1, f1) && fgets(l2, sizeof l2, f2) && !strcmp(l1, l2);
        CHECK(t, same);
    }
    if (f1)
        fclose(f1);
    if (f2)
        fclose(f2);
    sd_atoms_destroy(&one);
    for (int i = 0; i < 3; i++)
        sd_atoms_destroy(&fr[i]);
    unlink(path);
    unlink(p2);
}

static void test_plain_and_kinds(sdt_t *t)
{
    sd_err_t e = {0};
    /* plain xyz: free comment, extra columns, atomic numbers */
    const char *plain = "3\nmade by hand, \"unbalanced quote\n79 0 0 0\nAu 1.5 0 0 extra\n78 0 1.5 0\n";
    sd_atoms_t **fr = NULL;
    int64_t nf = 0;
    CHECK_EQ_INT(t, sd_xyz_read_all_mem(plain, strlen(plain), "plain.xyz", &fr, &nf, &e), SD_OK);
    CHECK_EQ_INT(t, nf, 1);
    if (nf == 1) {
        CHECK_EQ_INT(t, fr[0]->nspecies, 2);
        CHECK(t, !strcmp(fr[0]->species[fr[0]->type[2]], "Pt"));
        CHECK(t, !strcmp(fr[0]->species[fr[0]->type[1]], "Au"));
        CHECK(t, fr[0]->pos[3] == 1.5);
        CHECK_STR_CONTAINS(t, sd_atoms_get_info(fr[0], "comment"), "made by hand");
    }
    sd_xyz_frames_free(&fr, nf);
    /* L → int, other S skipped and listed, Lattice without pbc → T T T, quoted keys */
    const char *ext = "2\nLattice=\"10 0 0 0 11 0 0 0 12\" Properties=species:S:1:pos:R:3:fixed:L:1:label:S:1:Z:I:1 "
                      "\"my key\"={1 2 3} flag\n"
                      "Cu 0 0 0 T a1 29\nCu 1 1 1 F b2 29\n\n\n";
    CHECK_EQ_INT(t, sd_xyz_read_all_mem(ext, strlen(ext), "kinds.extxyz", &fr, &nf, &e), SD_OK);
    CHECK_EQ_INT(t, nf, 1);
    if (nf == 1) {
        sd_atoms_t *a = fr[0];
        const sd_prop_t *fx = sd_atoms_get_prop(a, "fixed");
        CHECK(t, fx && fx->kind == SD_PROP_INT && fx->ints[0] == 1 && fx->ints[1] == 0);
        CHECK(t, sd_atoms_get_prop(a, "label") == NULL);
        CHECK_STR_CONTAINS(t, sd_atoms_get_info(a, "skipped_properties"), "label");
        CHECK(t, a->has_cell && a->cell[4] == 11 && a->pbc[0] && a->pbc[1] && a->pbc[2]);
        CHECK(t, sd_atoms_get_info(a, "my key") && !strcmp(sd_atoms_get_info(a, "my key"), "{1 2 3}"));
        CHECK(t, sd_atoms_get_info(a, "flag") && !strcmp(sd_atoms_get_info(a, "flag"), "T"));
        CHECK(t, !strcmp(a->species[0], "Cu"));
    }
    sd_xyz_frames_free(&fr, nf);
    /* species from Z when there is no species column */
    const char *zonly = "1\nProperties=Z:I:1:pos:R:3\n79 1 2 3\n";
    CHECK_EQ_INT(t, sd_xyz_read_all_mem(zonly, strlen(zonly), "z.extxyz", &fr, &nf, &e), SD_OK);
    if (nf == 1)
        CHECK(t, !strcmp(fr[0]->species[0], "Au") && fr[0]->pos[2] == 3);
    sd_xyz_frames_free(&fr, nf);
}

typedef struct bad_case {
    const char *text;
    int code;
    const char *frag;
} bad_case_t;

static void test_malformed(sdt_t *t)
{
    static const bad_case_t cases[] = {
        {"abc\n\nAu 0 0 0\n", SD_EFORMAT, "line 1: expected an atom count"},
        {"2\nProperties=species:S:1:pos:R:3\nAu 0.000000 0.000000 0.000000\n", SD_EFORMAT, "line 4: file ends after 1 of 2 atoms"},
        {"2\nProperties=species:S:1:pos:R:3\nAu 0 0 0\n", SD_EFORMAT, "line 2: 2 atoms of 4 columns cannot fit in the 9 bytes"},
        {"1\nProperties=species:S:1:pos:R:3\nAu 0 0 0 7\n", SD_EFORMAT, "line 3: expected 4 columns, got 5"},
        {"1\n\nAu 0 0\n", SD_EFORMAT, "line 3: expected at least 4 columns, got 3"},
        {"1\n\nAu 0 nan 0\n", SD_ERANGE, "line 3: coordinate 'nan' is not a finite number"},
        {"1\n\nAu 0 1e999 0\n", SD_ERANGE, "not a finite number"},
        {"99999999\n\nAu 0 0 0\n", SD_EFORMAT, "cannot fit"},
        {"999999999999\n", SD_ENOMEM, "exceeds the limit"},
        {"-3\n\n", SD_EFORMAT, "expected an atom count"},
        {"1\nLattice=\"1 0 0 0 1 0 0 0\" Properties=species:S:1:pos:R:3\nAu 0 0 0\n", SD_EFORMAT, "Lattice needs 9"},
        {"1\nLattice=\"1 0 0 0 1 0 0 0 1 Properties=species:S:1:pos:R:3\nAu 0 0 0\n", SD_EFORMAT, "unterminated quote"},
        {"1\nProperties=species:S:1:pos:R:3:foo:Q:1\nAu 0 0 0 1\n", SD_EFORMAT, "unknown kind 'Q'"},
        {"1\nProperties=species:S:1:foo:R:3\nAu 0 0 0\n", SD_EFORMAT, "no pos:R:3"},
        {"1\nProperties=species:S:1:pos:R:3:a:R\nAu 0 0 0\n", SD_EFORMAT, "triples"},
        {"1\nProperties=species:S:1:pos:R:3:a:R:1:a:I:1\nAu 0 0 0 1 1\n", SD_EFORMAT, "duplicate property 'a'"},
        {"1\nProperties=species:S:1:pos:R:3 pbc=\"T T\"\nAu 0 0 0\n", SD_EFORMAT, "pbc must be"},
        {"1\nProperties=species:S:1:pos:R:3:n:I:1\nAu 0 0 0 1.5\n", SD_EFORMAT, "n value '1.5' is not an integer"},
        {"1\nProperties=species:S:1:pos:R:3:m:L:1\nAu 0 0 0 maybe\n", SD_EFORMAT, "not T or F"},
        {"1\nProperties=species:S:1:pos:R:3:f:R:1\nAu 0 0 0 inf\n", SD_ERANGE, "f value 'inf'"},
        {"1\n", SD_EFORMAT, "cannot fit in the 0 bytes"},
        {"0\n", SD_EFORMAT, "line 2: file ends before the comment line"},
        {"1\n\nAveryLongSpeciesName 0 0 0\n", SD_EFORMAT, "longer than 7"},
        {"1\n\n999 0 0 0\n", SD_EFORMAT, "unknown atomic number"},
        {"1\n\nAu 0 0 0\nxx\n", SD_EFORMAT, "line 4: expected an atom count"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sd_err_t e = {0};
        sd_atoms_t **fr = NULL;
        int64_t nf = 0;
        int rc = sd_xyz_read_all_mem(cases[i].text, strlen(cases[i].text), "bad.xyz", &fr, &nf, &e);
        CHECK_MSG(t, rc == cases[i].code, "case %zu: rc %d, want %d (%s)", i, rc, cases[i].code, e.msg);
        CHECK_STR_CONTAINS(t, e.msg, cases[i].frag);
        CHECK_STR_CONTAINS(t, e.msg, "bad.xyz");
        CHECK(t, fr == NULL && nf == 0);
    }
    /* embedded NUL byte */
    const char nul[] = "1\n\nAu 0\0 0 0\n";
    sd_err_t e = {0};
    sd_atoms_t **fr = NULL;
    int64_t nf = 0;
    CHECK_EQ_INT(t, sd_xyz_read_all_mem(nul, sizeof nul - 1, "nul.xyz", &fr, &nf, &e), SD_EFORMAT);
    CHECK_STR_CONTAINS(t, e.msg, "line 3: NUL byte");
    /* missing file */
    CHECK(t, sd_xyz_reader_new("/nonexistent/dir/x.xyz", &e) == NULL);
    CHECK_EQ_INT(t, e.code, SD_ENOTFOUND);
    CHECK_STR_CONTAINS(t, e.msg, "/nonexistent/dir/x.xyz");
    /* the writer refuses non-finite values and leaves no file behind */
    sd_atoms_t *a = sd_atoms_new(2, "Au");
    a->pos[4] = NAN;
    char path[256];
    tmp_path(path, sizeof path, "nan.extxyz");
    CHECK_EQ_INT(t, sd_xyz_write_file(path, &a, 1, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "atom 1");
    CHECK(t, access(path, F_OK) != 0);
    sd_atoms_destroy(&a);
}

static void test_write_format(sdt_t *t)
{
    sd_atoms_t *a = sd_atoms_new(1, "Au");
    a->pos[0] = 0.1;
    a->pos[1] = -2.5;
    a->pos[2] = 1.0 / 3.0;
    sd_prop_t *f = sd_atoms_add_prop(a, "forces", SD_PROP_REAL, 3);
    f->real[0] = 1e-12;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    sd_err_t e = {0};
    CHECK_EQ_INT(t, sd_xyz_write(m, a, &e), SD_OK);
    fclose(m);
    CHECK_STR_CONTAINS(t, buf, "1\nProperties=species:S:1:pos:R:3:forces:R:3 pbc=\"F F F\"\n");
    CHECK_STR_CONTAINS(t, buf, "Au 0.1 -2.5 0.3333333333333333 1e-12 0 0\n");
    free(buf);
    sd_atoms_destroy(&a);
}

static void test_number_format(sdt_t *t)
{
    static const struct {
        double v;
        const char *s;
    } fixed[] = {{0.1, "0.1"}, {1.0 / 3.0, "0.3333333333333333"}, {1e-12, "1e-12"}, {-2.5, "-2.5"},
                 {1e22, "1e+22"}, {123456789012345678.0, "1.2345678901234568e+17"}, {5e-324, "4.94065645841247e-324"},
                 {1.7976931348623157e308, "1.7976931348623157e+308"}, {-0.0, "-0"}, {0.0, "0"}, {100, "100"},
                 {1e15, "1e+15"}, {123456.789, "123456.789"}, {0.0001, "0.0001"}, {1e-5, "1e-05"},
                 {13.065977096557617, "13.065977096557617"}, {9.999999999999999e22, "1e+23"}, {-1e-100, "-1e-100"}};
    char b[32];
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        sd_fmt_f64(b, fixed[i].v);
        CHECK_MSG(t, !strcmp(b, fixed[i].s), "%.17g -> '%s', want '%s'", fixed[i].v, b, fixed[i].s);
    }
    /* random bit patterns, uniform values and 4-decimal values all read back bit-exact */
    uint64_t s = 88172645463325252ULL;
    long bad = 0;
    for (long i = 0; i < 300000; i++) {
        double v;
        uint64_t u = rng_next(&s);
        if (i % 3 == 0) {
            memcpy(&v, &u, 8);
            if (!isfinite(v))
                continue;
        } else if (i % 3 == 1)
            v = ((double)(u >> 11) / 9007199254740992.0 - 0.5) * 40;
        else
            v = round(((double)(u >> 11) / 9007199254740992.0 - 0.5) * 4e6) / 1e4;
        sd_fmt_f64(b, v);
        double back = strtod(b, NULL);
        if (memcmp(&back, &v, 8) != 0 || strlen(b) > 24)
            if (bad++ < 5)
                fprintf(stderr, "%.17g -> %s\n", v, b);
    }
    CHECK_EQ_INT(t, bad, 0);
}

SDT_MAIN(SDT_CASE(test_real_structures), SDT_CASE(test_real_trajectory), SDT_CASE(test_roundtrip_multiframe),
         SDT_CASE(test_plain_and_kinds), SDT_CASE(test_malformed), SDT_CASE(test_write_format),
         SDT_CASE(test_number_format))
