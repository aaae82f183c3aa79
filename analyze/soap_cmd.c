/* `stemdyn soap|classify|transitions|dict`: SOAP spectra, dictionary
 * classification, transition statistics and dictionary building. */
#include "analyze.h"
#include "classify.h"
#include "dict.h"
#include "sd_atoms.h"
#include "sd_lmpdata.h"
#include "sim.h"
#include "npgen.h"
#include "sd_npy.h"
#include "sd_xyz.h"
#include "soap.h"
#include "transitions.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DICT_LABELS_MAX 256

/* ---- frames from a file: extxyz (all frames) or any single-frame format ---- */
typedef struct frames {
    sd_atoms_t **f;
    int64_t n;
} frames_t;

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int frames_read(const char *path, frames_t *fr, sd_err_t *e)
{
    fr->f = NULL;
    fr->n = 0;
    int rc;
    if (ends_with(path, ".xyz") || ends_with(path, ".extxyz")) {
        rc = sd_xyz_read_all(path, &fr->f, &fr->n, e);
    } else {
        sd_atoms_t *a = NULL;
        rc = sd_atoms_read_any(path, &a, e);
        if (rc == 0) {
            fr->f = malloc(sizeof *fr->f);
            if (!fr->f) { sd_atoms_destroy(&a); return sd_err_set(e, SD_ENOMEM, "out of memory"); }
            fr->f[0] = a;
            fr->n = 1;
        }
    }
    if (rc) return rc;
    if (fr->n == 0) return sd_err_set(e, SD_EFORMAT, "%s: no frames", path);
    for (int64_t t = 0; t < fr->n; t++) {
        if (fr->f[t]->n <= 0) return sd_err_set(e, SD_EINVAL, "%s: frame %lld is empty (0 atoms)", path, (long long)t);
        if (fr->f[t]->n != fr->f[0]->n)
            return sd_err_set(e, SD_EINVAL, "%s: the atom count changes from %lld (frame 0) to %lld (frame %lld)",
                              path, (long long)fr->f[0]->n, (long long)fr->f[t]->n, (long long)t);
        rc = sd_atoms_validate(fr->f[t], e);
        if (rc) return sd_err_prefix(e, "%s: frame %lld", path, (long long)t);
    }
    return SD_OK;
}

static void frames_free(frames_t *fr)
{
    if (fr->f) sd_xyz_frames_free(&fr->f, fr->n);
    fr->f = NULL;
    fr->n = 0;
}

static int make_dir(const char *dir, sd_err_t *e)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return sd_err_set(e, SD_EIO, "cannot create directory %s: %s", dir, strerror(errno));
    return SD_OK;
}

/* k×k matrix as CSV with a header of labels (rows = from). */
static int write_matrix_csv(const char *path, int k, const double *m, char (*labels)[16], sd_err_t *e)
{
    FILE *f = fopen(path, "w");
    if (!f) return sd_err_set(e, SD_EIO, "cannot write %s", path);
    fprintf(f, "from\\to");
    for (int j = 0; j < k; j++) fprintf(f, ",%s", labels[j]);
    fputc('\n', f);
    for (int i = 0; i < k; i++) {
        fprintf(f, "%s", labels[i]);
        for (int j = 0; j < k; j++) fprintf(f, ",%.17g", m[i * k + j]);
        fputc('\n', f);
    }
    if (fclose(f)) return sd_err_set(e, SD_EIO, "write error on %s", path);
    return SD_OK;
}

static int load_dict_opt(const char *path, dict_t **d, sd_err_t *e)
{
    return dict_load(path ? path : dict_default_path(), d, e);
}

/* ================= stemdyn soap ================= */
static void soap_usage(FILE *f)
{
    fprintf(f,
            "usage: stemdyn soap IN -o OUT.npy [options]\n"
            "\n"
            "SOAP power spectrum of every atom, exactly as DScribe 2.1.1 (one species, GTO basis,\n"
            "not periodic; every atom within r_cut + 3.717·sigma contributes, the centre included).\n"
            "IN: extended XYZ (all frames) or LAMMPS data.  OUT: float64 [atoms][F] for one\n"
            "frame, [frames][atoms][F] for several (the atom count must not change).\n"
            "      --rcut R        Å (default 4.48023312, the paper's code; the references use 4.48)\n"
            "      --sigma S       Å (default 1)\n"
            "      --nmax N        radial functions (default 8)\n"
            "      --lmax L        (default 8)\n"
            "      --layout 324|576|tri|full  DScribe's n<=n' layout (default) or the full n×n'\n"
            "                      block of the paper\n"
            "  -h, --help\n"
            "Exit: 0 ok, 1 runtime failure, 2 usage error.\n");
}

