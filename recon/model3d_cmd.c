/* `stemdyn reconstruct`: counted columns (columns.csv) or an image → 3D model
 * (extended XYZ with column_id), or, with --from-model, the evaluation of the
 * reconstruction against a known 3D model. */
#include "model3d.h"
#include "recon.h"

#include "sd_atoms.h"
#include "sd_clock.h"
#include "sd_image.h"
#include "sd_xyz.h"
#include "sim.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "reconstruct"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: stemdyn reconstruct INPUT -o MODEL.xyz [options]\n"
            "       stemdyn reconstruct --from-model TRUE.data [--axis x] [-o MODEL.xyz] [options]\n"
            "\n"
            "Builds a 3D model from atom counts: StatSTEM start model on FCC sites, the\n"
            "paper's Monte-Carlo local-minima search (a random column moves by ±1 repeat,\n"
            "accepted when exp(-dE/kT) > threshold), relaxation of the lowest minima,\n"
            "choice by fitness f = E/atom + alpha*chi.  INPUT is a columns.csv (x,y,count\n"
            "…, Å) or an image (TIFF, MRC, .npy, raw+JSON), which is counted first.\n"
            "The beam is the model's z axis.  A frame without columns gives an empty model.\n"
            "\n"
            "options:\n"
            "  -o, --output FILE     extended XYZ: species, pos, column_id:I:1; info energy …\n"
            "      --temp K          temperature of the Boltzmann factor (673)\n"
            "      --iterations N    Monte-Carlo moves (2000)\n"
            "      --threshold P     acceptance threshold on exp(-dE/kT) (0.9)\n"
            "      --alpha A         fitness weight, eV/atom per unit chi (0.1)\n"
            "      --minima K        lowest local minima relaxed and scored (2)\n"
            "      --seed S          random seed (1)\n"
            "      --potential NAME  SMATB parameter set (Au)\n"
            "      --repeat C        repeat along the beam, Å (default: the potential's a0/sqrt2)\n"
            "      --zinfo-b Z       height of the second sublattice, repeats (0.5)\n"
            "      --no-relax        score the minima without relaxation\n"
            "      --etol X          relaxation energy tolerance (1e-5)\n"
            "      --maxiter N       relaxation iterations per minimum (200)\n"
            "      --md-steps N      after minimising, N Langevin MD steps at --temp, then\n"
            "                        minimise again (the paper's MD relaxation, short; 0)\n"
            "      --md-dt FS        MD time step (2 fs)\n"
            "      --dx A            Å per pixel for an image without calibration\n"
            "      --columns-out F   write the counted columns of an image as CSV\n"
            "      --from-model F    take the true columns of a 3D model (LAMMPS data or\n"
            "                        extxyz), reconstruct, and compare with it\n"
            "      --axis x|y|z      beam axis of --from-model (x: the paper's models)\n"
            "  -q, --quiet           no summary on stdout\n"
            "  -h, --help            this text\n");
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

/* Counts an image into cols (the counting stage's pipeline). */
static int count_image(const char *path, double dx_opt, recon_columns_t *cols, double *t_count,
                       sd_err_t *e)
{
    sd_image_t img;
    memset(&img, 0, sizeof img);
    int rc = sd_image_read(path, &img, e);
    if (rc) return rc;
    double dx = dx_opt > 0 ? dx_opt : img.dx;
    if (!(dx > 0)) {
        sd_image_free(&img);
        return sd_err_set(e, SD_EINVAL, "%s: no pixel size in the file; give --dx", path);
    }
    if (img.nframes > 1)
        fprintf(stderr, "stemdyn " CMD ": %s has %lld frames; using the first\n", path,
                (long long)img.nframes);
    recon_count_opts_t co;
    recon_count_opts_default(&co);
    recon_count_info_t ci;
    int64_t t0 = sd_clock_mono_ns();
    rc = recon_count_image(img.data, img.height, img.width, dx, &co, cols, &ci, e);
    *t_count = (double)(sd_clock_mono_ns() - t0) * 1e-9;
    sd_image_free(&img);
    if (rc) sd_err_prefix(e, "%s", path);
    return rc;
}

