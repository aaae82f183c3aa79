/* Counting benchmark (issue #5 targets):
 *  - synthetic: the ten paper particles (../shared/data/paper_nps) through the
 *    synthetic microscope at 1024², dx 0.12 Å, s 0.7 Å, 10⁴ and 3·10⁴ e/Å²:
 *    % of true columns counted exactly (targets 97 % and 99.5 %), four noise
 *    seeds, split into clean and composite columns (see sweep()), for the
 *    default (StatSTEM), Poisson-weighted heights, and the known-library mode;
 *  - real: PtIr_obs.f64 against StatSTEM's published counts (target 97 %);
 *  - speed: detection + fit + counting of one 1024² frame (median of 5).
 * Prints the numbers; fails only if a frame cannot be processed. */
#include "recon.h"
#include "sd_atoms.h"
#include "sd_image.h"
#include "sdtest.h"

#include <math.h>

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char *models[10] = {"01", "2", "3", "4", "5", "6", "7", "8", "9", "10"};

enum { MODE_STATSTEM = 0, MODE_POISSON = 1, MODE_KNOWN_LIB = 2 };
static const char *mode_name[3] = {
    "unweighted heights, mixture counting (StatSTEM; the default)",
    "Poisson-weighted heights, mixture counting (--poisson)",
    "known library: Poisson-weighted heights, library counts after a fitted scale (RECON_ORDER_LIBSCALE)"};

/* One sweep of the ten models at both doses with noise seeds seed0 + model.
 * Scoring: the truth is recon_stemsim_truth(…, 1.5 Å): an atom less than 1.5 Å
 * from a column (a displaced surface atom) belongs to it.  A truth column
 * is "composite" when it was merged that way; its image intensity is
 * lib(n) + lib(1) (not lib(n+1): the library is sub-linear), 0.55–0.7 of a
 * library step above lib(n), so an SCS counter gets it right about half of
 * the time by construction; "clean" columns are all others.  A truth column
 * is matched to the nearest counted column within 1 Å.  tot[dose][0..5]
 * accumulate: columns, exact, clean columns, clean exact, composite, composite exact. */
static void sweep(sdt_t *t, int mode, uint64_t seed0, int print, int64_t tot[2][6])
{
    double doses[2] = {1e4, 3e4};
    double *img = malloc(1024 * 1024 * sizeof *img);
    if (print)
        printf("model  cols/raw  | 1e4: found exact %%    | 3e4: found exact %%    | atoms true/counted(1e4)\n");
    for (int m = 0; m < 10; m++) {
        char rel[64], buf[1024];
        snprintf(rel, sizeof rel, "data/paper_nps/%s.data", models[m]);
        sd_atoms_t *a = NULL;
        sd_err_t e;
        CHECK_EQ_INT(t, sd_atoms_read_any(sdt_shared_or_skip(rel, buf, sizeof buf), &a, &e), SD_OK);
        recon_stemsim_opts_t so;
        recon_stemsim_opts_default(&so);
        recon_columns_t phys, tr;
        CHECK_EQ_INT(t, recon_stemsim_columns(a->pos, a->n, &so, &phys, NULL, &e), SD_OK);
        /* truth: columns closer than 1.5 Å (displaced surface atoms) merged */
        CHECK_EQ_INT(t, recon_stemsim_truth(&phys, 1.5, &so, &tr, &e), SD_OK);
        unsigned char *comp = calloc((size_t)tr.n, 1);
        for (int64_t j = 0; j < tr.n; j++) { /* composite: the nearest physical column holds fewer atoms */
            double bd = INFINITY;
            int32_t bc = 0;
            for (int64_t i = 0; i < phys.n; i++) {
                double dd = hypot(phys.x[i] - tr.x[j], phys.y[i] - tr.y[j]);
                if (dd < bd) bd = dd, bc = phys.count[i];
            }
            comp[j] = bc != tr.count[j];
        }
        if (print) printf("%-5s %4lld/%4lld ", models[m], (long long)tr.n, (long long)phys.n);
        int64_t atoms1 = 0;
        for (int d = 0; d < 2; d++) {
            so.dose = doses[d];
            so.seed = seed0 + (uint64_t)m;
            CHECK_EQ_INT(t, recon_stemsim_render(&phys, &so, img, &e), SD_OK);
            recon_count_opts_t o;
            recon_count_opts_default(&o);
            o.lib_scale = RECON_AU_OVER_PT;
            o.fit.poisson_weights = mode == MODE_POISSON;
            if (mode == MODE_KNOWN_LIB) o.rule = RECON_ORDER_LIBSCALE, o.fit.poisson_weights = 1;
            recon_columns_t c;
            recon_count_info_t info;
            int rc = recon_count_image(img, so.size, so.size, so.dx, &o, &c, &info, &e);
            CHECK_MSG(t, rc == SD_OK, "%s: %s", rel, e.msg);
            if (rc) continue;
            if (d == 0) atoms1 = info.atoms;
            int64_t eq = 0, found = 0;
            for (int64_t j = 0; j < tr.n; j++) {
                double bd = 1.0;
                int64_t bi = -1;
                for (int64_t i = 0; i < c.n; i++) {
                    double dd = hypot(c.x[i] - tr.x[j], c.y[i] - tr.y[j]);
                    if (dd < bd) bd = dd, bi = i;
                }
                int ok = bi >= 0 && c.count[bi] == tr.count[j];
                if (bi >= 0) found++, eq += ok;
                tot[d][comp[j] ? 4 : 2]++, tot[d][comp[j] ? 5 : 3] += ok;
            }
            tot[d][0] += tr.n, tot[d][1] += eq;
            if (print) printf("| %5lld %5lld %6.2f %%   ", (long long)found, (long long)eq, 100.0 * (double)eq / (double)tr.n);
            recon_columns_free(&c);
        }
        if (print) printf("| %lld/%lld\n", (long long)a->n, (long long)atoms1);
        free(comp);
        recon_columns_free(&tr), recon_columns_free(&phys);
        sd_atoms_destroy(&a);
    }
    free(img);
}

