/* Counting on synthetic frames of the paper's particles (stem-sim) against
 * the true counts, and the series (HMM) option on a noisy frame series.
 * Issue #5 targets: ≥ 97 % exact at 10⁴ e/Å², ≥ 99.5 % at 3·10⁴ (all ten
 * models: tests/bench/recon).  This quick test uses two models at 512² and
 * guards the levels measured when it was written (model 5: 98.3 % / 100 %;
 * model 2: 99.1 % / 100 %). */
#include "recon.h"
#include "recon_test_util.h"
#include "sd_atoms.h"
#include "sd_image.h"
#include "sdtest.h"

static double run(sdt_t *t, const char *model, double dose, uint64_t seed)
{
    char buf[1024];
    sd_atoms_t *a = NULL;
    sd_err_t e;
    CHECK_EQ_INT(t, sd_atoms_read_any(sdt_shared_or_skip(model, buf, sizeof buf), &a, &e), SD_OK);
    recon_stemsim_opts_t so;
    recon_stemsim_opts_default(&so);
    so.size = 512, so.dose = dose, so.seed = seed;
    recon_columns_t tr, c;
    CHECK_EQ_INT(t, recon_stemsim_columns(a->pos, a->n, &so, &tr, NULL, &e), SD_OK);
    double *img = malloc(512 * 512 * sizeof *img);
    CHECK_EQ_INT(t, recon_stemsim_render(&tr, &so, img, &e), SD_OK);
    recon_count_opts_t o;
    recon_count_opts_default(&o);
    o.lib_scale = RECON_AU_OVER_PT;
    recon_count_info_t info;
    CHECK_EQ_INT(t, recon_count_image(img, 512, 512, so.dx, &o, &c, &info, &e), SD_OK);
    int64_t *idx = malloc((size_t)tr.n * sizeof *idx);
    rt_match(tr.x, tr.y, tr.n, &c, 1.0, idx);
    int64_t eq = 0;
    for (int64_t j = 0; j < tr.n; j++) eq += idx[j] >= 0 && c.count[idx[j]] == tr.count[j];
    double frac = (double)eq / (double)tr.n;
    printf("%s at %g e/Å²: %lld columns, %lld exact (%.1f %%), detect+fit+count %.0f ms\n", model, dose,
           (long long)tr.n, (long long)eq, 100 * frac, 1e3 * (info.t_detect + info.t_fit + info.t_count));
    free(idx), free(img);
    recon_columns_free(&tr), recon_columns_free(&c);
    sd_atoms_destroy(&a);
    return frac;
}

static void test_synth_1e4(sdt_t *t)
{
    CHECK(t, run(t, "data/paper_nps/5.data", 1e4, 1) >= 0.97);
    CHECK(t, run(t, "data/paper_nps/2.data", 1e4, 1) >= 0.97);
}

static void test_synth_3e4(sdt_t *t)
{
    CHECK(t, run(t, "data/paper_nps/5.data", 3e4, 1) >= 0.995);
    CHECK(t, run(t, "data/paper_nps/2.data", 3e4, 1) >= 0.995);
}

/* Series: the same particle in six frames at 3·10³ e/Å² (where single frames
 * count ~75 % right); the forward filter must do clearly better from frame 2
 * (measured: 83 % against 75 % over frames 2..5). */
static void test_series(sdt_t *t)
{
    char buf[1024];
    sd_atoms_t *a = NULL;
    sd_err_t e;
    CHECK_EQ_INT(t, sd_atoms_read_any(sdt_shared_or_skip("data/paper_nps/5.data", buf, sizeof buf), &a, &e), SD_OK);
    recon_stemsim_opts_t so;
    recon_stemsim_opts_default(&so);
    so.size = 512, so.dose = 3e3;
    recon_columns_t tr;
    CHECK_EQ_INT(t, recon_stemsim_columns(a->pos, a->n, &so, &tr, NULL, &e), SD_OK);
    double *img = malloc(512 * 512 * sizeof *img);
    recon_count_opts_t o;
    recon_count_opts_default(&o);
    o.lib_scale = RECON_AU_OVER_PT;
    recon_series_t *s = recon_series_new(0.9);
    CHECK(t, s != NULL);
    CHECK(t, recon_series_new(1.5) == NULL);
    int64_t *idx = malloc((size_t)tr.n * sizeof *idx);
    double sum1 = 0, sums = 0;
    for (int fr = 0; fr < 6; fr++) {
        so.seed = 100 + (uint64_t)fr;
        recon_stemsim_render(&tr, &so, img, &e);
        recon_columns_t c;
        recon_count_info_t info;
        CHECK_EQ_INT(t, recon_count_image(img, 512, 512, so.dx, &o, &c, &info, &e), SD_OK);
        rt_match(tr.x, tr.y, tr.n, &c, 1.0, idx);
        int64_t eq1 = 0, eqs = 0;
        for (int64_t j = 0; j < tr.n; j++) eq1 += idx[j] >= 0 && c.count[idx[j]] == tr.count[j];
        CHECK_EQ_INT(t, recon_series_count(s, &c, &o, 1.0, &info, &e), SD_OK);
        for (int64_t j = 0; j < tr.n; j++) eqs += idx[j] >= 0 && c.count[idx[j]] == tr.count[j];
        for (int64_t i = 0; i < c.n; i++) CHECK(t, c.prob[i] > 0 && c.prob[i] <= 1);
        printf("series frame %d: single %.1f %%, series %.1f %%\n", fr, 100.0 * eq1 / tr.n, 100.0 * eqs / tr.n);
        if (fr >= 2) sum1 += (double)eq1 / tr.n, sums += (double)eqs / tr.n;
        recon_columns_free(&c);
    }
    CHECK_MSG(t, sums / 4 >= sum1 / 4 + 0.04, "series %.3f vs single %.3f", sums / 4, sum1 / 4);
    CHECK(t, sums / 4 >= 0.80);
    recon_series_destroy(&s);
    CHECK(t, s == NULL);
    free(idx), free(img);
    recon_columns_free(&tr);
    sd_atoms_destroy(&a);
}

