/* Molecular dynamics: velocity Verlet (LAMMPS fix nve) with the Langevin
 * thermostat of LAMMPS `fix langevin T T damp seed zero yes` applied in the
 * force stage: F += -m v/damp + sqrt(24 kB T m/(damp dt))·(u - 1/2) per
 * component, u uniform in [0,1), with the mean random force subtracted.
 * Random numbers are counter-based (SplitMix64 mixer keyed by seed, step,
 * atom, component), so a run is a pure function of its inputs however the
 * steps are split, and a checkpoint needs no generator state beyond the step.
 *
 * Internally metal units as LAMMPS: Å, ps, eV, amu, Å/ps. */
#include "sim_internal.h"

#include "sd_crc32c.h"

#include <errno.h>
#include <fcntl.h>
#if defined(__AVX512F__) && defined(__AVX512DQ__)
#include <immintrin.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MVV2E 1.0364269e-4   /* amu (Å/ps)^2 -> eV (LAMMPS metal) */
#define FTM2V (1.0 / MVV2E)  /* eV/Å / amu -> Å/ps^2 */
#define BOLTZ 8.617343e-5    /* eV/K (LAMMPS metal) */
#define GOLDEN 0x9e3779b97f4a7c15ULL

struct sim_md {
    const sim_potential_t *p;
    sim_md_config_t cfg;
    int64_t n;
    sim_ws_t *w;             /* positions w->x,y,z and forces w->fx,fy,fz */
    double *vx, *vy, *vz;    /* Å/ps */
    double *aos_pos, *aos_vel; /* [n][3] views filled on request */
    double *rnd;             /* [3n] scratch for the random forces */
    double mass, epot, ewall;
    int64_t step;
    double time_fs;
};

void sim_md_config_default(sim_md_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->temp_K = 300;
    c->dt_fs = 5;
    c->thermostat = SIM_LANGEVIN;
    c->damp_ps = 100;
    c->seed = 1;
    c->init_velocities = 1;
    c->skin = 0.5;
}

static int check_cfg(const sim_md_config_t *c, sd_err_t *e)
{
    if (!(c->temp_K >= 0 && c->temp_K <= 1e5))
        return sd_err_set(e, SD_EINVAL, "md: temperature %g K out of range [0, 1e5]", c->temp_K);
    if (!(c->dt_fs > 0 && c->dt_fs <= 50))
        return sd_err_set(e, SD_EINVAL, "md: time step %g fs out of range (0, 50]", c->dt_fs);
    if (c->thermostat != SIM_NVE && c->thermostat != SIM_LANGEVIN)
        return sd_err_set(e, SD_EINVAL, "md: unknown thermostat %d", (int)c->thermostat);
    if (c->thermostat == SIM_LANGEVIN && !(c->damp_ps > 0 && isfinite(c->damp_ps)))
        return sd_err_set(e, SD_EINVAL, "md: Langevin damping %g ps must be > 0", c->damp_ps);
    if (!(c->skin <= 5)) return sd_err_set(e, SD_EINVAL, "md: skin %g Å too large", c->skin);
    return sim_wall_check(&c->wall, e);
}

/* uniform in [0,1) from the counter (key, step, slot) */
static inline uint64_t step_key(uint64_t seed, int64_t step)
{
    return sim_mix64(sim_mix64(seed ^ 0x5eed5eed5eedULL) + (uint64_t)step * GOLDEN);
}

static inline double u01(uint64_t ks, uint64_t slot)
{
    return (double)(sim_mix64(ks + (slot + 1) * GOLDEN) >> 11) * 0x1.0p-53;
}