static int parse_soap_opt(const char *cmd, int c, const char *arg, soap_params_t *p, int *layout)
{
    sd_err_t e;
    double v;
    int64_t iv;
    switch (c) {
    case 1:
        if (sd_cli_parse_double(arg, "--rcut", 1.0000001, 1000, &v, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
        p->r_cut = v;
        return 0;
    case 2:
        if (sd_cli_parse_double(arg, "--sigma", 1e-6, 100, &v, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
        p->sigma = v;
        return 0;
    case 3:
        if (sd_cli_parse_i64(arg, "--nmax", 1, 20, &iv, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
        p->n_max = (int)iv;
        return 0;
    case 4:
        if (sd_cli_parse_i64(arg, "--lmax", 0, 20, &iv, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
        p->l_max = (int)iv;
        return 0;
    case 5:
        if (!strcmp(arg, "324") || !strcmp(arg, "tri")) *layout = SOAP_LAYOUT_TRI;
        else if (!strcmp(arg, "576") || !strcmp(arg, "full")) *layout = SOAP_LAYOUT_FULL;
        else return sd_cli_fail(cmd, SD_EXIT_USAGE, "--layout must be 324, 576, tri or full (got '%s')", arg);
        return 0;
    }
    return -1;
}

static int soap_cmd(int argc, char **argv)
{
    const char *cmd = "soap";
    static const struct option opts[] = {
        {"rcut", required_argument, NULL, 1}, {"sigma", required_argument, NULL, 2},
        {"nmax", required_argument, NULL, 3}, {"lmax", required_argument, NULL, 4},
        {"layout", required_argument, NULL, 5}, {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    soap_params_t p = {SOAP_RCUT_PAPER, 1.0, 8, 8};
    int layout = SOAP_LAYOUT_TRI, c;
    const char *out = NULL;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'h': soap_usage(stdout); return SD_EXIT_OK;
        case ':': return sd_cli_fail(cmd, SD_EXIT_USAGE, "option %s needs a value", argv[optind - 1]);
        case '?': return sd_cli_fail(cmd, SD_EXIT_USAGE, "unknown option %s (see --help)", argv[optind - 1]);
        default: {
            int r = parse_soap_opt(cmd, c, optarg, &p, &layout);
            if (r) return r;
        }
        }
    }
    if (optind != argc - 1) return sd_cli_fail(cmd, SD_EXIT_USAGE, "need exactly one input file (see --help)");
    if (!out) return sd_cli_fail(cmd, SD_EXIT_USAGE, "-o OUT.npy is required");
    sd_err_t e;
    soap_t *s = soap_new(&p, &e);
    if (!s) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
    frames_t fr;
    if (frames_read(argv[optind], &fr, &e)) {
        frames_free(&fr);
        soap_destroy(&s);
        return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    }
    const int64_t n = fr.f[0]->n, F = soap_n_features(s, (soap_layout_t)layout);
    int rc = SD_EXIT_OK;
    if ((double)fr.n * n * F * 8 > (double)SD_NPY_MAX_BYTES) {
        rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%lld frames × %lld atoms × %lld features is too large for one .npy",
                         (long long)fr.n, (long long)n, (long long)F);
    } else {
        double *buf = malloc(sizeof(double) * fr.n * n * F);
        if (!buf) rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "out of memory");
        for (int64_t t = 0; buf && t < fr.n && rc == SD_EXIT_OK; t++)
            if (soap_compute(s, n, fr.f[t]->pos, 0, NULL, (soap_layout_t)layout, buf + t * n * F, &e))
                rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s: frame %lld: %s", argv[optind], (long long)t, e.msg);
        if (buf && rc == SD_EXIT_OK) {
            int64_t shape[3] = {fr.n, n, F};
            int one = fr.n == 1;
            if (sd_npy_write(out, SD_NPY_F64, one ? 2 : 3, one ? shape + 1 : shape, buf, &e))
                rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
        }
        free(buf);
    }
    frames_free(&fr);
    soap_destroy(&s);
    return rc;
}

/* ================= stemdyn classify ================= */
static void classify_usage(FILE *f)
{
    fprintf(f,
            "usage: stemdyn classify TRAJ -o LABELS.npy [options]\n"
            "\n"
            "Classifies every atom of every frame as the paper: SOAP with the dictionary's\n"
            "parameters, full 576 vector, unit length, nearest reference by d = sqrt(|2-2x·r|)\n"
            "(first minimum), that reference's group.  LABELS: int64 [frames][atoms] group\n"
            "indices (-1 for masked atoms); the group labels are printed with the counts.\n"
            "      --dictionary F    a stemdyn-dict file (default: the paper's 47 references)\n"
            "      --mask-z-below Z  exclude atoms whose z in the first frame is below Z Å\n"
            "      --refidx F.npy    nearest reference, int64 [frames][atoms]\n"
            "      --dist F.npy      distances to every reference, float64 [frames][atoms][refs]\n"
            "      --timesoap F.npy  TimeSOAP d(x_i(t-1), x_i(t)), float64 [frames-1][atoms]\n"
            "      --dtimesoap F.npy its change along time (SOAPify's deltaTimeSOAP), float64\n"
            "                        [atoms][frames-2]\n"
            "  -h, --help\n"
            "Exit: 0 ok, 1 runtime failure, 2 usage error.\n");
}

/* Classifies all frames: g/r [T][n], dist [T][n][R] and ts [T-1][n] optional. */
static int classify_frames(const dict_t *d, const frames_t *fr, const unsigned char *mask, int64_t *g,
                           int64_t *r, double *dist, double *ts, sd_err_t *e)
{
    classify_t *c = classify_new(d, e);
    if (!c) return e->code ? e->code : SD_EINVAL;
    const int64_t n = fr->f[0]->n;
    double *tsf = ts ? malloc(sizeof(double) * n) : NULL;
    int rc = (ts && !tsf) ? sd_err_set(e, SD_ENOMEM, "out of memory") : SD_OK;
    for (int64_t t = 0; t < fr->n && rc == SD_OK; t++) {
        rc = classify_frame(c, n, fr->f[t]->pos, g + t * n, r ? r + t * n : NULL,
                            dist ? dist + t * n * d->n_refs : NULL, NULL, tsf, e);
        if (rc) { sd_err_prefix(e, "frame %lld", (long long)t); break; }
        if (ts && t > 0) memcpy(ts + (t - 1) * n, tsf, sizeof(double) * n);
        for (int64_t i = 0; mask && i < n; i++)
            if (!mask[i]) {
                g[t * n + i] = -1;
                if (r) r[t * n + i] = -1;
            }
    }
    free(tsf);
    classify_destroy(&c);
    return rc;
}

static int classify_cmd(int argc, char **argv)
{
    const char *cmd = "classify";
    static const struct option opts[] = {
        {"dictionary", required_argument, NULL, 1}, {"mask-z-below", required_argument, NULL, 2},
        {"refidx", required_argument, NULL, 3}, {"dist", required_argument, NULL, 4},
        {"timesoap", required_argument, NULL, 5}, {"dtimesoap", required_argument, NULL, 6},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *out = NULL, *dpath = NULL, *rout = NULL, *dout = NULL, *tout = NULL, *dtout = NULL;
    int have_mask = 0, c;
    double zmin = 0;
    sd_err_t e;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 1: dpath = optarg; break;
        case 2:
            if (sd_cli_parse_double(optarg, "--mask-z-below", -1e6, 1e6, &zmin, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            have_mask = 1;
            break;
        case 3: rout = optarg; break;
        case 4: dout = optarg; break;
        case 5: tout = optarg; break;
        case 6: dtout = optarg; break;
        case 'h': classify_usage(stdout); return SD_EXIT_OK;
        case ':': return sd_cli_fail(cmd, SD_EXIT_USAGE, "option %s needs a value", argv[optind - 1]);
        default: return sd_cli_fail(cmd, SD_EXIT_USAGE, "unknown option %s (see --help)", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return sd_cli_fail(cmd, SD_EXIT_USAGE, "need exactly one trajectory (see --help)");
    if (!out) return sd_cli_fail(cmd, SD_EXIT_USAGE, "-o LABELS.npy is required");
    const char *tsname = tout;
    dict_t *d = NULL;
    if (load_dict_opt(dpath, &d, &e)) return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    if (dtout && !tout) tout = dtout; /* TimeSOAP is needed for its change */
    frames_t fr;
    if (frames_read(argv[optind], &fr, &e)) {
        frames_free(&fr);
        dict_destroy(&d);
        return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    }
    const int64_t T = fr.n, n = fr.f[0]->n, R = d->n_refs;
    int rc = SD_EXIT_OK;
    int64_t *g = malloc(sizeof(int64_t) * T * n), *r = rout ? malloc(sizeof(int64_t) * T * n) : NULL;
    double *dist = dout ? malloc(sizeof(double) * T * n * R) : NULL;
    double *ts = (tout && T > 1) ? malloc(sizeof(double) * (T - 1) * n) : NULL;
    unsigned char *mask = have_mask ? malloc((size_t)n) : NULL;
    if (!g || (rout && !r) || (dout && !dist) || (tout && T > 1 && !ts) || (have_mask && !mask)) {
        rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "out of memory for %lld frames × %lld atoms", (long long)T, (long long)n);
        goto done;
    }
    if (tout && T < (dtout ? 3 : 2)) {
        rc = sd_cli_fail(cmd, SD_EXIT_USAGE, "--%s needs at least %d frames", dtout ? "dtimesoap" : "timesoap", dtout ? 3 : 2);
        goto done;
    }
    if (mask) trans_mask_z_below(n, fr.f[0]->pos, zmin, mask);
    if (classify_frames(d, &fr, mask, g, r, dist, ts, &e)) {
        rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s: %s", argv[optind], e.msg);
        goto done;
    }
    int64_t sh[3] = {T, n, R};
    if (sd_npy_write(out, SD_NPY_I64, 2, sh, g, &e) || (r && sd_npy_write(rout, SD_NPY_I64, 2, sh, r, &e)) ||
        (dist && sd_npy_write(dout, SD_NPY_F64, 3, sh, dist, &e))) {
        rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
        goto done;
    }
    if (ts && tsname) {
        int64_t s2[2] = {T - 1, n};
        if (sd_npy_write(tsname, SD_NPY_F64, 2, s2, ts, &e)) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg); goto done; }
    }
    if (ts && dtout) {
        double *dts = malloc(sizeof(double) * n * (T - 2));
        int64_t s3[2] = {n, T - 2};
        if (!dts) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "out of memory"); goto done; }
        trans_timesoap_delta(T - 1, n, ts, dts);
        int wr = sd_npy_write(dtout, SD_NPY_F64, 2, s3, dts, &e);
        free(dts);
        if (wr) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg); goto done; }
    }
    printf("%lld frames × %lld atoms classified with %s (%d references, %d groups)\n", (long long)T,
           (long long)n, d->name, d->n_refs, d->n_groups);
    printf("group counts (frame 0):");
    for (int k = 0; k < d->n_groups; k++) {
        long long cnt = 0;
        for (int64_t i = 0; i < n; i++) cnt += g[i] == k;
        printf(" %s=%lld", d->group_label[k], cnt);
    }
    printf("\n");
done:
    free(g); free(r); free(dist); free(ts); free(mask);
    frames_free(&fr);
    dict_destroy(&d);
    return rc;
}

/* ================= stemdyn transitions ================= */
static void transitions_usage(FILE *f)
{
    fprintf(f,
            "usage: stemdyn transitions RUN... -o DIR [options]\n"
            "\n"
            "Transition statistics between dictionary groups.  Each RUN is a trajectory\n"
            "(extended XYZ, classified here) or an int64 .npy of group labels [frames][atoms]\n"
            "(from `stemdyn classify`; -1 = masked).  Per run, C_ij counts (group at t-1 → group\n"
            "at t) per atom, diagonal included; runs merge by adding counts.\n"
            "Writes to DIR: counts.{npy,csv} (merged), prob.{npy,csv} (row-normalised merged\n"
            "counts), prob_runmean.{npy,csv} (the paper's unweighted mean of the runs'\n"
            "row-normalised matrices), tau.{npy,csv} (τ_ij = dt/p_ij, i≠j, from prob, in ns),\n"
            "counts_runs.npy [runs][k][k], populations.{npy,csv} (atoms per group and frame,\n"
            "runs concatenated), heatmap.svg (prob, log colour) and chord.svg (counts).\n"
            "      --dt-ns DT        time between analysed frames in ns (default 1)\n"
            "      --dictionary F    a stemdyn-dict file (default: the paper's 47 references)\n"
            "      --mask-z-below Z  exclude atoms whose z in a run's first frame is below Z Å\n"
            "  -h, --help\n"
            "Exit: 0 ok, 1 runtime failure, 2 usage error.\n");
}

static int transitions_cmd(int argc, char **argv)
{
    const char *cmd = "transitions";
    static const struct option opts[] = {
        {"dt-ns", required_argument, NULL, 1}, {"dictionary", required_argument, NULL, 2},
        {"mask-z-below", required_argument, NULL, 3}, {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *dir = NULL, *dpath = NULL;
    double dt = 1.0, zmin = 0;
    int have_mask = 0, c;
    sd_err_t e;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': dir = optarg; break;
        case 1:
            if (sd_cli_parse_double(optarg, "--dt-ns", 1e-12, 1e12, &dt, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 2: dpath = optarg; break;
        case 3:
            if (sd_cli_parse_double(optarg, "--mask-z-below", -1e6, 1e6, &zmin, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            have_mask = 1;
            break;
        case 'h': transitions_usage(stdout); return SD_EXIT_OK;
        case ':': return sd_cli_fail(cmd, SD_EXIT_USAGE, "option %s needs a value", argv[optind - 1]);
        default: return sd_cli_fail(cmd, SD_EXIT_USAGE, "unknown option %s (see --help)", argv[optind - 1]);
        }
    }
    if (optind >= argc) return sd_cli_fail(cmd, SD_EXIT_USAGE, "need at least one run (see --help)");
    if (!dir) return sd_cli_fail(cmd, SD_EXIT_USAGE, "-o DIR is required");
    dict_t *d = NULL;
    if (load_dict_opt(dpath, &d, &e)) return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    const int k = d->n_groups, nruns = argc - optind;
    int rc = SD_EXIT_OK;
    double *counts = calloc((size_t)k * k, sizeof(double)), *cruns = calloc((size_t)nruns * k * k, sizeof(double));
    double *p = malloc(sizeof(double) * k * k), *pm = malloc(sizeof(double) * k * k), *tau = malloc(sizeof(double) * k * k);
    double *pop = NULL;
    int64_t popT = 0;
    int *pop_run = NULL;
    if (!counts || !cruns || !p || !pm || !tau) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "out of memory"); goto done; }
    if (make_dir(dir, &e)) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg); goto done; }
    for (int run = 0; run < nruns && rc == SD_EXIT_OK; run++) {
        const char *path = argv[optind + run];
        int64_t T = 0, n = 0, *g = NULL;
        unsigned char *mask = NULL;
        if (ends_with(path, ".npy")) {
            sd_npy_t a;
            if (sd_npy_read_i64(path, &a, &e)) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg); break; }
            if (a.ndim != 2) {
                sd_npy_free(&a);
                rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s: labels must be [frames][atoms] (got %d dimensions)", path, a.ndim);
                break;
            }
            T = a.shape[0];
            n = a.shape[1];
            g = a.data;
            if (have_mask) {
                sd_npy_free(&a);
                rc = sd_cli_fail(cmd, SD_EXIT_USAGE, "--mask-z-below needs trajectories (labels carry -1 for masked atoms)");
                break;
            }
            mask = malloc((size_t)(n > 0 ? n : 1));
            if (!mask) { free(g); rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "out of memory"); break; }
            for (int64_t i = 0; i < n; i++) {
                mask[i] = 1;
                for (int64_t t = 0; t < T; t++)
                    if (g[t * n + i] < 0) mask[i] = 0;
            }
        } else {
            frames_t fr;
            if (frames_read(path, &fr, &e)) {
                frames_free(&fr);
                rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
                break;
            }
            T = fr.n;
            n = fr.f[0]->n;
            g = malloc(sizeof(int64_t) * T * n);
            mask = malloc((size_t)n);
            if (!g || !mask) { free(g); free(mask); frames_free(&fr); rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "out of memory"); break; }
            for (int64_t i = 0; i < n; i++) mask[i] = 1;
            if (have_mask) trans_mask_z_below(n, fr.f[0]->pos, zmin, mask);
            if (classify_frames(d, &fr, mask, g, NULL, NULL, NULL, &e)) {
                free(g); free(mask); frames_free(&fr);
                rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s: %s", path, e.msg);
                break;
            }
            frames_free(&fr);
        }
        double *np = realloc(pop, sizeof(double) * (popT + T) * k);
        int *nr = realloc(pop_run, sizeof(int) * (popT + T));
        if (np) pop = np;
        if (nr) pop_run = nr;
        if (!np || !nr) { free(g); free(mask); rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "out of memory"); break; }
        if (trans_count(k, T, n, g, mask, cruns + (size_t)run * k * k, pop + popT * k, &e)) {
            free(g); free(mask);
            rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s: %s", path, e.msg);
            break;
        }
        for (int64_t t = 0; t < T; t++) pop_run[popT + t] = run;
        popT += T;
        for (int q = 0; q < k * k; q++) counts[q] += cruns[(size_t)run * k * k + q];
        free(g);
        free(mask);
    }
    if (rc != SD_EXIT_OK) goto done;
    trans_rownorm(k, counts, p);
    trans_mean_rownorm(k, nruns, cruns, pm);
    trans_tau(k, p, dt, tau);
    {
        char path[4096];
        int64_t sh2[2] = {k, k}, sh3[3] = {nruns, k, k}, shp[2] = {popT, k};
        const char *labels[DICT_LABELS_MAX];
        for (int q = 0; q < k && q < DICT_LABELS_MAX; q++) labels[q] = d->group_label[q];
        struct { const char *name; const double *m; } mats[] = {
            {"counts", counts}, {"prob", p}, {"prob_runmean", pm}, {"tau", tau}};
        for (size_t q = 0; q < sizeof mats / sizeof mats[0]; q++) {
            snprintf(path, sizeof path, "%s/%s.npy", dir, mats[q].name);
            if (sd_npy_write(path, SD_NPY_F64, 2, sh2, mats[q].m, &e)) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg); goto done; }
            snprintf(path, sizeof path, "%s/%s.csv", dir, mats[q].name);
            if (write_matrix_csv(path, k, mats[q].m, d->group_label, &e)) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg); goto done; }
        }
        snprintf(path, sizeof path, "%s/counts_runs.npy", dir);
        if (sd_npy_write(path, SD_NPY_F64, 3, sh3, cruns, &e)) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg); goto done; }
        snprintf(path, sizeof path, "%s/populations.npy", dir);
        if (sd_npy_write(path, SD_NPY_F64, 2, shp, pop, &e)) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg); goto done; }
        snprintf(path, sizeof path, "%s/populations.csv", dir);
        FILE *f = fopen(path, "w");
        if (!f) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "cannot write %s", path); goto done; }
        fprintf(f, "run,frame,time_ns");
        for (int q = 0; q < k; q++) fprintf(f, ",%s", d->group_label[q]);
        fputc('\n', f);
        for (int64_t t = 0, t0 = 0; t < popT; t++) {
            if (t > 0 && pop_run[t] != pop_run[t - 1]) t0 = t;
            fprintf(f, "%d,%lld,%.17g", pop_run[t], (long long)(t - t0), (double)(t - t0) * dt);
            for (int q = 0; q < k; q++) fprintf(f, ",%.0f", pop[t * k + q]);
            fputc('\n', f);
        }
        if (fclose(f)) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "write error on %s", path); goto done; }
        if (k <= DICT_LABELS_MAX) {
            snprintf(path, sizeof path, "%s/heatmap.svg", dir);
            if (plot_heatmap_svg(path, k, p, labels, "Transition probabilities (row-normalised)", 1, &e) ||
                (snprintf(path, sizeof path, "%s/chord.svg", dir),
                 plot_chord_svg(path, k, counts, labels, "Exchanges between environments (counts)", &e))) {
                rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
                goto done;
            }
        }
    }
    {
        double tot = 0;
        for (int q = 0; q < k * k; q++) tot += counts[q];
        printf("%d run(s), %.0f transitions counted, %d groups; outputs in %s\n", nruns, tot, k, dir);
    }
