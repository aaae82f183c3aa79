/* SMATB energies and forces against the oracle (exact numpy implementation of
 * LAMMPS smatb/single), finite differences, the local energy change, the
 * parameter table and the vector/scalar kernel agreement. */
#include "sdtest.h"
#include "sim.h"
#include "sim_internal.h"
#include "sim_testutil.h"

#include "sd_atoms.h"

#include <math.h>

static sd_atoms_t *load(sdt_t *t, const char *rel)
{
    char buf[1024];
    sdt_shared_or_skip(rel, buf, sizeof buf);
    sd_atoms_t *a = NULL;
    sd_err_t e;
    int rc = sd_atoms_read_any(buf, &a, &e);
    CHECK_MSG(t, rc == 0, "read %s: %s", buf, e.msg);
    return rc == 0 ? a : NULL;
}

static void check_oracle(sdt_t *t, const char *name)
{
    char rel[256], buf[1024];
    snprintf(rel, sizeof rel, "oracle/structures/%s.xyz", name);
    sd_atoms_t *a = load(t, rel);
    if (!a) return;
    snprintf(rel, sizeof rel, "oracle/smatb/%s.json", name);
    char *json = stu_slurp(sdt_shared_or_skip(rel, buf, sizeof buf));
    CHECK(t, json != NULL);
    if (!json) return;
    int64_t n = a->n;
    double *eref = malloc(sizeof(double) * n), *fref = malloc(sizeof(double) * 3 * n),
           *ea = malloc(sizeof(double) * n), *f = malloc(sizeof(double) * 3 * n);
    CHECK_EQ_INT(t, stu_numbers(json, "energies_per_atom", eref, n), n);
    CHECK_EQ_INT(t, stu_numbers(json, "forces", fref, 3 * n), 3 * n);
    double etot_ref = stu_number(json, "energy_total");
    sd_err_t e;
    sim_potential_t *p = sim_potential_new("Au", &e);
    CHECK(t, p != NULL);
    /* tail coefficients */
    sim_smatb_params_t prm;
    sim_potential_params(p, &prm);
    const char *keys[] = {"a3", "a4", "a5", "x3", "x4", "x5"};
    double mine[] = {prm.a3, prm.a4, prm.a5, prm.x3, prm.x4, prm.x5};
    for (int k = 0; k < 6; k++) {
        double ref = stu_number(json, keys[k]);
        CHECK_MSG(t, fabs(mine[k] - ref) <= 1e-13 * fabs(ref), "%s: %.17g vs %.17g", keys[k],
                  mine[k], ref);
    }
    double etot = 0;
    int rc = sim_compute(p, n, a->pos, &etot, ea, f, &e);
    CHECK_MSG(t, rc == 0, "%s", e.msg);
    double de = 0, dfm = 0;
    for (int64_t i = 0; i < n; i++) de = fmax(de, fabs(ea[i] - eref[i]));
    for (int64_t i = 0; i < 3 * n; i++) dfm = fmax(dfm, fabs(f[i] - fref[i]));
    printf("%s: n %lld E %.10f (ref %.10f) max|dE_i| %.3g max|dF| %.3g\n", name, (long long)n,
           etot, etot_ref, de, dfm);
    CHECK_NEAR(t, etot, etot_ref, 1e-10 * n);
    CHECK_MSG(t, de <= 1e-10, "per-atom energy deviation %.3g", de);
    CHECK_MSG(t, dfm <= 1e-9, "force deviation %.3g", dfm);

    /* the same through a workspace, twice (list reuse) */
    sim_ws_t *w = sim_ws_new(p, n, 0.5, &e);
    CHECK(t, w != NULL);
    for (int rep = 0; rep < 2; rep++) {
        double e2 = 0;
        CHECK_EQ_INT(t, sim_ws_compute(w, a->pos, &e2, NULL, f, &e), 0);
        double d = 0;
        for (int64_t i = 0; i < 3 * n; i++) d = fmax(d, fabs(f[i] - fref[i]));
        CHECK_MSG(t, d <= 1e-9, "ws force deviation %.3g", d);
        CHECK_NEAR(t, e2, etot_ref, 1e-10 * n);
    }
    sim_ws_destroy(&w);
    CHECK(t, w == NULL);
    sim_potential_destroy(&p);
    free(eref);
    free(fref);
    free(ea);
    free(f);
    free(json);
    sd_atoms_destroy(&a);
}

static void test_oracle_dh484(sdt_t *t) { check_oracle(t, "dh484"); }
static void test_oracle_ih923(sdt_t *t) { check_oracle(t, "ih923"); }
static void test_oracle_to976(sdt_t *t) { check_oracle(t, "to976"); }

/* forces = -dE/dx by central differences on a perturbed structure (so that
 * many pairs sit in the tail region and forces are not zero by symmetry) */
