/* `stemdyn reconstruct` run in-process: columns.csv → extxyz with column_id,
 * --from-model evaluation, empty frames, exit codes and messages. */
#include "model3d.h"
#include "recon.h"
#include "sd_atoms.h"
#include "sd_image.h"
#include "sd_xyz.h"
#include "sdtest.h"

#include <fcntl.h>
#include <unistd.h>

#define RUN(out, ...)                                                                    \
    ({                                                                                   \
        char *av_[] = {"reconstruct", __VA_ARGS__, NULL};                                \
        sdt_capture(recon_cmd_reconstruct, (int)(sizeof av_ / sizeof av_[0]) - 1, av_, out, sizeof out);            \
    })

static void write_text(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(s, f);
    fclose(f);
}

/* A small FCC particle ([110] along x) as extxyz, and its columns as CSV. */
static int64_t make_particle(const char *xyz, const char *csv)
{
    const double a0 = 4.06417, s2 = sqrt(2.0), R = 9.0;
    sd_atoms_t *a = sd_atoms_new(0, "Au");
    double buf[3 * 2000];
    int64_t n = 0;
    for (int i = -6; i <= 6; i++)
        for (int j = -6; j <= 6; j++)
            for (int k = -6; k <= 6; k++) {
                if ((i + j + k) & 1) continue;
                double cx = 0.5 * a0 * i, cy = 0.5 * a0 * j, cz = 0.5 * a0 * k;
                double X = (cx + cy) / s2, Y = (cx - cy) / s2, Z = cz;
                if (X * X + Y * Y + Z * Z > R * R || X < -4.0 || n >= 2000) continue;
                buf[3 * n] = X + 50;
                buf[3 * n + 1] = Y + 50;
                buf[3 * n + 2] = Z + 50;
                n++;
            }
    sd_atoms_destroy(&a);
    a = sd_atoms_new(n, "Au");
    if (!a) return -1;
    memcpy(a->pos, buf, (size_t)n * 3 * sizeof(double));
    sd_atoms_t *fr[1] = {a};
    if (sd_xyz_write_file(xyz, fr, 1, NULL)) n = -1;
    recon_columns_t c;
    const double ax[3] = {1, 0, 0};
    if (recon_columns_from_model(a->n, a->pos, ax, 1, 0, &c, NULL, NULL, NULL, NULL, NULL) ||
        recon_columns_write_csv(csv, &c, NULL))
        n = -1;
    recon_columns_free(&c);
    sd_atoms_destroy(&a);
    return n;
}

static void test_csv_to_model(sdt_t *t)
{
    char out[8192];
    int64_t n = make_particle("recon_m3_truth.xyz", "recon_m3_cols.csv");
    CHECK(t, n > 100);
    int rc = RUN(out, "recon_m3_cols.csv", "-o", "recon_m3_model.xyz", "--iterations", "500");
    CHECK_MSG(t, rc == 0, "%s", out);
    CHECK_STR_CONTAINS(t, out, "MC: 500 iterations");
    sd_atoms_t **fr = NULL;
    int64_t nf = 0;
    sd_err_t e;
    rc = sd_xyz_read_all("recon_m3_model.xyz", &fr, &nf, &e);
    CHECK_MSG(t, rc == SD_OK && nf == 1, "%s", e.msg);
    if (rc == SD_OK && nf == 1) {
        CHECK_EQ_INT(t, fr[0]->n, n);
        const sd_prop_t *pr = sd_atoms_get_prop(fr[0], "column_id");
        CHECK(t, pr && pr->kind == SD_PROP_INT);
        const char *en = sd_atoms_get_info(fr[0], "energy_per_atom");
        CHECK(t, en && atof(en) < -3.5 && atof(en) > -3.9);
        /* counts per column_id equal the CSV's */
        recon_columns_t c;
        CHECK_EQ_INT(t, recon_columns_read_csv("recon_m3_cols.csv", &c, NULL), SD_OK);
        int32_t *got = calloc((size_t)c.n + 1, sizeof *got);
        int ok = pr != NULL;
        for (int64_t a = 0; pr && a < fr[0]->n; a++) {
            if (pr->ints[a] < 0 || pr->ints[a] >= c.n) ok = 0;
            else got[pr->ints[a]]++;
        }
        for (int64_t j = 0; j < c.n; j++) ok &= got[j] == c.count[j];
        CHECK(t, ok);
        free(got);
        recon_columns_free(&c);
    }
    sd_xyz_frames_free(&fr, nf);

    rc = RUN(out, "--from-model", "recon_m3_truth.xyz", "--axis", "x", "-q");
    CHECK_MSG(t, rc == 0, "%s", out);
    CHECK_STR_CONTAINS(t, out, "z-extent match");
    char want[64];
    snprintf(want, sizeof want, "%lld atoms", (long long)n);
    CHECK_STR_CONTAINS(t, out, want);
    /* "counts kept in K/K columns" */
    const char *p = strstr(out, "counts kept in ");
    int k1 = -1, k2 = -2;
    if (p) sscanf(p, "counts kept in %d/%d", &k1, &k2);
    CHECK_MSG(t, k1 == k2 && k1 > 10, "%s", out);
    remove("recon_m3_truth.xyz");
    remove("recon_m3_cols.csv");
    remove("recon_m3_model.xyz");
}