done:
    free(counts); free(cruns); free(p); free(pm); free(tau); free(pop); free(pop_run);
    dict_destroy(&d);
    return rc;
}

/* ================= stemdyn dict ================= */
static void dict_usage(FILE *f)
{
    fprintf(f,
            "usage: stemdyn dict build -o OUT.dict --from DIR (--like REF.dict | --picks FILE | --all) [options]\n"
            "       stemdyn dict show [DICT] [--svg DENDRO.svg] [--cut C]\n"
            "\n"
            "build: SOAP environments (unit full-layout vectors) of chosen atoms of the structures\n"
            "in DIR (<source>_minimized.data, <source>.data or <source>.xyz), grouped by complete\n"
            "linkage of the SOAP distance cut at C.  Writes OUT.dict and OUT.npy.\n"
            "      --from DIR        structures (e.g. ../shared/oracle/dictionary/ideal_minimized)\n"
            "      --generate A,B,.. first generate these ideal nanoparticles (ico<N>_<shells>,\n"
            "                        to<N>_<length>_<cut>, dh<N>_<p>_<q>_<r>, e.g. the paper's ico923_6,\n"
            "                        to807_11_3, to976_12_4, dh1086_7_1_3, dh1734_5_4_4), minimise them\n"
            "                        (sim, CG etol 1e-6 ftol 1e-8) and write DIR/<name>_minimized.data\n"
            "      --potential P     sim potential for --generate (default Au, the paper's SMATB)\n"
            "      --d-nn D          nearest-neighbour distance of the ideal structures (default 2.88 Å)\n"
            "      --like REF.dict   take REF's references (name, source, atom) and, when the\n"
            "                        clusters match REF's groups one-to-one, its group labels\n"
            "      --picks FILE      lines 'name source atom' (atom index 0-based, '#' comments)\n"
            "      --all             every atom of every structure named by --sources, keeping\n"
            "                        environments farther than --distinct from all kept ones\n"
            "      --sources A,B,..  structures for --all (names as in DIR)\n"
            "      --distinct D      (default 0.02)\n"
            "      --cut C           linkage cut height (default 0.08)\n"
            "      --rcut/--sigma/--nmax/--lmax  SOAP parameters (default: REF's, else the paper's)\n"
            "      --name NAME       dictionary name\n"
            "      --svg F           also write the dendrogram\n"
            "show: the references and groups as a table (nearest other reference and distance),\n"
            "and with --svg the dendrogram of the references (complete linkage, cut line at C).\n"
            "Exit: 0 ok, 1 runtime failure, 2 usage error.\n");
}

