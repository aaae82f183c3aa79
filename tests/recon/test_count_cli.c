/* `stemdyn stem-sim` and `stemdyn count` end to end, and their errors. */
#include "recon.h"
#include "sd_image.h"
#include "sdtest.h"

#include <math.h>
#include <string.h>

#include <stdint.h>

static int run(const char *args, const char *out)
{
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "%s %s > %s 2>&1", STEMDYN_BIN, args, out);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *slurp(const char *path)
{
    static char buf[1 << 23]; /* the SVG holds a 200² grid of cells */
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
    return buf;
}

static void test_sim_then_count(sdt_t *t)
{
    char model[1024], args[4096];
    sdt_shared_or_skip("data/paper_nps/5.data", model, sizeof model);
    snprintf(args, sizeof args, "stem-sim %s -o cli_f5.tif --size 512 --dose 3e4 --seed 4 --truth cli_t5.csv", model);
    CHECK_EQ_INT(t, run(args, "cli_sim.txt"), 0);
    CHECK_STR_CONTAINS(t, slurp("cli_sim.txt"), "1047 atoms in 116 columns");
    CHECK_EQ_INT(t, run("count cli_f5.tif -o cli_c5.csv --svg cli_o5.svg --lib-scale 1.0219", "cli_count.txt"), 0);
    CHECK_STR_CONTAINS(t, slurp("cli_count.txt"), "columns 116");
    recon_columns_t tr, c;
    sd_err_t e;
    CHECK_EQ_INT(t, recon_columns_read_csv("cli_t5.csv", &tr, &e), SD_OK);
    CHECK_EQ_INT(t, recon_columns_read_csv("cli_c5.csv", &c, &e), SD_OK);
    int64_t eq = 0, atoms = 0;
    for (int64_t j = 0; j < tr.n; j++) {
        atoms += tr.count[j];
        for (int64_t i = 0; i < c.n; i++)
            if (hypot(c.x[i] - tr.x[j], c.y[i] - tr.y[j]) < 1.0) eq += c.count[i] == tr.count[j];
    }
    CHECK_EQ_INT(t, atoms, 1047);
    CHECK_MSG(t, eq >= 115, "%lld of %lld columns exact", (long long)eq, (long long)tr.n);
    for (int64_t i = 0; i < c.n; i++) CHECK(t, c.prob[i] > 0 && c.prob[i] <= 1 && c.rho[i] > 0.6 && c.rho[i] < 0.8);
    CHECK_STR_CONTAINS(t, slurp("cli_o5.svg"), "<circle");
    recon_columns_free(&tr), recon_columns_free(&c);
}

static void test_cli_errors(sdt_t *t)
{
    CHECK_EQ_INT(t, run("count --help", "cli_h.txt"), 0);
    CHECK_STR_CONTAINS(t, slurp("cli_h.txt"), "usage: stemdyn count");
    CHECK_EQ_INT(t, run("stem-sim --help", "cli_h.txt"), 0);
    CHECK_EQ_INT(t, run("count", "cli_e.txt"), 2);
    CHECK_EQ_INT(t, run("count cli_missing.tif", "cli_e.txt"), 1);
    CHECK_STR_CONTAINS(t, slurp("cli_e.txt"), "stemdyn count:");
    CHECK_EQ_INT(t, run("count x.tif --order banana", "cli_e.txt"), 2);
    CHECK_EQ_INT(t, run("stem-sim x.data", "cli_e.txt"), 2); /* -o missing */
    CHECK_EQ_INT(t, run("stem-sim x.data -o y.tif --zone 111", "cli_e.txt"), 2);
    CHECK_STR_CONTAINS(t, slurp("cli_e.txt"), "--zone");
    CHECK_EQ_INT(t, run("stem-sim x.data -o y.tif --drift 1", "cli_e.txt"), 2);
    CHECK_STR_CONTAINS(t, slurp("cli_e.txt"), "--drift wants DX,DY");
    CHECK_EQ_INT(t, run("stem-sim x.data -o y.tif --drift 1,nan", "cli_e.txt"), 2);
    /* NaN pixel and wrong dtype in a raw+JSON image */
    FILE *f = fopen("cli_nan.f64", "wb");
    double px[64 * 64];
    for (int i = 0; i < 64 * 64; i++) px[i] = 0.01 * (i % 7);
    px[100] = NAN;
    fwrite(px, sizeof px[0], 64 * 64, f);
    fclose(f);
    f = fopen("cli_nan.f64.json", "w");
    fprintf(f, "{\"shape\": [64, 64], \"dtype\": \"float64\", \"dx_angstrom\": 0.12}\n");
    fclose(f);
    CHECK_EQ_INT(t, run("count cli_nan.f64", "cli_e.txt"), 1);
    CHECK_STR_CONTAINS(t, slurp("cli_e.txt"), "stemdyn count:");
    f = fopen("cli_nan.f64.json", "w");
    fprintf(f, "{\"shape\": [64, 64], \"dtype\": \"complex128\", \"dx_angstrom\": 0.12}\n");
    fclose(f);
    CHECK_EQ_INT(t, run("count cli_nan.f64", "cli_e.txt"), 1);
    /* an empty frame (no particle): empty result, exit 0 */
    f = fopen("cli_zero.f64", "wb");
    for (int i = 0; i < 64 * 64; i++) px[i] = 0;
    fwrite(px, sizeof px[0], 64 * 64, f);
    fclose(f);
    f = fopen("cli_zero.f64.json", "w");
    fprintf(f, "{\"shape\": [64, 64], \"dtype\": \"float64\", \"dx_angstrom\": 0.12}\n");
    fclose(f);
    CHECK_EQ_INT(t, run("count cli_zero.f64 -o cli_zero.csv", "cli_e.txt"), 0);
    CHECK_STR_CONTAINS(t, slurp("cli_e.txt"), "columns 0, atoms 0");
}

