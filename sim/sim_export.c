/* `stemdyn export-lammps`: the SMATB potential as a LAMMPS eam/alloy setfl
 * table (F(rho) = -sqrt(rho), f(r) = Xi(r)^2, phi(r) = 2 alpha(r), the same
 * construction as ../shared/oracle/lammps/Au_smatb_N2000.eam.alloy) and a
 * LAMMPS input running the paper's protocol, so any run can be cross-checked
 * in LAMMPS. */
#include "sim_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int sim_export_lammps(const sim_potential_t *p, const char *prefix, int nr, int nrho, double rhomax,
                      const char *data, double temp, double dt_fs, int64_t nsteps, uint64_t seed,
                      double damp_ps, int64_t th_steps, double th_dt, int64_t dump_every,
                      const sim_wall_t *wall, sd_err_t *e);

static int put5(FILE *f, int64_t k, double v)
{
    return fprintf(f, "%.16e%s", v, (k % 5 == 4) ? "\n" : " ") < 0;
}

static int write_setfl(const sim_potential_t *p, const char *path, int nr, int nrho, double rhomax,
                       sd_err_t *e)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return sd_err_set(e, SD_EIO, "%s: %s", tmp, strerror(errno));
    const sim_smatb_params_t *c = &p->prm;
    const double dr = c->rc / (nr - 1), drho = rhomax / (nrho - 1);
    int bad = 0;
    bad |= fprintf(f, "SMATB/Gupta/RGL %s (%s) tabulated as eam/alloy by stemdyn export-lammps\n",
                   c->element, c->name) < 0;
    bad |= fprintf(f, "r0=%.17g p=%.17g q=%.17g A=%.17g xi=%.17g Rs=%.17g Rc=%.17g\n", c->r0, c->p,
                   c->q, c->A, c->xi, c->rs, c->rc) < 0;
    bad |= fprintf(f, "F(rho)=-sqrt(rho); f(r)=Xi(r)^2; phi(r)=2*alpha(r); quintic C2 tails Rs..Rc\n") < 0;
    bad |= fprintf(f, "1 %s\n", c->element) < 0;
    bad |= fprintf(f, "%d %.16e %d %.16e %.16e\n", nrho, drho, nr, dr, c->rc) < 0;
    int z = sd_element_number(c->element);
    bad |= fprintf(f, "%d %.8g %.8g fcc\n", z, c->mass, c->r0 * sqrt(2.0)) < 0;
    for (int64_t k = 0; k < nrho && !bad; k++) bad |= put5(f, k, -sqrt((double)k * drho));
    if (nrho % 5) bad |= fputc('\n', f) == EOF;
    for (int64_t k = 0; k < nr && !bad; k++) {
        double a, da, x2, dx2;
        sim_potential_pair(p, (double)k * dr, &a, &da, &x2, &dx2);
        bad |= put5(f, k, x2);
    }
    if (nr % 5) bad |= fputc('\n', f) == EOF;
    for (int64_t k = 0; k < nr && !bad; k++) {
        double r = (double)k * dr, a, da, x2, dx2;
        sim_potential_pair(p, r, &a, &da, &x2, &dx2);
        bad |= put5(f, k, r * 2.0 * a);
    }
    if (nr % 5) bad |= fputc('\n', f) == EOF;
    if (fclose(f) != 0) bad = 1;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return sd_err_set(e, SD_EIO, "%s: write failed", path);
    }
    return SD_OK;
}

int sim_export_lammps(const sim_potential_t *p, const char *prefix, int nr, int nrho, double rhomax,
                      const char *data, double temp, double dt_fs, int64_t nsteps, uint64_t seed,
                      double damp_ps, int64_t th_steps, double th_dt, int64_t dump_every,
                      const sim_wall_t *wall, sd_err_t *e)
{
    if (!p || !prefix || !*prefix || nr < 10 || nrho < 10 || !(rhomax > 0))
        return sd_err_set(e, SD_EINVAL, "export-lammps: bad arguments");
    char path[4096], base[4096];
    if (snprintf(path, sizeof path, "%s.eam.alloy", prefix) >= (int)sizeof path)
        return sd_err_set(e, SD_EINVAL, "export-lammps: prefix too long");
    int rc = write_setfl(p, path, nr, nrho, rhomax, e);
    if (rc) return rc;
    const char *sl = strrchr(path, '/');
    snprintf(base, sizeof base, "%s", sl ? sl + 1 : path);
    snprintf(path, sizeof path, "%s.in", prefix);
    FILE *f = fopen(path, "w");
    if (!f) return sd_err_set(e, SD_EIO, "%s: %s", path, strerror(errno));
    const sim_smatb_params_t *c = &p->prm;
    fprintf(f,
            "# stemdyn export-lammps: the paper's protocol (Cioni et al. 2024) for LAMMPS.\n"
            "# SMATB %s (R0 p q A xi Rsc Rc = %.17g %.17g %.17g %.17g %.17g %.17g %.17g)\n"
            "# Exact alternative (LAMMPS with the EXTRA-PAIR package):\n"
            "#   pair_style smatb/single\n"
            "#   pair_coeff 1 1 %.17g %.17g %.17g %.17g %.17g %.17g %.17g\n"
            "units           metal\n"
            "atom_style      atomic\n"
            "boundary        s s s\n"
            "read_data       %s\n"
            "mass            * %.8g\n"
            "pair_style      eam/alloy\n"
            "pair_coeff      * * %s %s\n"
            "neighbor        0.5 bin\n"
            "neigh_modify    delay 0 every 1 check yes\n"
            "thermo_style    custom step temp pe ke etotal\n"
            "thermo          10000\n"
            "min_style       cg\n"
            "minimize        1.0e-6 1.0e-8 1000 10000\n"
            "reset_timestep  0\n"
            "velocity        all create %.10g %llu mom yes rot yes dist gaussian\n"
            "fix             fNVE all nve\n"
            "fix             fLNGV all langevin %.10g %.10g %.10g %llu zero yes\n",
            c->name, c->r0, c->p, c->q, c->A, c->xi, c->rs, c->rc, c->r0, c->p, c->q, c->A, c->xi,
            c->rs, c->rc, data, c->mass, base, c->element, temp, (unsigned long long)seed, temp,
            temp, damp_ps, (unsigned long long)seed + 1);
    if (wall && wall->enabled)
        fprintf(f, "fix             fWALL all wall/lj93 zlo %.10g %.10g %.10g %.10g units box\n"
                   "fix_modify      fWALL energy yes\n",
                wall->z0, wall->epsilon, wall->sigma, wall->cutoff);
    if (th_steps > 0) fprintf(f, "timestep        %.10g\nrun             %lld\n", th_dt * 1e-3, (long long)th_steps);
    fprintf(f,
            "reset_timestep  0\n"
            "timestep        %.10g\n"
            "dump            dTRAJ all custom %lld traj.lammpstrj id type x y z vx vy vz\n"
            "dump_modify     dTRAJ sort id\n"
            "run             %lld\n",
            dt_fs * 1e-3, (long long)dump_every, (long long)nsteps);
    if (fclose(f) != 0) return sd_err_set(e, SD_EIO, "%s: write failed", path);
    return SD_OK;
}