static void synthetic(sdt_t *t, int mode)
{
    printf("--- synthetic, %s ---\n", mode_name[mode]);
    enum { NSEED = 4 };
    int64_t all[2][6] = {{0}};
    for (int s = 0; s < NSEED; s++) {
        int64_t tot[2][6] = {{0}};
        sweep(t, mode, 1000 * (uint64_t)(s + 1), s == 0, tot);
        for (int d = 0; d < 2; d++) {
            printf("noise seeds %d+model, %g e/Å²: %lld/%lld exact = %.2f %% (target %s); clean %.2f %% of %lld, composite %.1f %% of %lld\n",
                   1000 * (s + 1), d == 0 ? 1e4 : 3e4, (long long)tot[d][1], (long long)tot[d][0],
                   100.0 * (double)tot[d][1] / (double)tot[d][0], d == 0 ? "97 %" : "99.5 %",
                   100.0 * (double)tot[d][3] / (double)tot[d][2], (long long)tot[d][2],
                   100.0 * (double)tot[d][5] / (double)tot[d][4], (long long)tot[d][4]);
            for (int q = 0; q < 6; q++) all[d][q] += tot[d][q];
        }
    }
    for (int d = 0; d < 2; d++)
        printf("all ten, %d noise seeds, %g e/Å²: %.2f %% exact (target %s); clean columns %.2f %%, composite %.1f %%\n", NSEED,
               d == 0 ? 1e4 : 3e4, 100.0 * (double)all[d][1] / (double)all[d][0], d == 0 ? "97 %" : "99.5 %",
               100.0 * (double)all[d][3] / (double)all[d][2], 100.0 * (double)all[d][5] / (double)all[d][4]);
}

static void bench_synthetic(sdt_t *t) { synthetic(t, MODE_STATSTEM); }
static void bench_synthetic_poisson(sdt_t *t) { synthetic(t, MODE_POISSON); }
static void bench_synthetic_known_library(sdt_t *t) { synthetic(t, MODE_KNOWN_LIB); }

