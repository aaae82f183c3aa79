/* `stemdyn lens`: LENS of a trajectory and the paper's clustering pipeline. */
#include "analyze.h"
#include "cluster.h"
#include "lens.h"
#include "plot.h"
#include "sd_npy.h"
#include "sd_xyz.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void lens_usage(FILE *f)
{
    fprintf(f,
            "usage: stemdyn lens TRAJ --rcut R -o LENS.npy [options]\n"
            "\n"
            "LENS (Crippa et al. 2023) of every atom in every frame of an extended-XYZ\n"
            "trajectory TRAJ (fixed atom count, non-periodic): neighbours within distance <= R\n"
            "(inclusive), LENS_i(t) = |N_i(t) xor N_i(t-1)| / (|N_i(t)| + |N_i(t-1)|), 0 for\n"
            "frame 0 and for atoms without neighbours in both frames.\n"
            "\n"
            "Outputs are frame-major .npy arrays, shape [T][N] (row t = frame t, column i =\n"
            "atom i); note the SOAPify/dynsight reference files are [N][T].\n"
            "  -r, --rcut R         cut-off in Å (paper: 4.48 at 300 K, 4.88 at 673 K)\n"
            "  -o, --output F       LENS, float64 [T][N]\n"
            "      --nneigh F       neighbour counts |N_i(t)|, int32 [T][N]\n"
            "\n"
            "Clustering pipeline (Cioni et al. 2024, lens_300K.py; needs T > window):\n"
            "      --cluster        Savitzky-Golay along time (scipy mode 'interp'), K-means\n"
            "                       (k-means++, sklearn-identical) on frames w/2 .. T-1-w/2 of\n"
            "                       all atoms, classes of every frame by the clusters' maxima,\n"
            "                       k x k transition matrix; prints a summary\n"
            "      --savgol F       smoothed LENS, float64 [T][N]           (implies --cluster)\n"
            "      --classes F      class of each atom and frame, int32 [T][N] (implies --cluster)\n"
            "      --kde F          CSV 'lens,density': Gaussian KDE (Scott's rule) of the\n"
            "                       smoothed values K-means fits               (implies --cluster)\n"
            "      --tmat DIR       writes DIR/lens_tmat_counts.npy, lens_tmat_norm.npy\n"
            "                       (float64 [k][k], rows = from), lens_tmat.svg (heatmap),\n"
            "                       lens_chord.svg, lens_kde.svg (KDE split at the class\n"
            "                       thresholds), lens_clusters.csv       (implies --cluster)\n"
            "      --window W       Savitzky-Golay window (default 100)\n"
            "      --order P        Savitzky-Golay polynomial order (default 2)\n"
            "      --k K            clusters (default 3)\n"
            "      --n-init N       K-means restarts (default 10)\n"
            "      --seed S         numpy RandomState seed of K-means (default 12345)\n"
            "      --kde-points G   KDE grid size (default 512)\n"
            "  -h, --help           this text\n"
            "Labels are K-means' own (as sklearn with the same seed); the summary lists each\n"
            "label's centre and maximum.  Exit: 0 ok, 1 runtime failure, 2 usage error.\n");
}

/* Appends one frame's outputs to growable [T][N] arrays. */
typedef struct grow {
    double *lens;
    int32_t *nn;
    int64_t cap_frames;
} grow_t;

static int grow_to(grow_t *g, int64_t frames, int64_t n, int want_nn)
{
    if (frames <= g->cap_frames) return 0;
    int64_t nc = g->cap_frames ? 2 * g->cap_frames : 64;
    if (nc < frames) nc = frames;
    double *l = realloc(g->lens, (size_t)(nc * n) * sizeof *l);
    if (!l) return -1;
    g->lens = l;
    if (want_nn) {
        int32_t *q = realloc(g->nn, (size_t)(nc * n) * sizeof *q);
        if (!q) return -1;
        g->nn = q;
    }
    g->cap_frames = nc;
    return 0;
}

static int write_csv_kde(const char *path, const double *g, const double *d, int64_t n,
                         double bw, sd_err_t *e)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return sd_err_set(e, SD_EINVAL, "path too long: %s", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return sd_err_set(e, SD_EIO, "cannot create %s: %s", tmp, strerror(errno));
    fprintf(f, "# Gaussian KDE, kernel sd %.17g (Scott's rule)\nlens,density\n", bw);
    for (int64_t i = 0; i < n; i++) fprintf(f, "%.10g,%.10g\n", g[i], d[i]);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return sd_err_set(e, SD_EIO, "cannot write %s: %s", path, strerror(errno));
    }
    return SD_OK;
}

