/* MD: velocity initialisation, NVE conservation, Langevin temperature and
 * kinetic-energy variance, zero net random force, bitwise restart and
 * split-invariance, checkpoint validation, bad inputs.
 * Argument "long" (ctest label long) runs the long statistics. */
#include "sdtest.h"
#include "sim.h"

#include "sd_atoms.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define KB 8.617343e-5
#define MVV2E 1.0364269e-4

static int g_long = 0;

static sd_atoms_t *load(sdt_t *t, const char *rel)
{
    char buf[1024];
    sd_atoms_t *a = NULL;
    sd_err_t e;
    int rc = sd_atoms_read_any(sdt_shared_or_skip(rel, buf, sizeof buf), &a, &e);
    CHECK_MSG(t, rc == 0, "%s", e.msg);
    return a;
}

static void momenta(sim_md_t *md, double P[3], double L[3])
{
    int64_t n = sim_md_natoms(md);
    const double *x = sim_md_positions(md);
    double c[3] = {0, 0, 0};
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) c[k] += x[3 * i + k] / (double)n;
    const double *v = sim_md_velocities(md);
    for (int k = 0; k < 3; k++) P[k] = L[k] = 0;
    for (int64_t i = 0; i < n; i++) {
        double r[3] = {x[3 * i] - c[0], x[3 * i + 1] - c[1], x[3 * i + 2] - c[2]};
        const double *vi = v + 3 * i;
        for (int k = 0; k < 3; k++) P[k] += vi[k];
        L[0] += r[1] * vi[2] - r[2] * vi[1];
        L[1] += r[2] * vi[0] - r[0] * vi[2];
        L[2] += r[0] * vi[1] - r[1] * vi[0];
    }
}

static void test_init_velocities(sdt_t *t)
{
    sd_atoms_t *a = load(t, "oracle/structures/dh484.xyz");
    if (!a) return;
    sd_err_t e;
    sim_potential_t *p = sim_potential_new("Au", &e);
    sim_md_config_t c;
    sim_md_config_default(&c);
    c.temp_K = 673;
    c.seed = 42;
    sim_md_t *md = sim_md_new(p, a, &c, &e);
    CHECK_MSG(t, md != NULL, "%s", e.msg);
    if (!md) return;
    CHECK_NEAR(t, sim_md_temperature(md), 673.0, 1e-9);
    double P[3], L[3];
    momenta(md, P, L);
    for (int k = 0; k < 3; k++) {
        CHECK_NEAR(t, P[k], 0.0, 1e-9);
        CHECK_NEAR(t, L[k], 0.0, 1e-8);
    }
    CHECK_EQ_INT(t, sim_md_step(md), 0);
    /* a different seed gives different velocities, the same seed the same */
    sim_md_t *md2 = sim_md_new(p, a, &c, &e);
    CHECK(t, !memcmp(sim_md_velocities(md), sim_md_velocities(md2), sizeof(double) * 3 * a->n));
    sim_md_destroy(&md2);
    c.seed = 43;
    md2 = sim_md_new(p, a, &c, &e);
    CHECK(t, memcmp(sim_md_velocities(md), sim_md_velocities(md2), sizeof(double) * 3 * a->n) != 0);
    sim_md_destroy(&md2);
    sim_md_destroy(&md);
    CHECK(t, md == NULL);
    sim_potential_destroy(&p);
    sd_atoms_destroy(&a);
}

/* NVE at 5 fs from the equilibrated 673 K particle: the total energy stays
 * within a small band and does not drift */
