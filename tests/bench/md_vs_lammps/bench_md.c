/* Timing side of the md_vs_lammps benchmark: Langevin MD (673 K, 5 fs,
 * damp 100 ps) from a LAMMPS data file for N steps, one process; or NVE
 * drift; or P independent runs in parallel threads (throughput).
 * usage: sim_bench_md DATA [--steps N] [--nve] [--threads P] [--skin S] [--dt fs]
 * Prints key=value lines parsed by run.sh. */
#include "sim.h"

#include "sd_atoms.h"
#include "sd_clock.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct job {
    const sim_potential_t *p;
    const sd_atoms_t *a;
    sim_md_config_t cfg;
    int64_t steps;
    double secs, cpu;
    int rc;
} job_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the calling thread: on a loaded machine (the benchmark host is
 * shared) wall time measures the other tenants; LAMMPS reports its CPU share
 * too ("% CPU use"), so both sides are compared in CPU time. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *run_job(void *arg)
{
    job_t *j = arg;
    sd_err_t e;
    sim_md_t *md = sim_md_new(j->p, j->a, &j->cfg, &e);
    if (!md) {
        fprintf(stderr, "md: %s\n", e.msg);
        j->rc = 1;
        return NULL;
    }
    sim_md_advance(md, 200, &e); /* warm-up */
    double t0 = now(), c0 = cpu_now();
    j->rc = sim_md_advance(md, j->steps, &e);
    j->secs = now() - t0;
    j->cpu = cpu_now() - c0;
    sim_md_destroy(&md);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DATA [--steps N] [--nve] [--threads P] [--skin S] [--dt fs]\n", argv[0]);
        return 2;
    }
    int64_t steps = 2000;
    int nve = 0, threads = 1;
    double skin = 0.5, dt = 5;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--nve")) nve = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--skin") && i + 1 < argc) skin = atof(argv[++i]);
        else if (!strcmp(argv[i], "--dt") && i + 1 < argc) dt = atof(argv[++i]);
        else {
            fprintf(stderr, "bad argument %s\n", argv[i]);
            return 2;
        }
    }
    if (threads < 1 || threads > 64 || steps < 1) return 2;
    sd_err_t e;
    sd_atoms_t *a = NULL;
    if (sd_atoms_read_any(argv[1], &a, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    sim_potential_t *p = sim_potential_new("Au", &e);
    sim_md_config_t cfg;
    sim_md_config_default(&cfg);
    cfg.temp_K = 673;
    cfg.dt_fs = dt;
    cfg.damp_ps = 100;
    cfg.seed = 74581;
    cfg.skin = skin;
    cfg.init_velocities = 0; /* the data file's velocities: same state as LAMMPS */
    if (nve) {
        /* drift: NVE from the data state at 673 K velocities */
        cfg.thermostat = SIM_NVE;
        sim_md_t *md = sim_md_new(p, a, &cfg, &e);
        if (!md) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        /* drift = slope of a least-squares line through E(t) sampled every
         * 100 steps (the endpoints alone carry the O(dt^2) oscillation) */
        double e0 = sim_md_potential_energy(md) + sim_md_kinetic_energy(md), e1 = e0;
        double sx = 0, sy = 0, sxx = 0, sxy = 0, secs = 0, emax = 0;
        int64_t ns_ = 0;
        int rc = 0;
        for (int64_t s = 0; s <= steps && !rc; s += 100) {
            double t = (double)s * dt * 1e-6; /* ns */
            e1 = sim_md_potential_energy(md) + sim_md_kinetic_energy(md);
            emax = fmax(emax, fabs(e1 - e0));
            sx += t;
            sy += e1;
            sxx += t * t;
            sxy += t * e1;
            ns_++;
            if (s + 100 <= steps) {
                double t0 = cpu_now();
                rc = sim_md_advance(md, 100, &e);
                secs += cpu_now() - t0;
            }
        }
        double slope = (ns_ * sxy - sx * sy) / (ns_ * sxx - sx * sx);
        printf("nve_steps=%lld\nnve_E0=%.10f\nnve_E1=%.10f\nnve_max_dev_eV_per_atom=%.3g\n"
               "nve_drift_eV_per_atom_per_ns=%.4g\nnve_us_per_step_cpu=%.3f\nnve_T=%.2f\n",
               (long long)steps, e0, e1, emax / (double)a->n, slope / (double)a->n,
               1e6 * secs / (double)steps, sim_md_temperature(md));
        sim_md_destroy(&md);
        sim_potential_destroy(&p);
        sd_atoms_destroy(&a);
        return rc ? 1 : 0;
    }
    job_t jobs[64];
    pthread_t th[64];
    for (int k = 0; k < threads; k++) {
        jobs[k] = (job_t){p, a, cfg, steps, 0, 0, 0};
        jobs[k].cfg.seed = cfg.seed + (uint64_t)k;
    }
    double t0 = now();
    for (int k = 0; k < threads; k++) pthread_create(&th[k], NULL, run_job, &jobs[k]);
    for (int k = 0; k < threads; k++) pthread_join(th[k], NULL);
    double wall = now() - t0;
    double worst = 0, cpu = 0;
    for (int k = 0; k < threads; k++) {
        if (jobs[k].rc) return 1;
        if (jobs[k].secs > worst) worst = jobs[k].secs;
        cpu += jobs[k].cpu;
    }
    double us = 1e6 * cpu / threads / (double)steps;
    printf("threads=%d\nsteps=%lld\nus_per_step_cpu=%.3f\nus_per_step_wall=%.3f\nns_per_day_cpu=%.4f\n"
           "throughput_steps_per_wall_s=%.1f\nwall_s=%.3f\n",
           threads, (long long)steps, us, 1e6 * worst / (double)steps,
           dt * 1e-6 * 86400.0 / (us * 1e-6), threads * (double)steps / worst, wall);
    sim_potential_destroy(&p);
    sd_atoms_destroy(&a);
    return 0;
}
