/* Counting: the mixture and ICL against StatSTEM's published PtIr numbers, the
 * automatic order choice, the full pipeline on the real PtIr frame, and bad
 * input. */
#include "recon.h"
#include "recon_test_util.h"
#include "sd_image.h"
#include "sdtest.h"

typedef struct { double x[200], y[200], scs[200]; int cnt[200]; int n; } ref_t;

static void read_ref(ref_t *r)
{
    char buf[1024];
    FILE *f = fopen(sdt_shared_or_skip("oracle/stem/PtIr_columns.csv", buf, sizeof buf), "r");
    char line[512];
    r->n = 0;
    if (!fgets(line, sizeof line, f)) return;
    while (r->n < 200 && fgets(line, sizeof line, f)) {
        double eta, rho;
        if (sscanf(line, "%lf,%lf,%lf,%lf,%lf,%d", &r->x[r->n], &r->y[r->n], &eta, &rho, &r->scs[r->n], &r->cnt[r->n]) == 6)
            r->n++;
    }
    fclose(f);
}

/* EM finds StatSTEM's optima: NLL and ICL of PtIr_icl_k1_20.csv for k = 1..10. */
static void test_gmm_matches_statstem(sdt_t *t)
{
    ref_t r;
    read_ref(&r);
    CHECK_EQ_INT(t, r.n, 135);
    char buf[1024];
    FILE *f = fopen(sdt_shared_or_skip("oracle/stem/PtIr_icl_k1_20.csv", buf, sizeof buf), "r");
    char line[256];
    CHECK(t, fgets(line, sizeof line, f) != NULL);
    for (int k = 1; k <= 10; k++) {
        int kk;
        double nll, icl, bic, aic;
        CHECK(t, fgets(line, sizeof line, f) && sscanf(line, "%d,%lf,%lf,%lf,%lf", &kk, &nll, &icl, &bic, &aic) == 5);
        recon_gmm_t g;
        sd_err_t e;
        CHECK_EQ_INT(t, recon_gmm_fit(r.scs, r.n, k, &g, &e), SD_OK);
        CHECK_NEAR(t, g.nll, nll, 1e-4);
        CHECK_NEAR(t, g.bic, bic, 2e-4);
        /* at equal likelihood the entropy still moves along the flat EM direction:
         * StatSTEM stops elsewhere on it (its ICL differs from ours by < 0.3) */
        CHECK_NEAR(t, g.icl, icl, 0.3);
    }
    fclose(f);
    /* and the k = 10 components of PtIr_gmm_k10.csv */
    f = fopen(sdt_shared_or_skip("oracle/stem/PtIr_gmm_k10.csv", buf, sizeof buf), "r");
    recon_gmm_t g;
    sd_err_t e;
    recon_gmm_fit(r.scs, r.n, 10, &g, &e);
    CHECK(t, fgets(line, sizeof line, f) != NULL);
    for (int j = 0; j < 10; j++) {
        int na;
        double mu, w, sg;
        CHECK(t, fgets(line, sizeof line, f) && sscanf(line, "%d,%lf,%lf,%lf", &na, &mu, &w, &sg) == 4);
        CHECK_NEAR(t, g.mu[j], mu, 2e-5);
        CHECK_NEAR(t, g.w[j], w, 2e-4);
        CHECK_NEAR(t, g.sigma, sg, 2e-6);
    }
    fclose(f);
}

/* The order rule picks StatSTEM's published k = 10 (argmin ICL gives 1) and
 * reproduces all 135 counts, 788 atoms. */
static void test_order_rule_on_published_scs(sdt_t *t)
{
    ref_t r;
    read_ref(&r);
    recon_columns_t c;
    sd_err_t e;
    CHECK_EQ_INT(t, recon_columns_alloc(&c, r.n, &e), SD_OK);
    for (int i = 0; i < r.n; i++) c.scs[i] = r.scs[i];
    recon_count_opts_t o;
    recon_count_opts_default(&o);
    o.kmax = 20;
    recon_count_info_t info;
    CHECK_EQ_INT(t, recon_count_scs(&c, &o, &info, &e), SD_OK);
    CHECK_EQ_INT(t, info.k, 10);
    CHECK_EQ_INT(t, info.atoms, 788);
    int eq = 0;
    for (int i = 0; i < r.n; i++) eq += c.count[i] == r.cnt[i];
    CHECK_EQ_INT(t, eq, 135);
    for (int i = 0; i < r.n; i++) CHECK(t, c.prob[i] > 0.2 && c.prob[i] <= 1.0);
    o.rule = RECON_ORDER_ARGMIN;
    CHECK_EQ_INT(t, recon_count_scs(&c, &o, &info, &e), SD_OK);
    CHECK_EQ_INT(t, info.k, 1);
    o.rule = RECON_ORDER_FIXED;
    o.fixed_k = 10;
    CHECK_EQ_INT(t, recon_count_scs(&c, &o, &info, &e), SD_OK);
    CHECK_EQ_INT(t, info.atoms, 788);
    recon_columns_free(&c);
}