static int dendrogram(const dict_t *d, const char *svg, double cut, sd_err_t *e)
{
    const int n = d->n_refs, dim = d->dim;
    if (n < 2) return sd_err_set(e, SD_EINVAL, "a dendrogram needs at least 2 references");
    double *dist = malloc(sizeof(double) * (size_t)n * (n - 1) / 2);
    int *za = malloc(sizeof(int) * n), *zb = malloc(sizeof(int) * n);
    double *zh = malloc(sizeof(double) * n);
    const char **lab = malloc(sizeof(char *) * n);
    char (*lb)[96] = malloc(sizeof *lb * n);
    int rc = (!dist || !za || !zb || !zh || !lab || !lb) ? sd_err_set(e, SD_ENOMEM, "out of memory") : SD_OK;
    if (rc == SD_OK) {
        size_t q = 0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) dist[q++] = dict_distance(dim, d->vec + (size_t)i * dim, d->vec + (size_t)j * dim);
        rc = dict_linkage_complete(n, dist, za, zb, zh, NULL, e);
    }
    if (rc == SD_OK) {
        for (int i = 0; i < n; i++) {
            snprintf(lb[i], sizeof lb[i], "%s [%s]", d->ref_name[i], d->group_label[d->group[i]]);
            lab[i] = lb[i];
        }
        rc = plot_dendrogram_svg(svg, n, za, zb, zh, lab, cut, e);
    }
    free(dist); free(za); free(zb); free(zh); free(lab); free(lb);
    return rc;
}

