/* LAMMPS data reader/writer: the paper's ten nanoparticles, the dictionary's
 * ideal structures, the benchmark state with velocities, round trips and
 * malformed input. */
#include "sd_lmpdata.h"
#include "sd_xyz.h"
#include "sdtest.h"

#include <unistd.h>

static void tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "/tmp/sdtest_lmp_%d_%s", (int)getpid(), name);
}

/* Σ_i (x + 2y + 3z) over atoms sorted by id, computed in Python from the text. */
typedef struct real_case {
    const char *rel;
    int64_t n;
    double first[3], last[3];
    double wsum;
} real_case_t;

static double wsum(const sd_atoms_t *a)
{
    double s = 0;
    for (int64_t i = 0; i < a->n; i++)
        s += a->pos[3 * i] + 2 * a->pos[3 * i + 1] + 3 * a->pos[3 * i + 2];
    return s;
}

static void test_real_files(sdt_t *t)
{
    static const real_case_t cases[] = {
        {"data/paper_nps/01.data", 1038, {83.77551422, 72.76917206, 80.42605784}, {94.89630735, 100.38082500, 98.96285000}, 556457.5117919602},
        {"data/paper_nps/2.data", 1031, {85.93814450, 72.99734300, 81.06954800}, {91.11181250, 100.45593500, 99.09416700}, 552614.9630525002},
        {"data/paper_nps/3.data", 1044, {88.59117050, 73.04162200, 80.93597650}, {94.09032850, 100.03723700, 98.64806950}, 560122.0522409994},
        {"data/paper_nps/4.data", 1044, {81.42922200, 72.98097200, 80.32479250}, {93.72311800, 100.18915200, 98.97216650}, 558340.4331120001},
        {"data/paper_nps/5.data", 1047, {85.73186150, 73.31820350, 80.69052950}, {93.82118750, 100.19054150, 98.72979450}, 560030.6121919999},
        {"data/paper_nps/6.data", 1037, {84.24385800, 72.57371450, 80.85794050}, {90.36043000, 100.91812550, 98.62312050}, 555559.8600974991},
        {"data/paper_nps/7.data", 1042, {87.83969550, 72.98125700, 81.06233400}, {93.67858050, 100.40474500, 99.02475300}, 557611.7002479989},
        {"data/paper_nps/8.data", 1030, {85.99329800, 72.92231900, 80.59074800}, {92.36891400, 100.71889300, 99.01313400}, 552076.4722120004},
        {"data/paper_nps/9.data", 1036, {83.38407550, 73.78242150, 80.32114600}, {90.25050550, 100.40667050, 98.92927400}, 553935.2684579997},
        {"data/paper_nps/10.data", 1035, {88.92521200, 72.71411500, 80.58890750}, {90.66721500, 101.05412900, 98.93104250}, 554869.184235501},
        {"oracle/dictionary/ideal_minimized/dh1086_7_1_3_minimized.data", 1086, {-1.135431693352445e-06, -1.2780858426627942e-06, -14.220243391369848}, {-15.8803796368263, -14.101011320968999, -1.3520168703927318e-16}, -9.310965317865794e-06},
        {"oracle/dictionary/ideal_minimized/dh1734_5_4_4_minimized.data", 1734, {-4.19689791870881e-07, -5.334997565953081e-07, -18.528692330521515}, {-16.96759182448802, -11.46819812725228, 4.244607832654773}, 3.684877302490008e-05},
        {"oracle/dictionary/ideal_minimized/ico923_6_minimized.data", 923, {-2.6426461218064366e-14, -9.359144792116805e-16, -3.416523232324441e-14}, {-6.999662630243574e-16, -9.4914992159703, -10.608970814355924}, -1.1937117960769683e-12},
        {"oracle/dictionary/ideal_minimized/to807_11_3_minimized.data", 807, {-5.589103665210475, -14.051168504391091, -1.642887297509712e-16}, {4.231032418741062, 4.231032418741062, -13.887769630391185}, -1.0338396805309458e-12},
        {"oracle/dictionary/ideal_minimized/to976_12_4_minimized.data", 976, {-4.173722538951757, -15.491248097661225, 9.108474151663102e-17}, {5.658762778251497, 5.658762778251497, -13.905234083793635}, 1.1368683772161603e-13},
        {"oracle/lammps/np1038_673K.data", 1038, {-14.636000350797849, -6.598587403088015, -2.8761611804490026}, {14.20553831655615, 4.406899853573534, 4.944728039666661}, -190.43910594991553},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const real_case_t *c = &cases[i];
        char p[512];
        sd_err_t e = {0};
        sd_atoms_t *a = NULL;
        sdt_shared_or_skip(c->rel, p, sizeof p);
        CHECK_EQ_INT(t, sd_atoms_read_any(p, &a, &e), SD_OK);
        if (!a) {
            fprintf(stderr, "%s\n", e.msg);
            continue;
        }
        CHECK_EQ_INT(t, a->n, c->n);
        /* 3.data has no Masses section: its one type reads as "X1" */
        const char *want_el = strstr(c->rel, "/3.data") ? "X1" : "Au";
        CHECK_MSG(t, a->nspecies == 1 && !strcmp(a->species[0], want_el), "%s: %d species, first '%s'", c->rel,
                  a->nspecies, a->species[0]);
        CHECK(t, memcmp(a->pos, c->first, sizeof c->first) == 0);
        CHECK(t, memcmp(a->pos + 3 * (a->n - 1), c->last, sizeof c->last) == 0);
        CHECK_NEAR(t, wsum(a), c->wsum, 1e-12 * a->n * 100);
        CHECK(t, a->has_cell && !a->pbc[0] && !a->pbc[1] && !a->pbc[2]);
        CHECK(t, sd_atoms_get_prop(a, "id") == NULL);
        sd_atoms_destroy(&a);
    }
    /* box and velocities of the benchmark state (ids unsorted in the file) */
    char p[512];
    sd_err_t e = {0};
    sd_atoms_t *a = NULL;
    CHECK_EQ_INT(t, sd_lmpdata_read(sdt_shared_or_skip("oracle/lammps/np1038_673K.data", p, sizeof p), &a, &e), SD_OK);
    if (a) {
        CHECK(t, a->cell[0] == 17.135068081896087 - -16.996973188236016);
        CHECK(t, a->cell[8] == 16.69255103137867 - -16.809268654074142);
        CHECK(t, a->cell[1] == 0 && a->cell[3] == 0);
        CHECK(t, !strcmp(sd_atoms_get_info(a, "Origin"), "-16.996973188236016 -17.00856608692519 -16.809268654074142"));
        const sd_prop_t *v = sd_atoms_get_prop(a, "velo");
        CHECK(t, v && v->kind == SD_PROP_REAL && v->ncols == 3);
        if (v) {
            CHECK(t, v->real[0] == 1.4785214846953745 && v->real[1] == -1.044247347927385 &&
                         v->real[2] == -1.129280751352298);
            /* atom id 408 (file's first line) */
            CHECK(t, v->real[3 * 407] == -0.925146113636826 && v->real[3 * 407 + 2] == 0.6729047228119819);
            CHECK(t, a->pos[3 * 407] == 0.9615349988101144);
        }
        sd_atoms_destroy(&a);
    }
}