static void test_nve(sdt_t *t)
{
    sd_atoms_t *a = load(t, "oracle/lammps/np1038_673K.data");
    if (!a) return;
    sd_err_t e;
    sim_potential_t *p = sim_potential_new("Au", &e);
    sim_md_config_t c;
    sim_md_config_default(&c);
    c.thermostat = SIM_NVE;
    c.init_velocities = 0; /* the file's velocities */
    c.dt_fs = 5;
    sim_md_t *md = sim_md_new(p, a, &c, &e);
    CHECK_MSG(t, md != NULL, "%s", e.msg);
    if (!md) return;
    CHECK(t, sim_md_temperature(md) > 600 && sim_md_temperature(md) < 750);
    double e0 = sim_md_potential_energy(md) + sim_md_kinetic_energy(md), dmax = 0;
    int nchunk = g_long ? 200 : 20;
    double first = 0, last = 0;
    for (int k = 0; k < nchunk; k++) {
        CHECK_EQ_INT(t, sim_md_advance(md, 100, &e), 0);
        double en = sim_md_potential_energy(md) + sim_md_kinetic_energy(md);
        dmax = fmax(dmax, fabs(en - e0));
        if (k < nchunk / 4) first += en / (nchunk / 4);
        if (k >= nchunk - nchunk / 4) last += en / (nchunk / 4);
    }
    double n = (double)a->n;
    printf("NVE 5 fs, %d steps: max |E - E0| = %.3g eV/atom, mean drift (last - first quarter) %.3g eV/atom\n",
           nchunk * 100, dmax / n, (last - first) / n);
    CHECK_MSG(t, dmax / n < 5e-5, "energy band %.3g eV/atom", dmax / n);
    CHECK_MSG(t, fabs(last - first) / n < 1e-5, "drift %.3g eV/atom", (last - first) / n);
    sim_md_destroy(&md);
    sim_potential_destroy(&p);
    sd_atoms_destroy(&a);
}

/* Langevin: <T> within 1% of the target and Var(KE) = (f/2)(kB T)^2 with
 * f = 3N - 3 (canonical momenta; the centre of mass is only damped).  A short
 * damping time makes the samples independent quickly; the formula is the same
 * as for the paper's 100 ps. */
static void test_langevin_stats(sdt_t *t)
{
    sd_atoms_t *a = load(t, "oracle/structures/dh484.xyz");
    if (!a) return;
    sd_err_t e;
    sim_potential_t *p = sim_potential_new("Au", &e);
    sim_md_config_t c;
    sim_md_config_default(&c);
    c.temp_K = 300;
    c.dt_fs = 5;
    c.damp_ps = 0.5;
    c.seed = 7;
    sim_md_t *md = sim_md_new(p, a, &c, &e);
    CHECK_MSG(t, md != NULL, "%s", e.msg);
    if (!md) return;
    CHECK_EQ_INT(t, sim_md_advance(md, 2000, &e), 0); /* equilibrate */
    int64_t nsamp = g_long ? 200000 : 24000;
    double s1 = 0, s2 = 0;
    int bad = 0;
    for (int64_t k = 0; k < nsamp; k++) {
        bad += sim_md_advance(md, 5, &e) != 0;
        double ke = sim_md_kinetic_energy(md);
        s1 += ke;
        s2 += ke * ke;
    }
    CHECK_EQ_INT(t, bad, 0);
    double mean = s1 / nsamp, var = s2 / nsamp - mean * mean;
    double f = 3.0 * a->n - 3.0, kT = KB * c.temp_K;
    double tmean = 2 * mean / (f * KB), var_ref = 0.5 * f * kT * kT;
    printf("Langevin 300 K, %lld samples: <T> = %.2f K (%.3f%%), Var(KE)/Var_canonical = %.3f\n",
           (long long)nsamp, tmean, 100 * (tmean / 300 - 1), var / var_ref);
    CHECK_MSG(t, fabs(tmean / 300 - 1) < 0.01, "<T> = %.3f", tmean);
    CHECK_MSG(t, fabs(var / var_ref - 1) < (g_long ? 0.05 : 0.15), "variance ratio %.3f", var / var_ref);
    /* zero net random force: total momentum stays ~0 (drag only removes it) */
    double P[3], L[3];
    momenta(md, P, L);
    double pn = sqrt(P[0] * P[0] + P[1] * P[1] + P[2] * P[2]);
    double vtherm = sqrt(KB * c.temp_K / (sim_potential_mass(p) * MVV2E)); /* Å/ps per component */
    CHECK_MSG(t, pn < 1e-6 * vtherm * a->n, "net momentum %.3g", pn);
    sim_md_destroy(&md);
    sim_potential_destroy(&p);
    sd_atoms_destroy(&a);
}

