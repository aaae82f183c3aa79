/* count_cmd — `stemdyn count` and `stemdyn stem-sim`: thin shells over
 * recon_count_image and recon_stemsim_* (all numerics live in the library). */
#include "count_cmd.h"
#include "recon.h"
#include "sd_atoms.h"
#include "sd_cli.h"
#include "sd_image.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Reads a library file: one SCS per line (n = 1, 2, …), or CSV with the SCS in
 * the last column (a header line is skipped). */
static int read_library(const char *path, double **lib, int *nlib, sd_err_t *e)
{
    FILE *f = fopen(path, "r");
    if (!f) return sd_err_set(e, SD_ENOTFOUND, "cannot open library %s", path);
    char line[512];
    int n = 0, cap = 64, lineno = 0;
    double *v = malloc((size_t)cap * sizeof *v);
    if (!v) {
        fclose(f);
        return sd_err_set(e, SD_ENOMEM, "out of memory");
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '\n' || *p == '\r' || *p == 0 || *p == '#') continue;
        char *last = strrchr(p, ',');
        const char *num = last ? last + 1 : p;
        char *end;
        double x = strtod(num, &end);
        while (*end == ' ' || *end == '\r' || *end == '\n' || *end == '\t') end++;
        if (end == num || *end) {
            if (lineno == 1) continue; /* header */
            free(v), fclose(f);
            return sd_err_set(e, SD_EFORMAT, "%s:%d: not a number", path, lineno);
        }
        if (!isfinite(x) || x <= 0) {
            free(v), fclose(f);
            return sd_err_set(e, SD_ERANGE, "%s:%d: SCS must be a positive number", path, lineno);
        }
        if (n == cap) {
            cap *= 2;
            double *t = realloc(v, (size_t)cap * sizeof *t);
            if (!t) {
                free(v), fclose(f);
                return sd_err_set(e, SD_ENOMEM, "out of memory");
            }
            v = t;
        }
        v[n++] = x;
    }
    fclose(f);
    if (n == 0) {
        free(v);
        return sd_err_set(e, SD_EFORMAT, "library %s holds no values", path);
    }
    *lib = v, *nlib = n;
    return SD_OK;
}

int recon_write_svg(const char *path, const double *img, int64_t h, int64_t w, const recon_columns_t *c, sd_err_t *e)
{
    FILE *f = fopen(path, "w");
    if (!f) return sd_err_set(e, SD_EIO, "cannot write %s", path);
    /* the image as a block-averaged grid of at most 200 × 200 grey cells */
    int64_t bs = (h > w ? h : w) / 200 + 1;
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < h * w; i++) lo = fmin(lo, img[i]), hi = fmax(hi, img[i]);
    double dx = c->dx > 0 ? c->dx : 1;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %lld %lld\" width=\"800\" height=\"%lld\">\n",
            (long long)w, (long long)h, (long long)(800 * h / w));
    fprintf(f, "<g shape-rendering=\"crispEdges\">\n");
    for (int64_t r = 0; r < h; r += bs)
        for (int64_t q = 0; q < w; q += bs) {
            double s = 0;
            int64_t cnt = 0;
            for (int64_t a = r; a < r + bs && a < h; a++)
                for (int64_t b = q; b < q + bs && b < w; b++) s += img[a * w + b], cnt++;
            int g = hi > lo ? (int)(255 * sqrt(fmax(0, (s / (double)cnt - lo) / (hi - lo)))) : 0;
            fprintf(f, "<rect x=\"%lld\" y=\"%lld\" width=\"%lld\" height=\"%lld\" fill=\"rgb(%d,%d,%d)\"/>\n",
                    (long long)q, (long long)r, (long long)bs, (long long)bs, g, g, g);
        }
    fprintf(f, "</g>\n<g fill=\"none\" stroke=\"#e33\" stroke-width=\"%g\">\n", 0.01 * (double)w / 8);
    double rad = (c->n > 0 && c->rho[0] > 0 ? c->rho[0] : 0.7) / dx;
    for (int64_t i = 0; i < c->n; i++)
        fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\"/>\n", c->x[i] / dx, c->y[i] / dx, rad);
    fprintf(f, "</g>\n<g fill=\"#ff0\" font-size=\"%.1f\" text-anchor=\"middle\" font-family=\"sans-serif\">\n", 1.4 * rad);
    for (int64_t i = 0; i < c->n; i++)
        fprintf(f, "<text x=\"%.2f\" y=\"%.2f\">%d</text>\n", c->x[i] / dx, c->y[i] / dx + 0.5 * rad, c->count[i]);
    fprintf(f, "</g>\n</svg>\n");
    if (fclose(f)) return sd_err_set(e, SD_EIO, "error writing %s", path);
    return SD_OK;
}

