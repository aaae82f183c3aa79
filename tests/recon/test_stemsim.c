/* Synthetic microscope: zone axis from the lattice, columns, rendering, noise. */
#include "recon.h"
#include "recon_test_util.h"
#include "sdtest.h"
#include "stemsim.h"

static void test_zone_axis_aligned(sdt_t *t)
{
    int64_t n;
    double *p = rt_fcc_sphere(4.078, 12.0, &n);
    double ax[3];
    sd_err_t e;
    CHECK_EQ_INT(t, recon_stemsim_zone_axis(p, n, 110, ax, &e), SD_OK);
    /* crystal [110] is along z and [1-10] along y: either box axis is right */
    CHECK_NEAR(t, fmax(ax[1], ax[2]), 1.0, 1e-9);
    CHECK_NEAR(t, ax[0], 0.0, 1e-9);
    /* [100] zone: the crystal [001] lies along x */
    CHECK_EQ_INT(t, recon_stemsim_zone_axis(p, n, 100, ax, &e), SD_OK);
    CHECK_NEAR(t, fabs(ax[0]) + fabs(ax[1]) + fabs(ax[2]), 1.0, 1e-9);
    free(p);
}

static void test_zone_axis_rotated_and_columns(sdt_t *t)
{
    int64_t n;
    double *p = rt_fcc_sphere(4.078, 14.0, &n);
    const double u[3] = {0.6, 0.0, 0.8};
    double R[3][3];
    rt_rotate(p, n, u, 0.4, R);
    recon_stemsim_opts_t o;
    recon_stemsim_opts_default(&o);
    o.size = 384;
    recon_columns_t c;
    double ax[3];
    sd_err_t e;
    CHECK_EQ_INT(t, recon_stemsim_columns(p, n, &o, &c, ax, &e), SD_OK);
    /* must be one of the rotated <110>: R·[110]/√2 etc.; the original z is one */
    double best = 0;
    const double s2 = sqrt(0.5);
    const double dirs[6][3] = {{s2, s2, 0}, {s2, -s2, 0}, {s2, 0, s2}, {s2, 0, -s2}, {0, s2, s2}, {0, s2, -s2}};
    const double rot[3][3] = {{0, 0, 1}, {s2, -s2, 0}, {s2, s2, 0}};
    for (int d = 0; d < 6; d++) {
        double v[3], w[3];
        for (int q = 0; q < 3; q++) v[q] = rot[q][0] * dirs[d][0] + rot[q][1] * dirs[d][1] + rot[q][2] * dirs[d][2];
        for (int q = 0; q < 3; q++) w[q] = R[q][0] * v[0] + R[q][1] * v[1] + R[q][2] * v[2];
        double dot = fabs(w[0] * ax[0] + w[1] * ax[1] + w[2] * ax[2]);
        if (dot > best) best = dot;
    }
    CHECK_MSG(t, best > 0.9999, "axis (%g %g %g) is not a <110>: best |cos| %g", ax[0], ax[1], ax[2], best);
    int64_t tot = 0, maxc = 0;
    for (int64_t i = 0; i < c.n; i++) {
        tot += c.count[i];
        if (c.count[i] > maxc) maxc = c.count[i];
    }
    CHECK_EQ_INT(t, tot, n);
    /* a 28 Å sphere along [110] (2.884 Å repeat): the centre column holds ~10 atoms */
    CHECK(t, maxc >= 9 && maxc <= 11);
    /* columns of a perfect crystal are ≥ 2.49 Å apart in [110] projection */
    double dmin = INFINITY;
    for (int64_t i = 0; i < c.n; i++)
        for (int64_t j = i + 1; j < c.n; j++) dmin = fmin(dmin, hypot(c.x[i] - c.x[j], c.y[i] - c.y[j]));
    CHECK_NEAR(t, dmin, 2.497, 0.01);
    recon_columns_free(&c);
    free(p);
}

/* Drift (dx, dy) Å over the frame: row r sees the specimen moved by
 * (r/N)·drift, so a column at (x0, y0) peaks on row y0/(dx − dy/N) at
 * x0 + drift_x·r/N; the y drift stretches its image by 1/(1 − dy/(N·dx)). */