static void test_empty_and_errors(sdt_t *t)
{
    char out[8192];
    /* a frame with no particle: empty model, success */
    write_text("recon_m3_empty.csv", "x,y,count\n");
    int rc = RUN(out, "recon_m3_empty.csv", "-o", "recon_m3_empty.xyz");
    CHECK_MSG(t, rc == 0, "%s", out);
    sd_atoms_t **fr = NULL;
    int64_t nf = 0;
    rc = sd_xyz_read_all("recon_m3_empty.xyz", &fr, &nf, NULL);
    CHECK(t, rc == SD_OK && nf == 1 && fr[0]->n == 0);
    sd_xyz_frames_free(&fr, nf);
    /* columns not counted (count -1): also empty */
    write_text("recon_m3_empty.csv", "x,y,count\n1,2,-1\n5,2,-1\n");
    rc = RUN(out, "recon_m3_empty.csv", "-o", "recon_m3_empty.xyz");
    CHECK_MSG(t, rc == 0, "%s", out);
    CHECK_STR_CONTAINS(t, out, "skipped 2");

    CHECK_EQ_INT(t, RUN(out, "--help"), 0);
    CHECK_STR_CONTAINS(t, out, "usage: stemdyn reconstruct");
    CHECK_EQ_INT(t, RUN(out, "recon_m3_empty.csv"), 2);
    CHECK_STR_CONTAINS(t, out, "stemdyn reconstruct: no output");
    CHECK_EQ_INT(t, RUN(out, "-o", "x.xyz"), 2);
    CHECK_STR_CONTAINS(t, out, "no input");
    CHECK_EQ_INT(t, RUN(out, "a.csv", "-o", "x.xyz", "--temp", "hot"), 2);
    CHECK_STR_CONTAINS(t, out, "--temp");
    CHECK_EQ_INT(t, RUN(out, "a.csv", "-o", "x.xyz", "--threshold", "1.5"), 2);
    CHECK_EQ_INT(t, RUN(out, "a.csv", "-o", "x.xyz", "--bogus"), 2);
    CHECK_STR_CONTAINS(t, out, "unknown option --bogus");
    CHECK_EQ_INT(t, RUN(out, "a.csv", "-o", "x.xyz", "--zinfo-b", "0.3"), 2);
    CHECK_EQ_INT(t, RUN(out, "a.csv", "-o", "x.xyz", "--axis", "q"), 2);
    CHECK_EQ_INT(t, RUN(out, "a.csv", "b.csv", "-o", "x.xyz"), 2);
    /* runtime failures: exit 1 with the file named */
    CHECK_EQ_INT(t, RUN(out, "recon_m3_missing.csv", "-o", "x.xyz"), 1);
    CHECK_STR_CONTAINS(t, out, "recon_m3_missing.csv");
    write_text("recon_m3_bad.csv", "x,y,count\n1,2,three\n");
    CHECK_EQ_INT(t, RUN(out, "recon_m3_bad.csv", "-o", "x.xyz"), 1);
    CHECK_STR_CONTAINS(t, out, "count 'three'");
    write_text("recon_m3_bad.csv", "x,y,count\n1,2,3\n1.2,2,3\n");
    CHECK_EQ_INT(t, RUN(out, "recon_m3_bad.csv", "-o", "x.xyz"), 1);
    CHECK_STR_CONTAINS(t, out, "duplicate column");
    CHECK_EQ_INT(t, RUN(out, "--from-model", "recon_m3_missing.data", "-q"), 1);
    CHECK_STR_CONTAINS(t, out, "recon_m3_missing.data");
    /* repeated in-process runs keep working (optind reset) */
    write_text("recon_m3_one.csv", "x,y,count\n0,0,4\n");
    CHECK_EQ_INT(t, RUN(out, "recon_m3_one.csv", "-o", "recon_m3_one.xyz", "--no-relax", "-q"), 0);
    CHECK_EQ_INT(t, RUN(out, "recon_m3_one.csv", "-o", "recon_m3_one.xyz", "-q"), 0);
    remove("recon_m3_empty.csv");
    remove("recon_m3_empty.xyz");
    remove("recon_m3_bad.csv");
    remove("recon_m3_one.csv");
    remove("recon_m3_one.xyz");
}

