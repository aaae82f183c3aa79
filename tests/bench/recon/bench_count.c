/* Counting benchmark (issue #5 targets):
 *  - synthetic: the ten paper particles (../shared/data/paper_nps) through the
 *    synthetic microscope at 1024², dx 0.12 Å, s 0.7 Å, 10⁴ and 3·10⁴ e/Å²:
 *    % of true columns counted exactly (targets 97 % and 99.5 %), ten noise
 *    seeds, for the default (StatSTEM), Poisson-weighted heights, and the
 *    known-library mode; the information limit of those frames (true
 *    positions given; Cramér–Rao bound); the --split-columns variant;
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

enum { MODE_STATSTEM = 0, MODE_POISSON = 1, MODE_KNOWN_LIB = 2, MODE_STATSTEM_PRIOR = 3, MODE_KNOWN_LIB_PRIOR = 4 };
static const char *mode_name[5] = {
    "unweighted heights, mixture counting (StatSTEM; the default)",
    "Poisson-weighted heights, mixture counting (--poisson)",
    "known library: Poisson-weighted heights, library counts after a fitted scale (RECON_ORDER_LIBSCALE)",
    "StatSTEM mixture + neighbour prior τ = 0.4 (--neighbour-prior 0.4)",
    "known library + neighbour prior τ = 0.4"};

static void set_mode(recon_count_opts_t *o, int mode)
{
    recon_count_opts_default(o);
    o->lib_scale = RECON_AU_OVER_PT;
    o->fit.poisson_weights = mode == MODE_POISSON;
    if (mode == MODE_KNOWN_LIB || mode == MODE_KNOWN_LIB_PRIOR) o->rule = RECON_ORDER_LIBSCALE, o->fit.poisson_weights = 1;
    if (mode == MODE_STATSTEM_PRIOR || mode == MODE_KNOWN_LIB_PRIOR) o->neighbour_prior = 0.4;
}

/* Truth columns of model m: the resolved columns (groups closer than 1.5 Å
 * merged, as stem-sim draws them by default) and the projected atom groups
 * (drawn separately with --split-columns). */
static int load_truth(sdt_t *t, int m, recon_stemsim_opts_t *so, recon_columns_t *groups, recon_columns_t *tr)
{
    char rel[64], buf[1024];
    snprintf(rel, sizeof rel, "data/paper_nps/%s.data", models[m]);
    sd_atoms_t *a = NULL;
    sd_err_t e;
    int rc = sd_atoms_read_any(sdt_shared_or_skip(rel, buf, sizeof buf), &a, &e);
    CHECK_EQ_INT(t, rc, SD_OK);
    if (rc) return rc;
    recon_stemsim_opts_default(so);
    rc = recon_stemsim_columns(a->pos, a->n, so, groups, NULL, &e);
    if (!rc) rc = recon_stemsim_truth(groups, 1.5, so, tr, &e);
    CHECK_MSG(t, rc == SD_OK, "%s: %s", rel, e.msg);
    sd_atoms_destroy(&a);
    return rc;
}

/* Exact counts of truth columns: each is matched to the nearest counted
 * column within 1 Å; a missing column counts as wrong. */
static int64_t score(const recon_columns_t *tr, const recon_columns_t *c, const unsigned char *sel, int64_t *nsel)
{
    int64_t eq = 0;
    for (int64_t j = 0; j < tr->n; j++) {
        if (sel && !sel[j]) continue;
        if (nsel) (*nsel)++;
        double bd = 1.0;
        int64_t bi = -1;
        for (int64_t i = 0; i < c->n; i++) {
            double dd = hypot(c->x[i] - tr->x[j], c->y[i] - tr->y[j]);
            if (dd < bd) bd = dd, bi = i;
        }
        eq += bi >= 0 && c->count[bi] == tr->count[j];
    }
    return eq;
}

enum { NSEED = 10 };
static const double doses[2] = {1e4, 3e4};
static const char *target[2] = {"97 %", "99.5 %"};

/* The ten models × NSEED noise seeds (seed 1000·(s+1) + model) at both doses,
 * frames drawn from the resolved columns; mode as above. */