static void test_roundtrip(sdt_t *t)
{
    sd_err_t e = {0};
    sd_atoms_t *a = sd_atoms_new(4, "Au");
    int pt = sd_atoms_species_index(a, "Pt");
    double xs[12] = {1.0 / 3, 2, 3, 4, 5.5, 6, 7, 8, 9.25, -1e-17, 0.1, 0.2};
    memcpy(a->pos, xs, sizeof xs);
    a->type[2] = pt;
    sd_prop_t *v = sd_atoms_add_prop(a, "velo", SD_PROP_REAL, 3);
    for (int i = 0; i < 12; i++)
        v->real[i] = 0.01 * i - 0.033;
    char path[256];
    tmp_path(path, sizeof path, "rt.data");
    CHECK_EQ_INT(t, sd_lmpdata_write(path, a, 5.0, &e), SD_OK);
    sd_atoms_t *b = NULL;
    CHECK_EQ_INT(t, sd_lmpdata_read(path, &b, &e), SD_OK);
    if (b) {
        CHECK_EQ_INT(t, b->n, 4);
        CHECK(t, memcmp(a->pos, b->pos, sizeof xs) == 0);
        CHECK(t, !strcmp(b->species[b->type[2]], "Pt") && !strcmp(b->species[b->type[0]], "Au"));
        const sd_prop_t *vb = sd_atoms_get_prop(b, "velo");
        CHECK(t, vb && memcmp(vb->real, v->real, 12 * sizeof(double)) == 0);
        /* padded box: x from -1e-17 - 5 to 7 + 5 */
        CHECK_NEAR(t, b->cell[0], 7 + 10 + 1e-17, 1e-12);
        /* written again with its own (orthogonal) box: identical box and origin */
        char p2[256];
        tmp_path(p2, sizeof p2, "rt2.data");
        CHECK_EQ_INT(t, sd_lmpdata_write(p2, b, 0.0, &e), SD_OK);
        sd_atoms_t *c = NULL;
        CHECK_EQ_INT(t, sd_lmpdata_read(p2, &c, &e), SD_OK);
        if (c) {
            CHECK(t, memcmp(c->cell, b->cell, sizeof c->cell) == 0);
            CHECK(t, !strcmp(sd_atoms_get_info(c, "Origin"), sd_atoms_get_info(b, "Origin")));
            CHECK(t, memcmp(c->pos, b->pos, sizeof xs) == 0);
        }
        sd_atoms_destroy(&c);
        unlink(p2);
    }
    sd_atoms_destroy(&b);
    /* unknown element cannot be written (LAMMPS needs a mass) */
    sd_atoms_t *x = sd_atoms_new(1, "Qq");
    CHECK_EQ_INT(t, sd_lmpdata_write(path, x, 1.0, &e), SD_ENOTFOUND);
    CHECK_STR_CONTAINS(t, e.msg, "'Qq'");
    sd_atoms_destroy(&x);
    sd_atoms_destroy(&a);
    unlink(path);
}