/* Forces at the current positions (+ wall + Langevin for counter `step`). */
static int md_forces(sim_md_t *md, int64_t step, sd_err_t *e)
{
    sim_ws_t *w = md->w;
    const int64_t n = md->n;
    int rc = sim_ws_force_soa(w, &md->epot, NULL, e);
    if (rc) return rc;
    md->ewall = sim_wall_apply_soa(&md->cfg.wall, n, w->z, w->fz);
    if (md->cfg.thermostat != SIM_LANGEVIN) return SD_OK;
    const double dt = md->cfg.dt_fs * 1e-3, tp = md->cfg.damp_ps;
    const double gamma1 = -md->mass / tp / FTM2V;
    const double gamma2 = sqrt(md->mass) * sqrt(24.0 * BOLTZ / tp / dt / MVV2E) / FTM2V *
                          sqrt(md->cfg.temp_K);
    const uint64_t ks = step_key(md->cfg.seed, step);
    double *r = md->rnd;
    double comp[3] = {0, 0, 0}; /* sums of the random forces per component */
    int64_t s0 = 0;
#if defined(__AVX512F__) && defined(__AVX512DQ__)
    /* the same integer arithmetic as u01(), eight counters at a time */
    {
        const __m512i vks = _mm512_set1_epi64((long long)ks), vg = _mm512_set1_epi64((long long)GOLDEN);
        const __m512i m1 = _mm512_set1_epi64((long long)0xbf58476d1ce4e5b9ULL),
                      m2 = _mm512_set1_epi64((long long)0x94d049bb133111ebULL);
        const __m512d scale = _mm512_set1_pd(0x1.0p-53), vhalf = _mm512_set1_pd(0.5),
                      vg2 = _mm512_set1_pd(gamma2);
        __m512i slot = _mm512_setr_epi64(1, 2, 3, 4, 5, 6, 7, 8);
        const __m512i eight = _mm512_set1_epi64(8);
        /* the sums per component ride along: vector c of a run of three
         * holds slot 24 m + 8 c + lane, component (8 c + lane) mod 3 */
        __m512d acc[3] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd()};
        int c3 = 0;
        for (; s0 + 8 <= 3 * n; s0 += 8) {
            __m512i z = _mm512_add_epi64(vks, _mm512_mullo_epi64(slot, vg));
            z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)), m1);
            z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)), m2);
            z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
            __m512d u = _mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64(z, 11)), scale);
            const __m512d rv = _mm512_mul_pd(vg2, _mm512_sub_pd(u, vhalf));
            _mm512_storeu_pd(r + s0, rv);
            acc[c3] = _mm512_add_pd(acc[c3], rv);
            c3 = c3 == 2 ? 0 : c3 + 1;
            slot = _mm512_add_epi64(slot, eight);
        }
        double lanes[3][8];
        for (int c = 0; c < 3; c++) _mm512_storeu_pd(lanes[c], acc[c]);
        for (int c = 0; c < 3; c++)
            for (int l = 0; l < 8; l++) comp[(8 * c + l) % 3] += lanes[c][l];
    }
#endif
    for (int64_t s = s0; s < 3 * n; s++) {
        r[s] = gamma2 * (u01(ks, (uint64_t)s) - 0.5);
        comp[s % 3] += r[s];
    }
    double sx = comp[0], sy = comp[1], sz = comp[2];
    sx /= (double)n;
    sy /= (double)n;
    sz /= (double)n;
    double *fx = w->fx, *fy = w->fy, *fz = w->fz;
    for (int64_t i = 0; i < n; i++) {
        fx[i] += gamma1 * md->vx[i] + (r[3 * i] - sx);
        fy[i] += gamma1 * md->vy[i] + (r[3 * i + 1] - sy);
        fz[i] += gamma1 * md->vz[i] + (r[3 * i + 2] - sz);
    }
    return SD_OK;
}

static double kinetic(const sim_md_t *md)
{
    double s = 0;
    for (int64_t i = 0; i < md->n; i++)
        s += md->vx[i] * md->vx[i] + md->vy[i] * md->vy[i] + md->vz[i] * md->vz[i];
    return 0.5 * md->mass * s * MVV2E;
}

static double dof(const sim_md_t *md) { return md->n > 1 ? 3.0 * (double)md->n - 3.0 : 3.0; }

/* Gaussian velocities at T, zero linear and angular momentum, rescaled to T
 * exactly (LAMMPS velocity create … dist gaussian mom yes rot yes). */