static void ptir(sdt_t *t, int known_lib)
{
    char buf[1024];
    sd_image_t img;
    sd_err_t e;
    CHECK_EQ_INT(t, sd_image_read(sdt_shared_or_skip("oracle/stem/PtIr_obs.f64", buf, sizeof buf), &img, &e), SD_OK);
    recon_count_opts_t o;
    recon_count_opts_default(&o);
    if (known_lib) o.rule = RECON_ORDER_LIBSCALE, o.fit.poisson_weights = 1;
    recon_columns_t c;
    recon_count_info_t info;
    CHECK_EQ_INT(t, recon_count_image(img.data, img.height, img.width, img.dx > 0 ? img.dx : 0.1211, &o, &c, &info, &e), SD_OK);
    FILE *f = fopen(sdt_shared_or_skip("oracle/stem/PtIr_columns.csv", buf, sizeof buf), "r");
    char line[512];
    int n = 0, found = 0, eq = 0;
    if (f && fgets(line, sizeof line, f))
        while (fgets(line, sizeof line, f)) {
            double x, y, eta, rho, scs;
            int cnt;
            if (sscanf(line, "%lf,%lf,%lf,%lf,%lf,%d", &x, &y, &eta, &rho, &scs, &cnt) != 6) continue;
            n++;
            double bd = 1.0;
            int64_t bi = -1;
            for (int64_t i = 0; i < c.n; i++) {
                double dd = hypot(c.x[i] - x, c.y[i] - y);
                if (dd < bd) bd = dd, bi = i;
            }
            if (bi >= 0) found++, eq += c.count[bi] == cnt;
        }
    if (f) fclose(f);
    printf("PtIr (%s): %lld columns found (StatSTEM 135), %d matched, %d equal = %.1f %% (target 97 %%), atoms %lld (788), k %d\n",
           known_lib ? "known-library mode, for synthetic frames: StatSTEM counts by mixture" : "default", (long long)c.n, found, eq, 100.0 * eq / (n ? n : 1), (long long)info.atoms, info.k);
    recon_columns_free(&c);
    sd_image_free(&img);
}

static void bench_ptir(sdt_t *t) { ptir(t, 0), ptir(t, 1); }

static void bench_speed(sdt_t *t)
{
    char buf[1024];
    sd_atoms_t *a = NULL;
    sd_err_t e;
    CHECK_EQ_INT(t, sd_atoms_read_any(sdt_shared_or_skip("data/paper_nps/01.data", buf, sizeof buf), &a, &e), SD_OK);
    recon_stemsim_opts_t so;
    recon_stemsim_opts_default(&so);
    recon_columns_t tr;
    CHECK_EQ_INT(t, recon_stemsim_columns(a->pos, a->n, &so, &tr, NULL, &e), SD_OK);
    double *img = malloc(1024 * 1024 * sizeof *img);
    CHECK_EQ_INT(t, recon_stemsim_render(&tr, &so, img, &e), SD_OK);
    for (int mode = 0; mode < 2; mode++) {
    recon_count_opts_t o;
    recon_count_opts_default(&o);
    o.lib_scale = RECON_AU_OVER_PT;
    if (mode) o.rule = RECON_ORDER_LIBSCALE, o.fit.poisson_weights = 1;
    enum { R = 5 };
    double td[R], tf[R], tc[R], tt[R];
    for (int r = 0; r < R; r++) {
        recon_columns_t c;
        recon_count_info_t info;
        CHECK_EQ_INT(t, recon_count_image(img, 1024, 1024, so.dx, &o, &c, &info, &e), SD_OK);
        td[r] = info.t_detect, tf[r] = info.t_fit, tc[r] = info.t_count;
        tt[r] = td[r] + tf[r] + tc[r];
        recon_columns_free(&c);
    }
    qsort(td, R, sizeof *td, cmpd), qsort(tf, R, sizeof *tf, cmpd), qsort(tc, R, sizeof *tc, cmpd), qsort(tt, R, sizeof *tt, cmpd);
    printf("%s: 1024² frame, %lld atoms, %lld columns: median detect %.1f ms, fit %.1f ms, count %.1f ms, total %.1f ms "
           "(min %.1f ms; one core)\n",
           mode ? "known library" : "default", (long long)a->n, (long long)tr.n, 1e3 * td[R / 2], 1e3 * tf[R / 2], 1e3 * tc[R / 2], 1e3 * tt[R / 2], 1e3 * tt[0]);
    }
    free(img);
    recon_columns_free(&tr);
    sd_atoms_destroy(&a);
}

SDT_MAIN(SDT_CASE(bench_speed), SDT_CASE(bench_ptir), SDT_CASE(bench_synthetic), SDT_CASE(bench_synthetic_poisson),
         SDT_CASE(bench_synthetic_known_library))