static void print_table(const dict_t *d)
{
    printf("dictionary %s: %d references, %d groups, dim %d (r_cut %.8g, sigma %g, n_max %d, l_max %d)\n",
           d->name, d->n_refs, d->n_groups, d->dim, d->params.r_cut, d->params.sigma, d->params.n_max,
           d->params.l_max);
    printf("%4s  %-14s %-6s %-14s %6s  %-14s %s\n", "ref", "name", "group", "source", "atom", "nearest", "d");
    for (int i = 0; i < d->n_refs; i++) {
        int best = -1;
        double bd = INFINITY;
        for (int j = 0; j < d->n_refs; j++) {
            if (j == i) continue;
            double dd = dict_distance(d->dim, d->vec + (size_t)i * d->dim, d->vec + (size_t)j * d->dim);
            if (dd < bd) { bd = dd; best = j; }
        }
        printf("%4d  %-14s %-6s %-14s %6lld  %-14s %.4f\n", i, d->ref_name[i], d->group_label[d->group[i]],
               d->ref_source[i][0] ? d->ref_source[i] : "-", (long long)d->ref_atom[i],
               best >= 0 ? d->ref_name[best] : "-", best >= 0 ? bd : 0.0);
    }
    for (int g = 0; g < d->n_groups; g++) {
        int cnt = 0;
        for (int i = 0; i < d->n_refs; i++) cnt += d->group[i] == g;
        printf("group %d %-4s %d references\n", g, d->group_label[g], cnt);
    }
}

