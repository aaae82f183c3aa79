/* `stemdyn soap|classify|transitions|dict` end to end through the binary:
 * outputs, exit codes and clear messages on bad input (empty frame, identical
 * positions, NaN, changing atom count, wrong-dimension dictionary). */
#include "analyze.h"
#include "sd_npy.h"
#include "sdtest.h"

#include <stdint.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/sdt_soapcli_XXXXXX";

/* Runs the stemdyn binary with `args`; returns the exit code, output in out. */
static int run(const char *args, char *out, size_t cap)
{
    const char *bin = getenv("STEMDYN_BIN");
    if (!bin) bin = STEMDYN_BIN;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd %s && %s %s 2>&1", tmpdir, bin, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static const char *TRI =
    "3\nProperties=species:S:1:pos:R:3\nAu 0 0 0\nAu 2.9 0 0.2\nAu 0.3 2.7 0.1\n"
    "3\nProperties=species:S:1:pos:R:3\nAu 0 0 0.1\nAu 2.8 0.1 0\nAu 0.3 2.9 0\n";

static void test_soap_and_shapes(sdt_t *t)
{
    char out[8192], path[512];
    write_file("tri.xyz", TRI);
    CHECK_EQ_INT(t, run("soap tri.xyz -o tri.npy --layout 576", out, sizeof out), 0);
    sd_npy_t a;
    sd_err_t e;
    snprintf(path, sizeof path, "%s/tri.npy", tmpdir);
    CHECK_EQ_INT(t, sd_npy_read_f64(path, &a, &e), 0);
    CHECK(t, a.ndim == 3 && a.shape[0] == 2 && a.shape[1] == 3 && a.shape[2] == 576);
    sd_npy_free(&a);
    CHECK_EQ_INT(t, run("soap tri.xyz -o tri2.npy --nmax 4 --lmax 3 --sigma 0.6 --rcut 5", out, sizeof out), 0);
    snprintf(path, sizeof path, "%s/tri2.npy", tmpdir);
    CHECK_EQ_INT(t, sd_npy_read_f64(path, &a, &e), 0);
    CHECK(t, a.ndim == 3 && a.shape[2] == 4 * 10);
    sd_npy_free(&a);
    CHECK_EQ_INT(t, run("soap --help", out, sizeof out), 0);
    CHECK_STR_CONTAINS(t, out, "usage: stemdyn soap");
    CHECK_EQ_INT(t, run("soap tri.xyz -o x.npy --layout 100", out, sizeof out), 2);
    CHECK_STR_CONTAINS(t, out, "--layout");
    CHECK_EQ_INT(t, run("soap tri.xyz -o x.npy --sigma -1", out, sizeof out), 2);
    CHECK_EQ_INT(t, run("soap tri.xyz", out, sizeof out), 2);
    CHECK_EQ_INT(t, run("soap missing.xyz -o x.npy", out, sizeof out), 1);
}

static void test_bad_frames(sdt_t *t)
{
    char out[8192];
    write_file("same.xyz", "3\nProperties=species:S:1:pos:R:3\nAu 0 0 0\nAu 1 2 3\nAu 1 2 3\n");
    CHECK_EQ_INT(t, run("soap same.xyz -o x.npy", out, sizeof out), 1);
    CHECK_STR_CONTAINS(t, out, "identical positions");
    write_file("nan.xyz", "2\nProperties=species:S:1:pos:R:3\nAu 0 0 0\nAu nan 2 3\n");
    CHECK_EQ_INT(t, run("soap nan.xyz -o x.npy", out, sizeof out), 1);
    CHECK(t, strstr(out, "finite") || strstr(out, "nan") || strstr(out, "NaN"));
    write_file("empty.xyz", "0\nProperties=species:S:1:pos:R:3\n");
    CHECK_EQ_INT(t, run("soap empty.xyz -o x.npy", out, sizeof out), 1);
    CHECK(t, strstr(out, "empty") || strstr(out, "0 atoms") || strstr(out, "no frames"));
    write_file("grow.xyz", "2\nProperties=species:S:1:pos:R:3\nAu 0 0 0\nAu 2.9 0 0\n"
                           "3\nProperties=species:S:1:pos:R:3\nAu 0 0 0\nAu 2.9 0 0\nAu 0 2.9 0\n");
    CHECK_EQ_INT(t, run("soap grow.xyz -o x.npy", out, sizeof out), 1);
    CHECK_STR_CONTAINS(t, out, "atom count changes");
    CHECK_EQ_INT(t, run("classify grow.xyz -o x.npy", out, sizeof out), 1);
    CHECK_STR_CONTAINS(t, out, "atom count changes");
}

static void test_classify_transitions(sdt_t *t)
{
    char out[8192], path[512];
    sd_npy_t a;
    sd_err_t e;
    write_file("tri.xyz", TRI);
    CHECK_EQ_INT(t, run("classify tri.xyz -o lab.npy --refidx ref.npy --timesoap ts.npy --dist d.npy --mask-z-below 0.05",
                        out, sizeof out), 0);
    CHECK_STR_CONTAINS(t, out, "2 frames");
    snprintf(path, sizeof path, "%s/lab.npy", tmpdir);
    CHECK_EQ_INT(t, sd_npy_read_i64(path, &a, &e), 0);
    CHECK(t, a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 3);
    if (a.count == 6) {
        const int64_t *g = a.data;
        /* atom 0 has z = 0 < 0.05 in frame 0: masked in every frame */
        CHECK(t, g[0] == -1 && g[3] == -1);
        CHECK(t, g[1] >= 0 && g[1] < 10 && g[2] >= 0 && g[2] < 10);
    }
    sd_npy_free(&a);
    snprintf(path, sizeof path, "%s/d.npy", tmpdir);
    CHECK_EQ_INT(t, sd_npy_read_f64(path, &a, &e), 0);
    CHECK(t, a.ndim == 3 && a.shape[2] == 47);
    sd_npy_free(&a);
    snprintf(path, sizeof path, "%s/ts.npy", tmpdir);
    CHECK_EQ_INT(t, sd_npy_read_f64(path, &a, &e), 0);
    CHECK(t, a.ndim == 2 && a.shape[0] == 1 && a.shape[1] == 3);
    sd_npy_free(&a);
    CHECK_EQ_INT(t, run("transitions lab.npy tri.xyz -o tr --dt-ns 2", out, sizeof out), 0);
    CHECK_STR_CONTAINS(t, out, "2 run(s)");
    static const char *files[] = {"counts.npy", "counts.csv", "prob.npy", "prob_runmean.npy", "tau.csv",
                                  "populations.npy", "populations.csv", "heatmap.svg", "chord.svg", "counts_runs.npy"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/tr/%s", tmpdir, files[i]);
        CHECK_MSG(t, access(path, R_OK) == 0, "missing %s", path);
    }
    snprintf(path, sizeof path, "%s/tr/counts.npy", tmpdir);
    CHECK_EQ_INT(t, sd_npy_read_f64(path, &a, &e), 0);
    double tot = 0;
    for (int64_t q = 0; q < a.count; q++) tot += ((double *)a.data)[q];
    CHECK(t, tot == 2 + 3); /* run 1: 2 unmasked atoms × 1 step; run 2: 3 atoms × 1 step */
    sd_npy_free(&a);
    /* a dictionary of the wrong dimension */
    write_file("bad.dict", "stemdyn-dict 1\nname bad\nvectors bad.npy\nr_cut 4.48\nsigma 1\nn_max 8\nl_max 8\n"
                           "dim 576\ngroups 1\ngroup 0 x\nrefs 2\nref 0 0 - -1 a\nref 1 0 - -1 b\n");
    {
        double v[2 * 324] = {0};
        v[0] = 1;
        v[324 + 1] = 1;
        int64_t sh[2] = {2, 324};
        snprintf(path, sizeof path, "%s/bad.npy", tmpdir);
        CHECK_EQ_INT(t, sd_npy_write(path, SD_NPY_F64, 2, sh, v, &e), 0);
    }
    CHECK_EQ_INT(t, run("classify tri.xyz -o x.npy --dictionary bad.dict", out, sizeof out), 1);
    CHECK_STR_CONTAINS(t, out, "has 324-vectors, expected 576");
    CHECK_EQ_INT(t, run("dict show --svg dendro.svg", out, sizeof out), 0);
    CHECK_STR_CONTAINS(t, out, "47 references, 10 groups");
    snprintf(path, sizeof path, "%s/dendro.svg", tmpdir);
    CHECK(t, access(path, R_OK) == 0);
    CHECK_EQ_INT(t, run("dict frobnicate", out, sizeof out), 2);
}

static void test_dict_build_cli(sdt_t *t)
{
    char dir[1024], out[65536], args[2048];
    sdt_shared_or_skip("oracle/dictionary/ideal_minimized/ico923_6_minimized.data", dir, sizeof dir);
    *strrchr(dir, '/') = 0;
    /* --picks with three references of the paper */
    write_file("picks.txt", "# name source atom\nv_5f_ih ico923_6 566\nb_c_ih ico923_6 0\nv_to to976_12_4 974\n");
    snprintf(args, sizeof args, "dict build --from %s --picks picks.txt -o three.dict --cut 0.08", dir);
    CHECK_EQ_INT(t, run(args, out, sizeof out), 0);
    CHECK_STR_CONTAINS(t, out, "3 references");
    snprintf(args, sizeof args, "dict build --from %s --picks picks.txt --like x.dict -o y.dict", dir);
    CHECK_EQ_INT(t, run(args, out, sizeof out), 2);
    /* the paper's dictionary rebuilt through the command */
    snprintf(args, sizeof args, "dict build --from %s --like %s -o re.dict --svg re.svg", dir, dict_default_path());
    CHECK_EQ_INT(t, run(args, out, sizeof out), 0);
    CHECK_STR_CONTAINS(t, out, "47 references, 10 groups");
    const char *mx = strstr(out, "over all entries: ");
    CHECK(t, mx && strtod(mx + 18, NULL) <= 1e-6);
    /* generate + minimise an ideal truncated octahedron, all distinct environments */
    CHECK_EQ_INT(t, run("dict build --generate to807_11_3 --from gen --all -o gen.dict", out, sizeof out), 0);
    CHECK_STR_CONTAINS(t, out, "to807_11_3: 807 atoms");
    CHECK_EQ_INT(t, run("classify gen/to807_11_3_minimized.data -o g.npy", out, sizeof out), 0);
    CHECK_STR_CONTAINS(t, out, "b=225 ss=210 ss'=24 c=0 c'=48 s=192 e=0 e'=84 v'=24 v=0");
    CHECK_EQ_INT(t, run("dict build --generate ico924_6 --from gen --all -o x.dict", out, sizeof out), 1);
    CHECK_STR_CONTAINS(t, out, "923 atoms");
}

/* TimeSOAP and its change through the command, against the SOAPify references. */
static void test_timesoap_cli(sdt_t *t)
{
    char traj[1024], r1[1024], r2[1024], args[2048], out[8192], path[512];
    sdt_shared_or_skip("oracle/lens/dh484_jit0.3_20f.extxyz", traj, sizeof traj);
    sdt_shared_or_skip("oracle/lens/timesoap_dh484_jit0.3_20f.npy", r1, sizeof r1);
    sdt_shared_or_skip("oracle/lens/dtimesoap_dh484_jit0.3_20f.npy", r2, sizeof r2);
    snprintf(args, sizeof args, "classify %s -o l.npy --timesoap ts.npy --dtimesoap dts.npy", traj);
    CHECK_EQ_INT(t, run(args, out, sizeof out), 0);
    const char *mine[2] = {"ts.npy", "dts.npy"}, *refs[2] = {r1, r2};
    for (int k = 0; k < 2; k++) {
        sd_npy_t a, b;
        sd_err_t e;
        snprintf(path, sizeof path, "%s/%s", tmpdir, mine[k]);
        CHECK_EQ_INT(t, sd_npy_read_f64(path, &a, &e), 0);
        CHECK_EQ_INT(t, sd_npy_read_f64(refs[k], &b, &e), 0);
        CHECK(t, a.ndim == 2 && b.ndim == 2 && a.shape[0] == b.shape[0] && a.shape[1] == b.shape[1]);
        double worst = 0;
        for (int64_t q = 0; q < a.count && q < b.count; q++)
            worst = fmax(worst, fabs(((double *)a.data)[q] - ((double *)b.data)[q]));
        CHECK_MSG(t, worst <= 1e-7, "%s differs by %.3g", mine[k], worst);
        sd_npy_free(&a);
        sd_npy_free(&b);
    }
}

static void cleanup(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) fprintf(stderr, "cleanup of %s failed\n", tmpdir);
}

int main(int argc, char **argv)
{
    const char *bin = getenv("STEMDYN_BIN");
    if (!bin) bin = STEMDYN_BIN;
    if (access(bin, X_OK) != 0) SDT_SKIP("stemdyn binary %s not built", bin);
    if (!mkdtemp(tmpdir)) return 1;
    static const sdt_case_t cases[] = {SDT_CASE(test_soap_and_shapes), SDT_CASE(test_bad_frames),
                                       SDT_CASE(test_classify_transitions), SDT_CASE(test_dict_build_cli),
                                       SDT_CASE(test_timesoap_cli)};
    int rc = sdt_run(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv);
    cleanup();
    return rc;
}