/* IMAGE input: a stem-sim frame of the columns is counted, then reconstructed. */
static void test_image_input(sdt_t *t)
{
    char out[8192];
    int64_t n = make_particle("recon_m3_truth.xyz", "recon_m3_cols.csv");
    recon_columns_t c;
    CHECK_EQ_INT(t, recon_columns_read_csv("recon_m3_cols.csv", &c, NULL), SD_OK);
    recon_stemsim_opts_t so;
    recon_stemsim_opts_default(&so);
    so.size = 320;
    so.dose = 3e4;
    double cx = 0, cy = 0, lib[RECON_LIB_PT_N];
    for (int i = 0; i < RECON_LIB_PT_N; i++) lib[i] = recon_lib_pt[i] * RECON_AU_OVER_PT;
    for (int64_t j = 0; j < c.n; j++) cx += c.x[j] / (double)c.n, cy += c.y[j] / (double)c.n;
    for (int64_t j = 0; j < c.n; j++) {
        c.x[j] += 0.5 * so.size * so.dx - cx;
        c.y[j] += 0.5 * so.size * so.dx - cy;
        c.scs[j] = recon_lib_scs(lib, RECON_LIB_PT_N, c.count[j]);
    }
    sd_image_t img = {so.size, so.size, 1, NULL, so.dx, SD_PIX_F64};
    img.data = malloc((size_t)(so.size * so.size) * sizeof(double));
    sd_err_t e;
    CHECK_EQ_INT(t, recon_stemsim_render(&c, &so, img.data, &e), SD_OK);
    CHECK_EQ_INT(t, sd_image_write_raw("recon_m3_img.f64", &img, SD_PIX_F64, &e), SD_OK);
    int rc = RUN(out, "recon_m3_img.f64", "-o", "recon_m3_imgmodel.xyz", "--columns-out",
                 "recon_m3_imgcols.csv");
    CHECK_MSG(t, rc == 0, "%s", out);
    printf("image input: %s", out);
    recon_columns_t d;
    rc = recon_columns_read_csv("recon_m3_imgcols.csv", &d, &e);
    CHECK_MSG(t, rc == SD_OK, "%s", e.msg);
    sd_atoms_t **fr = NULL;
    int64_t nf = 0;
    rc = sd_xyz_read_all("recon_m3_imgmodel.xyz", &fr, &nf, &e);
    CHECK_MSG(t, rc == SD_OK && nf == 1, "%s", e.msg);
    if (rc == SD_OK && nf == 1 && d.n > 0) {
        int64_t sum = 0;
        for (int64_t j = 0; j < d.n; j++) sum += d.count[j] > 0 ? d.count[j] : 0;
        CHECK_EQ_INT(t, fr[0]->n, sum);
        printf("image input: %lld true atoms, %lld columns detected (true %lld), %lld atoms counted\n",
               (long long)n, (long long)d.n, (long long)c.n, (long long)sum);
    }
    sd_xyz_frames_free(&fr, nf);
    recon_columns_free(&d);
    /* a frame with no particle (background and shot noise only): an empty
     * model, not a failure */
    recon_columns_t none;
    CHECK_EQ_INT(t, recon_columns_alloc(&none, 0, NULL), SD_OK);
    so.background = 0.002;
    CHECK_EQ_INT(t, recon_stemsim_render(&none, &so, img.data, &e), SD_OK);
    CHECK_EQ_INT(t, sd_image_write_raw("recon_m3_img.f64", &img, SD_PIX_F64, &e), SD_OK);
    rc = RUN(out, "recon_m3_img.f64", "-o", "recon_m3_imgmodel.xyz");
    CHECK_MSG(t, rc == 0, "%s", out);
    rc = sd_xyz_read_all("recon_m3_imgmodel.xyz", &fr, &nf, &e);
    CHECK_MSG(t, rc == SD_OK && nf == 1 && fr[0]->n == 0, "%s / %s", e.msg, out);
    sd_xyz_frames_free(&fr, nf);
    recon_columns_free(&none);
    /* an unreadable image: exit 1 naming it */
    write_text("recon_m3_bad.tif", "not a tiff");
    CHECK_EQ_INT(t, RUN(out, "recon_m3_bad.tif", "-o", "x.xyz"), 1);
    CHECK_STR_CONTAINS(t, out, "recon_m3_bad.tif");
    free(img.data);
    recon_columns_free(&c);
    remove("recon_m3_img.f64");
    remove("recon_m3_img.f64.json");
    remove("recon_m3_imgmodel.xyz");
    remove("recon_m3_imgcols.csv");
    remove("recon_m3_bad.tif");
    remove("recon_m3_truth.xyz");
    remove("recon_m3_cols.csv");
}

SDT_MAIN(SDT_CASE(test_csv_to_model), SDT_CASE(test_empty_and_errors), SDT_CASE(test_image_input))