static void test_features(sdt_t *t)
{
    sd_err_t e = {0};
    sd_atoms_t *a = NULL;
    /* image flags unwrap through a triclinic box; ids non-contiguous; mass → element; types without
       a known mass become X<type>; Pair Coeffs skipped; comments anywhere */
    const char *txt = "title line\n\n 3 atoms # count\n3 atom types\n0 10 xlo xhi\n0 20 ylo yhi\n0 30 zlo zhi\n"
                      "1.5 0 0 xy xz yz\n0 bonds\n\nMasses\n\n1 63.546\n2 1.0e3\n3 195.08 # Pt\n\n"
                      "Pair Coeffs # eam\n\n1 1.0 2.0\n\nAtoms # atomic\n\n"
                      "20 1 1 2 3 1 -1 0\n5 2 0 0 0\n7 3 1 1 1 0 0 2 # trailing comment\n";
    CHECK_EQ_INT(t, sd_lmpdata_read_mem(txt, strlen(txt), "feat.data", &a, &e), SD_OK);
    if (a) {
        CHECK_EQ_INT(t, a->n, 3);
        /* sorted by id: 5, 7, 20 */
        const sd_prop_t *id = sd_atoms_get_prop(a, "id");
        CHECK(t, id && id->ints[0] == 5 && id->ints[1] == 7 && id->ints[2] == 20);
        CHECK(t, !strcmp(a->species[a->type[2]], "Cu") && !strcmp(a->species[a->type[0]], "X2") &&
                     !strcmp(a->species[a->type[1]], "Pt"));
        /* id 20: (1,2,3) + 1*a - 1*b = (1 + 10 - 1.5, 2 - 20, 3) */
        CHECK(t, a->pos[6] == 9.5 && a->pos[7] == -18 && a->pos[8] == 3);
        CHECK(t, a->pos[3] == 1 && a->pos[4] == 1 && a->pos[5] == 61);
        CHECK(t, a->cell[3] == 1.5 && a->cell[4] == 20);
        sd_atoms_destroy(&a);
    }
}