static void count_usage(FILE *f)
{
    fprintf(f,
            "usage: stemdyn count IMAGE [options]\n"
            "Finds the atomic columns of an ADF-STEM image, fits the Gaussian model and counts the atoms\n"
            "per column (StatSTEM method, automatic order choice).\n"
            "  --dx A           pixel size in Å (default: from the file)\n"
            "  -o FILE          columns CSV: x,y,eta,rho,scs,count,probability\n"
            "  --svg FILE       overlay of columns and counts on the image\n"
            "  --order R        library (default: ICL local minimum that matches the library),\n"
            "                   argmin (global ICL minimum), libmatch (nearest library value),\n"
            "                   libscale (known library: nearest library count after one fitted\n"
            "                   scale; for synthetic frames), or K (fixed)\n"
            "  --kmax K         largest mixture order tried (default: from the SCS range)\n"
            "  --lib FILE       SCS library, one value per atom number (default: Pt [110])\n"
            "  --lib-scale S    multiply the library (default 1)\n"
            "  --background Z   fix the background at Z instead of fitting it\n"
            "  --poisson        final heights by Poisson-weighted least squares (better on\n"
            "                   shot-noise-limited frames; default: StatSTEM's unweighted fit)\n"
            "  --neighbour-prior T  spatial prior: an interior column's count follows its first-shell\n"
            "                   neighbours' mean with Student-t scatter T atoms (0.4 suits compact\n"
            "                   particles: 10^4 e/Å² synthetic frames 96.1 %% -> 97.5 %% exact);\n"
            "                   default 0: columns counted independently, as StatSTEM\n"
            "  --frame N        frame of a stack (default 0)\n"
            "  -h, --help       this text\n");
}