static void test_finite_differences(sdt_t *t)
{
    sd_atoms_t *a = load(t, "oracle/structures/dh484.xyz");
    if (!a) return;
    int64_t n = a->n;
    uint64_t s = 12345;
    for (int64_t i = 0; i < 3 * n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        a->pos[i] += 0.15 * ((double)(s >> 11) / 9007199254740992.0 - 0.5);
    }
    sd_err_t e;
    sim_potential_t *p = sim_potential_new("Au", &e);
    double *f = malloc(sizeof(double) * 3 * n);
    double E0;
    CHECK_EQ_INT(t, sim_compute(p, n, a->pos, &E0, NULL, f, &e), 0);
    const double h = 1e-5;
    double worst = 0;
    for (int64_t c = 0; c < 3 * n; c += 7) {
        double x0 = a->pos[c], ep, em;
        a->pos[c] = x0 + h;
        sim_compute(p, n, a->pos, &ep, NULL, NULL, &e);
        a->pos[c] = x0 - h;
        sim_compute(p, n, a->pos, &em, NULL, NULL, &e);
        a->pos[c] = x0;
        double fd = -(ep - em) / (2 * h);
        worst = fmax(worst, fabs(fd - f[c]));
    }
    printf("finite differences: max |F - F_fd| = %.3g eV/A (h = 1e-5)\n", worst);
    /* round-off of E (~1e-12 relative of 1.7e3 eV) / 2h bounds the agreement */
    CHECK_MSG(t, worst < 2e-6, "max deviation %.3g", worst);
    free(f);
    sim_potential_destroy(&p);
    sd_atoms_destroy(&a);
}

static void test_energy_delta(sdt_t *t)
{
    sd_atoms_t *a = load(t, "oracle/structures/to976.xyz");
    if (!a) return;
    int64_t n = a->n;
    sd_err_t e;
    sim_potential_t *p = sim_potential_new("Au", &e);
    double E0, E1;
    CHECK_EQ_INT(t, sim_compute(p, n, a->pos, &E0, NULL, NULL, &e), 0);
    int64_t idx[3] = {5, 400, 401};
    double np[9];
    for (int k = 0; k < 3; k++)
        for (int c = 0; c < 3; c++) np[3 * k + c] = a->pos[3 * idx[k] + c] + 0.3 * (c - 1) + 0.1 * k;
    double dE = 0;
    CHECK_EQ_INT(t, sim_energy_delta(p, n, a->pos, 3, idx, np, &dE, &e), 0);
    double *moved = malloc(sizeof(double) * 3 * n);
    memcpy(moved, a->pos, sizeof(double) * 3 * n);
    for (int k = 0; k < 3; k++)
        for (int c = 0; c < 3; c++) moved[3 * idx[k] + c] = np[3 * k + c];
    CHECK_EQ_INT(t, sim_compute(p, n, moved, &E1, NULL, NULL, &e), 0);
    printf("energy delta %.12f vs full %.12f\n", dE, E1 - E0);
    CHECK_NEAR(t, dE, E1 - E0, 1e-9);
    /* repeated index is an error */
    int64_t bad[2] = {3, 3};
    CHECK(t, sim_energy_delta(p, n, a->pos, 2, bad, np, &dE, &e) < 0);
    free(moved);
    sim_potential_destroy(&p);
    sd_atoms_destroy(&a);
}

/* fcc bulk check of the README: the paper's Au at a0 = 4.06417 Å has
 * E_coh = -3.810033 eV/atom (central atom of a large cube). */
