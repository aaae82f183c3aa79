/* Column detection: a synthetic particle's columns are all found (and nothing
 * else), the lattice spacing is measured, and bad or empty frames behave. */
#include "recon.h"
#include "recon_test_util.h"
#include "sdtest.h"
#include "stemsim.h"

static void particle_image(double dose, int64_t size, recon_columns_t *tr, double **img)
{
    int64_t n;
    double *p = rt_fcc_sphere(4.078, 13.0, &n);
    recon_stemsim_opts_t o;
    recon_stemsim_opts_default(&o);
    o.size = size, o.dose = dose, o.seed = 11;
    sd_err_t e;
    recon_stemsim_columns(p, n, &o, tr, NULL, &e);
    *img = malloc((size_t)(size * size) * sizeof **img);
    recon_stemsim_render(tr, &o, *img, &e);
    free(p);
}

static void check_found(sdt_t *t, double dose)
{
    recon_columns_t tr;
    double *img;
    particle_image(dose, 400, &tr, &img);
    double *xy;
    int64_t n;
    recon_detect_info_t info;
    sd_err_t e;
    CHECK_EQ_INT(t, recon_detect_columns(img, 400, 400, 0.12, &xy, &n, &info, &e), SD_OK);
    /* Au [110]: strongest spots (111) at 2.355 Å or (200) at 2.039 Å */
    CHECK_MSG(t, fabs(info.spacing - 2.355) < 0.08 || fabs(info.spacing - 2.039) < 0.08, "spacing %g", info.spacing);
    CHECK_NEAR(t, info.lattice_nn, 2.497, 0.1);
    int64_t found = 0;
    for (int64_t j = 0; j < tr.n; j++) {
        double bd = INFINITY;
        for (int64_t i = 0; i < n; i++) bd = fmin(bd, hypot(xy[2 * i] - tr.x[j], xy[2 * i + 1] - tr.y[j]));
        if (bd < 0.5) found++;
        else fprintf(stderr, "missed column of %d atoms (nearest %.2f Å)\n", tr.count[j], bd);
    }
    CHECK_EQ_INT(t, found, tr.n);
    CHECK_EQ_INT(t, n, tr.n);
    free(xy), free(img);
    recon_columns_free(&tr);
}

static void test_detect_noise_free(sdt_t *t) { check_found(t, 0); }
static void test_detect_1e4(sdt_t *t) { check_found(t, 1e4); }

static void test_detect_empty_and_bad(sdt_t *t)
{
    int64_t N = 256;
    double *img = malloc((size_t)(N * N) * sizeof *img), *xy = (double *)1;
    int64_t n = 7;
    sd_err_t e;
    /* constant frame: no particle, no error */
    for (int64_t i = 0; i < N * N; i++) img[i] = 0.01;
    CHECK_EQ_INT(t, recon_detect_columns(img, N, N, 0.12, &xy, &n, NULL, &e), SD_OK);
    CHECK_EQ_INT(t, n, 0);
    free(xy);
    /* vacuum with Poisson noise only: empty, not an error */
    recon_rng_t r;
    recon_rng_seed(&r, 5);
    for (int64_t i = 0; i < N * N; i++) img[i] = (double)recon_rng_poisson(&r, 1.44) / 144.0;
    CHECK_EQ_INT(t, recon_detect_columns(img, N, N, 0.12, &xy, &n, NULL, &e), SD_OK);
    CHECK_EQ_INT(t, n, 0);
    free(xy);
    /* a blob without a lattice: clear error */
    for (int64_t i = 0; i < N * N; i++) {
        double x = (double)(i % N) - 128, y = (double)(i / N) - 128;
        img[i] = exp(-(x * x + y * y) / (2 * 30.0 * 30.0));
    }
    CHECK_EQ_INT(t, recon_detect_columns(img, N, N, 0.12, &xy, &n, NULL, &e), SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "no crystal lattice");
    /* NaN pixel, tiny image, bad dx */
    img[77] = NAN;
    CHECK_EQ_INT(t, recon_detect_columns(img, N, N, 0.12, &xy, &n, NULL, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "not finite");
    CHECK_EQ_INT(t, recon_detect_columns(img, 4, 4, 0.12, &xy, &n, NULL, &e), SD_EINVAL);
    CHECK_EQ_INT(t, recon_detect_columns(img, N, N, -1, &xy, &n, NULL, &e), SD_ERANGE);
    free(img);
}

SDT_MAIN(SDT_CASE(test_detect_noise_free), SDT_CASE(test_detect_1e4), SDT_CASE(test_detect_empty_and_bad))
