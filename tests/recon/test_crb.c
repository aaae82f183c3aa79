/* Cramér–Rao bound of the SCS (recon_scs_crb): the isolated-column value
 * sqrt(SCS/D), an independent 2×2 Fisher sum with a background, the ordering
 * isolated < neighbours (known positions) < neighbours (unknown positions),
 * and a Monte-Carlo check that the Poisson-weighted fit at known positions
 * reaches the bound (it is the maximum-likelihood estimate). */
#include "recon.h"
#include "sdtest.h"

#include <math.h>

static void one_column(recon_columns_t *c, double x, double y, double scs)
{
    sd_err_t e;
    recon_columns_alloc(c, 1, &e);
    c->n = 1, c->x[0] = x, c->y[0] = y, c->scs[0] = scs;
}

static void test_isolated(sdt_t *t)
{
    recon_columns_t c;
    sd_err_t e;
    one_column(&c, 10.013, 9.977, 0.3);
    double s_known, s_free;
    CHECK_EQ_INT(t, recon_scs_crb(&c, 0.7, 0, 0.12, 1e4, 1, &s_known, &e), SD_OK);
    CHECK_EQ_INT(t, recon_scs_crb(&c, 0.7, 0, 0.12, 1e4, 0, &s_free, &e), SD_OK);
    /* Poisson total of D·SCS electrons: σ = sqrt(SCS/D) (the ±4ρ box keeps
     * 1 − e⁻⁸ of the Gaussian) */
    CHECK_NEAR(t, s_known, sqrt(0.3 / 1e4), 1e-3 * sqrt(0.3 / 1e4));
    /* a symmetric peak: its height does not correlate with its position */
    CHECK_NEAR(t, s_free, s_known, 1e-3 * s_known);
    recon_columns_free(&c);
}

/* With a background ζ the bound is the 2×2 inverse of q Σ [g², g; g, 1]/M,
 * summed here over the same ±4ρ box and nothing else (the background's
 * information from the rest of the region is added as q·N_out/ζ). */
static void test_background(sdt_t *t)
{
    recon_columns_t c;
    sd_err_t e;
    double x = 5.02, y = 4.97, scs = 0.2, rho = 0.65, dx = 0.1, zeta = 0.01, D = 2e4, q = D * dx * dx;
    one_column(&c, x, y, scs);
    double s;
    CHECK_EQ_INT(t, recon_scs_crb(&c, rho, zeta, dx, D, 1, &s, &e), SD_OK);
    double eta = scs / (2 * M_PI * rho * rho), h = 4 * rho;
    long i0 = (long)floor((x - h) / dx), i1 = (long)ceil((x + h) / dx);
    long j0 = (long)floor((y - h) / dx), j1 = (long)ceil((y + h) / dx);
    double a = 0, b = 0, d = 0;
    for (long j = j0; j <= j1; j++)
        for (long i = i0; i <= i1; i++) {
            double X = (double)i * dx - x, Y = (double)j * dx - y, g = exp(-(X * X + Y * Y) / (2 * rho * rho));
            double M = zeta + eta * g;
            a += q * g * g / M, b += q * g / M, d += q / M;
        }
    double var_eta = d / (a * d - b * b);
    CHECK_NEAR(t, s, 2 * M_PI * rho * rho * sqrt(var_eta), 1e-9 * s);
    CHECK(t, s > sqrt(scs / D)); /* the background costs precision */
    recon_columns_free(&c);
}

/* a 5×4 patch of [110] Au columns (2.5 Å apart) */
static void patch(recon_columns_t *c)
{
    sd_err_t e;
    recon_columns_alloc(c, 40, &e);
    int64_t n = 0;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++)
            for (int b = 0; b < 2; b++) {
                c->x[n] = 8 + i * 4.078 + b * 2.039;
                c->y[n] = 8 + j * 2.884 + b * 1.442;
                c->count[n] = 3 + (int)((i * 7 + j * 3 + b * 5) % 9);
                c->scs[n] = recon_lib_scs(recon_lib_pt, RECON_LIB_PT_N, c->count[n]);
                n++;
            }
    c->n = n;
}