typedef struct bad_case {
    const char *text;
    int code;
    const char *frag;
} bad_case_t;

#define LONGT "a title line long enough for the declared atom count\n"
#define HDR "t\n\n2 atoms\n1 atom types\n0 1 xlo xhi\n0 1 ylo yhi\n0 1 zlo zhi\n\n"

static void test_malformed(sdt_t *t)
{
    static const bad_case_t cases[] = {
        {"t\n\n1 atom types\n\nAtoms\n\n1 1 0 0 0\n", SD_EFORMAT, "line 5: section 'Atoms' before the 'atoms' header"},
        {HDR "Atoms\n\n1 2 0 0 0\n2 1 0 0 0\n", SD_EFORMAT, "line 11: atom type '2' not in 1..1"},
        {HDR "Atoms\n\n1 1 0 0 0\n", SD_EFORMAT, "Atoms section has 1 lines, 2 atoms declared"},
        {HDR "Atoms\n\n1 1 0 0 0 0\n2 1 0 0 0\n", SD_EFORMAT, "line 11: Atoms line has 6 columns"},
        {HDR "Atoms\n\n1 1 0 0 0\n1 1 0 0 0\n", SD_EFORMAT, "duplicate atom id 1"},
        {HDR "Atoms # charge\n\n1 1 0 0 0 0\n", SD_EFORMAT, "atom_style 'charge' not supported"},
        {HDR "Atoms\n\n1 1 0 nan 0\n2 1 0 0 0\n", SD_ERANGE, "line 11: coordinate 'nan'"},
        {HDR "Atoms\n\n1 1 0 0 0\n2 1 0 0 0\n\nVelocities\n\n1 0 0 0\n9 0 0 0\n", SD_EFORMAT, "line 17: Velocities line"},
        {HDR "Atoms\n\n1 1 0 0 0\n2 1 0 0 0\n\nVelocities\n\n1 0 0 0\n", SD_EFORMAT, "Velocities section has 1 lines"},
        {"t\n\n99999999 atoms\n", SD_EFORMAT, "more than the file can hold"},
        {"t\n\n2 atoms\n1 atom types\n1 0 xlo xhi\n", SD_EFORMAT, "line 5: bad xlo xhi bounds"},
        {LONGT "\n2 atoms\nfoo bar\n", SD_EFORMAT, "section 'foo bar'"},
        {LONGT "\n2 atoms\n3 4 5\n", SD_EFORMAT, "line 4: unrecognised header line"},
        {LONGT "\n2 atoms\n4 bonds\n", SD_EFORMAT, "4 bonds: not supported"},
        {HDR "Masses\n\n1 -5\n", SD_EFORMAT, "line 11: Masses line"},
        {HDR "Atoms\n\n1 1 0 0 0\n2 1 0 0 0\n3 1 0 0 0\n", SD_EFORMAT, "line 13: more Atoms lines than the 2 declared"},
        {LONGT "\n2 atoms\n", SD_EFORMAT, "no Atoms section"},
        {"", SD_EFORMAT, "empty file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sd_err_t e = {0};
        sd_atoms_t *a = NULL;
        int rc = sd_lmpdata_read_mem(cases[i].text, strlen(cases[i].text), "bad.data", &a, &e);
        CHECK_MSG(t, rc == cases[i].code, "case %zu: rc %d want %d (%s)", i, rc, cases[i].code, e.msg);
        CHECK_STR_CONTAINS(t, e.msg, cases[i].frag);
        CHECK_STR_CONTAINS(t, e.msg, "bad.data");
        CHECK(t, a == NULL);
    }
    sd_err_t e = {0};
    sd_atoms_t *a = NULL;
    CHECK_EQ_INT(t, sd_lmpdata_read("/nonexistent/x.data", &a, &e), SD_ENOTFOUND);
    CHECK_STR_CONTAINS(t, e.msg, "/nonexistent/x.data");
}

SDT_MAIN(SDT_CASE(test_real_files), SDT_CASE(test_roundtrip), SDT_CASE(test_features), SDT_CASE(test_malformed))
