/* Frame → 3D model speed and accuracy: a paper model is projected along its
 * [110] columns, rendered as a 1024×1024 ADF-STEM frame (stem-sim, Poisson
 * noise), counted (recon_count_image) and reconstructed
 * (recon_model3d_build) on one core.  Prints the time breakdown (median of
 * 5 runs) and the agreement with the true model; asserts what the 3D stage
 * owns (every counted column's count kept in the model).
 * Target (issue #5): count + reconstruct ≤ 0.3 s for ~1040 atoms. */
/* sd-test-labels: bench */
#include "recon.h"
#include "sd_atoms.h"
#include "sd_clock.h"
#include "sdtest.h"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void run_model(sdt_t *t, const char *name, double dose)
{
    char rel[64], path[1024];
    snprintf(rel, sizeof rel, "data/paper_nps/%s.data", name);
    sdt_shared_or_skip(rel, path, sizeof path);
    sd_atoms_t *truth = NULL;
    sd_err_t e;
    if (sd_atoms_read_any(path, &truth, &e)) {
        CHECK_MSG(t, 0, "%s", e.msg);
        return;
    }
    recon_columns_t tc;
    double *zlo = NULL, *zhi = NULL;
    const double ax[3] = {1, 0, 0};
    CHECK_EQ_INT(t, recon_columns_from_model(truth->n, truth->pos, ax, 1, 0, &tc, NULL, &zlo, &zhi,
                                             NULL, NULL),
                 SD_OK);
    recon_stemsim_opts_t so;
    recon_stemsim_opts_default(&so);
    so.dose = dose;
    double cx = 0, cy = 0;
    for (int64_t j = 0; j < tc.n; j++) cx += tc.x[j] / (double)tc.n, cy += tc.y[j] / (double)tc.n;
    double lib[RECON_LIB_PT_N];
    for (int i = 0; i < RECON_LIB_PT_N; i++) lib[i] = recon_lib_pt[i] * RECON_AU_OVER_PT;
    for (int64_t j = 0; j < tc.n; j++) {
        tc.x[j] += 0.5 * so.size * so.dx - cx + 0.37 * so.dx;
        tc.y[j] += 0.5 * so.size * so.dx - cy + 0.61 * so.dx;
        tc.scs[j] = recon_lib_scs(lib, RECON_LIB_PT_N, tc.count[j]);
        tc.rho[j] = so.width;
        tc.eta[j] = tc.scs[j] / (2 * M_PI * so.width * so.width);
    }
    double *img = malloc((size_t)(so.size * so.size) * sizeof *img);
    CHECK_EQ_INT(t, recon_stemsim_render(&tc, &so, img, &e), SD_OK);

    enum { REPS = 5 };
    double tcount[REPS], trec[REPS], tmc[REPS], trelax[REPS], tsetup[REPS];
    recon_columns_t dc;
    memset(&dc, 0, sizeof dc);
    sd_atoms_t *model = NULL;
    recon_model3d_info_t info;
    recon_model3d_opts_t o;
    recon_model3d_opts_default(&o);
    for (int r = 0; r < REPS; r++) {
        recon_columns_free(&dc);
        sd_atoms_destroy(&model);
        recon_count_opts_t co;
        recon_count_opts_default(&co);
        recon_count_info_t ci;
        int64_t t0 = sd_clock_mono_ns();
        int rc = recon_count_image(img, so.size, so.size, so.dx, &co, &dc, &ci, &e);
        int64_t t1 = sd_clock_mono_ns();
        CHECK_MSG(t, rc == SD_OK, "count: %s", e.msg);
        if (rc) break;
        rc = recon_model3d_build(&dc, &o, &model, &info, &e);
        int64_t t2 = sd_clock_mono_ns();
        CHECK_MSG(t, rc == SD_OK, "reconstruct: %s", e.msg);
        if (rc) break;
        tcount[r] = (double)(t1 - t0) * 1e-6;
        trec[r] = (double)(t2 - t1) * 1e-6;
        tmc[r] = info.t_mc_s * 1e3;
        trelax[r] = info.t_relax_s * 1e3;
        tsetup[r] = info.t_setup_s * 1e3;
    }
    if (model) {
        /* the 3D stage keeps every counted column's count */
        const sd_prop_t *pr = sd_atoms_get_prop(model, "column_id");
        int32_t *got = calloc((size_t)dc.n + 1, sizeof *got);
        for (int64_t a = 0; pr && a < model->n; a++) got[pr->ints[a]]++;
        int64_t kept = 0;
        for (int64_t j = 0; j < dc.n; j++) kept += got[j] == (dc.count[j] > 0 ? dc.count[j] : 0);
        free(got);
        CHECK_EQ_INT(t, kept, dc.n);
        /* agreement with the truth: detected ↔ true columns within 1 Å */
        double *dlo = malloc((size_t)(dc.n + 1) * sizeof *dlo), *dhi = malloc((size_t)(dc.n + 1) * sizeof *dhi);
        int64_t matched = 0, count_ok = 0;
        for (int64_t j = 0; j < dc.n; j++) {
            int64_t best = -1;
            double bd = 1.0;
            for (int64_t k = 0; k < tc.n; k++) {
                double d = hypot(dc.x[j] - tc.x[k], dc.y[j] - tc.y[k]);
                if (d < bd) bd = d, best = k;
            }
            dlo[j] = best >= 0 ? zlo[best] : INFINITY;
            dhi[j] = best >= 0 ? zhi[best] : INFINITY;
            if (best >= 0) {
                matched++;
                count_ok += dc.count[j] == tc.count[best];
            }
        }
        double frac = 0;
        int mir = 0;
        CHECK_EQ_INT(t, recon_model3d_extent_match(model, dc.n, dlo, dhi, info.c, &frac, &mir, NULL),
                     SD_OK);
        free(dlo);
        free(dhi);
        qsort(tcount, REPS, sizeof(double), cmp_d);
        qsort(trec, REPS, sizeof(double), cmp_d);
        qsort(tmc, REPS, sizeof(double), cmp_d);
        qsort(trelax, REPS, sizeof(double), cmp_d);
        qsort(tsetup, REPS, sizeof(double), cmp_d);
        printf("%s dose %.0e: %lld atoms / %lld true columns; detected %lld (matched %lld), counts "
               "right %lld, atoms %lld; extent match %.3f of detected; E/atom %.4f\n"
               "   time (median of %d): count %.1f ms + reconstruct %.1f ms (setup %.2f, MC %.2f, "
               "relax %.1f) = %.1f ms\n",
               name, dose, (long long)truth->n, (long long)tc.n, (long long)dc.n,
               (long long)matched, (long long)count_ok, (long long)info.natoms, frac,
               info.e_final, REPS, tcount[REPS / 2], trec[REPS / 2], tsetup[REPS / 2],
               tmc[REPS / 2], trelax[REPS / 2], tcount[REPS / 2] + trec[REPS / 2]);
    }
    sd_atoms_destroy(&model);
    recon_columns_free(&dc);
    recon_columns_free(&tc);
    free(img);
    free(zlo);
    free(zhi);
    sd_atoms_destroy(&truth);
}

static void test_pipeline(sdt_t *t)
{
    run_model(t, "01", 3e4);
    run_model(t, "5", 3e4);
    run_model(t, "01", 1e4);
}

SDT_MAIN(SDT_CASE(test_pipeline))