static int read_picks(const char *path, int *n, char (**names)[64], char (**sources)[64], int64_t **atoms,
                      sd_err_t *e)
{
    FILE *f = fopen(path, "r");
    if (!f) return sd_err_set(e, SD_ENOTFOUND, "cannot open picks file %s", path);
    char line[512];
    int cap = 0, cnt = 0, lineno = 0, rc = SD_OK;
    *names = NULL;
    *sources = NULL;
    *atoms = NULL;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *h = strchr(line, '#');
        if (h) *h = 0;
        char a[128], b[128], c[128], x[8];
        int nt = sscanf(line, "%127s %127s %127s %7s", a, b, c, x);
        if (nt <= 0) continue;
        char *end;
        long long at = nt == 3 ? strtoll(c, &end, 10) : -1;
        if (nt != 3 || *end || at < 0 || strlen(a) >= 64 || strlen(b) >= 64) {
            rc = sd_err_set(e, SD_EFORMAT, "%s:%d: expected 'name source atom'", path, lineno);
            break;
        }
        if (cnt == cap) {
            cap = cap ? 2 * cap : 64;
            void *p1 = realloc(*names, sizeof **names * cap), *p2 = realloc(*sources, sizeof **sources * cap),
                 *p3 = realloc(*atoms, sizeof **atoms * cap);
            if (p1) *names = p1;
            if (p2) *sources = p2;
            if (p3) *atoms = p3;
            if (!p1 || !p2 || !p3) { rc = sd_err_set(e, SD_ENOMEM, "out of memory"); break; }
        }
        snprintf((*names)[cnt], 64, "%s", a);
        snprintf((*sources)[cnt], 64, "%s", b);
        (*atoms)[cnt] = at;
        cnt++;
    }
    fclose(f);
    if (rc == SD_OK && cnt == 0) rc = sd_err_set(e, SD_EFORMAT, "%s: no picks", path);
    *n = cnt;
    return rc;
}

/* Generates, minimises and writes DIR/<name>_minimized.data for each name. */
static int generate_nps(const char *list, const char *dir, const char *potential, double d_nn, sd_err_t *e)
{
    int rc = make_dir(dir, e);
    if (rc) return rc;
    sim_potential_t *pot = sim_potential_new(potential, e);
    if (!pot) return e->code ? e->code : SD_EINVAL;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ","); tok && rc == SD_OK; tok = strtok(NULL, ",")) {
        int64_t n = 0;
        double *pos = NULL;
        rc = npgen_by_name(tok, d_nn, &n, &pos, e);
        if (rc) break;
        sim_min_result_t res;
        rc = sim_minimize(pot, n, pos, NULL, &res, e);
        if (rc) { free(pos); sd_err_prefix(e, "minimising %s", tok); break; }
        sd_atoms_t *a = sd_atoms_new(n, sim_potential_element(pot));
        if (!a) { free(pos); rc = sd_err_set(e, SD_ENOMEM, "out of memory"); break; }
        memcpy(a->pos, pos, sizeof(double) * 3 * n);
        free(pos);
        char path[4600];
        snprintf(path, sizeof path, "%s/%s_minimized.data", dir, tok);
        rc = sd_lmpdata_write(path, a, 20.0, e);
        sd_atoms_destroy(&a);
        if (rc == SD_OK)
            printf("%s: %lld atoms, E %.6f eV/atom after %lld CG iterations (%s), fmax %.2g eV/Å -> %s\n", tok,
                   (long long)n, res.energy / n, (long long)res.iterations, sim_min_stop_name(res.stop), res.fmax, path);
    }
    sim_potential_destroy(&pot);
    return rc;
}