static void test_restart_bitwise(sdt_t *t)
{
    sd_atoms_t *a = load(t, "oracle/structures/to976.xyz");
    if (!a) return;
    sd_err_t e;
    sim_potential_t *p = sim_potential_new("Au", &e);
    sim_md_config_t c;
    sim_md_config_default(&c);
    c.temp_K = 673;
    c.dt_fs = 5;
    c.seed = 99;
    c.wall.enabled = 1; /* exercise the wall state too */
    c.wall.z0 = -30;
    c.wall.epsilon = 0.05;
    c.wall.sigma = 2.5;
    c.wall.cutoff = 8;
    const int64_t N = 300;
    sim_md_t *ref = sim_md_new(p, a, &c, &e);
    CHECK_MSG(t, ref != NULL, "%s", e.msg);
    if (!ref) return;
    CHECK_EQ_INT(t, sim_md_set_dt(ref, 1.0, &e), 0); /* thermalise at 1 fs, then 5 fs */
    CHECK_EQ_INT(t, sim_md_advance(ref, N, &e), 0);
    CHECK_EQ_INT(t, sim_md_set_dt(ref, 5.0, &e), 0);
    CHECK_EQ_INT(t, sim_md_advance(ref, 2 * N, &e), 0);

    sim_md_t *md = sim_md_new(p, a, &c, &e);
    CHECK_EQ_INT(t, sim_md_set_dt(md, 1.0, &e), 0);
    for (int k = 0; k < 3; k++) CHECK_EQ_INT(t, sim_md_advance(md, N / 3, &e), 0); /* split */
    CHECK_EQ_INT(t, sim_md_set_dt(md, 5.0, &e), 0);
    CHECK_EQ_INT(t, sim_md_advance(md, N, &e), 0);
    char path[256];
    snprintf(path, sizeof path, "sim_test_md_%ld.ckpt", (long)getpid());
    CHECK_EQ_INT(t, sim_md_checkpoint_write(md, path, &e), 0);
    sim_md_destroy(&md);
    md = sim_md_restore(p, path, &e);
    CHECK_MSG(t, md != NULL, "%s", e.msg);
    if (md) {
        CHECK_EQ_INT(t, sim_md_step(md), 2 * N);
        CHECK_EQ_INT(t, sim_md_advance(md, N, &e), 0);
        size_t sz = sizeof(double) * 3 * (size_t)a->n;
        CHECK(t, !memcmp(sim_md_positions(md), sim_md_positions(ref), sz));
        CHECK(t, !memcmp(sim_md_velocities(md), sim_md_velocities(ref), sz));
        CHECK(t, sim_md_time_fs(md) == sim_md_time_fs(ref));
        CHECK(t, sim_md_potential_energy(md) == sim_md_potential_energy(ref));
        CHECK_NEAR(t, sim_md_time_fs(md), N * 1.0 + 2 * N * 5.0, 1e-9);
        sim_md_destroy(&md);
    }
    /* damaged checkpoints are refused with a clear message */
    FILE *f = fopen(path, "r+b");
    CHECK(t, f != NULL);
    if (f) {
        fseek(f, 200, SEEK_SET);
        fputc(0x55, f);
        fclose(f);
        md = sim_md_restore(p, path, &e);
        CHECK(t, md == NULL);
        CHECK_STR_CONTAINS(t, e.msg, "checksum");
    }
    CHECK_EQ_INT(t, truncate(path, 100), 0);
    CHECK(t, sim_md_restore(p, path, &e) == NULL);
    CHECK(t, sim_md_restore(p, "/nonexistent/ckpt", &e) == NULL);
    CHECK_EQ_INT(t, e.code, SD_ENOTFOUND);
    /* another potential is refused */
    CHECK_EQ_INT(t, sim_md_checkpoint_write(ref, path, &e), 0);
    sim_potential_t *ag = sim_potential_new("Au-CR93", &e);
    CHECK(t, sim_md_restore(ag, path, &e) == NULL);
    CHECK_STR_CONTAINS(t, e.msg, "potential");
    sim_potential_destroy(&ag);
    unlink(path);
    sim_md_destroy(&ref);
    sim_potential_destroy(&p);
    sd_atoms_destroy(&a);
}

