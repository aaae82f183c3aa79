/* The sim commands through the real binary (STEMDYN_BIN): outputs, exit
 * codes and messages for bad inputs, CLI restart = uninterrupted run, and
 * export-lammps reproducing the oracle's tabulated potential. */
#include "sdtest.h"

#include <stdarg.h>

#include "sd_atoms.h"
#include "sd_xyz.h"
#include "sim_testutil.h"

#include <sys/wait.h>
#include <unistd.h>

static const char *bin(void)
{
    const char *b = getenv("STEMDYN_BIN");
    return b ? b : STEMDYN_BIN;
}

/* Runs `stemdyn ARGS` (shell syntax) capturing stdout+stderr into out;
 * returns the exit status. */
static int run(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run(char *out, size_t len, const char *fmt, ...)
{
    char args[3000], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin(), args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, len - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define DATA(f) STEMDYN_TEST_DATA "/sim/" f

static void test_energy(sdt_t *t)
{
    char buf[1024], out[8192], tmp[256];
    const char *xyz = sdt_shared_or_skip("oracle/structures/dh484.xyz", buf, sizeof buf);
    snprintf(tmp, sizeof tmp, "sim_cli_e_%ld.xyz", (long)getpid());
    CHECK_EQ_INT(t, run(out, sizeof out, "energy %s -o %s", xyz, tmp), 0);
    CHECK_STR_CONTAINS(t, out, "energy -1759.7096964198 eV");
    sd_atoms_t **fr = NULL;
    int64_t nf = 0;
    sd_err_t e;
    CHECK_EQ_INT(t, sd_xyz_read_all(tmp, &fr, &nf, &e), 0);
    if (nf == 1) {
        const sd_prop_t *pe = sd_atoms_get_prop(fr[0], "energies");
        const sd_prop_t *pf = sd_atoms_get_prop(fr[0], "forces");
        CHECK(t, pe && pe->ncols == 1 && pf && pf->ncols == 3);
        if (pe) CHECK_NEAR(t, pe->real[0], -3.186208249626816, 1e-12);
    }
    sd_xyz_frames_free(&fr, nf);
    unlink(tmp);
    CHECK_EQ_INT(t, run(out, sizeof out, "energy --help"), 0);
    CHECK_STR_CONTAINS(t, out, "usage");
}

static void test_bad_inputs(sdt_t *t)
{
    char out[8192];
    const struct {
        const char *args, *msg;
        int code;
    } cases[] = {
        {"energy /nonexistent/x.xyz", "x.xyz", 1},
        {"energy " DATA("nan.xyz"), "finite", 1},
        {"energy " DATA("overlap.xyz"), "overlap", 1},
        {"energy " DATA("zero.xyz"), "no atoms", 1},
        {"energy " DATA("unknown.xyz"), "unknown element 'Xx'", 1},
        {"energy " DATA("mixed.xyz"), "more than one element", 1},
        {"energy --potential Zz " DATA("au13.xyz"), "Zz", 1},
        {"energy --bogus " DATA("au13.xyz"), "stemdyn energy:", 2},
        {"energy", "expected one input file", 2},
        {"minimize " DATA("au13.xyz"), "-o", 2},
        {"minimize " DATA("overlap.xyz") " -o /dev/null", "overlap", 1},
        {"minimize --etol abc -o x " DATA("au13.xyz"), "--etol", 2},
        {"minimize --style sd -o x " DATA("au13.xyz"), "cg or fire", 2},
        {"md " DATA("au13.xyz") " -o /dev/null --dt 5 --steps 10", "--temp", 2},
        {"md " DATA("au13.xyz") " -o /dev/null --temp 300 --dt 5", "--steps", 2},
        {"md " DATA("au13.xyz") " -o /dev/null --temp 300 --dt -5 --steps 3", "--dt", 2},
        {"md " DATA("zero.xyz") " -o /dev/null --temp 300 --dt 5 --steps 3", "no atoms", 1},
        {"md " DATA("unknown.xyz") " -o /dev/null --temp 300 --dt 5 --steps 3", "Xx", 1},
        {"md " DATA("au13.xyz") " -o /dev/null --temp 300 --dt 5 --steps 3 --restart /nonexistent/ck", "/nonexistent/ck", 1},
        {"md " DATA("au13.xyz") " -o /dev/null --temp 300 --dt 5 --steps 3 --wall 1:2", "--wall", 2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int rc = run(out, sizeof out, "%s", cases[k].args);
        CHECK_MSG(t, rc == cases[k].code, "'%s': exit %d, expected %d (%s)", cases[k].args, rc,
                  cases[k].code, out);
        CHECK_MSG(t, strstr(out, cases[k].msg) != NULL, "'%s': message '%s' lacks '%s'",
                  cases[k].args, out, cases[k].msg);
    }
}

static void test_minimize(sdt_t *t)
{
    char out[8192], tmp[256];
    snprintf(tmp, sizeof tmp, "sim_cli_m_%ld.xyz", (long)getpid());
    CHECK_EQ_INT(t, run(out, sizeof out, "minimize %s -o %s --etol 0 --ftol 1e-8 --style fire --maxiter 5000",
                        DATA("au13.xyz"), tmp), 0);
    CHECK_STR_CONTAINS(t, out, "stop force tolerance");
    char out2[8192];
    CHECK_EQ_INT(t, run(out2, sizeof out2, "energy %s", tmp), 0);
    double e1 = NAN, e2 = NAN;
    const char *s = strstr(out, "\nenergy ");
    if (s) e1 = atof(s + 8);
    s = strstr(out2, "energy ");
    if (s) e2 = atof(s + 7);
    CHECK_NEAR(t, e1, e2, 1e-9);
    CHECK(t, e1 < -40.2);
    unlink(tmp);
}

static int last_frame(const char *path, sd_atoms_t **out)
{
    sd_atoms_t **fr = NULL;
    int64_t nf = 0;
    sd_err_t e;
    *out = NULL;
    if (sd_xyz_read_all(path, &fr, &nf, &e) || nf < 1) return -1;
    *out = fr[nf - 1];
    fr[nf - 1] = NULL;
    sd_xyz_frames_free(&fr, nf - 1);
    free(fr);
    return (int)nf;
}

static void test_md_restart(sdt_t *t)
{
    char out[8192], ta[256], tb[256], ck[256];
    long pid = (long)getpid();
    snprintf(ta, sizeof ta, "sim_cli_ta_%ld.xyz", pid);
    snprintf(tb, sizeof tb, "sim_cli_tb_%ld.xyz", pid);
    snprintf(ck, sizeof ck, "sim_cli_ck_%ld.bin", pid);
    const char *common = "--temp 673 --dt 5 --thermalize 50:1 --seed 5 --dump-every 0.1ps";
    CHECK_EQ_INT(t, run(out, sizeof out, "md %s -o %s %s --steps 120", DATA("au13.xyz"), ta, common), 0);
    CHECK_STR_CONTAINS(t, out, "steps 170");
    CHECK_EQ_INT(t, run(out, sizeof out, "md %s -o %s %s --steps 60 --checkpoint %s", DATA("au13.xyz"), tb, common, ck), 0);
    CHECK_EQ_INT(t, run(out, sizeof out, "md %s -o %s %s --steps 120 --restart %s", DATA("au13.xyz"), tb, common, ck), 0);
    sd_atoms_t *a = NULL, *b = NULL;
    int na = last_frame(ta, &a), nb = last_frame(tb, &b);
    CHECK_EQ_INT(t, na, 7); /* production 0, 20, …, 120 steps: 7 frames */
    CHECK_EQ_INT(t, nb, 7);
    CHECK(t, a && b && a->n == 13 && b->n == 13);
    if (a && b) {
        CHECK(t, !memcmp(a->pos, b->pos, sizeof(double) * 39));
        const sd_prop_t *va = sd_atoms_get_prop(a, "velo"), *vb = sd_atoms_get_prop(b, "velo");
        CHECK(t, va && vb && !memcmp(va->real, vb->real, sizeof(double) * 39));
    }
    sd_atoms_destroy(&a);
    sd_atoms_destroy(&b);
    unlink(ta);
    unlink(tb);
    unlink(ck);
}

static void test_export(sdt_t *t)
{
    char buf[1024], out[8192], prefix[256], path[300];
    const char *ref = sdt_shared_or_skip("oracle/lammps/Au_smatb_N2000.eam.alloy", buf, sizeof buf);
    snprintf(prefix, sizeof prefix, "sim_cli_exp_%ld", (long)getpid());
    CHECK_EQ_INT(t, run(out, sizeof out, "export-lammps -o %s --temp 673", prefix), 0);
    snprintf(path, sizeof path, "%s.eam.alloy", prefix);
    char *mine = stu_slurp(path), *theirs = stu_slurp(ref);
    CHECK(t, mine && theirs);
    if (mine && theirs) {
        /* skip the 3 comment lines and the element line; the grid line is
         * identical; then the tables after the per-element line */
        char *pm = mine, *pt = theirs;
        for (int k = 0; k < 4; k++) {
            pm = strchr(pm, '\n') + 1;
            pt = strchr(pt, '\n') + 1;
        }
        CHECK(t, !strncmp(pm, pt, (size_t)(strchr(pt, '\n') - pt)));
        for (int k = 0; k < 2; k++) {
            pm = strchr(pm, '\n') + 1;
            pt = strchr(pt, '\n') + 1;
        }
        long cnt = 0;
        double worst = 0;
        for (;;) {
            char *em, *et;
            double vm = strtod(pm, &em), vt = strtod(pt, &et);
            if (em == pm || et == pt) {
                /* the "79 mass a0 fcc" line: skip the word */
                while (*pm && *pm != '\n') pm++;
                while (*pt && *pt != '\n') pt++;
                if (!*pm || !*pt || !pm[1] || !pt[1]) break;
                pm++;
                pt++;
                continue;
            }
            worst = fmax(worst, fabs(vm - vt) / fmax(fabs(vt), 1e-3));
            cnt++;
            pm = em;
            pt = et;
        }
        printf("export-lammps: %ld numbers, max relative deviation from the oracle table %.3g\n", cnt, worst);
        CHECK(t, cnt == 6000);
        CHECK_MSG(t, worst < 1e-12, "deviation %.3g", worst);
    }
    free(mine);
    free(theirs);
    unlink(path);
    snprintf(path, sizeof path, "%s.in", prefix);
    char *in = stu_slurp(path);
    CHECK(t, in != NULL);
    if (in) {
        CHECK_STR_CONTAINS(t, in, "fix             fLNGV all langevin 673 673 100");
        CHECK_STR_CONTAINS(t, in, "zero yes");
        CHECK_STR_CONTAINS(t, in, "minimize        1.0e-6 1.0e-8 1000 10000");
    }
    free(in);
    unlink(path);
}

SDT_MAIN(SDT_CASE(test_energy), SDT_CASE(test_bad_inputs), SDT_CASE(test_minimize),
         SDT_CASE(test_md_restart), SDT_CASE(test_export))
