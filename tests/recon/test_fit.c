/* Gaussian model fit: recovery of positions, heights, width and background
 * from noise-free and noisy synthetic images with known parameters. */
#include "fit.h"
#include "recon.h"
#include "recon_test_util.h"
#include "sdtest.h"

/* a 5×4 patch of a [110] lattice (4.078 × 2.884 Å cell, centred column) */
static int64_t make_cols(recon_columns_t *c, sd_err_t *e)
{
    int64_t n = 0;
    if (recon_columns_alloc(c, 40, e)) return -1;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++)
            for (int b = 0; b < 2; b++) {
                c->x[n] = 8 + i * 4.078 + b * 2.039;
                c->y[n] = 8 + j * 2.884 + b * 1.442;
                c->count[n] = 1 + (int)((i * 7 + j * 3 + b * 5) % 9);
                c->scs[n] = recon_lib_scs(recon_lib_pt, RECON_LIB_PT_N, c->count[n]);
                n++;
            }
    c->n = n;
    return n;
}

static void run_fit(sdt_t *t, double dose, double bg, double tol_xy, double tol_scs, double tol_rho)
{
    recon_columns_t c;
    sd_err_t e;
    int64_t n = make_cols(&c, &e);
    CHECK(t, n == 40);
    recon_stemsim_opts_t so;
    recon_stemsim_opts_default(&so);
    so.size = 256, so.dose = dose, so.background = bg, so.seed = 3;
    double *img = malloc(256 * 256 * sizeof *img);
    CHECK_EQ_INT(t, recon_stemsim_render(&c, &so, img, &e), SD_OK);
    double xy[80], eta[40], rho, zeta;
    for (int64_t i = 0; i < n; i++) { /* start 0.25 Å off, as a detector would */
        xy[2 * i] = c.x[i] + 0.25 * cos(1.3 * (double)i);
        xy[2 * i + 1] = c.y[i] + 0.25 * sin(1.3 * (double)i);
    }
    recon_fit_opts_t fo;
    recon_fit_opts_default(&fo);
    CHECK_EQ_INT(t, recon_fit_gaussians(img, 256, 256, so.dx, &fo, xy, n, eta, &rho, &zeta, &e), SD_OK);
    CHECK_NEAR(t, rho, 0.7, tol_rho);
    CHECK_NEAR(t, zeta, bg, 1e-4 + 0.01 * bg);
    double dxy = 0, dscs = 0;
    for (int64_t i = 0; i < n; i++) {
        dxy = fmax(dxy, hypot(xy[2 * i] - c.x[i], xy[2 * i + 1] - c.y[i]));
        dscs = fmax(dscs, fabs(2 * M_PI * eta[i] * rho * rho - c.scs[i]));
    }
    CHECK_MSG(t, dxy < tol_xy, "max position error %g Å", dxy);
    CHECK_MSG(t, dscs < tol_scs, "max SCS error %g", dscs);
    free(img);
    recon_columns_free(&c);
}

/* Noise-free: exact up to the ±3ρ truncation of the model (StatSTEM's), which
 * leaves ~1 % of a heavy neighbour's tail to a light column: < 0.015 Å, < 0.001 SCS
 * (the 1-atom SCS is 0.019). */
static void test_fit_noise_free(sdt_t *t) { run_fit(t, 0, 0.0, 0.015, 1e-3, 2e-3); }
static void test_fit_background(sdt_t *t) { run_fit(t, 0, 0.02, 0.015, 1e-3, 2e-3); }
/* 3·10⁴ e/Å²: σ(SCS) ≈ sqrt(4πρ²I/D) ≈ 0.002 for a light column among heavy
 * ones, σ(position) ≈ 0.07 Å for it; 40 columns: bounds at ~4σ. */
static void test_fit_noisy(sdt_t *t) { run_fit(t, 3e4, 0.005, 0.3, 0.009, 0.02); }