static void test_render_drift(sdt_t *t)
{
    recon_columns_t c;
    sd_err_t e;
    CHECK_EQ_INT(t, recon_columns_alloc(&c, 1, &e), SD_OK);
    c.n = 1, c.x[0] = 12.3, c.y[0] = 14.1, c.scs[0] = 0.2;
    recon_stemsim_opts_t o;
    recon_stemsim_opts_default(&o);
    o.size = 256, o.dose = 0, o.drift_x = 3.0, o.drift_y = 2.0;
    double *img = malloc(256 * 256 * sizeof *img);
    CHECK_EQ_INT(t, recon_stemsim_render(&c, &o, img, &e), SD_OK);
    double s = 0, sx = 0, sy = 0;
    for (int r = 0; r < 256; r++)
        for (int q = 0; q < 256; q++) s += img[r * 256 + q], sx += q * img[r * 256 + q], sy += r * img[r * 256 + q];
    double vy = o.drift_y / 256, rpk = c.y[0] / (o.dx - vy);
    CHECK_NEAR(t, sy / s, rpk, 1e-3);
    /* x: the centroid averages the shift over the column's rows, linear in r */
    CHECK_NEAR(t, sx / s * o.dx, c.x[0] + o.drift_x * rpk / 256, 1e-3);
    CHECK_NEAR(t, s * o.dx * o.dx, 0.2 / (1 - vy / o.dx), 1e-6);
    /* no drift: the same column where it is */
    o.drift_x = o.drift_y = 0;
    CHECK_EQ_INT(t, recon_stemsim_render(&c, &o, img, &e), SD_OK);
    s = sy = 0;
    for (int r = 0; r < 256; r++)
        for (int q = 0; q < 256; q++) s += img[r * 256 + q], sy += r * img[r * 256 + q];
    CHECK_NEAR(t, sy / s * o.dx, c.y[0], 1e-6);
    o.drift_x = NAN;
    CHECK_EQ_INT(t, recon_stemsim_render(&c, &o, img, &e), SD_ERANGE);
    free(img);
    recon_columns_free(&c);
}

static void test_render_flux_and_noise(sdt_t *t)
{
    recon_columns_t c;
    sd_err_t e;
    CHECK_EQ_INT(t, recon_columns_alloc(&c, 2, &e), SD_OK);
    c.x[0] = 10, c.y[0] = 10, c.scs[0] = 0.2;
    c.x[1] = 14, c.y[1] = 12, c.scs[1] = 0.05;
    recon_stemsim_opts_t o;
    recon_stemsim_opts_default(&o);
    o.size = 200;
    o.dose = 0;
    o.background = 0.01;
    double *img = malloc(200 * 200 * sizeof *img), *img2 = malloc(200 * 200 * sizeof *img2);
    CHECK_EQ_INT(t, recon_stemsim_render(&c, &o, img, &e), SD_OK);
    /* Σ pixels · dx² = background · area + Σ SCS */
    double s = 0;
    for (int i = 0; i < 200 * 200; i++) s += img[i];
    CHECK_NEAR(t, s * o.dx * o.dx, 0.01 * 200 * 200 * o.dx * o.dx + 0.25, 1e-5);
    /* peak height scs / (2π s²) on the pixel under the first column */
    int r = (int)lround(10 / o.dx), q = (int)lround(10 / o.dx);
    double dd = hypot(q * o.dx - 10, r * o.dx - 10);
    CHECK_NEAR(t, img[r * 200 + q], 0.01 + 0.2 / (2 * M_PI * 0.49) * exp(-dd * dd / (2 * 0.49)) +
                                         0.05 / (2 * M_PI * 0.49) * exp(-(pow(q * o.dx - 14, 2) + pow(r * o.dx - 12, 2)) / 0.98), 1e-9);
    /* Poisson noise: mean preserved, variance = I / (D dx²) */
    o.dose = 1e4;
    CHECK_EQ_INT(t, recon_stemsim_render(&c, &o, img2, &e), SD_OK);
    double m = 0, v = 0;
    int cnt = 0;
    for (int i = 0; i < 200 * 200; i++)
        if (fabs(img[i] - 0.01) < 1e-12) { /* pure background pixels */
            m += img2[i], v += img2[i] * img2[i], cnt++;
        }
    m /= cnt, v = v / cnt - m * m;
    CHECK(t, cnt > 1000);
    CHECK_NEAR(t, m, 0.01, 0.01 * 0.02);
    CHECK_NEAR(t, v, 0.01 / (1e4 * o.dx * o.dx), 0.1 * 0.01 / (1e4 * o.dx * o.dx));
    free(img), free(img2);
    recon_columns_free(&c);
}