static void synthetic(sdt_t *t, int mode)
{
    printf("--- synthetic (stem-sim default: resolved columns), %s ---\n", mode_name[mode]);
    double *img = malloc(1024 * 1024 * sizeof *img);
    int64_t tot[2] = {0}, eq[2] = {0}, per[2][NSEED][2] = {{{0}}};
    for (int m = 0; m < 10; m++) {
        recon_stemsim_opts_t so;
        recon_columns_t groups, tr;
        if (load_truth(t, m, &so, &groups, &tr)) continue;
        for (int d = 0; d < 2; d++)
            for (int s = 0; s < NSEED; s++) {
                so.dose = doses[d];
                so.seed = 1000 * (uint64_t)(s + 1) + (uint64_t)m;
                sd_err_t e;
                CHECK_EQ_INT(t, recon_stemsim_render(&tr, &so, img, &e), SD_OK);
                recon_count_opts_t o;
                set_mode(&o, mode);
                recon_columns_t c;
                int rc = recon_count_image(img, so.size, so.size, so.dx, &o, &c, NULL, &e);
                CHECK_MSG(t, rc == SD_OK, "model %s: %s", models[m], e.msg);
                if (rc) continue;
                int64_t k = score(&tr, &c, NULL, NULL);
                eq[d] += k, tot[d] += tr.n, per[d][s][0] += k, per[d][s][1] += tr.n;
                recon_columns_free(&c);
            }
        recon_columns_free(&groups), recon_columns_free(&tr);
    }
    for (int d = 0; d < 2; d++) {
        double lo = 100, hi = 0;
        for (int s = 0; s < NSEED; s++) {
            double f = 100.0 * (double)per[d][s][0] / (double)per[d][s][1];
            lo = fmin(lo, f), hi = fmax(hi, f);
        }
        double f = (double)eq[d] / (double)tot[d];
        printf("%g e/Å²: %lld/%lld exact = %.2f %% ± %.2f (binomial 1σ; target %s); one seed's ten frames: %.2f … %.2f %%\n",
               doses[d], (long long)eq[d], (long long)tot[d], 100 * f, 100 * sqrt(f * (1 - f) / (double)tot[d]),
               target[d], lo, hi);
    }
    free(img);
}

/* What the frames allow: (a) counting with the true positions and width
 * given (heights by Poisson ML, the known library; the setting of the
 * oracle's 97.7 % / 100 % figures); (b) the accuracy a library counter
 * reaches with Cramér–Rao-limited SCS, positions known and fitted. */
static void bench_information_limit(sdt_t *t)
{
    printf("--- information limit of the synthetic frames (resolved columns) ---\n");
    double *img = malloc(1024 * 1024 * sizeof *img);
    double lib_au[RECON_LIB_PT_N];
    int nlib;
    recon_stemsim_opts_t so0;
    recon_stemsim_opts_default(&so0);
    const double *lib = recon_stemsim_library(&so0, lib_au, &nlib);
    int64_t tot[2] = {0}, eq[2] = {0};
    double pk[2] = {0}, pf[2] = {0};
    for (int m = 0; m < 10; m++) {
        recon_stemsim_opts_t so;
        recon_columns_t groups, tr;
        if (load_truth(t, m, &so, &groups, &tr)) continue;
        double *sk = malloc((size_t)tr.n * sizeof *sk), *sf = malloc((size_t)tr.n * sizeof *sf);
        double *xy = malloc((size_t)tr.n * 2 * sizeof *xy);
        for (int d = 0; d < 2; d++) {
            sd_err_t e;
            CHECK_EQ_INT(t, recon_scs_crb(&tr, so.width, 0, so.dx, doses[d], 1, sk, &e), SD_OK);
            CHECK_EQ_INT(t, recon_scs_crb(&tr, so.width, 0, so.dx, doses[d], 0, sf, &e), SD_OK);
            for (int64_t j = 0; j < tr.n; j++) {
                pk[d] += recon_lib_p_correct(lib, nlib, tr.count[j], sk[j]);
                pf[d] += recon_lib_p_correct(lib, nlib, tr.count[j], sf[j]);
            }
            for (int s = 0; s < NSEED; s++) {
                so.dose = doses[d];
                so.seed = 1000 * (uint64_t)(s + 1) + (uint64_t)m;
                CHECK_EQ_INT(t, recon_stemsim_render(&tr, &so, img, &e), SD_OK);
                recon_columns_t c;
                CHECK_EQ_INT(t, recon_columns_alloc(&c, tr.n, &e), SD_OK);
                for (int64_t j = 0; j < tr.n; j++) xy[2 * j] = tr.x[j], xy[2 * j + 1] = tr.y[j];
                recon_count_opts_t o;
                recon_count_opts_default(&o);
                o.lib_scale = RECON_AU_OVER_PT, o.rule = RECON_ORDER_LIBSCALE;
                o.fit.poisson_weights = o.fit.fix_positions = o.fit.fix_width = 1, o.fit.rho0 = so.width;
                double rho, zeta;
                CHECK_EQ_INT(t, recon_fit_gaussians(img, so.size, so.size, so.dx, &o.fit, xy, tr.n, c.eta, &rho, &zeta, &e), SD_OK);
                c.n = tr.n;
                for (int64_t j = 0; j < tr.n; j++)
                    c.x[j] = xy[2 * j], c.y[j] = xy[2 * j + 1], c.rho[j] = rho, c.scs[j] = 2 * M_PI * c.eta[j] * rho * rho;
                CHECK_EQ_INT(t, recon_count_scs(&c, &o, NULL, &e), SD_OK);
                eq[d] += score(&tr, &c, NULL, NULL), tot[d] += tr.n;
                recon_columns_free(&c);
            }
        }
        free(sk), free(sf), free(xy);
        recon_columns_free(&groups), recon_columns_free(&tr);
    }
    for (int d = 0; d < 2; d++) {
        int64_t ncol = tot[d] / NSEED;
        printf("%g e/Å²: true positions and width given, library counts: %.2f %% exact; Cramér–Rao-limited library "
               "counter: %.2f %% (positions known), %.2f %% (positions fitted)\n",
               doses[d], 100.0 * (double)eq[d] / (double)tot[d], 100 * pk[d] / (double)ncol, 100 * pf[d] / (double)ncol);
    }
    free(img);
}

