/* Minimisers: CG and FIRE reach the oracle's tight minima (LAMMPS CG to
 * fmax 1e-9 from the same starts) within 1e-6 eV/atom; stopping rules. */
#include "sdtest.h"
#include "sim.h"
#include "sim_testutil.h"

#include "sd_atoms.h"

static void run_one(sdt_t *t, const char *name, sim_min_style_t style)
{
    char buf[1024], rel[256];
    snprintf(rel, sizeof rel, "oracle/structures/%s.xyz", name);
    sd_atoms_t *a = NULL;
    sd_err_t e;
    CHECK_EQ_INT(t, sd_atoms_read_any(sdt_shared_or_skip(rel, buf, sizeof buf), &a, &e), 0);
    if (!a) return;
    snprintf(rel, sizeof rel, "oracle/smatb/%s.json", name);
    char *json = stu_slurp(sdt_shared_or_skip(rel, buf, sizeof buf));
    const char *tm = json ? stu_key(json, "tight_minimization") : NULL;
    CHECK(t, tm != NULL);
    if (!tm) return;
    double eref = stu_number(tm, "E_exact_smatb");
    sim_potential_t *p = sim_potential_new("Au", &e);
    sim_min_opts_t o;
    sim_min_opts_default(&o);
    o.style = style;
    o.etol = 0;
    o.ftol = 1e-6;
    o.maxiter = 20000;
    o.maxeval = 40000;
    sim_min_result_t r;
    CHECK_EQ_INT(t, sim_minimize(p, a->n, a->pos, &o, &r, &e), 0);
    printf("%s %s: E %.10f ref %.10f dE/atom %.3g fmax %.3g iters %lld evals %lld stop %s\n",
           name, style == SIM_MIN_CG ? "cg" : "fire", r.energy, eref,
           (r.energy - eref) / (double)a->n, r.fmax, (long long)r.iterations,
           (long long)r.evaluations, sim_min_stop_name(r.stop));
    CHECK_MSG(t, fabs(r.energy - eref) / (double)a->n <= 1e-6, "%s: %.3g eV/atom from the tight minimum",
              name, (r.energy - eref) / (double)a->n);
    CHECK_EQ_INT(t, r.stop, SIM_STOP_FTOL);
    /* the returned energy belongs to the returned positions */
    double echk;
    CHECK_EQ_INT(t, sim_compute(p, a->n, a->pos, &echk, NULL, NULL, &e), 0);
    CHECK_NEAR(t, echk, r.energy, 1e-9);
    sim_potential_destroy(&p);
    free(json);
    sd_atoms_destroy(&a);
}

static void test_cg_dh484(sdt_t *t) { run_one(t, "dh484", SIM_MIN_CG); }
static void test_cg_ih923(sdt_t *t) { run_one(t, "ih923", SIM_MIN_CG); }
static void test_cg_to976(sdt_t *t) { run_one(t, "to976", SIM_MIN_CG); }
static void test_fire_dh484(sdt_t *t) { run_one(t, "dh484", SIM_MIN_FIRE); }

/* the paper's settings stop on the energy tolerance, as LAMMPS does */
static void test_paper_settings(sdt_t *t)
{
    char buf[1024];
    sd_atoms_t *a = NULL;
    sd_err_t e;
    CHECK_EQ_INT(t, sd_atoms_read_any(sdt_shared_or_skip("oracle/structures/dh484.xyz", buf, sizeof buf), &a, &e), 0);
    if (!a) return;
    sim_potential_t *p = sim_potential_new("Au", &e);
    sim_min_result_t r;
    CHECK_EQ_INT(t, sim_minimize(p, a->n, a->pos, NULL, &r, &e), 0);
    printf("paper settings: E %.8f (LAMMPS -1778.88009681) stop %s after %lld iterations\n",
           r.energy, sim_min_stop_name(r.stop), (long long)r.iterations);
    CHECK_EQ_INT(t, r.stop, SIM_STOP_ETOL);
    CHECK(t, r.energy < -1778.87 && r.energy > -1778.8829);
    /* maxiter stops */
    sim_min_opts_t o;
    sim_min_opts_default(&o);
    o.etol = 0;
    o.ftol = 0;
    o.maxiter = 3;
    CHECK_EQ_INT(t, sim_minimize(p, a->n, a->pos, &o, &r, &e), 0);
    CHECK_EQ_INT(t, r.stop, SIM_STOP_MAXITER);
    CHECK_EQ_INT(t, r.iterations, 3);
    o.maxiter = 1000;
    o.maxeval = 5;
    CHECK_EQ_INT(t, sim_minimize(p, a->n, a->pos, &o, &r, &e), 0);
    CHECK_EQ_INT(t, r.stop, SIM_STOP_MAXEVAL);
    o.etol = -1;
    CHECK(t, sim_minimize(p, a->n, a->pos, &o, &r, &e) == SD_EINVAL);
    sim_potential_destroy(&p);
    sd_atoms_destroy(&a);
}

/* a 9-3 wall below the particle: minimising with it moves the bottom up
 * relative to the free minimum and is reflected in the energy */
static void test_wall(sdt_t *t)
{
    char buf[1024];
    sd_atoms_t *a = NULL;
    sd_err_t e;
    CHECK_EQ_INT(t, sd_atoms_read_any(sdt_shared_or_skip("oracle/structures/dh484.xyz", buf, sizeof buf), &a, &e), 0);
    if (!a) return;
    double zmin = 1e9;
    for (int64_t i = 0; i < a->n; i++) zmin = fmin(zmin, a->pos[3 * i + 2]);
    sim_potential_t *p = sim_potential_new("Au", &e);
    sim_min_opts_t o;
    sim_min_opts_default(&o);
    o.wall.enabled = 1;
    o.wall.z0 = zmin - 2.5;
    o.wall.epsilon = 0.1;
    o.wall.sigma = 2.5;
    o.wall.cutoff = 6.0;
    sim_min_result_t r, r0;
    double *pos0 = malloc(sizeof(double) * 3 * a->n);
    memcpy(pos0, a->pos, sizeof(double) * 3 * a->n);
    CHECK_EQ_INT(t, sim_minimize(p, a->n, a->pos, &o, &r, &e), 0);
    sim_min_opts_t o0 = o;
    o0.wall.enabled = 0;
    CHECK_EQ_INT(t, sim_minimize(p, a->n, pos0, &o0, &r0, &e), 0);
    double ep;
    CHECK_EQ_INT(t, sim_compute(p, a->n, a->pos, &ep, NULL, NULL, &e), 0);
    printf("wall: E %.6f (SMATB part %.6f), free %.6f\n", r.energy, ep, r0.energy);
    CHECK(t, r.energy < r0.energy - 0.05); /* attractive wall binds the bottom atoms */
    CHECK(t, r.energy - ep < -0.05);
    o.wall.sigma = -1;
    CHECK(t, sim_minimize(p, a->n, a->pos, &o, &r, &e) == SD_EINVAL);
    free(pos0);
    sim_potential_destroy(&p);
    sd_atoms_destroy(&a);
}

SDT_MAIN(SDT_CASE(test_cg_dh484), SDT_CASE(test_cg_ih923), SDT_CASE(test_cg_to976),
         SDT_CASE(test_fire_dh484), SDT_CASE(test_paper_settings), SDT_CASE(test_wall))