static void init_velocities(sim_md_t *md)
{
    const int64_t n = md->n;
    const uint64_t ks = step_key(md->cfg.seed ^ 0x7e10c17eULL, -1);
    double *v[3] = {md->vx, md->vy, md->vz};
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) {
            double u1 = u01(ks, 6 * (uint64_t)i + 2 * (uint64_t)k);
            double u2 = u01(ks, 6 * (uint64_t)i + 2 * (uint64_t)k + 1);
            v[k][i] = sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
        }
    /* linear momentum (equal masses) */
    for (int k = 0; k < 3; k++) {
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += v[k][i];
        s /= (double)n;
        for (int64_t i = 0; i < n; i++) v[k][i] -= s;
    }
    /* angular momentum about the centre of mass */
    if (n >= 3) {
        const double *x = md->w->x, *y = md->w->y, *z = md->w->z;
        double c[3] = {0, 0, 0};
        for (int64_t i = 0; i < n; i++) {
            c[0] += x[i];
            c[1] += y[i];
            c[2] += z[i];
        }
        for (int k = 0; k < 3; k++) c[k] /= (double)n;
        double L[3] = {0, 0, 0}, I[3][3] = {{0}};
        for (int64_t i = 0; i < n; i++) {
            double r[3] = {x[i] - c[0], y[i] - c[1], z[i] - c[2]};
            L[0] += r[1] * v[2][i] - r[2] * v[1][i];
            L[1] += r[2] * v[0][i] - r[0] * v[2][i];
            L[2] += r[0] * v[1][i] - r[1] * v[0][i];
            double r2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2];
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) I[a][b] += (a == b ? r2 : 0) - r[a] * r[b];
        }
        double det = I[0][0] * (I[1][1] * I[2][2] - I[1][2] * I[2][1]) -
                     I[0][1] * (I[1][0] * I[2][2] - I[1][2] * I[2][0]) +
                     I[0][2] * (I[1][0] * I[2][1] - I[1][1] * I[2][0]);
        if (fabs(det) > 1e-12) {
            double inv[3][3];
            inv[0][0] = (I[1][1] * I[2][2] - I[1][2] * I[2][1]) / det;
            inv[0][1] = (I[0][2] * I[2][1] - I[0][1] * I[2][2]) / det;
            inv[0][2] = (I[0][1] * I[1][2] - I[0][2] * I[1][1]) / det;
            inv[1][0] = (I[1][2] * I[2][0] - I[1][0] * I[2][2]) / det;
            inv[1][1] = (I[0][0] * I[2][2] - I[0][2] * I[2][0]) / det;
            inv[1][2] = (I[0][2] * I[1][0] - I[0][0] * I[1][2]) / det;
            inv[2][0] = (I[1][0] * I[2][1] - I[1][1] * I[2][0]) / det;
            inv[2][1] = (I[0][1] * I[2][0] - I[0][0] * I[2][1]) / det;
            inv[2][2] = (I[0][0] * I[1][1] - I[0][1] * I[1][0]) / det;
            double w[3];
            for (int a = 0; a < 3; a++) w[a] = inv[a][0] * L[0] + inv[a][1] * L[1] + inv[a][2] * L[2];
            for (int64_t i = 0; i < n; i++) {
                double r[3] = {x[i] - c[0], y[i] - c[1], z[i] - c[2]};
                v[0][i] -= w[1] * r[2] - w[2] * r[1];
                v[1][i] -= w[2] * r[0] - w[0] * r[2];
                v[2][i] -= w[0] * r[1] - w[1] * r[0];
            }
        }
    }
    double ke = kinetic(md);
    double t = ke > 0 ? 2.0 * ke / (dof(md) * BOLTZ) : 0;
    double sc = t > 0 ? sqrt(md->cfg.temp_K / t) : 0;
    for (int k = 0; k < 3; k++)
        for (int64_t i = 0; i < n; i++) v[k][i] *= sc;
}