/* StatSTEM's HMM example (5 frames, 1000 e/Å², HMM_library.csv): no true
 * counts are given, so the check is stability: matched columns whose count
 * changes from one frame to the next.  Measured: single frames 297 changes in
 * 466 column-frames, series 187. */
static void test_series_hmm_example(sdt_t *t)
{
    char buf[1024], path[64];
    FILE *f = fopen(sdt_shared_or_skip("oracle/stem/HMM_library.csv", buf, sizeof buf), "r");
    double lib[64];
    int nlib = 0;
    char line[256];
    CHECK(t, fgets(line, sizeof line, f) != NULL);
    while (nlib < 64 && fgets(line, sizeof line, f)) {
        int k;
        if (sscanf(line, "%d,%lf", &k, &lib[nlib]) == 2) nlib++;
    }
    fclose(f);
    CHECK_EQ_INT(t, nlib, 25);
    recon_count_opts_t o;
    recon_count_opts_default(&o);
    o.lib = lib, o.nlib = nlib;
    recon_series_t *s = recon_series_new(0.9);
    recon_columns_t prev1, prevs;
    memset(&prev1, 0, sizeof prev1), memset(&prevs, 0, sizeof prevs);
    int ch1 = 0, chs = 0, matched = 0;
    for (int fr = 0; fr < 5; fr++) {
        snprintf(path, sizeof path, "oracle/stem/HMM_obs_frame%d.f64", fr);
        sd_image_t im;
        sd_err_t e;
        CHECK_EQ_INT(t, sd_image_read(sdt_shared_or_skip(path, buf, sizeof buf), &im, &e), SD_OK);
        recon_columns_t c, cs;
        recon_count_info_t info;
        CHECK_EQ_INT(t, recon_count_image(im.data, im.height, im.width, 0.125, &o, &c, &info, &e), SD_OK);
        CHECK(t, c.n >= 115 && c.n <= 119); /* 117 true columns */
        CHECK_EQ_INT(t, recon_columns_alloc(&cs, c.n, &e), SD_OK);
        for (int64_t i = 0; i < c.n; i++) cs.x[i] = c.x[i], cs.y[i] = c.y[i], cs.scs[i] = c.scs[i];
        CHECK_EQ_INT(t, recon_series_count(s, &cs, &o, 1.0, &info, &e), SD_OK);
        for (int64_t i = 0; i < c.n && fr > 0; i++) {
            int64_t b = -1;
            double bd = 1.0;
            for (int64_t j = 0; j < prev1.n; j++) {
                double d = hypot(prev1.x[j] - c.x[i], prev1.y[j] - c.y[i]);
                if (d < bd) bd = d, b = j;
            }
            if (b < 0) continue;
            matched++;
            ch1 += c.count[i] != prev1.count[b];
            chs += cs.count[i] != prevs.count[b];
        }
        recon_columns_free(&prev1), recon_columns_free(&prevs);
        prev1 = c, prevs = cs;
        sd_image_free(&im);
    }
    printf("HMM example: count changes between frames: single %d, series %d of %d\n", ch1, chs, matched);
    CHECK(t, matched >= 460);
    CHECK_MSG(t, chs <= 0.75 * ch1, "series %d vs single %d", chs, ch1);
    recon_columns_free(&prev1), recon_columns_free(&prevs);
    recon_series_destroy(&s);
}

SDT_MAIN(SDT_CASE(test_synth_1e4), SDT_CASE(test_synth_3e4), SDT_CASE(test_series), SDT_CASE(test_series_hmm_example))