static void test_snapshot(sdt_t *t)
{
    sd_atoms_t *a = load(t, "oracle/structures/dh484.xyz");
    if (!a) return;
    sd_err_t e;
    sim_potential_t *p = sim_potential_new("Au", &e);
    sim_md_t *md = sim_md_new(p, a, NULL, &e);
    CHECK(t, md != NULL);
    if (!md) return;
    CHECK_EQ_INT(t, sim_md_advance(md, 10, &e), 0);
    sd_atoms_t *s = NULL;
    CHECK_EQ_INT(t, sim_md_snapshot(md, &s, &e), 0);
    CHECK(t, s && s->n == a->n);
    if (s) {
        CHECK(t, sd_atoms_get_prop(s, "velo") != NULL);
        CHECK_STR_CONTAINS(t, sd_atoms_get_info(s, "step"), "10");
        CHECK_NEAR(t, atof(sd_atoms_get_info(s, "time_fs")), 50.0, 1e-12);
        CHECK(t, !memcmp(s->pos, sim_md_positions(md), sizeof(double) * 3 * a->n));
    }
    sd_atoms_destroy(&s);
    sim_md_destroy(&md);
    sim_potential_destroy(&p);
    sd_atoms_destroy(&a);
}

/* The same NVE trajectory as LAMMPS (eam/alloy with the oracle's SMATB table,
 * which matches exact SMATB to 2e-7 eV/A): same units, integrator and
 * temperature definition.  Skipped when `lmp` is not installed. */
static void test_vs_lammps_nve(sdt_t *t)
{
    char data[1024], table[1024];
    sdt_shared_or_skip("oracle/lammps/np1038_673K.data", data, sizeof data);
    sdt_shared_or_skip("oracle/lammps/Au_smatb_N2000.eam.alloy", table, sizeof table);
    if (system("command -v lmp > /dev/null 2>&1") != 0) {
        printf("lmp not installed: LAMMPS cross-check skipped\n");
        return;
    }
    char dir[] = "/tmp/sim_test_lmp_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(t, 0);
        return;
    }
    char path[2048], cmd[4096];
    snprintf(path, sizeof path, "%s/in.nve", dir);
    FILE *f = fopen(path, "w");
    CHECK(t, f != NULL);
    if (!f) return;
    fprintf(f, "units metal\natom_style atomic\nboundary s s s\nread_data %s\n"
               "pair_style eam/alloy\npair_coeff * * %s Au\nneighbor 0.5 bin\n"
               "neigh_modify delay 0 every 1 check yes\ntimestep 0.005\nfix fNVE all nve\n"
               "run 200\nwrite_dump all custom %s/final.dump id x y z vx vy vz modify sort id "
               "format float %%.15g\n",
            data, table, dir);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cd %s && lmp -in in.nve -log none -screen none", dir);
    int rc = system(cmd);
    CHECK_EQ_INT(t, rc, 0);
    sd_atoms_t *a = NULL;
    sd_err_t e;
    CHECK_EQ_INT(t, sd_atoms_read_any(data, &a, &e), 0);
    sim_potential_t *p = sim_potential_new("Au", &e);
    sim_md_config_t c;
    sim_md_config_default(&c);
    c.thermostat = SIM_NVE;
    c.init_velocities = 0;
    c.dt_fs = 5;
    sim_md_t *md = sim_md_new(p, a, &c, &e);
    CHECK(t, md != NULL);
    snprintf(path, sizeof path, "%s/final.dump", dir);
    f = rc == 0 && md ? fopen(path, "r") : NULL;
    CHECK(t, f != NULL);
    if (f) {
        CHECK_EQ_INT(t, sim_md_advance(md, 200, &e), 0);
        const double *x = sim_md_positions(md);
        const double *v = sim_md_velocities(md);
        char line[512];
        for (int k = 0; k < 9; k++) CHECK(t, fgets(line, sizeof line, f) != NULL);
        double dx = 0, dv = 0;
        int nread = 0;
        for (int64_t i = 0; i < a->n; i++) {
            long id;
            double q[6];
            if (fscanf(f, "%ld %lf %lf %lf %lf %lf %lf", &id, q, q + 1, q + 2, q + 3, q + 4, q + 5) != 7 ||
                id < 1 || id > a->n)
                break;
            nread++;
            for (int k = 0; k < 3; k++) {
                dx = fmax(dx, fabs(q[k] - x[3 * (id - 1) + k]));
                dv = fmax(dv, fabs(q[3 + k] - v[3 * (id - 1) + k]));
            }
        }
        fclose(f);
        printf("vs LAMMPS, 200 NVE steps at 5 fs: max |dx| %.3g A, max |dv| %.3g A/ps\n", dx, dv);
        CHECK_EQ_INT(t, nread, a->n);
        CHECK_MSG(t, dx < 1e-5 && dv < 1e-4, "dx %.3g dv %.3g", dx, dv);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(t, system(cmd), 0);
    sim_md_destroy(&md);
    sim_potential_destroy(&p);
    sd_atoms_destroy(&a);
}

