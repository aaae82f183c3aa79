/* Command-line entry points of the sim stage: energy, minimize, md,
 * export-lammps (and the service commands of sim_service_cmd.c). */
#include "sim_internal.h"

#include "sd_atoms.h"
#include "sd_clock.h"
#include "sd_xyz.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared helpers --------------------------------------------------- */

/* Reads IN and picks the potential: --potential NAME, else the element of
 * the atoms ("Au" → the paper's set).  Prints the error itself. */
static int load_input(const char *cmd, const char *path, const char *potname, sd_atoms_t **a,
                      sim_potential_t **p)
{
    sd_err_t e;
    *a = NULL;
    *p = NULL;
    if (sd_atoms_read_any(path, a, &e) != SD_OK)
        return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    if ((*a)->n < 1) {
        sd_atoms_destroy(a);
        return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s: no atoms", path);
    }
    if (sd_atoms_validate(*a, &e) != SD_OK) {
        sd_atoms_destroy(a);
        return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s: %s", path, e.msg);
    }
    char el[16] = "";
    for (int64_t i = 0; i < (*a)->n; i++) {
        int t = (*a)->type ? (*a)->type[i] : 0;
        const char *s = (t >= 0 && t < (*a)->nspecies) ? (*a)->species[t] : "?";
        if (!el[0])
            snprintf(el, sizeof el, "%s", s);
        else if (strcmp(el, s) != 0) {
            char other[16];
            snprintf(other, sizeof other, "%s", s);
            sd_atoms_destroy(a);
            return sd_cli_fail(cmd, SD_EXIT_FAIL,
                               "%s: more than one element (%s and %s): single-species potentials only",
                               path, el, other);
        }
    }
    *p = sim_potential_new(potname ? potname : el, &e);
    if (!*p) {
        sd_atoms_destroy(a);
        if (!potname)
            return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s: unknown element '%s': no potential for it (%s)",
                               path, el, e.msg);
        return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    }
    if (strcmp(sim_potential_element(*p), el) != 0) {
        sd_err_set(&e, SD_EINVAL, "potential '%s' is for %s, the atoms are %s", potname,
                   sim_potential_element(*p), el);
        sd_atoms_destroy(a);
        sim_potential_destroy(p);
        return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    }
    return SD_EXIT_OK;
}

static int write_frames(const char *cmd, const char *path, sd_atoms_t *a)
{
    sd_err_t e;
    if (sd_xyz_write_file(path, &a, 1, &e) != SD_OK)
        return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    return SD_EXIT_OK;
}

static int parse_wall(const char *cmd, const char *s, sim_wall_t *w)
{
    double v[4];
    char extra;
    if (sscanf(s, "%lf:%lf:%lf:%lf%c", &v[0], &v[1], &v[2], &v[3], &extra) != 4)
        return sd_cli_fail(cmd, SD_EXIT_USAGE, "--wall: expected Z0:EPSILON:SIGMA:CUTOFF, got '%s'", s);
    w->enabled = 1;
    w->z0 = v[0];
    w->epsilon = v[1];
    w->sigma = v[2];
    w->cutoff = v[3];
    sd_err_t e;
    if (sim_wall_check(w, &e) != SD_OK) return sd_cli_fail(cmd, SD_EXIT_USAGE, "--wall: %s", e.msg);
    return SD_EXIT_OK;
}

/* ---- energy ------------------------------------------------------------ */