static sim_md_t *md_alloc(const sim_potential_t *p, int64_t n, const sim_md_config_t *cfg,
                          sd_err_t *e)
{
    sim_md_t *md = calloc(1, sizeof *md);
    if (!md) {
        sd_err_set(e, SD_ENOMEM, "md: out of memory");
        return NULL;
    }
    md->p = p;
    md->cfg = *cfg;
    if (!(md->cfg.skin > 0)) md->cfg.skin = 0.5;
    md->n = n;
    md->mass = p->prm.mass;
    md->w = sim_ws_new(p, n, md->cfg.skin, e);
    md->vx = calloc((size_t)n + 1, sizeof(double));
    md->vy = calloc((size_t)n + 1, sizeof(double));
    md->vz = calloc((size_t)n + 1, sizeof(double));
    md->aos_pos = calloc((size_t)n * 3, sizeof(double));
    md->aos_vel = calloc((size_t)n * 3, sizeof(double));
    md->rnd = calloc((size_t)n * 3, sizeof(double));
    if (!md->w || !md->vx || !md->vy || !md->vz || !md->aos_pos || !md->aos_vel || !md->rnd) {
        sim_md_destroy(&md);
        sd_err_set(e, SD_ENOMEM, "md: out of memory for %lld atoms", (long long)n);
        return NULL;
    }
    return md;
}

sim_md_t *sim_md_new_flat(const sim_potential_t *p, int64_t n, const double *pos,
                          const double *vel, const sim_md_config_t *cfg, sd_err_t *e)
{
    sim_md_config_t def;
    if (!cfg) {
        sim_md_config_default(&def);
        cfg = &def;
    }
    if (!p) {
        sd_err_set(e, SD_EINVAL, "md: NULL potential");
        return NULL;
    }
    if (check_cfg(cfg, e) || sim_check_positions(n, pos, 1.0, e)) return NULL;
    if (vel)
        for (int64_t s = 0; s < 3 * n; s++)
            if (!isfinite(vel[s]) || fabs(vel[s]) > 1e6) {
                sd_err_set(e, SD_ERANGE, "md: velocity of atom %lld is not finite or too large",
                           (long long)(s / 3));
                return NULL;
            }
    sim_md_t *md = md_alloc(p, n, cfg, e);
    if (!md) return NULL;
    for (int64_t i = 0; i < n; i++) {
        md->w->x[i] = pos[3 * i];
        md->w->y[i] = pos[3 * i + 1];
        md->w->z[i] = pos[3 * i + 2];
    }
    if (vel && !cfg->init_velocities) {
        for (int64_t i = 0; i < n; i++) {
            md->vx[i] = vel[3 * i];
            md->vy[i] = vel[3 * i + 1];
            md->vz[i] = vel[3 * i + 2];
        }
    } else if (cfg->init_velocities) {
        init_velocities(md);
    }
    if (md_forces(md, 0, e)) {
        sim_md_destroy(&md);
        return NULL;
    }
    return md;
}

sim_md_t *sim_md_new(const sim_potential_t *p, const sd_atoms_t *start, const sim_md_config_t *cfg,
                     sd_err_t *e)
{
    if (!p || !start) {
        sd_err_set(e, SD_EINVAL, "md: NULL argument");
        return NULL;
    }
    if (start->n < 1) {
        sd_err_set(e, SD_EINVAL, "md: the start structure has no atoms");
        return NULL;
    }
    for (int64_t i = 0; i < start->n; i++) {
        int t = start->type ? start->type[i] : 0;
        const char *el = (t >= 0 && t < start->nspecies) ? start->species[t] : "?";
        if (strcmp(el, p->prm.element) != 0) {
            sd_err_set(e, SD_EINVAL, "md: atom %lld is '%s' but potential '%s' is for %s only",
                       (long long)i, el, p->prm.name, p->prm.element);
            return NULL;
        }
    }
    const sd_prop_t *vp = sd_atoms_get_prop(start, "velo");
    if (!vp) vp = sd_atoms_get_prop(start, "vel");
    const double *vel = (vp && vp->kind == SD_PROP_REAL && vp->ncols == 3) ? vp->real : NULL;
    return sim_md_new_flat(p, start->n, start->pos, vel, cfg, e);
}