/* Model 8 has 38 atoms off the lattice columns.  By default each resolved
 * column is one Gaussian holding the library SCS of its total count, so the
 * noiseless frame's flux Σ I·dx² is the truth's Σ SCS; --split-columns draws
 * the atom groups where they are, lib(n) + lib(1) beside a column, and the
 * flux is that of the groups (larger: the library is sub-linear). */
static double flux(sdt_t *t, const char *path)
{
    sd_image_t img;
    sd_err_t e;
    CHECK_EQ_INT(t, sd_image_read(path, &img, &e), SD_OK);
    double s = 0;
    for (int64_t i = 0; i < img.width * img.height; i++) s += img.data[i];
    s *= 0.12 * 0.12;
    sd_image_free(&img);
    return s;
}

static void test_sim_resolved_and_split(sdt_t *t)
{
    char model[1024], args[4096];
    sdt_shared_or_skip("data/paper_nps/8.data", model, sizeof model);
    snprintf(args, sizeof args, "stem-sim %s -o cli_r8.tif --size 512 --dose 0 --truth cli_t8.csv", model);
    CHECK_EQ_INT(t, run(args, "cli_sim.txt"), 0);
    CHECK_STR_CONTAINS(t, slurp("cli_sim.txt"), "1030 atoms in 117 columns (thickest 13; 155 projected atom groups");
    snprintf(args, sizeof args, "stem-sim %s -o cli_s8.tif --size 512 --dose 0 --split-columns", model);
    CHECK_EQ_INT(t, run(args, "cli_sim.txt"), 0);
    CHECK_STR_CONTAINS(t, slurp("cli_sim.txt"), "image drawn from the groups");
    recon_columns_t tr;
    sd_err_t e;
    CHECK_EQ_INT(t, recon_columns_read_csv("cli_t8.csv", &tr, &e), SD_OK);
    double want = 0;
    int64_t atoms = 0;
    for (int64_t j = 0; j < tr.n; j++) want += tr.scs[j], atoms += tr.count[j];
    CHECK_EQ_INT(t, tr.n, 117);
    CHECK_EQ_INT(t, atoms, 1030);
    double fr = flux(t, "cli_r8.tif"), fs = flux(t, "cli_s8.tif");
    CHECK_MSG(t, fabs(fr - want) < 1e-5 * want, "resolved flux %.6f, truth Σ SCS %.6f", fr, want);
    /* 38 extra groups: each adds lib(1) − (lib(n+1) − lib(n)) ≈ 0.02 − 0.025 + … */
    CHECK_MSG(t, fabs(fs - fr) > 1e-3 * want, "split flux %.6f equals the resolved %.6f", fs, fr);
    recon_columns_free(&tr);
    /* the information limit of the frame: fitting positions costs precision */
    snprintf(args, sizeof args, "stem-sim %s -o cli_r8.tif --size 512 --dose 1e4 --crb", model);
    CHECK_EQ_INT(t, run(args, "cli_sim.txt"), 0);
    const char *p = strstr(slurp("cli_sim.txt"), "reachable by a library counter: ");
    double known = 0, fitted = 0;
    CHECK(t, p && sscanf(p, "reachable by a library counter: %lf %% / %lf %%", &known, &fitted) == 2);
    CHECK_MSG(t, known > 95 && known < 100 && fitted > 93 && fitted < known, "known %g %%, fitted %g %%", known, fitted);
    snprintf(args, sizeof args, "stem-sim %s -o cli_r8.tif --size 512 --dose 0 --crb", model);
    CHECK_EQ_INT(t, run(args, "cli_sim.txt"), 0);
    CHECK_STR_CONTAINS(t, slurp("cli_sim.txt"), "crb: no noise");
}

SDT_MAIN(SDT_CASE(test_sim_then_count), SDT_CASE(test_sim_resolved_and_split), SDT_CASE(test_cli_errors))