static void test_neighbours_cost_precision(sdt_t *t)
{
    recon_columns_t c;
    sd_err_t e;
    patch(&c);
    double sk[40], sf[40];
    CHECK_EQ_INT(t, recon_scs_crb(&c, 0.7, 0, 0.12, 1e4, 1, sk, &e), SD_OK);
    CHECK_EQ_INT(t, recon_scs_crb(&c, 0.7, 0, 0.12, 1e4, 0, sf, &e), SD_OK);
    int bad = 0;
    double rk = 0, rf = 0;
    for (int i = 0; i < 40; i++) {
        double iso = sqrt(c.scs[i] / 1e4);
        bad += !(sk[i] > iso * 1.0001) || !(sf[i] > sk[i]);
        rk += sk[i] * sk[i] / (iso * iso), rf += sf[i] * sf[i] / (iso * iso);
    }
    CHECK_EQ_INT(t, bad, 0);
    printf("  40-column [110] patch at 10^4 e/Å²: σ/σ_isolated rms %.3f (known positions), %.3f (fitted)\n",
           sqrt(rk / 40), sqrt(rf / 40));
    recon_columns_free(&c);
}

/* 40 columns × 30 noise seeds: the Poisson-weighted heights at the true
 * positions and width scatter as the bound says (normalised sd 1 ± 0.06:
 * 1200 samples give ±0.02 at 1σ). */
static void test_ml_fit_reaches_bound(sdt_t *t)
{
    recon_columns_t c;
    sd_err_t e;
    patch(&c);
    double sk[40];
    CHECK_EQ_INT(t, recon_scs_crb(&c, 0.7, 0, 0.12, 1e4, 1, sk, &e), SD_OK);
    recon_stemsim_opts_t so;
    recon_stemsim_opts_default(&so);
    so.size = 256, so.dose = 1e4;
    double *img = malloc(256 * 256 * sizeof *img);
    double s1 = 0, s2 = 0;
    int ns = 0;
    for (int seed = 1; seed <= 30; seed++) {
        so.seed = (uint64_t)seed;
        CHECK_EQ_INT(t, recon_stemsim_render(&c, &so, img, &e), SD_OK);
        double xy[80], eta[40], rho, zeta;
        for (int i = 0; i < 40; i++) xy[2 * i] = c.x[i], xy[2 * i + 1] = c.y[i];
        recon_fit_opts_t fo;
        recon_fit_opts_default(&fo);
        fo.fix_positions = fo.fix_width = 1, fo.rho0 = 0.7, fo.poisson_weights = 1;
        CHECK_EQ_INT(t, recon_fit_gaussians(img, 256, 256, so.dx, &fo, xy, 40, eta, &rho, &zeta, &e), SD_OK);
        for (int i = 0; i < 40; i++) {
            double z = (2 * M_PI * eta[i] * rho * rho - c.scs[i]) / sk[i];
            s1 += z, s2 += z * z, ns++;
        }
    }
    double mean = s1 / ns, sd = sqrt(s2 / ns - mean * mean);
    printf("  ML heights at known positions: normalised error mean %.3f, sd %.3f (bound: 1)\n", mean, sd);
    CHECK_MSG(t, fabs(sd - 1) < 0.06, "normalised sd %.3f", sd);
    /* the ±3ρ fit boxes leave neighbours' tails: a small positive bias */
    CHECK_MSG(t, fabs(mean) < 0.25, "normalised mean %.3f", mean);
    free(img);
    recon_columns_free(&c);
}

static void test_bad_input(sdt_t *t)
{
    recon_columns_t c;
    sd_err_t e;
    one_column(&c, 5, 5, 0.3);
    double s;
    CHECK_EQ_INT(t, recon_scs_crb(&c, 0.7, 0, 0.12, 0, 1, &s, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "dose");
    CHECK_EQ_INT(t, recon_scs_crb(&c, -1, 0, 0.12, 1e4, 1, &s, &e), SD_ERANGE);
    c.scs[0] = NAN;
    CHECK_EQ_INT(t, recon_scs_crb(&c, 0.7, 0, 0.12, 1e4, 1, &s, &e), SD_ERANGE);
    recon_columns_free(&c);
    /* two columns on one spot: their heights cannot be told apart */
    recon_columns_alloc(&c, 2, &e);
    c.n = 2, c.x[0] = c.x[1] = 5, c.y[0] = c.y[1] = 5, c.scs[0] = c.scs[1] = 0.1;
    double s2[2];
    CHECK_EQ_INT(t, recon_scs_crb(&c, 0.7, 0, 0.12, 1e4, 1, s2, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "singular");
    c.n = 0;
    CHECK_EQ_INT(t, recon_scs_crb(&c, 0.7, 0, 0.12, 1e4, 1, NULL, &e), SD_OK);
    recon_columns_free(&c);
}

SDT_MAIN(SDT_CASE(test_isolated), SDT_CASE(test_background), SDT_CASE(test_neighbours_cost_precision),
         SDT_CASE(test_ml_fit_reaches_bound), SDT_CASE(test_bad_input))