void sim_md_destroy(sim_md_t **pmd)
{
    if (!pmd || !*pmd) return;
    sim_md_t *md = *pmd;
    sim_ws_destroy(&md->w);
    free(md->vx);
    free(md->vy);
    free(md->vz);
    free(md->aos_pos);
    free(md->aos_vel);
    free(md->rnd);
    free(md);
    *pmd = NULL;
}

/* v += dtf f, then (x non-NULL) x += dt v: distinct arrays, so restrict
 * lets the compiler vectorise without run-time overlap checks */
static void kick_drift(int64_t n, double dtf, double dt, const double *restrict fx,
                       const double *restrict fy, const double *restrict fz, double *restrict vx,
                       double *restrict vy, double *restrict vz, double *restrict x,
                       double *restrict y, double *restrict z)
{
    for (int64_t i = 0; i < n; i++) {
        vx[i] += dtf * fx[i];
        vy[i] += dtf * fy[i];
        vz[i] += dtf * fz[i];
    }
    if (!x) return;
    for (int64_t i = 0; i < n; i++) {
        x[i] += dt * vx[i];
        y[i] += dt * vy[i];
        z[i] += dt * vz[i];
    }
}

int sim_md_advance(sim_md_t *md, int64_t nsteps, sd_err_t *e)
{
    if (!md || nsteps < 0) return sd_err_set(e, SD_EINVAL, "md: bad advance arguments");
    const int64_t n = md->n;
    sim_ws_t *w = md->w;
    for (int64_t s = 0; s < nsteps; s++) {
        const double dt = md->cfg.dt_fs * 1e-3, dtf = 0.5 * dt * FTM2V / md->mass;
        kick_drift(n, dtf, dt, w->fx, w->fy, w->fz, md->vx, md->vy, md->vz, w->x, w->y, w->z);
        int rc = md_forces(md, md->step + 1, e);
        if (rc) return sd_err_prefix(e, "md step %lld", (long long)(md->step + 1));
        kick_drift(n, dtf, 0.0, w->fx, w->fy, w->fz, md->vx, md->vy, md->vz, NULL, NULL, NULL);
        md->step++;
        md->time_fs += md->cfg.dt_fs;
    }
    if (!isfinite(md->epot) || !isfinite(kinetic(md)))
        return sd_err_set(e, SD_ERANGE, "md: energy not finite at step %lld (the system blew up)",
                          (long long)md->step);
    return SD_OK;
}

int sim_md_set_dt(sim_md_t *md, double dt_fs, sd_err_t *e)
{
    if (!(dt_fs > 0 && dt_fs <= 50))
        return sd_err_set(e, SD_EINVAL, "md: time step %g fs out of range (0, 50]", dt_fs);
    if (dt_fs == md->cfg.dt_fs) return SD_OK;
    /* The Langevin random force amplitude depends on dt: the forces held for
     * the next half kick are those of the old dt, as in LAMMPS after a
     * `timestep` command between runs (setup recomputes them). */
    md->cfg.dt_fs = dt_fs;
    return md_forces(md, md->step, e);
}

int sim_md_set_temperature(sim_md_t *md, double temp_K, sd_err_t *e)
{
    if (!(temp_K >= 0 && temp_K <= 1e5))
        return sd_err_set(e, SD_EINVAL, "md: temperature %g K out of range", temp_K);
    if (temp_K == md->cfg.temp_K) return SD_OK;
    md->cfg.temp_K = temp_K;
    return md_forces(md, md->step, e);
}

int64_t sim_md_natoms(const sim_md_t *md) { return md->n; }
int64_t sim_md_step(const sim_md_t *md) { return md->step; }
double sim_md_time_fs(const sim_md_t *md) { return md->time_fs; }
double sim_md_potential_energy(const sim_md_t *md) { return md->epot + md->ewall; }
double sim_md_kinetic_energy(const sim_md_t *md) { return kinetic(md); }
double sim_md_temperature(const sim_md_t *md) { return 2.0 * kinetic(md) / (dof(md) * BOLTZ); }