int recon_cmd_count(int argc, char **argv)
{
    const char *cmd = "count";
    static const struct option opts[] = {
        {"dx", required_argument, 0, 'd'},      {"output", required_argument, 0, 'o'},
        {"svg", required_argument, 0, 's'},     {"order", required_argument, 0, 'r'},
        {"kmax", required_argument, 0, 'k'},    {"lib", required_argument, 0, 'l'},
        {"lib-scale", required_argument, 0, 'L'}, {"background", required_argument, 0, 'b'},
        {"frame", required_argument, 0, 'f'},   {"poisson", no_argument, 0, 'P'},
        {"neighbour-prior", required_argument, 0, 'N'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    double dx = 0, bgv = 0, scale = 1, nprior = 0;
    int64_t kmax = 0, frame = 0, fixk = 0;
    const char *out = NULL, *svg = NULL, *libpath = NULL;
    recon_order_rule_t rule = RECON_ORDER_LIBRARY;
    int fixbg = 0, poisson = 0, c;
    sd_err_t e;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (sd_cli_parse_double(optarg, "--dx", 1e-4, 100, &dx, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'o': out = optarg; break;
        case 's': svg = optarg; break;
        case 'r':
            if (!strcmp(optarg, "library")) rule = RECON_ORDER_LIBRARY;
            else if (!strcmp(optarg, "argmin")) rule = RECON_ORDER_ARGMIN;
            else if (!strcmp(optarg, "libmatch")) rule = RECON_ORDER_LIBMATCH;
            else if (!strcmp(optarg, "libscale")) rule = RECON_ORDER_LIBSCALE;
            else {
                if (sd_cli_parse_i64(optarg, "--order", 1, RECON_GMM_KMAX, &fixk, &e))
                    return sd_cli_fail(cmd, SD_EXIT_USAGE, "--order: library, argmin, libmatch, libscale or 1..%d", RECON_GMM_KMAX);
                rule = RECON_ORDER_FIXED;
            }
            break;
        case 'k':
            if (sd_cli_parse_i64(optarg, "--kmax", 2, RECON_GMM_KMAX, &kmax, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'l': libpath = optarg; break;
        case 'L':
            if (sd_cli_parse_double(optarg, "--lib-scale", 1e-6, 1e6, &scale, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'b':
            if (sd_cli_parse_double(optarg, "--background", -1e30, 1e30, &bgv, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            fixbg = 1;
            break;
        case 'f':
            if (sd_cli_parse_i64(optarg, "--frame", 0, 1 << 30, &frame, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'P': poisson = 1; break;
        case 'N':
            if (sd_cli_parse_double(optarg, "--neighbour-prior", 0, 100, &nprior, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'h': count_usage(stdout); return SD_EXIT_OK;
        case ':': return sd_cli_fail(cmd, SD_EXIT_USAGE, "option %s needs a value", argv[optind - 1]);
        default: return sd_cli_fail(cmd, SD_EXIT_USAGE, "unknown option %s (see --help)", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return sd_cli_fail(cmd, SD_EXIT_USAGE, "expected one IMAGE (see --help)");
    const char *path = argv[optind];
    sd_image_t img;
    memset(&img, 0, sizeof img);
    if (sd_image_read(path, &img, &e)) return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    if (frame >= img.nframes) {
        sd_image_free(&img);
        return sd_cli_fail(cmd, SD_EXIT_USAGE, "--frame %lld: %s holds %lld frame(s)", (long long)frame, path,
                           (long long)img.nframes);
    }
    if (dx <= 0) dx = img.dx;
    if (!(dx > 0)) {
        sd_image_free(&img);
        return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s has no pixel size: give --dx", path);
    }
    double *lib = NULL;
    int nlib = 0;
    if (libpath && read_library(libpath, &lib, &nlib, &e)) {
        sd_image_free(&img);
        return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    }
    recon_count_opts_t o;
    recon_count_opts_default(&o);
    o.rule = rule;
    o.fixed_k = (int)fixk;
    o.kmax = (int)kmax;
    o.lib = lib, o.nlib = nlib, o.lib_scale = scale;
    if (fixbg) o.fit.fit_background = 0, o.fit.background = bgv;
    o.fit.poisson_weights = poisson;
    o.neighbour_prior = nprior;
    recon_columns_t cols;
    recon_count_info_t info;
    const double *px = img.data + frame * img.width * img.height;
    int rc = recon_count_image(px, img.height, img.width, dx, &o, &cols, &info, &e);
    if (rc) {
        free(lib), sd_image_free(&img);
        return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s: %s", path, e.msg);
    }
    printf("%s: %lldx%lld px, dx %.4g Å, lattice spacing %.3f Å\n", path, (long long)img.width,
           (long long)img.height, dx, info.det.spacing);
    printf("columns %lld, atoms %lld, mixture order %d (tried 1..%d), rho %.4f Å, background %.4g\n",
           (long long)cols.n, (long long)info.atoms, info.k, info.kmax, cols.n ? cols.rho[0] : 0.0, info.zeta);
    printf("time: detect %.1f ms, fit %.1f ms, count %.1f ms\n", 1e3 * info.t_detect, 1e3 * info.t_fit,
           1e3 * info.t_count);
    if (out && recon_columns_write_csv(out, &cols, &e)) rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    if (!rc && svg && recon_write_svg(svg, px, img.height, img.width, &cols, &e))
        rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    recon_columns_free(&cols);
    free(lib), sd_image_free(&img);
    return rc ? rc : SD_EXIT_OK;
}

static void sim_usage(FILE *f)
{
    fprintf(f,
            "usage: stemdyn stem-sim MODEL -o FRAME [options]\n"
            "Synthetic ADF-STEM frame of an atomic model (xyz/extxyz/LAMMPS data): columns along the zone\n"
            "axis (found from the lattice), SCS from the library, Gaussian columns, Poisson noise.\n"
            "  -o FILE          image: .tif/.tiff (float32), .mrc (float32), else raw float64 + .json\n"
            "  --zone Z         110 (default), 100, or z (project along the model's z as it is)\n"
            "  --dx A           pixel size Å (0.12)\n"
            "  --width S        Gaussian width Å (0.7)\n"
            "  --dose D         e/Å² (1e4); 0: no noise\n"
            "  --size N         N × N pixels (1024)\n"
            "  --seed S         noise seed (1)\n"
            "  --background B   added intensity (0)\n"
            "  --scan-noise P   σ of a per-row x jitter, pixels (0)\n"
            "  --drift DX,DY    specimen drift over the frame's scan, Å (0,0): row r sees it moved by\n"
            "                   (r/size)·(DX, DY)\n"
            "  --lib FILE       SCS library (default: Pt library × %.4f for Au)\n"
            "  --resolve R      atom groups closer than R Å (1.5) in projection are one column (a displaced\n"
            "                   surface atom joins its column: its SCS is the library's for the total count)\n"
            "  --split-columns  draw each projected atom group at its own position with its own SCS\n"
            "                   (lib(n) + lib(1) beside a column, not lib(n+1)); the truth stays resolved\n"
            "  --truth FILE     true columns CSV (x,y,eta,rho,scs,count,probability): the resolved columns\n"
            "  --crb            print the Cramér–Rao bound of the frame: SCS precision per column and the\n"
            "                   exact-count rate a library counter can reach (positions known / fitted)\n"
            "  -h, --help       this text\n",
            RECON_AU_OVER_PT);
}

static int has_ext(const char *p, const char *ext)
{
    size_t n = strlen(p), m = strlen(ext);
    return n >= m && !strcasecmp(p + n - m, ext);
}

/* The information limit of the frame just drawn (resolved columns). */
static int print_crb(const recon_columns_t *cols, const recon_stemsim_opts_t *o, sd_err_t *e)
{
    if (!(o->dose > 0) || cols->n == 0) {
        printf("crb: no noise (dose 0) or no columns: nothing to bound\n");
        return SD_OK;
    }
    double lib_au[RECON_LIB_PT_N];
    int nlib;
    const double *lib = recon_stemsim_library(o, lib_au, &nlib);
    double *s = malloc((size_t)cols->n * 2 * sizeof *s);
    if (!s) return sd_err_set(e, SD_ENOMEM, "crb: out of memory");
    double p[2] = {0, 0}, rel[2] = {0, 0};
    int rc = SD_OK;
    for (int k = 0; k < 2 && !rc; k++) {
        rc = recon_scs_crb(cols, o->width, o->background, o->dx, o->dose, k == 0, s + k * cols->n, e);
        for (int64_t c = 0; c < cols->n && !rc; c++) {
            int n = cols->count[c];
            double step = recon_lib_scs(lib, nlib, n + 1) - recon_lib_scs(lib, nlib, n);
            p[k] += recon_lib_p_correct(lib, nlib, n, s[k * cols->n + c]);
            rel[k] += s[k * cols->n + c] / (step > 0 ? step : 1);
        }
    }
    if (!rc)
        printf("crb: SCS σ / library step, mean over columns: %.3f (positions known), %.3f (fitted); exact counts "
               "reachable by a library counter: %.2f %% / %.2f %%\n",
               rel[0] / (double)cols->n, rel[1] / (double)cols->n, 100 * p[0] / (double)cols->n,
               100 * p[1] / (double)cols->n);
    free(s);
    return rc;
}

int recon_cmd_stemsim(int argc, char **argv)
{
    const char *cmd = "stem-sim";
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'},  {"zone", required_argument, 0, 'z'},
        {"dx", required_argument, 0, 'd'},      {"width", required_argument, 0, 'w'},
        {"dose", required_argument, 0, 'D'},    {"size", required_argument, 0, 'n'},
        {"seed", required_argument, 0, 's'},    {"background", required_argument, 0, 'b'},
        {"scan-noise", required_argument, 0, 'j'}, {"lib", required_argument, 0, 'l'},
        {"drift", required_argument, 0, 'F'},
        {"truth", required_argument, 0, 't'},   {"resolve", required_argument, 0, 'R'},
        {"split-columns", no_argument, 0, 'S'}, {"crb", no_argument, 0, 'C'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    recon_stemsim_opts_t o;
    recon_stemsim_opts_default(&o);
    const char *out = NULL, *truth = NULL, *libpath = NULL;
    double resolve = 1.5;
    int split = 0, crb = 0;
    int64_t iv;
    int c;
    sd_err_t e;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'z':
            if (!strcmp(optarg, "110")) o.zone = 110;
            else if (!strcmp(optarg, "100")) o.zone = 100;
            else if (!strcmp(optarg, "z")) o.zone = 0;
            else return sd_cli_fail(cmd, SD_EXIT_USAGE, "--zone must be 110, 100 or z, not '%s'", optarg);
            break;
        case 'd':
            if (sd_cli_parse_double(optarg, "--dx", 1e-3, 10, &o.dx, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'w':
            if (sd_cli_parse_double(optarg, "--width", 0.05, 10, &o.width, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'D':
            if (sd_cli_parse_double(optarg, "--dose", 0, 1e12, &o.dose, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'n':
            if (sd_cli_parse_i64(optarg, "--size", 8, 16384, &o.size, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 's':
            if (sd_cli_parse_i64(optarg, "--seed", 0, INT64_MAX, &iv, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            o.seed = (uint64_t)iv;
            break;
        case 'b':
            if (sd_cli_parse_double(optarg, "--background", 0, 1e6, &o.background, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'j':
            if (sd_cli_parse_double(optarg, "--scan-noise", 0, 100, &o.scan_noise, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'l': libpath = optarg; break;
        case 't': truth = optarg; break;
        case 'F': {
            char *end = NULL;
            o.drift_x = strtod(optarg, &end);
            if (end == optarg || *end != ',') return sd_cli_fail(cmd, SD_EXIT_USAGE, "--drift wants DX,DY in Å, not '%s'", optarg);
            const char *q = end + 1;
            o.drift_y = strtod(q, &end);
            if (end == q || *end || !isfinite(o.drift_x) || !isfinite(o.drift_y) || fabs(o.drift_x) > 1e3 || fabs(o.drift_y) > 1e3)
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "--drift wants DX,DY in Å (|value| <= 1000), not '%s'", optarg);
            break;
        }
        case 'R':
            if (sd_cli_parse_double(optarg, "--resolve", 0, 10, &resolve, &e)) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'S': split = 1; break;
        case 'C': crb = 1; break;
        case 'h': sim_usage(stdout); return SD_EXIT_OK;
        case ':': return sd_cli_fail(cmd, SD_EXIT_USAGE, "option %s needs a value", argv[optind - 1]);
        default: return sd_cli_fail(cmd, SD_EXIT_USAGE, "unknown option %s (see --help)", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return sd_cli_fail(cmd, SD_EXIT_USAGE, "expected one MODEL (see --help)");
    if (!out) return sd_cli_fail(cmd, SD_EXIT_USAGE, "-o FRAME is required");
    double *lib = NULL;
    int nlib = 0;
    if (libpath) {
        if (read_library(libpath, &lib, &nlib, &e)) return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
        o.lib = lib, o.nlib = nlib;
    }
    sd_atoms_t *a = NULL;
    if (sd_atoms_read_any(argv[optind], &a, &e)) {
        free(lib);
        return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    }
    recon_columns_t groups, cols;
    double axis[3];
    int rc = recon_stemsim_columns(a->pos, a->n, &o, &groups, axis, &e);
    int64_t natoms = a->n;
    sd_atoms_destroy(&a);
    if (rc) {
        free(lib);
        return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s: %s", argv[optind], e.msg);
    }
    rc = recon_stemsim_truth(&groups, resolve, &o, &cols, &e);
    if (rc) {
        recon_columns_free(&groups), free(lib);
        return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    }
    sd_image_t img;
    memset(&img, 0, sizeof img);
    img.width = img.height = o.size;
    img.nframes = 1;
    img.dx = o.dx;
    img.src_type = SD_PIX_F64;
    img.data = malloc((size_t)(o.size * o.size) * sizeof *img.data);
    if (!img.data) rc = sd_err_set(&e, SD_ENOMEM, "out of memory for a %lld² image", (long long)o.size);
    if (!rc) rc = recon_stemsim_render(split ? &groups : &cols, &o, img.data, &e);
    if (!rc) {
        if (has_ext(out, ".tif") || has_ext(out, ".tiff")) rc = sd_image_write_tiff(out, &img, SD_PIX_F32, &e);
        else if (has_ext(out, ".mrc")) rc = sd_image_write_mrc(out, &img, SD_PIX_F32, &e);
        else rc = sd_image_write_raw(out, &img, SD_PIX_F64, &e);
    }
    if (!rc && truth) rc = recon_columns_write_csv(truth, &cols, &e);
    if (!rc) {
        int64_t maxc = 0;
        for (int64_t i = 0; i < cols.n; i++) maxc = cols.count[i] > maxc ? cols.count[i] : maxc;
        printf("%s: %lld atoms in %lld columns (thickest %lld; %lld projected atom groups, closer than %g Å "
               "merged%s) along [%.3f %.3f %.3f] -> %s (%lld², dx %.4g Å, dose %g e/Å²)\n",
               argv[optind], (long long)natoms, (long long)cols.n, (long long)maxc, (long long)groups.n, resolve,
               split ? "; image drawn from the groups" : "", axis[0], axis[1], axis[2], out, (long long)o.size,
               o.dx, o.dose);
        if (truth) printf("truth: %lld columns -> %s\n", (long long)cols.n, truth);
    }
    if (!rc && crb) rc = print_crb(&cols, &o, &e);
    recon_columns_free(&groups);
    free(img.data);
    recon_columns_free(&cols);
    free(lib);
    return rc ? sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg) : SD_EXIT_OK;
}
