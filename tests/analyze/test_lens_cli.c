/* `stemdyn lens` (run in-process through lens_cmd_run): outputs against the
 * references, exit codes and messages on bad input. */
#include "analyze.h"
#include "sd_npy.h"
#include "sdtest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define RUN(err, ...)                                                                    \
    ({                                                                                   \
        char *av_[] = {"lens", __VA_ARGS__, NULL};                                       \
        sdt_capture(lens_cmd_run, (int)(sizeof av_ / sizeof av_[0]) - 1, av_, err, sizeof err);            \
    })

static void write_text(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    fputs(s, f);
    fclose(f);
}

/* Reference [N][T] array vs our [T][N] output file. */
static void compare_transposed(sdt_t *t, const char *ours, const char *ref_rel, double tol)
{
    char buf[1024];
    sd_err_t e;
    sd_npy_t a, r;
    sdt_shared_or_skip(ref_rel, buf, sizeof buf);
    int rc = sd_npy_read_f64(ours, &a, &e);
    CHECK_MSG(t, rc == SD_OK, "%s", e.msg);
    if (rc) return;
    rc = sd_npy_read_f64(buf, &r, &e);
    CHECK_MSG(t, rc == SD_OK, "%s", e.msg);
    if (rc) {
        sd_npy_free(&a);
        return;
    }
    CHECK(t, a.ndim == 2 && r.ndim == 2 && a.shape[0] == r.shape[1] && a.shape[1] == r.shape[0]);
    if (a.count == r.count && a.ndim == 2) {
        const int64_t T = a.shape[0], n = a.shape[1];
        double md = 0;
        for (int64_t f = 0; f < T; f++)
            for (int64_t i = 0; i < n; i++)
                md = fmax(md, fabs(((double *)a.data)[f * n + i] - ((double *)r.data)[i * T + f]));
        CHECK_MSG(t, md <= tol, "%s vs %s: max |diff| %.3g", ours, ref_rel, md);
    }
    sd_npy_free(&a);
    sd_npy_free(&r);
}

static void test_reference(sdt_t *t)
{
    char traj[1024], err[8192];
    sdt_shared_or_skip("oracle/lens/dh484_jit0.3_20f.extxyz", traj, sizeof traj);
    int rc = RUN(err, traj, "--rcut", "4.88", "-o", "cli_lens.npy", "--nneigh", "cli_nn.npy");
    CHECK_MSG(t, rc == 0, "exit %d: %s", rc, err);
    CHECK_STR_CONTAINS(t, err, "20 frames x 484 atoms");
    compare_transposed(t, "cli_lens.npy", "oracle/lens/lens_dh484_jit0.3_20f_rc4p88.npy", 0);
    compare_transposed(t, "cli_nn.npy", "oracle/lens/nneigh_dh484_jit0.3_20f_rc4p88.npy", 0);
    remove("cli_lens.npy");
    remove("cli_nn.npy");
}

static void test_cluster_reference(sdt_t *t)
{
    char traj[1024], err[8192];
    sdt_shared_or_skip("oracle/lens/dh484_cnjit_300f.extxyz", traj, sizeof traj);
    int rc = RUN(err, traj, "-r", "4.48", "-o", "cli300.npy", "--savgol", "cli_sg.npy",
                 "--classes", "cli_cls.npy", "--kde", "cli_kde.csv", "--tmat", "cli_tmat");
    CHECK_MSG(t, rc == 0, "exit %d: %s", rc, err);
    CHECK_STR_CONTAINS(t, err, "K-means k=3 on frames 50..249");
    compare_transposed(t, "cli300.npy", "oracle/lens/lens_dh484_cnjit_300f.npy", 0);
    compare_transposed(t, "cli_sg.npy", "oracle/lens/savgol_dh484_cnjit_300f.npy", 1e-12);
    compare_transposed(t, "cli_cls.npy", "oracle/lens/lensclass_dh484_cnjit_300f.npy", 0);
    char buf[1024];
    sd_npy_t a, r;
    sd_err_t e;
    sdt_shared_or_skip("oracle/lens/lenstmat_counts_dh484_cnjit_300f.npy", buf, sizeof buf);
    if (sd_npy_read_f64("cli_tmat/lens_tmat_counts.npy", &a, &e) == SD_OK) {
        if (sd_npy_read_f64(buf, &r, &e) == SD_OK) {
            CHECK_EQ_INT(t, a.count, 9);
            for (int i = 0; i < 9 && a.count == 9; i++)
                CHECK_NEAR(t, ((double *)a.data)[i], ((double *)r.data)[i], 0);
            sd_npy_free(&r);
        }
        sd_npy_free(&a);
    } else
        CHECK_MSG(t, 0, "%s", e.msg);
    struct stat st;
    CHECK(t, stat("cli_tmat/lens_tmat.svg", &st) == 0 && st.st_size > 1000);
    CHECK(t, stat("cli_tmat/lens_chord.svg", &st) == 0 && st.st_size > 1000);
    CHECK(t, stat("cli_tmat/lens_kde.svg", &st) == 0 && st.st_size > 1000);
    CHECK(t, stat("cli_tmat/lens_clusters.csv", &st) == 0);
    FILE *f = fopen("cli_kde.csv", "r");
    CHECK(t, f != NULL);
    if (f) {
        char line[256];
        int rows = 0;
        while (fgets(line, sizeof line, f)) rows++;
        CHECK_EQ_INT(t, rows, 2 + 512);
        fclose(f);
    }
    remove("cli300.npy"), remove("cli_sg.npy"), remove("cli_cls.npy"), remove("cli_kde.csv");
    remove("cli_tmat/lens_tmat_counts.npy"), remove("cli_tmat/lens_tmat_norm.npy");
    remove("cli_tmat/lens_tmat.svg"), remove("cli_tmat/lens_chord.svg");
    remove("cli_tmat/lens_clusters.csv"), remove("cli_tmat/lens_kde.svg"), rmdir("cli_tmat");
}