const double *sim_md_positions(sim_md_t *md)
{
    for (int64_t i = 0; i < md->n; i++) {
        md->aos_pos[3 * i] = md->w->x[i];
        md->aos_pos[3 * i + 1] = md->w->y[i];
        md->aos_pos[3 * i + 2] = md->w->z[i];
    }
    return md->aos_pos;
}

const double *sim_md_velocities(sim_md_t *md)
{
    for (int64_t i = 0; i < md->n; i++) {
        md->aos_vel[3 * i] = md->vx[i];
        md->aos_vel[3 * i + 1] = md->vy[i];
        md->aos_vel[3 * i + 2] = md->vz[i];
    }
    return md->aos_vel;
}

int sim_md_snapshot(sim_md_t *md, sd_atoms_t **out, sd_err_t *e)
{
    if (!md || !out) return sd_err_set(e, SD_EINVAL, "md snapshot: NULL argument");
    *out = NULL;
    sd_atoms_t *a = sd_atoms_new(md->n, md->p->prm.element);
    if (!a) return sd_err_set(e, SD_ENOMEM, "md snapshot: out of memory");
    memcpy(a->pos, sim_md_positions(md), sizeof(double) * 3 * (size_t)md->n);
    sd_prop_t *vp = sd_atoms_add_prop(a, "velo", SD_PROP_REAL, 3);
    if (!vp) {
        sd_atoms_destroy(&a);
        return sd_err_set(e, SD_ENOMEM, "md snapshot: out of memory");
    }
    memcpy(vp->real, sim_md_velocities(md), sizeof(double) * 3 * (size_t)md->n);
    char buf[64];
    int rc = 0;
    snprintf(buf, sizeof buf, "%lld", (long long)md->step);
    rc |= sd_atoms_set_info(a, "step", buf, e);
    snprintf(buf, sizeof buf, "%.17g", md->time_fs);
    rc |= sd_atoms_set_info(a, "time_fs", buf, e);
    snprintf(buf, sizeof buf, "%.10g", md->time_fs * 1e-6);
    rc |= sd_atoms_set_info(a, "time_ns", buf, e);
    snprintf(buf, sizeof buf, "%.10f", sim_md_potential_energy(md));
    rc |= sd_atoms_set_info(a, "energy", buf, e);
    snprintf(buf, sizeof buf, "%.4f", sim_md_temperature(md));
    rc |= sd_atoms_set_info(a, "temperature", buf, e);
    if (rc) {
        sd_atoms_destroy(&a);
        return e ? e->code : SD_ENOMEM;
    }
    *out = a;
    return SD_OK;
}

/* ---- checkpoints ----------------------------------------------------------
 * Layout (little-endian, this machine's doubles): magic "SDSIMCK1", u32
 * version, u32 header size, header (sim_ck_head_t), then the arrays x y z vx
 * vy vz fx fy fz xr yr zr (n doubles each), then u32 CRC-32C of everything
 * before it. */
#define CK_MAGIC "SDSIMCK1"
#define CK_VERSION 1u

typedef struct ck_head {
    int64_t n, step;
    double time_fs, epot, ewall;
    double temp_K, dt_fs, damp_ps, skin;
    int64_t thermostat, init_velocities, nl_valid;
    uint64_t seed;
    int64_t wall_enabled;
    double wall_z0, wall_eps, wall_sigma, wall_cut;
    char pot_name[32];
    double pot[7]; /* r0 p q A xi rs rc */
    double mass;
} ck_head_t;