static void test_bad_inputs(sdt_t *t)
{
    sd_err_t e;
    sim_potential_t *p = sim_potential_new("Au", &e);
    sim_md_config_t c;
    sim_md_config_default(&c);
    double pos[6] = {0, 0, 0, 2.9, 0, 0};
    sim_md_t *md = sim_md_new_flat(p, 0, pos, NULL, &c, &e);
    CHECK(t, md == NULL);
    CHECK_STR_CONTAINS(t, e.msg, "no atoms");
    pos[4] = NAN;
    CHECK(t, sim_md_new_flat(p, 2, pos, NULL, &c, &e) == NULL);
    CHECK_EQ_INT(t, e.code, SD_ERANGE);
    pos[4] = 0;
    pos[3] = 0.2;
    CHECK(t, sim_md_new_flat(p, 2, pos, NULL, &c, &e) == NULL);
    CHECK_EQ_INT(t, e.code, SD_EPHYS);
    pos[3] = 2.9;
    c.dt_fs = -1;
    CHECK(t, sim_md_new_flat(p, 2, pos, NULL, &c, &e) == NULL);
    CHECK_STR_CONTAINS(t, e.msg, "time step");
    c.dt_fs = 5;
    c.damp_ps = 0;
    CHECK(t, sim_md_new_flat(p, 2, pos, NULL, &c, &e) == NULL);
    c.damp_ps = 100;
    /* a dimer runs */
    md = sim_md_new_flat(p, 2, pos, NULL, &c, &e);
    CHECK_MSG(t, md != NULL, "%s", e.msg);
    CHECK_EQ_INT(t, sim_md_advance(md, 100, &e), 0);
    CHECK(t, sim_md_advance(md, -1, &e) < 0);
    CHECK(t, sim_md_set_dt(md, 0, &e) < 0);
    sim_md_destroy(&md);
    /* element mismatch */
    sd_atoms_t *a = sd_atoms_new(2, "Ag");
    memcpy(a->pos, pos, sizeof pos);
    CHECK(t, sim_md_new(p, a, &c, &e) == NULL);
    CHECK_STR_CONTAINS(t, e.msg, "Ag");
    sd_atoms_destroy(&a);
    sim_potential_destroy(&p);
}


int main(int argc, char **argv)
{
    static const sdt_case_t cases[] = {SDT_CASE(test_init_velocities), SDT_CASE(test_nve),
                                       SDT_CASE(test_langevin_stats), SDT_CASE(test_restart_bitwise),
                                       SDT_CASE(test_snapshot), SDT_CASE(test_vs_lammps_nve),
                                       SDT_CASE(test_bad_inputs)};
    if (argc > 1 && !strcmp(argv[1], "long")) {
        g_long = 1;
        argc--;
        argv++;
    }
    return sdt_run(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv);
}