static int cmd_energy(int argc, char **argv)
{
    const char *cmd = "energy", *out = NULL, *pot = NULL;
    static const struct option lo[] = {{"output", required_argument, 0, 'o'},
                                       {"potential", required_argument, 0, 'p'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:p:h", lo, NULL)) != -1) {
        if (c == 'o') out = optarg;
        else if (c == 'p') pot = optarg;
        else if (c == 'h') {
            printf("usage: stemdyn energy IN [-o OUT.xyz] [--potential NAME]\n"
                   "IN: extended XYZ or LAMMPS data.  Prints the SMATB total energy (eV) and the\n"
                   "largest force component (eV/Å); OUT gets per-atom energies and forces\n"
                   "(extxyz properties 'energies' and 'forces').  NAME: Au (paper, default for Au),\n"
                   "Au-CR93, Ag, Cu, Pt, Pd, Ni, Al (Cleri-Rosato 1993).\n");
            return SD_EXIT_OK;
        } else
            return sd_cli_fail(cmd, SD_EXIT_USAGE, "bad option (see --help)");
    }
    if (optind != argc - 1) return sd_cli_fail(cmd, SD_EXIT_USAGE, "expected one input file (see --help)");
    sd_atoms_t *a;
    sim_potential_t *p;
    int rc = load_input(cmd, argv[optind], pot, &a, &p);
    if (rc) return rc;
    sd_err_t e;
    double en = 0;
    double *ea = malloc(sizeof(double) * (size_t)a->n), *f = malloc(sizeof(double) * 3 * (size_t)a->n);
    if (!ea || !f) rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "out of memory");
    else if (sim_compute(p, a->n, a->pos, &en, ea, f, &e) != SD_OK)
        rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s: %s", argv[optind], e.msg);
    if (!rc) {
        double fm = 0;
        for (int64_t i = 0; i < 3 * a->n; i++) fm = fmax(fm, fabs(f[i]));
        printf("natoms %lld\nenergy %.10f eV\nenergy_per_atom %.10f eV\nfmax %.10e eV/A\n",
               (long long)a->n, en, en / (double)a->n, fm);
        if (out) {
            sd_prop_t *pe = sd_atoms_add_prop(a, "energies", SD_PROP_REAL, 1);
            sd_prop_t *pf = sd_atoms_add_prop(a, "forces", SD_PROP_REAL, 3);
            char buf[64];
            snprintf(buf, sizeof buf, "%.10f", en);
            if (!pe || !pf || sd_atoms_set_info(a, "energy", buf, &e) != SD_OK)
                rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "out of memory");
            else {
                memcpy(pe->real, ea, sizeof(double) * (size_t)a->n);
                memcpy(pf->real, f, sizeof(double) * 3 * (size_t)a->n);
                rc = write_frames(cmd, out, a);
            }
        }
    }
    free(ea);
    free(f);
    sd_atoms_destroy(&a);
    sim_potential_destroy(&p);
    return rc;
}

/* ---- minimize ------------------------------------------------------------ */