static int tight_energy(const char *pot_name, int64_t n, const double *pos, double *epa,
                        sd_err_t *e)
{
    sim_potential_t *p = sim_potential_new(pot_name, e);
    if (!p) return e ? e->code : SD_EINVAL;
    double *w = malloc((size_t)(n > 0 ? n : 1) * 3 * sizeof *w);
    if (!w) {
        sim_potential_destroy(&p);
        return sd_err_set(e, SD_ENOMEM, "out of memory");
    }
    memcpy(w, pos, (size_t)n * 3 * sizeof *w);
    sim_min_opts_t mo;
    sim_min_opts_default(&mo);
    mo.maxiter = 5000;
    mo.maxeval = 50000;
    sim_min_result_t mr;
    int rc = sim_minimize(p, n, w, &mo, &mr, e);
    if (rc >= 0) *epa = mr.energy / (double)n;
    free(w);
    sim_potential_destroy(&p);
    return rc < 0 ? rc : SD_OK;
}


int recon_cmd_reconstruct(int argc, char **argv)
{
    enum {
        O_TEMP = 256, O_ITER, O_THR, O_ALPHA, O_MINIMA, O_SEED, O_POT, O_REPEAT, O_ZB,
        O_NORELAX, O_ETOL, O_MAXITER, O_DX, O_COLOUT, O_FROM, O_AXIS, O_MDSTEPS, O_MDDT,
    };
    static const struct option lo[] = {
        {"output", required_argument, 0, 'o'},   {"temp", required_argument, 0, O_TEMP},
        {"iterations", required_argument, 0, O_ITER}, {"threshold", required_argument, 0, O_THR},
        {"alpha", required_argument, 0, O_ALPHA}, {"minima", required_argument, 0, O_MINIMA},
        {"seed", required_argument, 0, O_SEED},  {"potential", required_argument, 0, O_POT},
        {"repeat", required_argument, 0, O_REPEAT}, {"zinfo-b", required_argument, 0, O_ZB},
        {"no-relax", no_argument, 0, O_NORELAX}, {"etol", required_argument, 0, O_ETOL},
        {"maxiter", required_argument, 0, O_MAXITER}, {"dx", required_argument, 0, O_DX},
        {"columns-out", required_argument, 0, O_COLOUT},
        {"from-model", required_argument, 0, O_FROM}, {"axis", required_argument, 0, O_AXIS},
        {"md-steps", required_argument, 0, O_MDSTEPS}, {"md-dt", required_argument, 0, O_MDDT},
        {"quiet", no_argument, 0, 'q'},          {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    recon_model3d_opts_t o;
    recon_model3d_opts_default(&o);
    const char *out_path = NULL, *colout = NULL, *from = NULL;
    double dx = 0, axis[3] = {1, 0, 0};
    int quiet = 0;
    sd_err_t e;
    memset(&e, 0, sizeof e);
    int64_t iv;
    optind = 0;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, ":o:qh", lo, NULL)) != -1) {
        int bad = 0;
        switch (ch) {
        case 'o': out_path = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return SD_EXIT_OK;
        case O_TEMP: bad = sd_cli_parse_double(optarg, "--temp", 1e-3, 1e5, &o.temp_K, &e); break;
        case O_ITER:
            bad = sd_cli_parse_i64(optarg, "--iterations", 0, 100000000, &o.iterations, &e);
            break;
        case O_THR:
            bad = sd_cli_parse_double(optarg, "--threshold", 1e-12, 1 - 1e-12, &o.threshold, &e);
            break;
        case O_ALPHA: bad = sd_cli_parse_double(optarg, "--alpha", 0, 1e6, &o.alpha, &e); break;
        case O_MINIMA:
            bad = sd_cli_parse_i64(optarg, "--minima", 1, 1000, &iv, &e);
            if (!bad) o.max_minima = (int)iv;
            break;
        case O_SEED:
            bad = sd_cli_parse_i64(optarg, "--seed", 0, INT64_MAX, &iv, &e);
            if (!bad) o.seed = (uint64_t)iv;
            break;
        case O_POT:
            if (strlen(optarg) >= sizeof o.potential) {
                e.code = SD_EINVAL;
                snprintf(e.msg, sizeof e.msg, "--potential: name '%s' too long", optarg);
                bad = 1;
            } else {
                snprintf(o.potential, sizeof o.potential, "%s", optarg);
            }
            break;
        case O_REPEAT: bad = sd_cli_parse_double(optarg, "--repeat", 1, 20, &o.c, &e); break;
        case O_ZB:
            bad = sd_cli_parse_double(optarg, "--zinfo-b", -1, 1, &o.zinfo_b, &e);
            if (!bad && fabs(2 * o.zinfo_b - lround(2 * o.zinfo_b)) > 1e-9) {
                snprintf(e.msg, sizeof e.msg, "--zinfo-b: %s is not a multiple of 0.5", optarg);
                bad = 1;
            }
            break;
        case O_NORELAX: o.relax = 0; break;
        case O_ETOL: bad = sd_cli_parse_double(optarg, "--etol", 0, 1, &o.relax_etol, &e); break;
        case O_MAXITER:
            bad = sd_cli_parse_i64(optarg, "--maxiter", 1, 10000000, &o.relax_maxiter, &e);
            break;
        case O_MDSTEPS:
            bad = sd_cli_parse_i64(optarg, "--md-steps", 0, 100000000, &o.md_steps, &e);
            break;
        case O_MDDT: bad = sd_cli_parse_double(optarg, "--md-dt", 0.01, 20, &o.md_dt_fs, &e); break;
        case O_DX: bad = sd_cli_parse_double(optarg, "--dx", 1e-4, 100, &dx, &e); break;
        case O_COLOUT: colout = optarg; break;
        case O_FROM: from = optarg; break;
        case O_AXIS:
            if (!strcmp(optarg, "x") || !strcmp(optarg, "y") || !strcmp(optarg, "z")) {
                axis[0] = axis[1] = axis[2] = 0;
                axis[optarg[0] - 'x'] = 1;
            } else {
                snprintf(e.msg, sizeof e.msg, "--axis: '%s' is not x, y or z", optarg);
                bad = 1;
            }
            break;
        case ':':
            return sd_cli_fail(CMD, SD_EXIT_USAGE, "option %s needs a value (see --help)",
                               argv[optind - 1]);
        default:
            return sd_cli_fail(CMD, SD_EXIT_USAGE, "unknown option %s (see --help)",
                               argv[optind - 1]);
        }
        if (bad) return sd_cli_fail(CMD, SD_EXIT_USAGE, "%s", e.msg);
    }
    const char *input = NULL;
    if (optind < argc) input = argv[optind++];
    if (optind < argc)
        return sd_cli_fail(CMD, SD_EXIT_USAGE, "unexpected argument '%s' (see --help)",
                           argv[optind]);
    if (!input && !from)
        return sd_cli_fail(CMD, SD_EXIT_USAGE, "no input: give columns.csv, an image, or "
                                               "--from-model (see --help)");
    if (input && from)
        return sd_cli_fail(CMD, SD_EXIT_USAGE, "give either INPUT or --from-model, not both");
    if (!out_path && !from)
        return sd_cli_fail(CMD, SD_EXIT_USAGE, "no output: give -o MODEL.xyz");

    int status = SD_EXIT_FAIL;
    recon_columns_t cols;
    memset(&cols, 0, sizeof cols);
    sd_atoms_t *truth = NULL, *model = NULL;
    double *zlo = NULL, *zhi = NULL;
    double t_count = 0;
    int rc;
    if (from) {
        rc = sd_atoms_read_any(from, &truth, &e);
        if (rc == SD_OK) rc = sd_atoms_validate(truth, &e);
        if (rc == SD_OK)
            rc = recon_columns_from_model(truth->n, truth->pos, axis, 1, 0, &cols, NULL, &zlo,
                                          &zhi, NULL, &e);
        if (rc) {
            sd_cli_fail(CMD, SD_EXIT_FAIL, "%s", e.msg);
            goto done;
        }
    } else if (ends_with(input, ".csv")) {
        rc = recon_columns_read_csv(input, &cols, &e);
        if (rc) {
            sd_cli_fail(CMD, SD_EXIT_FAIL, "%s", e.msg);
            goto done;
        }
    } else {
        rc = count_image(input, dx, &cols, &t_count, &e);
        if (rc) {
            sd_cli_fail(CMD, SD_EXIT_FAIL, "%s", e.msg);
            goto done;
        }
        if (colout && (rc = recon_columns_write_csv(colout, &cols, &e))) {
            sd_cli_fail(CMD, SD_EXIT_FAIL, "%s", e.msg);
            goto done;
        }
    }

    recon_model3d_info_t info;
    rc = recon_model3d_build(&cols, &o, &model, &info, &e);
    if (rc) {
        sd_cli_fail(CMD, SD_EXIT_FAIL, "%s: %s", from ? from : input, e.msg);
        goto done;
    }
    if (out_path) {
        sd_atoms_t *fr[1] = {model};
        rc = sd_xyz_write_file(out_path, fr, 1, &e);
        if (rc) {
            sd_cli_fail(CMD, SD_EXIT_FAIL, "%s", e.msg);
            goto done;
        }
    }
    if (!quiet) {
        printf("columns %lld (skipped %lld), atoms %lld, repeat %.4f A\n",
               (long long)info.ncolumns, (long long)info.ncolumns_skipped,
               (long long)info.natoms, info.c);
        if (info.natoms > 0)
            printf("E/atom: start %.5f, MC minimum %.5f, final %.5f eV; chi %.4f (count %.4f, "
                   "disp %.4f A), fitness %.5f\n"
                   "MC: %lld iterations, %lld accepted, %d minima kept, chose #%d\n",
                   info.e_start, info.e_mc, info.e_final, info.chi, info.chi_count,
                   info.chi_disp, info.fitness, (long long)o.iterations,
                   (long long)info.accepted, info.nminima, info.chosen);
        printf("time: count %.1f ms, setup %.2f ms, MC %.2f ms, relax %.1f ms (%lld iterations, "
               "%lld MD steps), reconstruct total %.1f ms\n",
               1e3 * t_count, 1e3 * info.t_setup_s, 1e3 * info.t_mc_s, 1e3 * info.t_relax_s,
               (long long)info.relax_iterations, (long long)info.md_steps, 1e3 * info.t_total_s);
    }
    if (from) {
        double frac = 0, et = NAN, er = NAN;
        int mir = 0;
        rc = recon_model3d_extent_match(model, cols.n, zlo, zhi, info.c, &frac, &mir, &e);
        if (rc == SD_OK && truth->n > 0) rc = tight_energy(o.potential, truth->n, truth->pos, &et, &e);
        if (rc == SD_OK && model->n > 0) rc = tight_energy(o.potential, model->n, model->pos, &er, &e);
        if (rc) {
            sd_cli_fail(CMD, SD_EXIT_FAIL, "evaluation: %s", e.msg);
            goto done;
        }
        /* counts are kept by construction: verify anyway */
        const sd_prop_t *pr = sd_atoms_get_prop(model, "column_id");
        int64_t bad = 0;
        int32_t *got = calloc((size_t)cols.n + 1, sizeof *got);
        if (!got || !pr) {
            free(got);
            sd_cli_fail(CMD, SD_EXIT_FAIL, "evaluation: out of memory");
            goto done;
        }
        for (int64_t a = 0; a < model->n; a++) got[pr->ints[a]]++;
        for (int64_t j = 0; j < cols.n; j++) bad += got[j] != cols.count[j];
        free(got);
        printf("truth %s: %lld atoms, %lld columns; counts kept in %lld/%lld columns; z-extent "
               "match %.3f (%s); E/atom minimised: truth %.5f, reconstruction %.5f (pipeline "
               "%.5f), difference %+.5f eV\n",
               from, (long long)truth->n, (long long)cols.n, (long long)(cols.n - bad),
               (long long)cols.n, frac, mir ? "mirrored" : "as is", et, er, info.e_final, er - et);
    }
    status = SD_EXIT_OK;
done:
    sd_atoms_destroy(&truth);
    sd_atoms_destroy(&model);
    recon_columns_free(&cols);
    free(zlo);
    free(zhi);
    return status;
}