static int dict_build_cmd(int argc, char **argv)
{
    const char *cmd = "dict build";
    static const struct option opts[] = {
        {"rcut", required_argument, NULL, 1}, {"sigma", required_argument, NULL, 2},
        {"nmax", required_argument, NULL, 3}, {"lmax", required_argument, NULL, 4},
        {"from", required_argument, NULL, 10}, {"like", required_argument, NULL, 11},
        {"picks", required_argument, NULL, 12}, {"all", no_argument, NULL, 13},
        {"sources", required_argument, NULL, 14}, {"distinct", required_argument, NULL, 15},
        {"cut", required_argument, NULL, 16}, {"name", required_argument, NULL, 17},
        {"svg", required_argument, NULL, 18}, {"generate", required_argument, NULL, 19},
        {"potential", required_argument, NULL, 20}, {"d-nn", required_argument, NULL, 21},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    soap_params_t p = {SOAP_RCUT_PAPER, 1.0, 8, 8};
    int have_p = 0, all = 0, layout = 0, c;
    const char *out = NULL, *from = NULL, *like_path = NULL, *picks = NULL, *srcs = NULL, *name = NULL, *svg = NULL;
    const char *generate = NULL, *potential = "Au";
    double distinct = 0.02, cut = 0.08, d_nn = 2.88;
    sd_err_t e;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'h': dict_usage(stdout); return SD_EXIT_OK;
        case 10: from = optarg; break;
        case 11: like_path = optarg; break;
        case 12: picks = optarg; break;
        case 13: all = 1; break;
        case 14: srcs = optarg; break;
        case 15:
            if (sd_cli_parse_double(optarg, "--distinct", 0, 2, &distinct, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 16:
            if (sd_cli_parse_double(optarg, "--cut", 0, 2, &cut, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 17: name = optarg; break;
        case 18: svg = optarg; break;
        case 19: generate = optarg; break;
        case 20: potential = optarg; break;
        case 21:
            if (sd_cli_parse_double(optarg, "--d-nn", 1.0, 10.0, &d_nn, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case ':': return sd_cli_fail(cmd, SD_EXIT_USAGE, "option %s needs a value", argv[optind - 1]);
        case '?': return sd_cli_fail(cmd, SD_EXIT_USAGE, "unknown option %s (see --help)", argv[optind - 1]);
        default: {
            int r = parse_soap_opt(cmd, c, optarg, &p, &layout);
            if (r) return r;
            have_p = 1;
        }
        }
    }
    if (optind != argc) return sd_cli_fail(cmd, SD_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
    if (!out || !from) return sd_cli_fail(cmd, SD_EXIT_USAGE, "-o OUT.dict and --from DIR are required");
    if ((like_path != NULL) + (picks != NULL) + all != 1)
        return sd_cli_fail(cmd, SD_EXIT_USAGE, "choose exactly one of --like, --picks, --all");
    if (all && !srcs) srcs = generate;
    if (all && !srcs) return sd_cli_fail(cmd, SD_EXIT_USAGE, "--all needs --sources A,B,... (or --generate)");
    if (generate && generate_nps(generate, from, potential, d_nn, &e))
        return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    dict_t *like = NULL, *d = NULL;
    int n = 0, rc = SD_EXIT_OK;
    char (*names)[64] = NULL, (*sources)[64] = NULL;
    int64_t *atoms = NULL;
    double *vec = NULL;
    if (like_path) {
        if (dict_load(like_path, &like, &e)) return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
        if (!have_p) p = like->params;
        n = like->n_refs;
        names = malloc(sizeof *names * n);
        sources = malloc(sizeof *sources * n);
        atoms = malloc(sizeof *atoms * n);
        if (!names || !sources || !atoms) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "out of memory"); goto done; }
        for (int i = 0; i < n; i++) {
            if (!like->ref_source[i][0] || like->ref_atom[i] < 0) {
                rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s: reference %d (%s) has no source structure/atom", like_path, i,
                                 like->ref_name[i]);
                goto done;
            }
            memcpy(names[i], like->ref_name[i], 64);
            memcpy(sources[i], like->ref_source[i], 64);
            atoms[i] = like->ref_atom[i];
        }
    } else if (picks) {
        if (read_picks(picks, &n, &names, &sources, &atoms, &e)) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg); goto done; }
    } else {
        /* every atom of the named structures */
        char list[4096];
        snprintf(list, sizeof list, "%s", srcs);
        int cap = 0;
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s_minimized.data", from, tok);
            FILE *f = fopen(path, "rb");
            if (f) fclose(f);
            else snprintf(path, sizeof path, "%s/%s.data", from, tok);
            sd_atoms_t *a = NULL;
            if (strlen(tok) >= 64 || sd_atoms_read_any(path, &a, &e)) {
                rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "structure '%s': %s", tok, strlen(tok) >= 64 ? "name too long" : e.msg);
                goto done;
            }
            int64_t na = a->n;
            sd_atoms_destroy(&a);
            if (n + na > 200000) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "too many atoms for --all"); goto done; }
            cap = n + (int)na;
            void *p1 = realloc(names, sizeof *names * cap), *p2 = realloc(sources, sizeof *sources * cap),
                 *p3 = realloc(atoms, sizeof *atoms * cap);
            if (p1) names = p1;
            if (p2) sources = p2;
            if (p3) atoms = p3;
            if (!p1 || !p2 || !p3) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "out of memory"); goto done; }
            for (int64_t i = 0; i < na; i++, n++) {
                snprintf(sources[n], 64, "%s", tok);
                snprintf(names[n], 64, "%.40s_%lld", tok, (long long)i);
                atoms[n] = i;
            }
        }
    }
    soap_t *probe = soap_new(&p, &e);
    if (!probe) { rc = sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg); goto done; }
    const int dim = soap_n_features(probe, SOAP_LAYOUT_FULL);
    soap_destroy(&probe);
    vec = malloc(sizeof(double) * (size_t)n * dim);
    if (!vec) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "out of memory"); goto done; }
    if (dict_environments(&p, from, n, (const char (*)[64])sources, atoms, vec, &e)) {
        rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
        goto done;
    }
    int keep_n = n;
    int *keep = malloc(sizeof(int) * (n > 0 ? n : 1));
    if (!keep) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "out of memory"); goto done; }
    if (all) { /* greedy: keep an environment farther than `distinct` from every kept one */
        keep_n = 0;
        for (int i = 0; i < n; i++) {
            int ok = 1;
            for (int q = 0; q < keep_n && ok; q++)
                if (dict_distance(dim, vec + (size_t)i * dim, vec + (size_t)keep[q] * dim) <= distinct) ok = 0;
            if (ok) keep[keep_n++] = i;
        }
    } else {
        for (int i = 0; i < n; i++) keep[i] = i;
    }
    d = dict_new(keep_n, dim, keep_n);
    if (!d) { free(keep); rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "out of memory"); goto done; }
    d->params = p;
    snprintf(d->name, sizeof d->name, "%s", name ? name : (like ? like->name : "built"));
    for (int q = 0; q < keep_n; q++) {
        int i = keep[q];
        memcpy(d->vec + (size_t)q * dim, vec + (size_t)i * dim, sizeof(double) * dim);
        memcpy(d->ref_name[q], names[i], 64);
        memcpy(d->ref_source[q], sources[i], 64);
        d->ref_atom[q] = atoms[i];
    }
    free(keep);
    int grc = dict_group(d, cut, like, &e);
    if (grc < 0) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg); goto done; }
    if (grc == 1)
        fprintf(stderr, "stemdyn dict build: the %d clusters at cut %g do not match %s's %d groups one-to-one; "
                        "labels g0..g%d\n", d->n_groups, cut, like_path, like->n_groups, d->n_groups - 1);
    if (like && !have_p && d->dim == like->dim && d->n_refs == like->n_refs) {
        double worst = 0;
        for (int i = 0; i < n; i++)
            for (int f = 0; f < dim; f++) worst = fmax(worst, fabs(d->vec[(size_t)i * dim + f] - like->vec[(size_t)i * dim + f]));
        printf("max |rebuilt - %s| over all entries: %.3g\n", like_path, worst);
    }
    if (dict_save(out, d, &e)) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg); goto done; }
    print_table(d);
    if (svg && dendrogram(d, svg, cut, &e)) { rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg); goto done; }