/* The harder, physical variant (--split-columns): each projected atom group
 * drawn where it is; the truth stays resolved.  A truth column is
 * "composite" when it took in a displaced atom (< 1.5 Å away): the image
 * then holds lib(n) + lib(1) beside each other, not lib(n+1), and an SCS
 * counter gets it right about half of the time by construction. */
static void bench_synthetic_split(sdt_t *t)
{
    printf("--- synthetic, --split-columns (atom groups drawn apart), StatSTEM default, 4 seeds ---\n");
    double *img = malloc(1024 * 1024 * sizeof *img);
    int64_t all[2][4] = {{0}}; /* clean n, clean exact, composite n, composite exact */
    for (int m = 0; m < 10; m++) {
        recon_stemsim_opts_t so;
        recon_columns_t groups, tr;
        if (load_truth(t, m, &so, &groups, &tr)) continue;
        unsigned char *comp = calloc((size_t)tr.n, 1), *clean = calloc((size_t)tr.n, 1);
        for (int64_t j = 0; j < tr.n; j++) { /* composite: the nearest group holds fewer atoms */
            double bd = INFINITY;
            int32_t bc = 0;
            for (int64_t i = 0; i < groups.n; i++) {
                double dd = hypot(groups.x[i] - tr.x[j], groups.y[i] - tr.y[j]);
                if (dd < bd) bd = dd, bc = groups.count[i];
            }
            comp[j] = bc != tr.count[j], clean[j] = !comp[j];
        }
        for (int d = 0; d < 2; d++)
            for (int s = 0; s < 4; s++) {
                so.dose = doses[d];
                so.seed = 1000 * (uint64_t)(s + 1) + (uint64_t)m;
                sd_err_t e;
                CHECK_EQ_INT(t, recon_stemsim_render(&groups, &so, img, &e), SD_OK);
                recon_count_opts_t o;
                set_mode(&o, MODE_STATSTEM);
                recon_columns_t c;
                if (recon_count_image(img, so.size, so.size, so.dx, &o, &c, NULL, &e)) continue;
                all[d][1] += score(&tr, &c, clean, &all[d][0]);
                all[d][3] += score(&tr, &c, comp, &all[d][2]);
                recon_columns_free(&c);
            }
        free(comp), free(clean);
        recon_columns_free(&groups), recon_columns_free(&tr);
    }
    for (int d = 0; d < 2; d++)
        printf("%g e/Å²: %.2f %% exact; clean columns %.2f %% of %lld, composite %.1f %% of %lld\n", doses[d],
               100.0 * (double)(all[d][1] + all[d][3]) / (double)(all[d][0] + all[d][2]),
               100.0 * (double)all[d][1] / (double)all[d][0], (long long)all[d][0],
               100.0 * (double)all[d][3] / (double)all[d][2], (long long)all[d][2]);
    free(img);
}