static int cmd_minimize(int argc, char **argv)
{
    const char *cmd = "minimize", *out = NULL, *pot = NULL;
    sim_min_opts_t o;
    sim_min_opts_default(&o);
    static const struct option lo[] = {{"output", required_argument, 0, 'o'},
                                       {"potential", required_argument, 0, 'p'},
                                       {"etol", required_argument, 0, 1},
                                       {"ftol", required_argument, 0, 2},
                                       {"maxiter", required_argument, 0, 3},
                                       {"maxeval", required_argument, 0, 4},
                                       {"style", required_argument, 0, 5},
                                       {"dmax", required_argument, 0, 6},
                                       {"wall", required_argument, 0, 7},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    optind = 0;
    int c, rc;
    sd_err_t e;
    while ((c = getopt_long(argc, argv, "o:p:h", lo, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'p': pot = optarg; break;
        case 1:
            if (sd_cli_parse_double(optarg, "--etol", 0, 1, &o.etol, &e)) return sd_cli_fail(cmd, 2, "%s", e.msg);
            break;
        case 2:
            if (sd_cli_parse_double(optarg, "--ftol", 0, 1e6, &o.ftol, &e)) return sd_cli_fail(cmd, 2, "%s", e.msg);
            break;
        case 3:
            if (sd_cli_parse_i64(optarg, "--maxiter", 0, INT64_MAX / 4, &o.maxiter, &e)) return sd_cli_fail(cmd, 2, "%s", e.msg);
            break;
        case 4:
            if (sd_cli_parse_i64(optarg, "--maxeval", 1, INT64_MAX / 4, &o.maxeval, &e)) return sd_cli_fail(cmd, 2, "%s", e.msg);
            break;
        case 5:
            if (!strcmp(optarg, "cg")) o.style = SIM_MIN_CG;
            else if (!strcmp(optarg, "fire")) o.style = SIM_MIN_FIRE;
            else return sd_cli_fail(cmd, 2, "--style: expected cg or fire, got '%s'", optarg);
            break;
        case 6:
            if (sd_cli_parse_double(optarg, "--dmax", 1e-6, 10, &o.dmax, &e)) return sd_cli_fail(cmd, 2, "%s", e.msg);
            break;
        case 7:
            if ((rc = parse_wall(cmd, optarg, &o.wall))) return rc;
            break;
        case 'h':
            printf("usage: stemdyn minimize IN -o OUT.xyz [--etol 1e-6] [--ftol 1e-8] [--maxiter 1000]\n"
                   "       [--maxeval 10000] [--style cg|fire] [--dmax 0.1] [--potential NAME]\n"
                   "       [--wall Z0:EPS:SIGMA:CUTOFF]\n"
                   "LAMMPS-like stopping: |dE| < etol (|E|+|E_prev|)/2, |F| (2-norm) < ftol, maxiter,\n"
                   "maxeval.  Defaults are the paper's settings.  --wall adds a 9-3 LJ wall below\n"
                   "the particle (the substrate mimic).\n");
            return SD_EXIT_OK;
        default: return sd_cli_fail(cmd, SD_EXIT_USAGE, "bad option (see --help)");
        }
    }
    if (optind != argc - 1) return sd_cli_fail(cmd, SD_EXIT_USAGE, "expected one input file (see --help)");
    if (!out) return sd_cli_fail(cmd, SD_EXIT_USAGE, "-o OUT.xyz is required");
    sd_atoms_t *a;
    sim_potential_t *p;
    if ((rc = load_input(cmd, argv[optind], pot, &a, &p))) return rc;
    sim_min_result_t r;
    int64_t t0 = sd_clock_mono_ns();
    if (sim_minimize(p, a->n, a->pos, &o, &r, &e) != SD_OK) {
        rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s: %s", argv[optind], e.msg);
    } else {
        printf("energy_start %.10f eV\nenergy %.10f eV\nenergy_per_atom %.10f eV\nfmax %.6e eV/A\n"
               "fnorm %.6e eV/A\niterations %lld\nevaluations %lld\nstop %s\nseconds %.3f\n",
               r.energy_start, r.energy, r.energy / (double)a->n, r.fmax, r.fnorm,
               (long long)r.iterations, (long long)r.evaluations, sim_min_stop_name(r.stop),
               1e-9 * (double)(sd_clock_mono_ns() - t0));
        char buf[64];
        snprintf(buf, sizeof buf, "%.10f", r.energy);
        if (sd_atoms_set_info(a, "energy", buf, &e) != SD_OK)
            rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
        else
            rc = write_frames(cmd, out, a);
    }
    sd_atoms_destroy(&a);
    sim_potential_destroy(&p);
    return rc;
}

/* ---- md ----------------------------------------------------------------- */

static void fmt_eta(double s, char *buf, size_t len)
{
    if (!(s >= 0) || s > 1e9) snprintf(buf, len, "?");
    else if (s < 120) snprintf(buf, len, "%.0fs", s);
    else if (s < 7200) snprintf(buf, len, "%.1fmin", s / 60);
    else if (s < 172800) snprintf(buf, len, "%.1fh", s / 3600);
    else snprintf(buf, len, "%.1fd", s / 86400);
}

static int md_dump(const char *cmd, FILE *f, sim_md_t *md, double prod_time_fs)
{
    sd_atoms_t *a = NULL;
    sd_err_t e;
    if (sim_md_snapshot(md, &a, &e) != SD_OK) return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    char buf[64];
    snprintf(buf, sizeof buf, "%.10g", prod_time_fs * 1e-6);
    int rc = sd_atoms_set_info(a, "production_ns", buf, &e);
    if (!rc) rc = sd_xyz_write(f, a, &e);
    if (!rc && fflush(f) != 0) rc = sd_err_set(&e, SD_EIO, "trajectory: write failed");
    sd_atoms_destroy(&a);
    return rc ? sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg) : SD_EXIT_OK;
}

static int cmd_md(int argc, char **argv)
{
    const char *cmd = "md", *out = NULL, *pot = NULL, *ckpath = NULL, *restart = NULL;
    sim_md_config_t cfg;
    sim_md_config_default(&cfg);
    int64_t nsteps = -1, th_steps = 0;
    double time_fs = -1, dump_fs = 0, ck_fs = 0, th_dt = 1.0, progress_s = 10;
    int have_temp = 0, have_dt = 0, do_min = 0, keepv = 0;
    static const struct option lo[] = {{"output", required_argument, 0, 'o'},
                                       {"potential", required_argument, 0, 'p'},
                                       {"temp", required_argument, 0, 1},
                                       {"dt", required_argument, 0, 2},
                                       {"steps", required_argument, 0, 3},
                                       {"time", required_argument, 0, 4},
                                       {"dump-every", required_argument, 0, 5},
                                       {"thermalize", required_argument, 0, 6},
                                       {"seed", required_argument, 0, 7},
                                       {"checkpoint", required_argument, 0, 8},
                                       {"checkpoint-every", required_argument, 0, 9},
                                       {"restart", required_argument, 0, 10},
                                       {"damp", required_argument, 0, 11},
                                       {"nve", no_argument, 0, 12},
                                       {"minimize", no_argument, 0, 13},
                                       {"wall", required_argument, 0, 14},
                                       {"keep-velocities", no_argument, 0, 15},
                                       {"skin", required_argument, 0, 16},
                                       {"progress-every", required_argument, 0, 17},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    optind = 0;
    int c, rc;
    sd_err_t e;
    int64_t iv;
    while ((c = getopt_long(argc, argv, "o:p:h", lo, NULL)) != -1) {
        rc = 0;
        switch (c) {
        case 'o': out = optarg; break;
        case 'p': pot = optarg; break;
        case 1: rc = sd_cli_parse_double(optarg, "--temp", 0, 1e5, &cfg.temp_K, &e); have_temp = 1; break;
        case 2: rc = sd_cli_parse_double(optarg, "--dt", 1e-3, 50, &cfg.dt_fs, &e); have_dt = 1; break;
        case 3: rc = sd_cli_parse_i64(optarg, "--steps", 0, INT64_MAX / 4, &nsteps, &e); break;
        case 4: rc = sd_cli_parse_duration_fs(optarg, "--time", "ns", &time_fs, &e); break;
        case 5: rc = sd_cli_parse_duration_fs(optarg, "--dump-every", "ns", &dump_fs, &e); break;
        case 6: {
            char *colon = strchr(optarg, ':');
            if (colon) *colon = 0;
            rc = sd_cli_parse_i64(optarg, "--thermalize steps", 0, INT64_MAX / 4, &th_steps, &e);
            if (!rc && colon) rc = sd_cli_parse_double(colon + 1, "--thermalize dt", 1e-3, 50, &th_dt, &e);
            break;
        }
        case 7:
            rc = sd_cli_parse_i64(optarg, "--seed", 0, INT64_MAX, &iv, &e);
            cfg.seed = (uint64_t)iv;
            break;
        case 8: ckpath = optarg; break;
        case 9: rc = sd_cli_parse_duration_fs(optarg, "--checkpoint-every", "ns", &ck_fs, &e); break;
        case 10: restart = optarg; break;
        case 11: rc = sd_cli_parse_double(optarg, "--damp", 1e-6, 1e9, &cfg.damp_ps, &e); break;
        case 12: cfg.thermostat = SIM_NVE; break;
        case 13: do_min = 1; break;
        case 14:
            if ((rc = parse_wall(cmd, optarg, &cfg.wall))) return rc;
            break;
        case 15: keepv = 1; break;
        case 16: rc = sd_cli_parse_double(optarg, "--skin", 0.01, 5, &cfg.skin, &e); break;
        case 17: rc = sd_cli_parse_double(optarg, "--progress-every", 0, 1e9, &progress_s, &e); break;
        case 'h':
            printf("usage: stemdyn md IN -o TRAJ.xyz --temp K --dt FS (--steps N | --time 10ns)\n"
                   "       [--dump-every 1ns] [--thermalize 20000:1] [--seed S] [--damp 100]\n"
                   "       [--nve] [--minimize] [--keep-velocities] [--wall Z0:EPS:SIGMA:CUT]\n"
                   "       [--checkpoint FILE --checkpoint-every T] [--restart FILE]\n"
                   "       [--potential NAME] [--skin 0.5] [--progress-every 10]\n"
                   "Velocity Verlet with the Langevin thermostat of LAMMPS `fix langevin T T damp\n"
                   "seed zero yes` (--nve: none).  Velocities are drawn at T with zero linear and\n"
                   "angular momentum (--keep-velocities: use those of IN).  --minimize first\n"
                   "minimises with the paper's settings; --thermalize N:DT runs N steps of DT fs\n"
                   "before the production (--steps/--time, at --dt).  Frames (extxyz, with velocities)\n"
                   "every --dump-every of production time from its start, else the last frame only.\n"
                   "--restart FILE continues a run from its checkpoint bitwise identically (same\n"
                   "options); frames are appended to TRAJ.  Durations take fs, ps, ns, us units.\n");
            return SD_EXIT_OK;
        default: return sd_cli_fail(cmd, SD_EXIT_USAGE, "bad option (see --help)");
        }
        if (rc) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
    }
    if (optind != argc - 1) return sd_cli_fail(cmd, SD_EXIT_USAGE, "expected one input file (see --help)");
    if (!out) return sd_cli_fail(cmd, SD_EXIT_USAGE, "-o TRAJ.xyz is required");
    if (!have_temp) return sd_cli_fail(cmd, SD_EXIT_USAGE, "--temp is required");
    if (!have_dt) return sd_cli_fail(cmd, SD_EXIT_USAGE, "--dt is required");
    if ((nsteps >= 0) == (time_fs >= 0))
        return sd_cli_fail(cmd, SD_EXIT_USAGE, "give exactly one of --steps and --time");
    if (time_fs >= 0) nsteps = (int64_t)llround(time_fs / cfg.dt_fs);
    if (ck_fs > 0 && !ckpath) return sd_cli_fail(cmd, SD_EXIT_USAGE, "--checkpoint-every needs --checkpoint FILE");
    if (dump_fs > 0 && dump_fs < cfg.dt_fs) return sd_cli_fail(cmd, SD_EXIT_USAGE, "--dump-every is shorter than --dt");
    const int64_t dump_every = dump_fs > 0 ? (int64_t)llround(dump_fs / cfg.dt_fs) : 0;
    cfg.init_velocities = !keepv;

    sd_atoms_t *a;
    sim_potential_t *p;
    if ((rc = load_input(cmd, argv[optind], pot, &a, &p))) return rc;
    sim_md_t *md = NULL;
    FILE *tf = NULL;
    rc = SD_EXIT_OK;
    if (restart) {
        md = sim_md_restore(p, restart, &e);
        if (!md) rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
        else if (sim_md_natoms(md) != a->n)
            rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s has %lld atoms, %s has %lld", restart,
                             (long long)sim_md_natoms(md), argv[optind], (long long)a->n);
    } else {
        if (do_min) {
            sim_min_result_t r;
            sim_min_opts_t mo;
            sim_min_opts_default(&mo);
            mo.wall = cfg.wall;
            if (sim_minimize(p, a->n, a->pos, &mo, &r, &e) != SD_OK)
                rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s: %s", argv[optind], e.msg);
            else
                fprintf(stderr, "stemdyn md: minimised %.6f -> %.6f eV (%s, %lld iterations)\n",
                        r.energy_start, r.energy, sim_min_stop_name(r.stop), (long long)r.iterations);
        }
        if (!rc) {
            sim_md_config_t c0 = cfg;
            if (th_steps > 0) c0.dt_fs = th_dt;
            md = sim_md_new(p, a, &c0, &e);
            if (!md) rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s: %s", argv[optind], e.msg);
        }
    }
    if (!rc) {
        tf = fopen(out, restart ? "a" : "w");
        if (!tf) rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s: cannot open for writing", out);
    }
    const int64_t total = th_steps + nsteps;
    const int64_t ck_every = ck_fs > 0 ? (int64_t)llround(ck_fs / cfg.dt_fs) : 0;
    int64_t t0 = sd_clock_mono_ns(), last_progress = t0, step0 = md ? sim_md_step(md) : 0;
    while (!rc && sim_md_step(md) < total) {
        int64_t s = sim_md_step(md);
        /* phase: thermalisation steps at th_dt, then production at dt */
        if (s >= th_steps && sim_md_set_dt(md, cfg.dt_fs, &e) != SD_OK) {
            rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
            break;
        }
        if (s >= th_steps && dump_every > 0 && (s - th_steps) % dump_every == 0 && !(restart && s == step0)) {
            if ((rc = md_dump(cmd, tf, md, (double)(s - th_steps) * cfg.dt_fs))) break;
        }
        /* advance to the next event: end of phase, dump, checkpoint, or a chunk */
        int64_t next = s < th_steps ? th_steps : total;
        if (s >= th_steps && dump_every > 0) {
            int64_t nd = th_steps + ((s - th_steps) / dump_every + 1) * dump_every;
            if (nd < next) next = nd;
        }
        if (ck_every > 0) {
            int64_t nc = (s / ck_every + 1) * ck_every;
            if (nc < next) next = nc;
        }
        if (next - s > 2000) next = s + 2000;
        if (sim_md_advance(md, next - s, &e) != SD_OK) {
            rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
            break;
        }
        int64_t now = sd_clock_mono_ns();
        if (ck_every > 0 && sim_md_step(md) % ck_every == 0 &&
            sim_md_checkpoint_write(md, ckpath, &e) != SD_OK) {
            rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
            break;
        }
        if (progress_s > 0 && (double)(now - last_progress) * 1e-9 >= progress_s) {
            last_progress = now;
            double el = (double)(now - t0) * 1e-9;
            double done = (double)(sim_md_step(md) - step0);
            double nsday = el > 0 ? done * cfg.dt_fs * 1e-6 / el * 86400 : 0;
            char eta[32];
            fmt_eta(done > 0 ? el * (double)(total - sim_md_step(md)) / done : -1, eta, sizeof eta);
            fprintf(stderr, "stemdyn md: step %lld/%lld  %.4f ns  %.2f ns/day  ETA %s  T %.1f K\n",
                    (long long)sim_md_step(md), (long long)total, sim_md_time_fs(md) * 1e-6, nsday,
                    eta, sim_md_temperature(md));
        }
    }
    if (!rc) {
        if (dump_every == 0 || (sim_md_step(md) - th_steps) % dump_every == 0)
            rc = md_dump(cmd, tf, md, (double)(sim_md_step(md) - th_steps) * cfg.dt_fs);
    }
    if (!rc && ckpath && sim_md_checkpoint_write(md, ckpath, &e) != SD_OK)
        rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    if (!rc) {
        double el = (double)(sd_clock_mono_ns() - t0) * 1e-9;
        double done = (double)(sim_md_step(md) - step0);
        printf("steps %lld\ntime_ns %.6f\ntemperature %.3f K\nenergy %.10f eV\nkinetic %.10f eV\n"
               "seconds %.3f\nns_per_day %.4f\n",
               (long long)sim_md_step(md), sim_md_time_fs(md) * 1e-6, sim_md_temperature(md),
               sim_md_potential_energy(md), sim_md_kinetic_energy(md), el,
               el > 0 ? done * cfg.dt_fs * 1e-6 / el * 86400 : 0);
    }
    if (tf && fclose(tf) != 0 && !rc) rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s: write failed", out);
    sim_md_destroy(&md);
    sd_atoms_destroy(&a);
    sim_potential_destroy(&p);
    return rc;
}

/* ---- export-lammps ------------------------------------------------------- */

int sim_export_lammps(const sim_potential_t *p, const char *prefix, int nr, int nrho, double rhomax,
                      const char *data, double temp, double dt_fs, int64_t nsteps, uint64_t seed,
                      double damp_ps, int64_t th_steps, double th_dt, int64_t dump_every,
                      const sim_wall_t *wall, sd_err_t *e);

static int cmd_export(int argc, char **argv)
{
    const char *cmd = "export-lammps", *prefix = "stemdyn_smatb", *pot = "Au", *data = "start.data";
    int64_t nr = 2000, nrho = 2000, nsteps = 400000, th = 20000, dump = 200000, iv;
    double rhomax = 150, temp = 300, dt = 5, thdt = 1, damp = 100;
    uint64_t seed = 74581;
    sim_wall_t wall = {0};
    static const struct option lo[] = {{"output", required_argument, 0, 'o'},
                                       {"potential", required_argument, 0, 'p'},
                                       {"nr", required_argument, 0, 1},
                                       {"nrho", required_argument, 0, 2},
                                       {"rhomax", required_argument, 0, 3},
                                       {"data", required_argument, 0, 4},
                                       {"temp", required_argument, 0, 5},
                                       {"dt", required_argument, 0, 6},
                                       {"steps", required_argument, 0, 7},
                                       {"seed", required_argument, 0, 8},
                                       {"damp", required_argument, 0, 9},
                                       {"thermalize", required_argument, 0, 10},
                                       {"dump-every-steps", required_argument, 0, 11},
                                       {"wall", required_argument, 0, 12},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    optind = 0;
    int c, rc;
    sd_err_t e;
    while ((c = getopt_long(argc, argv, "o:p:h", lo, NULL)) != -1) {
        rc = 0;
        switch (c) {
        case 'o': prefix = optarg; break;
        case 'p': pot = optarg; break;
        case 1: rc = sd_cli_parse_i64(optarg, "--nr", 10, 10000000, &nr, &e); break;
        case 2: rc = sd_cli_parse_i64(optarg, "--nrho", 10, 10000000, &nrho, &e); break;
        case 3: rc = sd_cli_parse_double(optarg, "--rhomax", 1e-3, 1e9, &rhomax, &e); break;
        case 4: data = optarg; break;
        case 5: rc = sd_cli_parse_double(optarg, "--temp", 0, 1e5, &temp, &e); break;
        case 6: rc = sd_cli_parse_double(optarg, "--dt", 1e-3, 50, &dt, &e); break;
        case 7: rc = sd_cli_parse_i64(optarg, "--steps", 0, INT64_MAX / 4, &nsteps, &e); break;
        case 8:
            rc = sd_cli_parse_i64(optarg, "--seed", 1, 900000000, &iv, &e);
            seed = (uint64_t)iv;
            break;
        case 9: rc = sd_cli_parse_double(optarg, "--damp", 1e-6, 1e9, &damp, &e); break;
        case 10: {
            char *colon = strchr(optarg, ':');
            if (colon) *colon = 0;
            rc = sd_cli_parse_i64(optarg, "--thermalize steps", 0, INT64_MAX / 4, &th, &e);
            if (!rc && colon) rc = sd_cli_parse_double(colon + 1, "--thermalize dt", 1e-3, 50, &thdt, &e);
            break;
        }
        case 11: rc = sd_cli_parse_i64(optarg, "--dump-every-steps", 1, INT64_MAX / 4, &dump, &e); break;
        case 12:
            if ((rc = parse_wall(cmd, optarg, &wall))) return rc;
            break;
        case 'h':
            printf("usage: stemdyn export-lammps [-o PREFIX] [--potential Au] [--nr 2000] [--nrho 2000]\n"
                   "       [--rhomax 150] [--data start.data] [--temp 300] [--dt 5] [--steps 400000]\n"
                   "       [--thermalize 20000:1] [--seed 74581] [--damp 100] [--dump-every-steps N]\n"
                   "       [--wall Z0:EPS:SIGMA:CUT]\n"
                   "Writes PREFIX.eam.alloy (the SMATB potential tabulated as a LAMMPS setfl file:\n"
                   "F(rho) = -sqrt(rho), f(r) = Xi(r)^2, phi(r) = 2 alpha(r)) and PREFIX.in (LAMMPS\n"
                   "input for the paper's protocol on the data file: minimise, velocities at T,\n"
                   "thermalisation, Langevin production), to cross-check a run in LAMMPS.\n");
            return SD_EXIT_OK;
        default: return sd_cli_fail(cmd, SD_EXIT_USAGE, "bad option (see --help)");
        }
        if (rc) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
    }
    if (optind != argc) return sd_cli_fail(cmd, SD_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
    sim_potential_t *p = sim_potential_new(pot, &e);
    if (!p) return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    rc = sim_export_lammps(p, prefix, (int)nr, (int)nrho, rhomax, data, temp, dt, nsteps, seed, damp,
                           th, thdt, dump, &wall, &e);
    sim_potential_destroy(&p);
    if (rc) return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    printf("wrote %s.eam.alloy and %s.in\n", prefix, prefix);
    return SD_EXIT_OK;
}

/* >>> service commands (sim_service_cmd.c, issue #6) */
int sim_cmd_service(int argc, char **argv);
/* <<< service commands */

const sd_cli_cmd_t sim_commands[] = {
    {"energy", "SMATB energy and forces of a structure", cmd_energy},
    {"minimize", "minimise a structure (CG or FIRE, LAMMPS-like stopping)", cmd_minimize},
    {"md", "molecular dynamics (Langevin/NVE) with checkpoints and restart", cmd_md},
    {"export-lammps", "write the potential as LAMMPS eam/alloy and a LAMMPS input", cmd_export},
    /* >>> service commands */
    {"sim", "MD service: `sim broker` / `sim worker`", sim_cmd_service},
    /* <<< service commands */
    {NULL, NULL, NULL},
};