static void test_bulk_and_table(sdt_t *t)
{
    sd_err_t e;
    const char *const *names;
    int nn = sim_potential_names(&names);
    CHECK(t, nn >= 8);
    const double ecoh_exp[] = {-3.810033, -3.78, -2.95, -3.49, -5.86, -3.89, -4.44, -3.39};
    for (int k = 0; k < nn; k++) {
        sim_potential_t *p = sim_potential_new(names[k], &e);
        CHECK_MSG(t, p != NULL, "%s", names[k]);
        if (!p) continue;
        sim_smatb_params_t prm;
        sim_potential_params(p, &prm);
        double a0 = k == 0 ? 4.06417 : prm.r0 * sqrt(2.0);
        int L = 5, n = 0;
        double *pos = malloc(sizeof(double) * 3 * 4 * (2 * L + 1) * (2 * L + 1) * (2 * L + 1));
        int center = -1;
        const double b[4][3] = {{0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
        for (int i = -L; i <= L; i++)
            for (int j = -L; j <= L; j++)
                for (int l = -L; l <= L; l++)
                    for (int s = 0; s < 4; s++) {
                        if (!i && !j && !l && !s) center = n;
                        pos[3 * n] = a0 * (i + b[s][0]);
                        pos[3 * n + 1] = a0 * (j + b[s][1]);
                        pos[3 * n + 2] = a0 * (l + b[s][2]);
                        n++;
                    }
        double *ea = malloc(sizeof(double) * n);
        CHECK_EQ_INT(t, sim_compute(p, n, pos, NULL, ea, NULL, &e), 0);
        printf("%-8s a0 %.4f E_coh %.6f eV (Rc %.4f)\n", names[k], a0, ea[center],
               sim_potential_cutoff(p));
        if (k == 0)
            CHECK_NEAR(t, ea[center], ecoh_exp[0], 1e-6);
        else /* CR93 sets (fifth-shell tail): within 5% of the experimental E_coh */
            CHECK_MSG(t, fabs(ea[center] / ecoh_exp[k] - 1) < 0.05, "%s E_coh %.4f", names[k],
                      ea[center]);
        free(ea);
        free(pos);
        sim_potential_destroy(&p);
    }
    CHECK(t, sim_potential_new("Xx", &e) == NULL);
    CHECK_EQ_INT(t, e.code, SD_ENOTFOUND);
    CHECK_STR_CONTAINS(t, e.msg, "Xx");
    sim_potential_t *ag = sim_potential_new("Ag", &e);
    CHECK(t, ag && !strcmp(sim_potential_element(ag), "Ag"));
    sim_potential_destroy(&ag);
}

/* the vector kernel against the portable one on a perturbed 1038-atom state */
static void test_kernels_agree(sdt_t *t)
{
    sd_atoms_t *a = load(t, "oracle/lammps/np1038_673K.data");
    if (!a) return;
    int64_t n = a->n;
    sd_err_t e;
    sim_potential_t *p = sim_potential_new("Au", &e);
    sim_ws_t *w = sim_ws_new(p, n, 0.5, &e);
    for (int64_t i = 0; i < n; i++) {
        w->x[i] = a->pos[3 * i];
        w->y[i] = a->pos[3 * i + 1];
        w->z[i] = a->pos[3 * i + 2];
    }
    double e1, e2, *ea1 = malloc(sizeof(double) * n), *ea2 = malloc(sizeof(double) * n);
    double *f1 = malloc(sizeof(double) * 3 * n);
    CHECK_EQ_INT(t, sim_ws_force_soa(w, &e1, ea1, &e), 0);
    for (int64_t i = 0; i < n; i++) {
        f1[3 * i] = w->fx[i];
        f1[3 * i + 1] = w->fy[i];
        f1[3 * i + 2] = w->fz[i];
    }
    CHECK_EQ_INT(t, sim_ws_force_soa_scalar(w, &e2, ea2, &e), 0);
    double de = 0, df = 0;
    for (int64_t i = 0; i < n; i++) {
        de = fmax(de, fabs(ea1[i] - ea2[i]));
        df = fmax(df, fabs(f1[3 * i] - w->fx[i]));
        df = fmax(df, fabs(f1[3 * i + 1] - w->fy[i]));
        df = fmax(df, fabs(f1[3 * i + 2] - w->fz[i]));
    }
    printf("fast vs portable kernel: |dE| %.3g, max |dE_i| %.3g, max |dF| %.3g\n", fabs(e1 - e2), de, df);
    CHECK_NEAR(t, e1, e2, 1e-9);
    CHECK(t, de < 1e-12 && df < 1e-12);
    free(ea1);
    free(ea2);
    free(f1);
    sim_ws_destroy(&w);
    sim_potential_destroy(&p);
    sd_atoms_destroy(&a);
}

static void test_bad_inputs(sdt_t *t)
{
    sd_err_t e;
    sim_potential_t *p = sim_potential_new("Au", &e);
    double pos[6] = {0, 0, 0, 0.3, 0, 0}, en;
    CHECK(t, sim_compute(p, 2, pos, &en, NULL, NULL, &e) == SD_EPHYS);
    CHECK_STR_CONTAINS(t, e.msg, "overlap");
    pos[3] = NAN;
    CHECK(t, sim_compute(p, 2, pos, &en, NULL, NULL, &e) == SD_ERANGE);
    CHECK(t, sim_compute(p, 0, pos, &en, NULL, NULL, &e) == SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "no atoms");
    /* far-apart atoms: grid stays small, energy of isolated atoms is 0 */
    double far[6] = {0, 0, 0, 1e7, -1e7, 1e7};
    CHECK_EQ_INT(t, sim_compute(p, 2, far, &en, NULL, NULL, &e), 0);
    CHECK_NEAR(t, en, 0.0, 0.0);
    sim_potential_destroy(&p);
}

SDT_MAIN(SDT_CASE(test_oracle_dh484), SDT_CASE(test_oracle_ih923), SDT_CASE(test_oracle_to976),
         SDT_CASE(test_finite_differences), SDT_CASE(test_energy_delta),
         SDT_CASE(test_bulk_and_table), SDT_CASE(test_kernels_agree), SDT_CASE(test_bad_inputs))