/* Scan drift of (1.5, −1.0) Å over each frame (a shear and a 1 % stretch of
 * the lattice, and SCS up by the stretch): the StatSTEM default, 4 seeds; the
 * truth is moved where the drifted frame shows it. */
static void bench_synthetic_drift(sdt_t *t)
{
    printf("--- synthetic with scan drift (1.5, -1.0) Å per frame, StatSTEM default, 4 seeds ---\n");
    double *img = malloc(1024 * 1024 * sizeof *img);
    int64_t tot[2] = {0}, eq[2] = {0};
    for (int m = 0; m < 10; m++) {
        recon_stemsim_opts_t so;
        recon_columns_t groups, tr;
        if (load_truth(t, m, &so, &groups, &tr)) continue;
        so.drift_x = 1.5, so.drift_y = -1.0;
        recon_columns_t moved;
        sd_err_t e;
        CHECK_EQ_INT(t, recon_columns_alloc(&moved, tr.n, &e), SD_OK);
        moved.n = tr.n;
        double vy = so.drift_y / (double)so.size;
        for (int64_t j = 0; j < tr.n; j++) {
            double r = tr.y[j] / (so.dx - vy);
            moved.x[j] = tr.x[j] + so.drift_x * r / (double)so.size, moved.y[j] = r * so.dx, moved.count[j] = tr.count[j];
        }
        for (int d = 0; d < 2; d++)
            for (int s = 0; s < 4; s++) {
                so.dose = doses[d];
                so.seed = 1000 * (uint64_t)(s + 1) + (uint64_t)m;
                CHECK_EQ_INT(t, recon_stemsim_render(&tr, &so, img, &e), SD_OK);
                recon_count_opts_t o;
                set_mode(&o, MODE_STATSTEM);
                recon_columns_t c;
                if (recon_count_image(img, so.size, so.size, so.dx, &o, &c, NULL, &e)) continue;
                eq[d] += score(&moved, &c, NULL, NULL), tot[d] += tr.n;
                recon_columns_free(&c);
            }
        recon_columns_free(&moved), recon_columns_free(&groups), recon_columns_free(&tr);
    }
    for (int d = 0; d < 2; d++)
        printf("%g e/Å²: %.2f %% exact of %lld\n", doses[d], 100.0 * (double)eq[d] / (double)tot[d], (long long)tot[d]);
    free(img);
}

static void bench_synthetic(sdt_t *t) { synthetic(t, MODE_STATSTEM); }
static void bench_synthetic_poisson(sdt_t *t) { synthetic(t, MODE_POISSON); }
static void bench_synthetic_known_library(sdt_t *t) { synthetic(t, MODE_KNOWN_LIB); }
static void bench_synthetic_prior(sdt_t *t) { synthetic(t, MODE_STATSTEM_PRIOR); }
static void bench_synthetic_known_library_prior(sdt_t *t) { synthetic(t, MODE_KNOWN_LIB_PRIOR); }

static void ptir(sdt_t *t, int known_lib, double prior)
{
    char buf[1024];
    sd_image_t img;
    sd_err_t e;
    CHECK_EQ_INT(t, sd_image_read(sdt_shared_or_skip("oracle/stem/PtIr_obs.f64", buf, sizeof buf), &img, &e), SD_OK);
    recon_count_opts_t o;
    recon_count_opts_default(&o);
    if (known_lib) o.rule = RECON_ORDER_LIBSCALE, o.fit.poisson_weights = 1;
    o.neighbour_prior = prior;
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
    printf("PtIr (%s%s): %lld columns found (StatSTEM 135), %d matched, %d equal = %.1f %% (target 97 %%), atoms %lld (788), k %d\n",
           known_lib ? "known-library mode, for synthetic frames: StatSTEM counts by mixture" : "default",
           prior > 0 ? ", neighbour prior 0.4: counts depart from StatSTEM's independent ones by design" : "", (long long)c.n, found, eq, 100.0 * eq / (n ? n : 1), (long long)info.atoms, info.k);
    recon_columns_free(&c);
    sd_image_free(&img);
}

static void bench_ptir(sdt_t *t) { ptir(t, 0, 0), ptir(t, 1, 0), ptir(t, 0, 0.4); }

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
         SDT_CASE(bench_synthetic_known_library), SDT_CASE(bench_information_limit), SDT_CASE(bench_synthetic_split),
         SDT_CASE(bench_synthetic_drift), SDT_CASE(bench_synthetic_prior), SDT_CASE(bench_synthetic_known_library_prior))