static int write_tmat_dir(const char *dir, const cluster_lens_result_t *r, const double *kgrid,
                          const double *kdens, int64_t kpts, sd_err_t *e)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return sd_err_set(e, SD_EIO, "cannot create directory %s: %s", dir, strerror(errno));
    const int k = r->k;
    char p[4200], lab[CLUSTER_MAX_K][48];
    const char *labels[CLUSTER_MAX_K];
    for (int j = 0; j < k; j++) {
        snprintf(lab[j], sizeof lab[j], "%d (%.3g)", j, r->centers[j]);
        labels[j] = lab[j];
    }
    double cnt[CLUSTER_MAX_K * CLUSTER_MAX_K], nrm[CLUSTER_MAX_K * CLUSTER_MAX_K];
    memcpy(cnt, r->tcounts, (size_t)(k * k) * sizeof *cnt);
    memcpy(nrm, r->tnorm, (size_t)(k * k) * sizeof *nrm);
    const int64_t shp[2] = {k, k};
    int rc;
    snprintf(p, sizeof p, "%s/lens_tmat_counts.npy", dir);
    if ((rc = sd_npy_write(p, SD_NPY_F64, 2, shp, cnt, e))) return rc;
    snprintf(p, sizeof p, "%s/lens_tmat_norm.npy", dir);
    if ((rc = sd_npy_write(p, SD_NPY_F64, 2, shp, nrm, e))) return rc;
    snprintf(p, sizeof p, "%s/lens_tmat.svg", dir);
    if ((rc = plot_heatmap_svg(p, k, nrm, labels,
                               "LENS class transitions (row-normalised; label (centre))", 1, e)))
        return rc;
    snprintf(p, sizeof p, "%s/lens_chord.svg", dir);
    if ((rc = plot_chord_svg(p, k, cnt, labels, "LENS class exchanges (counts)", e))) return rc;
    /* KDE with the class regions: cuts at the clusters' maxima (ascending) */
    int order[CLUSTER_MAX_K];
    for (int j = 0; j < k; j++) order[j] = j;
    for (int a = 1; a < k; a++)
        for (int q = a; q > 0 && r->cmax[order[q]] < r->cmax[order[q - 1]]; q--) {
            int tmp = order[q];
            order[q] = order[q - 1];
            order[q - 1] = tmp;
        }
    double cuts[CLUSTER_MAX_K];
    const char *rl[CLUSTER_MAX_K];
    for (int j = 0; j < k; j++) {
        cuts[j] = r->cmax[order[j]];
        rl[j] = labels[order[j]];
    }
    snprintf(p, sizeof p, "%s/lens_kde.svg", dir);
    if ((rc = plot_kde_svg(p, kpts, kgrid, kdens, k - 1, cuts, order, rl,
                           "smoothed LENS (K-means frames)", "LENS distribution and classes", e)))
        return rc;
    snprintf(p, sizeof p, "%s/lens_clusters.csv.tmp", dir);
    FILE *f = fopen(p, "w");
    if (!f) return sd_err_set(e, SD_EIO, "cannot create %s: %s", p, strerror(errno));
    fprintf(f, "label,center,min,max,n_fit\n");
    for (int j = 0; j < k; j++)
        fprintf(f, "%d,%.17g,%.17g,%.17g,%lld\n", j, r->centers[j], r->cmin[j], r->cmax[j],
                (long long)r->csize[j]);
    char fin[4200];
    snprintf(fin, sizeof fin, "%s/lens_clusters.csv", dir);
    if (fclose(f) != 0 || rename(p, fin) != 0) {
        remove(p);
        return sd_err_set(e, SD_EIO, "cannot write %s: %s", fin, strerror(errno));
    }
    return SD_OK;
}

/* [a][b] -> [b][a] */
static void *transpose(const void *src, int64_t a, int64_t b, size_t sz)
{
    char *dst = malloc((size_t)(a * b) * sz);
    if (!dst) return NULL;
    for (int64_t i = 0; i < a; i++)
        for (int64_t j = 0; j < b; j++)
            memcpy(dst + (size_t)(j * a + i) * sz, (const char *)src + (size_t)(i * b + j) * sz, sz);
    return dst;
}

