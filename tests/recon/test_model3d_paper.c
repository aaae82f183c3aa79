/* 3D reconstruction of the paper's ten models from their own true columns
 * (projection along x, the beam of ../shared/data/paper_nps): every count
 * kept, z-extent agreement and energy per atom against the true model's
 * minimised energy, printed for the report. */
#include "recon.h"
#include "sd_atoms.h"
#include "sdtest.h"
#include "sim.h"

static double min_epa(const sim_potential_t *p, int64_t n, const double *pos0)
{
    double *pos = malloc((size_t)n * 3 * sizeof *pos);
    memcpy(pos, pos0, (size_t)n * 3 * sizeof *pos);
    sim_min_opts_t mo;
    sim_min_opts_default(&mo);
    mo.maxiter = 5000;
    mo.maxeval = 50000;
    sim_min_result_t mr;
    int rc = sim_minimize(p, n, pos, &mo, &mr, NULL);
    free(pos);
    return rc < 0 ? NAN : mr.energy / (double)n;
}

static void test_paper_models(sdt_t *t)
{
    static const char *names[] = {"01", "2", "3", "4", "5", "6", "7", "8", "9", "10"};
    char path[1024];
    sim_potential_t *p = sim_potential_new("Au", NULL);
    CHECK(t, p != NULL);
    if (!p) return;
    double sum_frac = 0, sum_de = 0, sum_ms = 0;
    int nmod = 0;
    for (int m = 0; m < 10; m++) {
        char rel[64];
        snprintf(rel, sizeof rel, "data/paper_nps/%s.data", names[m]);
        sdt_shared_or_skip(rel, path, sizeof path);
        sd_atoms_t *truth = NULL;
        sd_err_t e;
        int rc = sd_atoms_read_any(path, &truth, &e);
        CHECK_MSG(t, rc == SD_OK, "%s: %s", path, e.msg);
        if (rc) continue;
        recon_columns_t cols;
        double *zlo = NULL, *zhi = NULL;
        const double ax[3] = {1, 0, 0};
        CHECK_EQ_INT(t, recon_columns_from_model(truth->n, truth->pos, ax, 1, 0, &cols, NULL, &zlo,
                                                 &zhi, NULL, NULL),
                     SD_OK);
        recon_model3d_opts_t o;
        recon_model3d_opts_default(&o);
        sd_atoms_t *model = NULL;
        recon_model3d_info_t info;
        rc = recon_model3d_build(&cols, &o, &model, &info, &e);
        CHECK_MSG(t, rc == SD_OK, "%s: %s", path, e.msg);
        if (rc == SD_OK) {
            CHECK_EQ_INT(t, model->n, truth->n);
            /* every column's count kept */
            const sd_prop_t *pr = sd_atoms_get_prop(model, "column_id");
            int32_t *got = calloc((size_t)cols.n, sizeof *got);
            for (int64_t a = 0; a < model->n; a++) got[pr->ints[a]]++;
            int64_t kept = 0;
            for (int64_t j = 0; j < cols.n; j++) kept += got[j] == cols.count[j];
            free(got);
            CHECK_EQ_INT(t, kept, cols.n);
            double frac;
            int mir;
            CHECK_EQ_INT(t, recon_model3d_extent_match(model, cols.n, zlo, zhi, info.c, &frac,
                                                       &mir, NULL),
                         SD_OK);
            double et = min_epa(p, truth->n, truth->pos), er = min_epa(p, model->n, model->pos);
            CHECK(t, isfinite(et) && isfinite(er));
            /* a reconstruction keeps the particle together: within 0.1 eV/atom
             * of the true minimum (a scattered model is ~0.5 eV/atom higher) */
            CHECK_MSG(t, er - et < 0.1, "%s: E/atom %.4f vs truth %.4f", names[m], er, et);
            printf("%-3s atoms %4lld cols %3lld  extent %.3f%s  E/atom truth-min %.5f  rec-min "
                   "%.5f (pipeline %.5f, start %.5f)  dE %+.4f  chi %.3f  t %.1f ms (mc %.2f, "
                   "relax %.1f)\n",
                   names[m], (long long)truth->n, (long long)cols.n, frac, mir ? "m" : " ", et,
                   er, info.e_final, info.e_start, er - et, info.chi, 1e3 * info.t_total_s,
                   1e3 * info.t_mc_s, 1e3 * info.t_relax_s);
            sum_frac += frac;
            sum_de += er - et;
            sum_ms += 1e3 * info.t_total_s;
            nmod++;
        }
        sd_atoms_destroy(&model);
        sd_atoms_destroy(&truth);
        recon_columns_free(&cols);
        free(zlo);
        free(zhi);
    }
    if (nmod)
        printf("mean over %d models: extent match %.3f, E/atom rec - truth %+.4f eV, "
               "reconstruct %.1f ms\n",
               nmod, sum_frac / nmod, sum_de / nmod, sum_ms / nmod);
    sim_potential_destroy(&p);
}

SDT_MAIN(SDT_CASE(test_paper_models))