static int write_all(int fd, const void *buf, size_t len, uint32_t *crc)
{
    const char *p = buf;
    *crc = sd_crc32c(*crc, buf, len);
    while (len) {
        ssize_t k = write(fd, p, len);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

int sim_md_checkpoint_write(const sim_md_t *md, const char *path, sd_err_t *e)
{
    if (!md || !path) return sd_err_set(e, SD_EINVAL, "checkpoint: NULL argument");
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return sd_err_set(e, SD_EINVAL, "checkpoint: path too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return sd_err_set(e, SD_EIO, "checkpoint %s: %s", tmp, strerror(errno));
    ck_head_t h;
    memset(&h, 0, sizeof h);
    h.n = md->n;
    h.step = md->step;
    h.time_fs = md->time_fs;
    h.epot = md->epot;
    h.ewall = md->ewall;
    h.temp_K = md->cfg.temp_K;
    h.dt_fs = md->cfg.dt_fs;
    h.damp_ps = md->cfg.damp_ps;
    h.skin = md->cfg.skin;
    h.thermostat = md->cfg.thermostat;
    h.init_velocities = md->cfg.init_velocities;
    h.nl_valid = md->w->valid;
    h.seed = md->cfg.seed;
    h.wall_enabled = md->cfg.wall.enabled;
    h.wall_z0 = md->cfg.wall.z0;
    h.wall_eps = md->cfg.wall.epsilon;
    h.wall_sigma = md->cfg.wall.sigma;
    h.wall_cut = md->cfg.wall.cutoff;
    snprintf(h.pot_name, sizeof h.pot_name, "%s", md->p->prm.name);
    const sim_smatb_params_t *c = &md->p->prm;
    double pv[7] = {c->r0, c->p, c->q, c->A, c->xi, c->rs, c->rc};
    memcpy(h.pot, pv, sizeof pv);
    h.mass = md->mass;
    uint32_t crc = 0, ver = CK_VERSION, hs = (uint32_t)sizeof h;
    int bad = write_all(fd, CK_MAGIC, 8, &crc) || write_all(fd, &ver, 4, &crc) ||
              write_all(fd, &hs, 4, &crc) || write_all(fd, &h, sizeof h, &crc);
    const double *arr[] = {md->w->x,  md->w->y,  md->w->z,  md->vx,      md->vy,      md->vz,
                           md->w->fx, md->w->fy, md->w->fz, md->w->nl.xr, md->w->nl.yr, md->w->nl.zr};
    for (size_t k = 0; !bad && k < sizeof arr / sizeof arr[0]; k++)
        bad = write_all(fd, arr[k], sizeof(double) * (size_t)md->n, &crc);
    uint32_t crc_out = crc;
    if (!bad) bad = write_all(fd, &crc_out, 4, &crc);
    if (!bad) bad = fsync(fd) != 0;
    if (close(fd) != 0) bad = 1;
    if (bad) {
        int er = errno;
        unlink(tmp);
        return sd_err_set(e, SD_EIO, "checkpoint %s: write failed: %s", path, strerror(er));
    }
    if (rename(tmp, path) != 0) {
        int er = errno;
        unlink(tmp);
        return sd_err_set(e, SD_EIO, "checkpoint %s: rename failed: %s", path, strerror(er));
    }
    /* make the rename durable */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *sl = strrchr(dir, '/');
    if (sl)
        *(sl == dir ? sl + 1 : sl) = 0;
    else
        snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return SD_OK;
}

sim_md_t *sim_md_restore(const sim_potential_t *p, const char *path, sd_err_t *e)
{
    if (!p || !path) {
        sd_err_set(e, SD_EINVAL, "restore: NULL argument");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        sd_err_set(e, SD_ENOTFOUND, "restore %s: %s", path, strerror(errno));
        return NULL;
    }
    sim_md_t *md = NULL;
    unsigned char *buf = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);
    rewind(f);
    const size_t hsz = 8 + 4 + 4 + sizeof(ck_head_t);
    if (len < (long)(hsz + 4)) {
        sd_err_set(e, SD_EFORMAT, "restore %s: not a stemdyn MD checkpoint (too short)", path);
        goto fail;
    }
    buf = malloc((size_t)len);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        sd_err_set(e, SD_EIO, "restore %s: read failed", path);
        goto fail;
    }
    fclose(f);
    f = NULL;
    if (memcmp(buf, CK_MAGIC, 8) != 0) {
        sd_err_set(e, SD_EFORMAT, "restore %s: not a stemdyn MD checkpoint", path);
        goto fail;
    }
    uint32_t ver, hs, crc_file;
    memcpy(&ver, buf + 8, 4);
    memcpy(&hs, buf + 12, 4);
    if (ver != CK_VERSION) {
        sd_err_set(e, SD_EVERSION, "restore %s: checkpoint version %u, this build reads %u", path,
                   ver, CK_VERSION);
        goto fail;
    }
    memcpy(&crc_file, buf + len - 4, 4);
    if (sd_crc32c(0, buf, (size_t)len - 4) != crc_file) {
        sd_err_set(e, SD_EFORMAT, "restore %s: checksum mismatch (file damaged or truncated)", path);
        goto fail;
    }
    ck_head_t h;
    if (hs != sizeof h) {
        sd_err_set(e, SD_EFORMAT, "restore %s: bad header size", path);
        goto fail;
    }
    memcpy(&h, buf + 16, sizeof h);
    if (h.n < 1 || h.n > (int64_t)INT32_MAX - 16 || h.step < 0 ||
        (uint64_t)len != hsz + 12 * sizeof(double) * (uint64_t)h.n + 4) {
        sd_err_set(e, SD_EFORMAT, "restore %s: bad atom count, step or size", path);
        goto fail;
    }
    h.pot_name[sizeof h.pot_name - 1] = 0;
    const sim_smatb_params_t *c = &p->prm;
    double pv[7] = {c->r0, c->p, c->q, c->A, c->xi, c->rs, c->rc};
    if (strcmp(h.pot_name, c->name) != 0 || memcmp(pv, h.pot, sizeof pv) != 0) {
        sd_err_set(e, SD_EINVAL, "restore %s: written with potential '%s', not '%s'", path,
                   h.pot_name, c->name);
        goto fail;
    }
    sim_md_config_t cfg;
    sim_md_config_default(&cfg);
    cfg.temp_K = h.temp_K;
    cfg.dt_fs = h.dt_fs;
    cfg.damp_ps = h.damp_ps;
    cfg.skin = h.skin;
    cfg.thermostat = (sim_thermostat_t)h.thermostat;
    cfg.init_velocities = (int)h.init_velocities;
    cfg.seed = h.seed;
    cfg.wall.enabled = (int)h.wall_enabled;
    cfg.wall.z0 = h.wall_z0;
    cfg.wall.epsilon = h.wall_eps;
    cfg.wall.sigma = h.wall_sigma;
    cfg.wall.cutoff = h.wall_cut;
    if (check_cfg(&cfg, e)) goto fail;
    md = md_alloc(p, h.n, &cfg, e);
    if (!md) goto fail;
    md->step = h.step;
    md->time_fs = h.time_fs;
    md->epot = h.epot;
    md->ewall = h.ewall;
    double *arr[] = {md->w->x,  md->w->y,  md->w->z,  md->vx,       md->vy,       md->vz,
                     md->w->fx, md->w->fy, md->w->fz, md->w->nl.xr, md->w->nl.yr, md->w->nl.zr};
    const unsigned char *q = buf + hsz;
    for (size_t k = 0; k < sizeof arr / sizeof arr[0]; k++) {
        memcpy(arr[k], q, sizeof(double) * (size_t)h.n);
        q += sizeof(double) * (size_t)h.n;
        for (int64_t i = 0; i < h.n; i++)
            if (!isfinite(arr[k][i])) {
                sd_err_set(e, SD_EFORMAT, "restore %s: non-finite state", path);
                goto fail;
            }
    }
    free(buf);
    buf = NULL;
    /* the list the run had: rebuilt from its reference positions */
    if (h.nl_valid && sim_ws_rebuild_from(md->w, md->w->nl.xr, md->w->nl.yr, md->w->nl.zr, e))
        goto fail;
    return md;
fail:
    if (f) fclose(f);
    free(buf);
    sim_md_destroy(&md);
    return NULL;
}