int lens_cmd_run(int argc, char **argv)
{
    const char *cmd = "lens";
    enum { O_NNEIGH = 1000, O_CLUSTER, O_SAVGOL, O_CLASSES, O_KDE, O_TMAT, O_WINDOW, O_ORDER,
           O_K, O_NINIT, O_SEED, O_KDEPTS };
    static const struct option opts[] = {
        {"rcut", required_argument, NULL, 'r'},    {"output", required_argument, NULL, 'o'},
        {"nneigh", required_argument, NULL, O_NNEIGH}, {"cluster", no_argument, NULL, O_CLUSTER},
        {"savgol", required_argument, NULL, O_SAVGOL}, {"classes", required_argument, NULL, O_CLASSES},
        {"kde", required_argument, NULL, O_KDE},   {"tmat", required_argument, NULL, O_TMAT},
        {"window", required_argument, NULL, O_WINDOW}, {"order", required_argument, NULL, O_ORDER},
        {"k", required_argument, NULL, O_K},       {"n-init", required_argument, NULL, O_NINIT},
        {"seed", required_argument, NULL, O_SEED}, {"kde-points", required_argument, NULL, O_KDEPTS},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    double rcut = 0;
    const char *out = NULL, *nn_path = NULL, *sg_path = NULL, *cls_path = NULL, *kde_path = NULL,
               *tmat_dir = NULL;
    int cluster = 0;
    cluster_lens_opts_t co = cluster_lens_opts_default();
    int64_t kde_pts = 512, v;
    sd_err_t e;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":r:o:h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'r': bad = sd_cli_parse_double(optarg, "--rcut", 1e-3, 1e3, &rcut, &e); break;
        case 'o': out = optarg; break;
        case O_NNEIGH: nn_path = optarg; break;
        case O_CLUSTER: cluster = 1; break;
        case O_SAVGOL: sg_path = optarg, cluster = 1; break;
        case O_CLASSES: cls_path = optarg, cluster = 1; break;
        case O_KDE: kde_path = optarg, cluster = 1; break;
        case O_TMAT: tmat_dir = optarg, cluster = 1; break;
        case O_WINDOW:
            if (!(bad = sd_cli_parse_i64(optarg, "--window", 2, 100000, &v, &e))) co.window = (int)v;
            break;
        case O_ORDER:
            if (!(bad = sd_cli_parse_i64(optarg, "--order", 1, 15, &v, &e))) co.order = (int)v;
            break;
        case O_K:
            if (!(bad = sd_cli_parse_i64(optarg, "--k", 1, CLUSTER_MAX_K, &v, &e))) co.k = (int)v;
            break;
        case O_NINIT:
            if (!(bad = sd_cli_parse_i64(optarg, "--n-init", 1, 1000, &v, &e))) co.n_init = (int)v;
            break;
        case O_SEED:
            if (!(bad = sd_cli_parse_i64(optarg, "--seed", 0, 4294967295LL, &v, &e)))
                co.seed = (uint32_t)v;
            break;
        case O_KDEPTS: bad = sd_cli_parse_i64(optarg, "--kde-points", 2, 1000000, &kde_pts, &e); break;
        case 'h': lens_usage(stdout); return SD_EXIT_OK;
        case ':': return sd_cli_fail(cmd, SD_EXIT_USAGE, "option %s needs a value", argv[optind - 1]);
        default: return sd_cli_fail(cmd, SD_EXIT_USAGE, "unknown option %s (see --help)", argv[optind - 1]);
        }
        if (bad) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
    }
    if (optind != argc - 1)
        return sd_cli_fail(cmd, SD_EXIT_USAGE, "expected one trajectory file (see --help)");
    if (rcut <= 0) return sd_cli_fail(cmd, SD_EXIT_USAGE, "--rcut is required");
    if (!out) return sd_cli_fail(cmd, SD_EXIT_USAGE, "-o/--output is required");
    if (co.order >= co.window)
        return sd_cli_fail(cmd, SD_EXIT_USAGE, "--order %d must be below --window %d", co.order,
                           co.window);
    const char *traj = argv[optind];

    /* stream the trajectory through the incremental LENS state */
    sd_xyz_reader_t *rd = sd_xyz_reader_new(traj, &e);
    if (!rd) return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    lens_state_t *st = NULL;
    grow_t g = {0};
    int64_t n = 0, T = 0;
    int rc = SD_OK;
    for (;;) {
        sd_atoms_t *a = NULL;
        int r = sd_xyz_reader_next(rd, &a, &e);
        if (r < 0) {
            rc = r;
            break;
        }
        if (r == 0) break;
        if (T == 0) {
            if (a->pbc[0] || a->pbc[1] || a->pbc[2])
                fprintf(stderr,
                        "stemdyn lens: warning: %s declares periodic boundaries; LENS here is "
                        "non-periodic (minimum image not applied)\n",
                        traj);
            n = a->n;
            if (n < 1) rc = sd_err_set(&e, SD_EINVAL, "frame 0 has no atoms");
            else st = lens_state_new(n, rcut, &e);
            if (!st && rc == SD_OK) rc = e.code ? e.code : SD_ENOMEM;
        }
        if (rc == SD_OK && grow_to(&g, T + 1, n, nn_path != NULL))
            rc = sd_err_set(&e, SD_ENOMEM, "out of memory at frame %lld", (long long)T);
        if (rc == SD_OK)
            rc = lens_state_push(st, a->n, a->pos, g.lens + T * n, g.nn ? g.nn + T * n : NULL, NULL,
                                 NULL, &e);
        sd_atoms_destroy(&a);
        if (rc) break;
        T++;
    }
    sd_xyz_reader_destroy(&rd);
    lens_state_destroy(&st);
    if (rc == SD_OK && T == 0) rc = sd_err_set(&e, SD_EINVAL, "no frames");
    if (rc) {
        free(g.lens), free(g.nn);
        /* the reader's messages already name the file */
        if (strstr(e.msg, traj)) return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
        return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s: %s", traj, e.msg);
    }
    const int64_t shp[2] = {T, n};
    rc = sd_npy_write(out, SD_NPY_F64, 2, shp, g.lens, &e);
    if (rc == SD_OK && nn_path) rc = sd_npy_write(nn_path, SD_NPY_I32, 2, shp, g.nn, &e);
    if (rc == SD_OK) {
        double mean = 0;
        for (int64_t q = n; q < T * n; q++) mean += g.lens[q];
        printf("lens: %lld frames x %lld atoms, rcut %g A, mean LENS (frames 1..) %.6g -> %s\n",
               (long long)T, (long long)n, rcut, T > 1 ? mean / (double)((T - 1) * n) : 0.0, out);
    }
    if (rc == SD_OK && cluster) {
        cluster_lens_result_t res = {0};
        double *ln = transpose(g.lens, T, n, sizeof(double)); /* pipeline works per atom */
        if (!ln) rc = sd_err_set(&e, SD_ENOMEM, "out of memory");
        else rc = cluster_lens_pipeline(ln, n, T, &co, &res, &e);
        free(ln);
        if (rc == SD_OK) {
            printf("clusters (Savitzky-Golay %d/%d, K-means k=%d on frames %lld..%lld, inertia "
                   "%.10g):\n",
                   co.window, co.order, co.k, (long long)res.fit_first,
                   (long long)(res.fit_first + res.fit_frames - 1), res.inertia);
            for (int j = 0; j < co.k; j++)
                printf("  label %d: centre %.6g, range [%.6g, %.6g], %lld values\n", j,
                       res.centers[j], res.cmin[j], res.cmax[j], (long long)res.csize[j]);
            printf("transition counts (row = from):\n");
            for (int a = 0; a < co.k; a++) {
                printf(" ");
                for (int b = 0; b < co.k; b++) printf(" %10.0f", res.tcounts[a * co.k + b]);
                printf("\n");
            }
        }
        if (rc == SD_OK && sg_path) {
            double *t = transpose(res.smooth, n, T, sizeof(double));
            rc = t ? sd_npy_write(sg_path, SD_NPY_F64, 2, shp, t, &e)
                   : sd_err_set(&e, SD_ENOMEM, "out of memory");
            free(t);
        }
        if (rc == SD_OK && cls_path) {
            int32_t *t = transpose(res.classes, n, T, sizeof(int32_t));
            rc = t ? sd_npy_write(cls_path, SD_NPY_I32, 2, shp, t, &e)
                   : sd_err_set(&e, SD_ENOMEM, "out of memory");
            free(t);
        }
        double *gr = NULL, *dn = NULL;
        if (rc == SD_OK && (kde_path || tmat_dir)) {
            const int64_t m = res.fit_frames * n;
            double *x = malloc((size_t)m * sizeof *x), bw = 0;
            gr = malloc((size_t)kde_pts * sizeof *gr);
            dn = malloc((size_t)kde_pts * sizeof *dn);
            if (!x || !gr || !dn) rc = sd_err_set(&e, SD_ENOMEM, "out of memory");
            for (int64_t q = 0; rc == SD_OK && q < m; q++)
                x[q] = res.smooth[(q % n) * T + res.fit_first + q / n];
            if (rc == SD_OK) rc = cluster_kde_gauss(x, m, 0, kde_pts, gr, dn, &bw, &e);
            if (rc == SD_OK && kde_path) rc = write_csv_kde(kde_path, gr, dn, kde_pts, bw, &e);
            free(x);
        }
        if (rc == SD_OK && tmat_dir) rc = write_tmat_dir(tmat_dir, &res, gr, dn, kde_pts, &e);
        free(gr), free(dn);
        cluster_lens_result_free(&res);
    }
    free(g.lens), free(g.nn);
    if (rc) return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    return SD_EXIT_OK;
}
