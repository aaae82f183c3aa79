/* Counting for frames whose SCS library is known (synthetic frames):
 * RECON_ORDER_LIBSCALE, library counts after a fitted global scale, alone
 * and in the pipeline with Poisson-weighted heights.  The ten-model numbers
 * are in tests/bench/recon. */
#include "recon.h"
#include "sdtest.h"

#include <math.h>
#include <stdlib.h>

static double au(int n) { return RECON_AU_OVER_PT * recon_lib_scs(recon_lib_pt, RECON_LIB_PT_N, n); }

/* Counts 1..15, three columns each, on a scale 3 % off the library (an
 * unknown normalisation) and displaced by up to ±0.2 of the local library
 * step: without the fitted scale the thick ones would read one atom too
 * many (3 % of a 13-atom SCS is 0.4 step). */
static void test_libscale_counts(sdt_t *t)
{
    recon_columns_t c;
    sd_err_t e;
    enum { NC = 15, REP = 3 };
    CHECK_EQ_INT(t, recon_columns_alloc(&c, NC * REP + 1, &e), SD_OK);
    int64_t truth_atoms = 0;
    for (int n = 1; n <= NC; n++)
        for (int r = 0; r < REP; r++) {
            double step = au(n + 1) - au(n), off = (r == 0 ? 0.2 : r == 1 ? -0.15 : 0.05) * step;
            c.scs[(n - 1) * REP + r] = 1.03 * au(n) + off;
            truth_atoms += n;
        }
    c.scs[NC * REP] = 0.3 * au(1); /* a noise maximum: 0 atoms */
    recon_count_opts_t o;
    recon_count_opts_default(&o);
    o.rule = RECON_ORDER_LIBSCALE;
    o.lib_scale = RECON_AU_OVER_PT;
    recon_count_info_t info;
    CHECK_EQ_INT(t, recon_count_scs(&c, &o, &info, &e), SD_OK);
    int ok = 1;
    for (int n = 1; n <= NC; n++)
        for (int r = 0; r < REP; r++) {
            int got = c.count[(n - 1) * REP + r];
            if (got != n) ok = 0, printf("count %d read as %d\n", n, got);
            CHECK(t, c.prob[(n - 1) * REP + r] > 0.5 && c.prob[(n - 1) * REP + r] <= 1.0);
        }
    CHECK(t, ok);
    CHECK_EQ_INT(t, c.count[NC * REP], 0);
    CHECK_EQ_INT(t, info.atoms, truth_atoms);
    CHECK_EQ_INT(t, info.offset, 1);
    recon_columns_free(&c);
}

/* A centred-rectangular ([110]-like, 4.078 × 2.884 Å) disc of columns
 * holding 2..13 atoms in a fixed pattern, rendered with shot noise at
 * 3·10⁴ e/Å²; counted with Poisson-weighted heights and the known library.
 * Returns the fraction of columns counted exactly. */
static double disc_exact(sdt_t *t, double dose, uint64_t seed, int64_t *atoms_true, int64_t *atoms_counted)
{
    recon_stemsim_opts_t so;
    recon_stemsim_opts_default(&so);
    so.size = 320, so.dose = dose, so.seed = seed;
    double L = (double)so.size * so.dx, cx = 0.5 * L + 0.03, cy = 0.5 * L - 0.04;
    recon_columns_t cols;
    sd_err_t e;
    CHECK_EQ_INT(t, recon_columns_alloc(&cols, 400, &e), SD_OK);
    int64_t m = 0;
    *atoms_true = 0;
    for (int i = -6; i <= 6; i++)
        for (int j = -8; j <= 8; j++)
            for (int b = 0; b < 2; b++) {
                double x = (i + 0.5 * b) * 4.078, y = (j + 0.5 * b) * 2.884, r = hypot(x, y);
                if (r > 14.0) continue;
                int n = (int)lround(13.0 - r / 1.6 + (double)(abs(i * 7 + j * 3 + b * 5) % 5 - 2));
                n = n < 2 ? 2 : n > 13 ? 13 : n;
                cols.x[m] = cx + x, cols.y[m] = cy + y, cols.count[m] = n, cols.scs[m] = au(n);
                *atoms_true += n;
                m++;
            }
    cols.n = m;
    double *img = malloc((size_t)(so.size * so.size) * sizeof *img);
    CHECK_EQ_INT(t, recon_stemsim_render(&cols, &so, img, &e), SD_OK);
    recon_count_opts_t o;
    recon_count_opts_default(&o);
    o.lib_scale = RECON_AU_OVER_PT;
    o.rule = RECON_ORDER_LIBSCALE;
    o.fit.poisson_weights = 1;
    recon_columns_t c;
    recon_count_info_t info;
    CHECK_EQ_INT(t, recon_count_image(img, so.size, so.size, so.dx, &o, &c, &info, &e), SD_OK);
    int64_t eq = 0;
    for (int64_t q = 0; q < cols.n; q++) {
        double bd = 1.0;
        int64_t bi = -1;
        for (int64_t i = 0; i < c.n; i++) {
            double d = hypot(c.x[i] - cols.x[q], c.y[i] - cols.y[q]);
            if (d < bd) bd = d, bi = i;
        }
        eq += bi >= 0 && c.count[bi] == cols.count[q];
    }
    int64_t sum = 0;
    for (int64_t i = 0; i < c.n; i++) sum += c.count[i];
    CHECK_EQ_INT(t, info.atoms, sum);
    *atoms_counted = info.atoms;
    double frac = (double)eq / (double)cols.n;
    printf("disc of %lld columns at %g e/Å²: %lld exact (%.1f %%), atoms %lld/%lld\n", (long long)cols.n, dose,
           (long long)eq, 100 * frac, (long long)info.atoms, (long long)*atoms_true);
    free(img);
    recon_columns_free(&c), recon_columns_free(&cols);
    return frac;
}

/* Noise-free every column is exact; at 3·10⁴ e/Å² (σ ≈ 0.15 of a library
 * step for 13 atoms) at most one column in a hundred may be off. */
static void test_known_library_pipeline(sdt_t *t)
{
    int64_t at, ac;
    CHECK_NEAR(t, disc_exact(t, 0, 1, &at, &ac), 1.0, 1e-12);
    CHECK_EQ_INT(t, ac, at);
    CHECK(t, disc_exact(t, 3e4, 7, &at, &ac) >= 0.99);
    CHECK(t, llabs(ac - at) <= 2);
}

SDT_MAIN(SDT_CASE(test_libscale_counts), SDT_CASE(test_known_library_pipeline))