static void test_fit_fixed_background_and_render(sdt_t *t)
{
    /* one column, background fixed: the fitted model reproduces the image */
    double xy[2] = {6.0, 6.1}, eta[1], rho, zeta;
    int N = 100;
    double *img = malloc((size_t)(N * N) * sizeof *img), *mod = malloc((size_t)(N * N) * sizeof *mod);
    recon_fit_render((double[]){6.03, 6.07}, (double[]){0.05}, 1, 0.65, 0.001, 0.12, N, N, img);
    recon_fit_opts_t fo;
    recon_fit_opts_default(&fo);
    fo.fit_background = 0;
    fo.background = 0.001;
    sd_err_t e;
    CHECK_EQ_INT(t, recon_fit_gaussians(img, N, N, 0.12, &fo, xy, 1, eta, &rho, &zeta, &e), SD_OK);
    CHECK_NEAR(t, xy[0], 6.03, 1e-4);
    CHECK_NEAR(t, xy[1], 6.07, 1e-4);
    CHECK_NEAR(t, eta[0], 0.05, 1e-4);
    CHECK_NEAR(t, rho, 0.65, 1e-3);
    CHECK_NEAR(t, zeta, 0.001, 0);
    free(img), free(mod);
}

static void test_fit_bad_input(sdt_t *t)
{
    double img[16] = {0}, xy[2] = {0, 0}, eta[1], rho, zeta;
    recon_fit_opts_t fo;
    recon_fit_opts_default(&fo);
    sd_err_t e;
    CHECK_EQ_INT(t, recon_fit_gaussians(img, 4, 4, 0, &fo, xy, 1, eta, &rho, &zeta, &e), SD_ERANGE);
    CHECK_EQ_INT(t, recon_fit_gaussians(img, 0, 4, 0.1, &fo, xy, 1, eta, &rho, &zeta, &e), SD_EINVAL);
    /* no columns: the background is the mean */
    img[3] = 1.6;
    CHECK_EQ_INT(t, recon_fit_gaussians(img, 4, 4, 0.1, &fo, xy, 0, eta, &rho, &zeta, &e), SD_OK);
    CHECK_NEAR(t, zeta, 0.1, 1e-12);
}

/* Known positions (and width): heights only, the positions come back
 * untouched; with the width free it is still found. */
static void test_fit_known_positions(sdt_t *t)
{
    recon_columns_t c;
    sd_err_t e;
    int64_t n = make_cols(&c, &e);
    recon_stemsim_opts_t so;
    recon_stemsim_opts_default(&so);
    so.size = 256, so.dose = 0;
    double *img = malloc(256 * 256 * sizeof *img);
    CHECK_EQ_INT(t, recon_stemsim_render(&c, &so, img, &e), SD_OK);
    for (int fixw = 0; fixw < 2; fixw++) {
        double xy[80], eta[40], rho, zeta;
        for (int64_t i = 0; i < n; i++) xy[2 * i] = c.x[i], xy[2 * i + 1] = c.y[i];
        recon_fit_opts_t fo;
        recon_fit_opts_default(&fo);
        fo.fix_positions = 1, fo.fix_width = fixw;
        fo.rho0 = fixw ? 0.7 : 0.6; /* a free width starts off and must find 0.7 */
        fo.poisson_weights = 1;
        CHECK_EQ_INT(t, recon_fit_gaussians(img, 256, 256, so.dx, &fo, xy, n, eta, &rho, &zeta, &e), SD_OK);
        int moved = 0;
        double dscs = 0;
        for (int64_t i = 0; i < n; i++) {
            moved += xy[2 * i] != c.x[i] || xy[2 * i + 1] != c.y[i];
            dscs = fmax(dscs, fabs(2 * M_PI * eta[i] * rho * rho - c.scs[i]));
        }
        CHECK_EQ_INT(t, moved, 0);
        if (fixw) CHECK(t, rho == 0.7);
        else CHECK_NEAR(t, rho, 0.7, 2e-3);
        CHECK_MSG(t, dscs < 1e-3, "max SCS error %g (fixed width %d)", dscs, fixw);
    }
    /* a fixed width needs a value */
    double xy[2] = {5, 5}, eta[1], rho, zeta;
    recon_fit_opts_t fo;
    recon_fit_opts_default(&fo);
    fo.fix_width = 1;
    CHECK_EQ_INT(t, recon_fit_gaussians(img, 256, 256, so.dx, &fo, xy, 1, eta, &rho, &zeta, &e), SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "rho0");
    free(img);
    recon_columns_free(&c);
}

SDT_MAIN(SDT_CASE(test_fit_noise_free), SDT_CASE(test_fit_known_positions), SDT_CASE(test_fit_background), SDT_CASE(test_fit_noisy),
         SDT_CASE(test_fit_fixed_background_and_render), SDT_CASE(test_fit_bad_input))