done:
    free(names); free(sources); free(atoms); free(vec);
    dict_destroy(&d);
    dict_destroy(&like);
    return rc;
}

static int dict_show_cmd(int argc, char **argv)
{
    const char *cmd = "dict show";
    static const struct option opts[] = {{"svg", required_argument, NULL, 1}, {"cut", required_argument, NULL, 2},
                                         {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *svg = NULL;
    double cut = 0.08;
    int c;
    sd_err_t e;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 1: svg = optarg; break;
        case 2:
            if (sd_cli_parse_double(optarg, "--cut", 0, 2, &cut, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'h': dict_usage(stdout); return SD_EXIT_OK;
        case ':': return sd_cli_fail(cmd, SD_EXIT_USAGE, "option %s needs a value", argv[optind - 1]);
        default: return sd_cli_fail(cmd, SD_EXIT_USAGE, "unknown option %s (see --help)", argv[optind - 1]);
        }
    }
    if (argc - optind > 1) return sd_cli_fail(cmd, SD_EXIT_USAGE, "at most one dictionary");
    dict_t *d = NULL;
    if (load_dict_opt(optind < argc ? argv[optind] : NULL, &d, &e)) return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    print_table(d);
    int rc = SD_EXIT_OK;
    if (svg && dendrogram(d, svg, cut, &e)) rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    dict_destroy(&d);
    return rc;
}

static int dict_cmd(int argc, char **argv)
{
    if (argc < 2) {
        dict_usage(stderr);
        return SD_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        dict_usage(stdout);
        return SD_EXIT_OK;
    }
    if (!strcmp(argv[1], "build")) return dict_build_cmd(argc - 1, argv + 1);
    if (!strcmp(argv[1], "show")) return dict_show_cmd(argc - 1, argv + 1);
    return sd_cli_fail("dict", SD_EXIT_USAGE, "unknown subcommand '%s' (build, show)", argv[1]);
}

int soap_cmd_soap(int argc, char **argv) { return soap_cmd(argc, argv); }
int soap_cmd_classify(int argc, char **argv) { return classify_cmd(argc, argv); }
int soap_cmd_transitions(int argc, char **argv) { return transitions_cmd(argc, argv); }
int soap_cmd_dict(int argc, char **argv) { return dict_cmd(argc, argv); }