/* Fully automatic on the real frame.  Target (issue #5): 135 columns, ≥ 97 %
 * equal to StatSTEM's counts.  Measured now: 132 of 135 found, 123 equal
 * (91.1 %), no extra columns; the guard below is that level. */
static void test_ptir_image(sdt_t *t)
{
    char buf[1024];
    sd_image_t img;
    sd_err_t e;
    CHECK_EQ_INT(t, sd_image_read(sdt_shared_or_skip("oracle/stem/PtIr_obs.f64", buf, sizeof buf), &img, &e), SD_OK);
    CHECK_EQ_INT(t, img.width, 512);
    double dx = img.dx > 0 ? img.dx : 0.1211;
    recon_count_opts_t o;
    recon_count_opts_default(&o);
    recon_columns_t c;
    recon_count_info_t info;
    CHECK_EQ_INT(t, recon_count_image(img.data, img.height, img.width, dx, &o, &c, &info, &e), SD_OK);
    ref_t r;
    read_ref(&r);
    int64_t idx[200];
    rt_match(r.x, r.y, r.n, &c, 1.0, idx);
    int found = 0, eq = 0;
    for (int j = 0; j < r.n; j++) {
        if (idx[j] < 0) continue;
        found++;
        eq += c.count[idx[j]] == r.cnt[j];
    }
    printf("PtIr: %lld columns (135), found %d, equal %d (%.1f %%), atoms %lld (788), k %d, rho %.4f (0.6616)\n",
           (long long)c.n, found, eq, 100.0 * eq / r.n, (long long)info.atoms, info.k, c.rho[0]);
    CHECK(t, found >= 134);
    CHECK(t, c.n <= 138);
    CHECK_MSG(t, eq >= 131, "equal %d (97 %% is 131)", eq);
    CHECK_EQ_INT(t, info.k, 10);
    CHECK(t, llabs(info.atoms - 788) <= 3);
    CHECK_NEAR(t, c.rho[0], 0.6616, 0.01);
    recon_columns_free(&c);
    sd_image_free(&img);
}

static void test_count_bad_input(sdt_t *t)
{
    recon_columns_t c;
    sd_err_t e;
    recon_count_opts_t o;
    recon_count_opts_default(&o);
    recon_count_info_t info;
    CHECK_EQ_INT(t, recon_columns_alloc(&c, 3, &e), SD_OK);
    c.scs[0] = 0.1, c.scs[1] = NAN, c.scs[2] = 0.2;
    CHECK_EQ_INT(t, recon_count_scs(&c, &o, &info, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "not finite");
    recon_columns_free(&c);
    recon_gmm_t g;
    double x[3] = {1, 2, 3};
    CHECK_EQ_INT(t, recon_gmm_fit(x, 3, 4, &g, &e), SD_ERANGE);
    /* empty frame: no columns, no error */
    double *img = calloc(300 * 300, sizeof *img);
    CHECK_EQ_INT(t, recon_count_image(img, 300, 300, 0.12, &o, &c, &info, &e), SD_OK);
    CHECK_EQ_INT(t, c.n, 0);
    CHECK_EQ_INT(t, info.atoms, 0);
    recon_columns_free(&c);
    img[5] = INFINITY;
    CHECK_EQ_INT(t, recon_count_image(img, 300, 300, 0.12, &o, &c, &info, &e), SD_ERANGE);
    free(img);
}

SDT_MAIN(SDT_CASE(test_gmm_matches_statstem), SDT_CASE(test_order_rule_on_published_scs), SDT_CASE(test_ptir_image),
         SDT_CASE(test_count_bad_input))