static void test_poisson_moments(sdt_t *t)
{
    recon_rng_t r;
    recon_rng_seed(&r, 7);
    const double lams[3] = {0.7, 6.0, 80.0};
    for (int k = 0; k < 3; k++) {
        double m = 0, v = 0;
        int N = 200000;
        for (int i = 0; i < N; i++) {
            double x = (double)recon_rng_poisson(&r, lams[k]);
            m += x, v += x * x;
        }
        m /= N, v = v / N - m * m;
        CHECK_NEAR(t, m, lams[k], 5 * sqrt(lams[k] / N));
        CHECK_NEAR(t, v, lams[k], 0.03 * lams[k]);
    }
}

/* Truth merging: a displaced atom 1.2 Å off a column joins it; lattice columns
 * 2.5 Å apart stay apart, and merging does not chain through a light column. */
static void test_truth_merge(sdt_t *t)
{
    recon_columns_t c, m;
    sd_err_t e;
    CHECK_EQ_INT(t, recon_columns_alloc(&c, 4, &e), SD_OK);
    const double x[4] = {10, 11.2, 12.5, 13.9}, y[4] = {10, 10, 10, 10};
    const int n[4] = {5, 1, 7, 1};
    for (int i = 0; i < 4; i++) c.x[i] = x[i], c.y[i] = y[i], c.count[i] = n[i];
    recon_stemsim_opts_t o;
    recon_stemsim_opts_default(&o);
    CHECK_EQ_INT(t, recon_stemsim_truth(&c, 1.5, &o, &m, &e), SD_OK);
    CHECK_EQ_INT(t, m.n, 2);
    int64_t tot = 0;
    for (int64_t i = 0; i < m.n; i++) tot += m.count[i];
    CHECK_EQ_INT(t, tot, 14);
    CHECK_EQ_INT(t, m.count[0], 6);
    CHECK_NEAR(t, m.x[0], (5 * 10 + 11.2) / 6, 1e-12);
    CHECK_EQ_INT(t, m.count[1], 8);
    CHECK_NEAR(t, m.scs[1], RECON_AU_OVER_PT * recon_lib_pt[7], 1e-12);
    recon_columns_free(&m);
    CHECK_EQ_INT(t, recon_stemsim_truth(&c, 0, &o, &m, &e), SD_OK);
    CHECK_EQ_INT(t, m.n, 4);
    recon_columns_free(&m);
    recon_columns_free(&c);
}

static void test_bad_input(sdt_t *t)
{
    recon_stemsim_opts_t o;
    recon_stemsim_opts_default(&o);
    recon_columns_t c;
    sd_err_t e;
    double p[6] = {0, 0, 0, NAN, 0, 0};
    CHECK_EQ_INT(t, recon_stemsim_columns(p, 2, &o, &c, NULL, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "non-finite");
    CHECK_EQ_INT(t, recon_stemsim_columns(p, 0, &o, &c, NULL, &e), SD_EINVAL);
    o.zone = 111;
    double q[12] = {0, 0, 0, 2.88, 0, 0, 0, 2.88, 0, 0, 0, 2.88};
    CHECK_EQ_INT(t, recon_stemsim_columns(q, 4, &o, &c, NULL, &e), SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "zone");
}

SDT_MAIN(SDT_CASE(test_zone_axis_aligned), SDT_CASE(test_zone_axis_rotated_and_columns),
         SDT_CASE(test_render_flux_and_noise), SDT_CASE(test_render_drift), SDT_CASE(test_poisson_moments), SDT_CASE(test_truth_merge), SDT_CASE(test_bad_input))
