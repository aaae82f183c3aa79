/* SOAP power spectrum against DScribe 2.1.1 reference spectra (../shared/oracle/soap):
 * per row ‖p - p_ref‖/‖p_ref‖ <= 1e-8, for the three nanoparticles, sigma = 0.5,
 * the 576 layout, the toy cases, the GTO basis; plus bad input. */
#include "analyze.h"
#include "sd_atoms.h"
#include "sd_npy.h"
#include "sdtest.h"

#include <stdint.h>

static char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
    if (b) b[n] = 0;
    fclose(f);
    if (len) *len = n;
    return b;
}

/* The numbers of the JSON array following "key" (searched from *from);
 * advances *from past the array.  Returns the count (max cap), -1 if absent. */
static int json_numbers(const char *js, const char **from, const char *key, double *out, int cap)
{
    char pat[256];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(*from, pat);
    if (!p) return -1;
    p = strchr(p + strlen(pat), '[');
    if (!p) return -1;
    int depth = 0, n = 0;
    for (;;) {
        if (*p == '[') { depth++; p++; }
        else if (*p == ']') { depth--; p++; if (depth == 0) break; }
        else if (*p == ',' || *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
        else if (*p == 0) return -1;
        else {
            char *end;
            double v = strtod(p, &end);
            if (end == p) return -1;
            if (n < cap) out[n] = v;
            n++;
            p = end;
        }
    }
    (void)js;
    *from = p;
    return n;
}

static double row_rel(const double *a, const double *b, int F)
{
    double num = 0, den = 0;
    for (int f = 0; f < F; f++) {
        num += (a[f] - b[f]) * (a[f] - b[f]);
        den += b[f] * b[f];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static double compare_structure(sdt_t *t, const char *xyz, const char *refnpy, double sigma,
                                soap_layout_t layout)
{
    char b1[1024], b2[1024];
    sd_err_t e;
    sd_atoms_t *a = NULL;
    CHECK_EQ_INT(t, sd_atoms_read_any(sdt_shared_or_skip(xyz, b1, sizeof b1), &a, &e), 0);
    if (!a) return INFINITY;
    sd_npy_t ref;
    CHECK_EQ_INT(t, sd_npy_read_f64(sdt_shared_or_skip(refnpy, b2, sizeof b2), &ref, &e), 0);
    soap_params_t p = {4.48, sigma, 8, 8};
    soap_t *s = soap_new(&p, &e);
    CHECK(t, s != NULL);
    int F = soap_n_features(s, layout);
    CHECK_EQ_INT(t, ref.ndim, 2);
    CHECK_EQ_INT(t, ref.shape[0], a->n);
    CHECK_EQ_INT(t, ref.shape[1], F);
    double *out = malloc(sizeof(double) * a->n * F);
    CHECK_EQ_INT(t, soap_compute(s, a->n, a->pos, 0, NULL, layout, out, &e), 0);
    double worst = 0;
    for (int64_t i = 0; i < a->n; i++) {
        double r = row_rel(out + i * F, (const double *)ref.data + i * F, F);
        if (r > worst) worst = r;
    }
    fprintf(stderr, "  %s sigma=%g layout %d: worst row rel L2 %.3g\n", xyz, sigma, F, worst);
    CHECK_MSG(t, worst <= 1e-8, "%s: worst row relative L2 %.3g > 1e-8", xyz, worst);
    free(out);
    soap_destroy(&s);
    sd_npy_free(&ref);
    sd_atoms_destroy(&a);
    return worst;
}

static void test_nanoparticles(sdt_t *t)
{
    compare_structure(t, "oracle/structures/dh484.xyz", "oracle/soap/dh484.soap.npy", 1.0, SOAP_LAYOUT_TRI);
    compare_structure(t, "oracle/structures/ih923.xyz", "oracle/soap/ih923.soap.npy", 1.0, SOAP_LAYOUT_TRI);
    compare_structure(t, "oracle/structures/to976.xyz", "oracle/soap/to976.soap.npy", 1.0, SOAP_LAYOUT_TRI);
}

static void test_sigma_half(sdt_t *t)
{
    compare_structure(t, "oracle/structures/dh484.xyz", "oracle/soap/dh484_sigma0.5.soap.npy", 0.5,
                      SOAP_LAYOUT_TRI);
}

static void test_layout_576(sdt_t *t)
{
    compare_structure(t, "oracle/structures/dh484.xyz", "oracle/soap/dh484_mu1nu1.soap576.npy", 1.0,
                      SOAP_LAYOUT_FULL);
}

static void test_toy_cases(sdt_t *t)
{
    char buf[1024];
    char *js = slurp(sdt_shared_or_skip("oracle/soap/toy_cases.json", buf, sizeof buf), NULL);
    CHECK(t, js != NULL);
    if (!js) return;
    static const char *cases[] = {"single_atom", "dimer_2.884_z", "dimer_2.884_generic",
                                  "dimer_6.0_beyond_rcut", "dimer_8.5_beyond_neighbour_cutoff",
                                  "cuboctahedron_13_fcc_a4.078", "scalene_triangle"};
    static const double sigmas[] = {1.0, 0.5};
    int ncase = 0;
    for (int si = 0; si < 2; si++) {
        soap_params_t p = {4.48, sigmas[si], 8, 8};
        sd_err_t e;
        soap_t *s = soap_new(&p, &e);
        CHECK(t, s != NULL);
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            char key[128];
            snprintf(key, sizeof key, "%s|sigma=%s", cases[c], si == 0 ? "1.0" : "0.5");
            const char *at = strstr(js, key);
            CHECK_MSG(t, at != NULL, "case %s missing", key);
            if (!at) continue;
            double pos[64 * 3], ref[16 * 324], out[16 * 324];
            int np = json_numbers(js, &at, "positions", pos, 64 * 3);
            int nr = json_numbers(js, &at, "soap", ref, 16 * 324);
            CHECK(t, np > 0 && np % 3 == 0 && nr == np / 3 * 324);
            if (!(np > 0 && np % 3 == 0 && nr == np / 3 * 324)) continue;
            int n = np / 3;
            CHECK_EQ_INT(t, soap_compute(s, n, pos, 0, NULL, SOAP_LAYOUT_TRI, out, &e), 0);
            for (int i = 0; i < n; i++) {
                double r = row_rel(out + i * 324, ref + i * 324, 324);
                CHECK_MSG(t, r <= 1e-8, "%s row %d: rel %.3g", key, i, r);
            }
            ncase++;
        }
        soap_destroy(&s);
    }
    CHECK_EQ_INT(t, ncase, 14);
    free(js);
}

static void test_basis(sdt_t *t)
{
    char b1[1024], b2[1024];
    long la, lb;
    char *al = slurp(sdt_shared_or_skip("oracle/soap/gto_basis.alphas.f64", b1, sizeof b1), &la);
    char *be = slurp(sdt_shared_or_skip("oracle/soap/gto_basis.betas.f64", b2, sizeof b2), &lb);
    CHECK(t, al && be && la == 9 * 8 * 8 && lb == 9 * 64 * 8);
    if (!al || !be || la != 9 * 8 * 8 || lb != 9 * 64 * 8) { free(al); free(be); return; }
    soap_params_t p = {4.48, 1.0, 8, 8};
    sd_err_t e;
    soap_t *s = soap_new(&p, &e);
    const double *A = soap_alphas(s), *B = soap_betas(s);
    double da = 0, db = 0, bmax = 0;
    for (int q = 0; q < 72; q++) da = fmax(da, fabs(A[q] - ((double *)al)[q]) / fabs(((double *)al)[q]));
    for (int q = 0; q < 9 * 64; q++) {
        db = fmax(db, fabs(B[q] - ((double *)be)[q]));
        bmax = fmax(bmax, fabs(((double *)be)[q]));
    }
    fprintf(stderr, "  alphas max rel %.3g, betas max abs %.3g (max |beta| %.3g)\n", da, db, bmax);
    CHECK(t, da <= 1e-14);
    CHECK(t, db <= 1e-8 * bmax);
    CHECK_NEAR(t, soap_neighbour_cutoff(s), 8.1969221888498383, 1e-12);
    CHECK_EQ_INT(t, soap_n_features(s, SOAP_LAYOUT_TRI), 324);
    CHECK_EQ_INT(t, soap_n_features(s, SOAP_LAYOUT_FULL), 576);
    soap_destroy(&s);
    free(al);
    free(be);
}

/* Radial integrals against gto_basis.json's debug tables, relative to each l's largest value. */
static void test_radial_tables(sdt_t *t)
{
    char buf[1024];
    char *js = slurp(sdt_shared_or_skip("oracle/soap/gto_basis.json", buf, sizeof buf), NULL);
    CHECK(t, js != NULL);
    if (!js) return;
    for (int si = 0; si < 2; si++) {
        const char *at = strstr(js, si == 0 ? "\"sigma=1.0\"" : "\"sigma=0.5\"");
        CHECK(t, at != NULL);
        if (!at) continue;
        double r[8];
        CHECK_EQ_INT(t, json_numbers(js, &at, "r_values", r, 8), 8);
        soap_params_t p = {4.48, si == 0 ? 1.0 : 0.5, 8, 8};
        sd_err_t e;
        soap_t *s = soap_new(&p, &e);
        for (int l = 0; l < 9; l++) {
            char key[8];
            snprintf(key, sizeof key, "%d", l);
            double ref[64];
            CHECK_EQ_INT(t, json_numbers(js, &at, key, ref, 64), 64);
            double mx = 0, err = 0;
            for (int q = 0; q < 64; q++) mx = fmax(mx, fabs(ref[q]));
            for (int ir = 0; ir < 8; ir++) {
                double I[9 * 8];
                soap_radial_integrals(s, r[ir], I);
                for (int n = 0; n < 8; n++) err = fmax(err, fabs(I[l * 8 + n] - ref[ir * 8 + n]));
            }
            CHECK_MSG(t, err <= 1e-8 * mx, "sigma %g l %d: radial error %.3g (max %.3g)", p.sigma, l, err, mx);
        }
        soap_destroy(&s);
    }
    free(js);
}

/* Subsets of centres equal the full rows; rotation and permutation invariance. */
static void test_centres_and_invariance(sdt_t *t)
{
    char b1[1024];
    sd_err_t e;
    sd_atoms_t *a = NULL;
    CHECK_EQ_INT(t, sd_atoms_read_any(sdt_shared_or_skip("oracle/structures/dh484.xyz", b1, sizeof b1), &a, &e), 0);
    if (!a) return;
    soap_params_t p = {SOAP_RCUT_PAPER, 1.0, 8, 8};
    soap_t *s = soap_new(&p, &e);
    const int64_t n = a->n, F = 324;
    double *all = malloc(sizeof(double) * n * F), *sub = malloc(sizeof(double) * 3 * F);
    double *rot = malloc(sizeof(double) * n * 3), *all2 = malloc(sizeof(double) * n * F);
    CHECK_EQ_INT(t, soap_compute(s, n, a->pos, 0, NULL, SOAP_LAYOUT_TRI, all, &e), 0);
    int64_t cen[3] = {5, 0, n - 1};
    CHECK_EQ_INT(t, soap_compute(s, n, a->pos, 3, cen, SOAP_LAYOUT_TRI, sub, &e), 0);
    for (int c = 0; c < 3; c++) CHECK(t, row_rel(sub + c * F, all + cen[c] * F, F) < 1e-14);
    /* rotate by an arbitrary orthogonal matrix and reverse the atom order */
    const double c1 = cos(0.7), s1 = sin(0.7), c2 = cos(-1.3), s2 = sin(-1.3);
    for (int64_t i = 0; i < n; i++) {
        const double *x = a->pos + 3 * (n - 1 - i);
        double y0 = c1 * x[0] - s1 * x[1], y1 = s1 * x[0] + c1 * x[1], y2 = x[2];
        rot[3 * i] = y0 + 10.0;
        rot[3 * i + 1] = c2 * y1 - s2 * y2 - 3.0;
        rot[3 * i + 2] = s2 * y1 + c2 * y2;
    }
    CHECK_EQ_INT(t, soap_compute(s, n, rot, 0, NULL, SOAP_LAYOUT_TRI, all2, &e), 0);
    double worst = 0;
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, row_rel(all2 + i * F, all + (n - 1 - i) * F, F));
    CHECK_MSG(t, worst < 1e-11, "rotation changed a spectrum by %.3g", worst);
    /* triangle → full conversion equals the direct full layout */
    double *full = malloc(sizeof(double) * n * 576), *full2 = malloc(sizeof(double) * n * 576);
    soap_tri_to_full(8, 8, n, all, full);
    CHECK_EQ_INT(t, soap_compute(s, n, a->pos, 0, NULL, SOAP_LAYOUT_FULL, full2, &e), 0);
    CHECK(t, memcmp(full, full2, sizeof(double) * n * 576) == 0);
    free(full); free(full2);
    free(all); free(sub); free(rot); free(all2);
    soap_destroy(&s);
    sd_atoms_destroy(&a);
}

static void test_general_params(sdt_t *t)
{
    /* n_max > 8 and l_max > 8 take the generic paths: check rotation invariance and that
     * the (n_max, l_max) = (8, 8) block of a (9, 9) basis is not simply reused. */
    double pos[13 * 3];
    int q = 0;
    pos[q++] = 0; pos[q++] = 0; pos[q++] = 0;
    for (int i = -1; i <= 1; i += 2)
        for (int j = -1; j <= 1; j += 2) {
            double v[3][3] = {{i, j, 0}, {i, 0, j}, {0, i, j}};
            for (int k = 0; k < 3; k++) { pos[q++] = 2.04 * v[k][0] + 0.01 * k; pos[q++] = 2.04 * v[k][1]; pos[q++] = 2.04 * v[k][2] - 0.02 * i; }
        }
    soap_params_t p = {5.0, 0.7, 10, 11};
    sd_err_t e;
    soap_t *s = soap_new(&p, &e);
    CHECK(t, s != NULL);
    if (!s) return;
    int F = soap_n_features(s, SOAP_LAYOUT_TRI);
    CHECK_EQ_INT(t, F, 12 * 55);
    double *o1 = malloc(sizeof(double) * 13 * F), *o2 = malloc(sizeof(double) * 13 * F), rot[13 * 3];
    for (int i = 0; i < 13; i++) {
        rot[3 * i] = pos[3 * i + 1];
        rot[3 * i + 1] = -pos[3 * i];
        rot[3 * i + 2] = pos[3 * i + 2];
    }
    CHECK_EQ_INT(t, soap_compute(s, 13, pos, 0, NULL, SOAP_LAYOUT_TRI, o1, &e), 0);
    CHECK_EQ_INT(t, soap_compute(s, 13, rot, 0, NULL, SOAP_LAYOUT_TRI, o2, &e), 0);
    double worst = 0;
    for (int i = 0; i < 13; i++) worst = fmax(worst, row_rel(o2 + i * F, o1 + i * F, F));
    CHECK_MSG(t, worst < 1e-11, "n_max 10 / l_max 11: rotation changed a spectrum by %.3g", worst);
    free(o1);
    free(o2);
    soap_destroy(&s);
}

static void test_bad_input(sdt_t *t)
{
    soap_params_t p = {4.48, 1.0, 8, 8};
    sd_err_t e;
    soap_t *s = soap_new(&p, &e);
    double out[3 * 324];
    double pos[9] = {0, 0, 0, 1, 2, 3, 2.9, 0, 0};
    CHECK(t, soap_compute(s, 0, pos, 0, NULL, SOAP_LAYOUT_TRI, out, &e) == SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "empty frame");
    double same[9] = {0, 0, 0, 1, 2, 3, 1, 2, 3};
    CHECK(t, soap_compute(s, 3, same, 0, NULL, SOAP_LAYOUT_TRI, out, &e) == SD_EPHYS);
    CHECK_STR_CONTAINS(t, e.msg, "identical positions");
    pos[4] = NAN;
    CHECK(t, soap_compute(s, 3, pos, 0, NULL, SOAP_LAYOUT_TRI, out, &e) == SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "atom 1");
    pos[4] = 2;
    int64_t cen = 3;
    CHECK(t, soap_compute(s, 3, pos, 1, &cen, SOAP_LAYOUT_TRI, out, &e) == SD_ERANGE);
    soap_destroy(&s);
    soap_params_t bad[] = {{0.9, 1, 8, 8}, {4.48, 0, 8, 8}, {4.48, 1, 0, 8}, {4.48, 1, 8, -1},
                           {NAN, 1, 8, 8}, {4.48, 1, 21, 8}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        soap_t *b = soap_new(&bad[i], &e);
        CHECK(t, b == NULL);
        soap_destroy(&b);
    }
    double huge[6] = {-1e308, 0, 0, 1e308, 0, 0};
    CHECK(t, soap_compute((s = soap_new(&p, &e)), 2, huge, 0, NULL, SOAP_LAYOUT_TRI, out, &e) == SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "span");
    soap_destroy(&s);
    /* atoms far apart (sparse box) still work: cell list coarsens */
    double far[6] = {0, 0, 0, 1e5, -1e5, 3e4};
    CHECK_EQ_INT(t, soap_compute((s = soap_new(&p, &e)), 2, far, 0, NULL, SOAP_LAYOUT_TRI, out, &e), 0);
    CHECK(t, row_rel(out, out + 324, 324) == 0.0);
    soap_destroy(&s);
}

SDT_MAIN(SDT_CASE(test_basis), SDT_CASE(test_radial_tables), SDT_CASE(test_toy_cases),
         SDT_CASE(test_nanoparticles), SDT_CASE(test_sigma_half), SDT_CASE(test_layout_576),
         SDT_CASE(test_centres_and_invariance), SDT_CASE(test_general_params),
         SDT_CASE(test_bad_input))