static void test_usage(sdt_t *t)
{
    char err[8192];
    CHECK_EQ_INT(t, RUN(err, "--help"), 0);
    CHECK_STR_CONTAINS(t, err, "[T][N]");
    CHECK_EQ_INT(t, RUN(err, "x.xyz", "-o", "o.npy"), 2);
    CHECK_STR_CONTAINS(t, err, "--rcut is required");
    CHECK_EQ_INT(t, RUN(err, "x.xyz", "--rcut", "abc", "-o", "o.npy"), 2);
    CHECK_STR_CONTAINS(t, err, "stemdyn lens:");
    CHECK_EQ_INT(t, RUN(err, "x.xyz", "--rcut", "4", "-o", "o.npy", "--bogus"), 2);
    CHECK_EQ_INT(t, RUN(err, "x.xyz", "--rcut", "4"), 2);
    CHECK_EQ_INT(t, RUN(err, "--rcut", "4", "-o", "o.npy"), 2);
    CHECK_EQ_INT(t, RUN(err, "x.xyz", "--rcut", "4", "-o", "o.npy", "--window", "2", "--order", "2"), 2);
}

static void test_bad_trajectories(sdt_t *t)
{
    char err[8192];
    write_text("bad_count.xyz", "2\n\nAu 0 0 0\nAu 2.8 0 0\n1\n\nAu 0 0 0\n");
    CHECK_EQ_INT(t, RUN(err, "bad_count.xyz", "--rcut", "4.48", "-o", "o.npy"), 1);
    CHECK_STR_CONTAINS(t, err, "frame 1 has 1 atoms but the trajectory has 2");
    write_text("bad_same.xyz", "3\n\nAu 0 0 0\nAu 2.8 0 0\nAu 0 0 0\n");
    CHECK_EQ_INT(t, RUN(err, "bad_same.xyz", "--rcut", "4.48", "-o", "o.npy"), 1);
    CHECK_STR_CONTAINS(t, err, "same position");
    write_text("bad_nan.xyz", "2\n\nAu 0 0 0\nAu nan 0 0\n");
    CHECK_EQ_INT(t, RUN(err, "bad_nan.xyz", "--rcut", "4.48", "-o", "o.npy"), 1);
    CHECK_STR_CONTAINS(t, err, "bad_nan.xyz");
    write_text("bad_empty.xyz", "");
    CHECK_EQ_INT(t, RUN(err, "bad_empty.xyz", "--rcut", "4.48", "-o", "o.npy"), 1);
    CHECK_STR_CONTAINS(t, err, "no frames");
    write_text("bad_zero.xyz", "0\n\n");
    CHECK_EQ_INT(t, RUN(err, "bad_zero.xyz", "--rcut", "4.48", "-o", "o.npy"), 1);
    CHECK_STR_CONTAINS(t, err, "no atoms");
    CHECK_EQ_INT(t, RUN(err, "does_not_exist.xyz", "--rcut", "4.48", "-o", "o.npy"), 1);
    CHECK_STR_CONTAINS(t, err, "does_not_exist.xyz");
    /* too short for the clustering window: clear message, LENS still written */
    write_text("short.xyz", "2\n\nAu 0 0 0\nAu 2.8 0 0\n2\n\nAu 0 0 0\nAu 2.9 0 0\n");
    CHECK_EQ_INT(t, RUN(err, "short.xyz", "--rcut", "4.48", "-o", "o.npy", "--cluster"), 1);
    CHECK_STR_CONTAINS(t, err, "fewer than the smoothing window 100");
    CHECK(t, access("o.npy", F_OK) == 0);
    const char *rm[] = {"bad_count.xyz", "bad_same.xyz", "bad_nan.xyz", "bad_empty.xyz",
                        "bad_zero.xyz", "short.xyz", "o.npy"};
    for (size_t i = 0; i < sizeof rm / sizeof rm[0]; i++) remove(rm[i]);
}

SDT_MAIN(SDT_CASE(test_reference), SDT_CASE(test_cluster_reference), SDT_CASE(test_usage),
         SDT_CASE(test_bad_trajectories))
