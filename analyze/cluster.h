/* cluster — the paper's LENS clustering pipeline (Cioni et al. 2024,
 * lens_300K.py): Savitzky–Golay smoothing along time, 1-D K-means, class
 * thresholds, k×k transition matrix, and a Gaussian KDE of the distribution.
 *
 * Each step reproduces the reference tool bit for bit where it can:
 * - cluster_savgol = scipy.signal.savgol_filter(x, window, order, mode='interp')
 *   (scipy 1.10; even windows included: the fitted point is the window centre,
 *   sample i uses x[i - (window-1)/2 .. i + window/2], so with an even
 *   window the interior value is the fit at i + 1/2, exactly as scipy);
 * - cluster_kmeans_1d = sklearn 1.2 KMeans(k, init='k-means++', n_init,
 *   random_state=seed, algorithm='lloyd', tol=1e-4, max_iter=300): same numpy
 *   MT19937 stream, same k-means++ candidate rule, same stopping rule, so the
 *   labels come out identical (not only up to relabelling);
 * - cluster_kde_gauss = scipy.stats.gaussian_kde (Scott's rule) on a grid. */
#ifndef CLUSTER_H
#define CLUSTER_H

#include "sd_err.h"

#include <stdint.h>

/* Savitzky–Golay smoothing of one series x[n] into y[n] (y may not alias x).
 * Needs 1 <= order < window <= n.  Edges (first/last window/2 samples) are
 * values of the degree-`order` least-squares polynomial fitted to the
 * first/last `window` samples (scipy's 'interp'). */
int cluster_savgol(const double *x, int64_t n, int window, int order, double *y, sd_err_t *e);
/* Same for nseries contiguous rows of length n: x, y [nseries][n]. */
int cluster_savgol_rows(const double *x, int64_t nseries, int64_t n, int window, int order,
                        double *y, sd_err_t *e);

/* K-means of n scalars into 1 <= k <= n clusters, n_init k-means++ restarts
 * drawn from numpy's RandomState(seed); the run with the lowest inertia wins
 * (a later run replaces it only with a different partition, as sklearn).
 * labels [n] (0..k-1, the winning run's own labelling), centers [k],
 * *inertia (sum of squared distances) are caller-owned; inertia may be NULL. */
int cluster_kmeans_1d(const double *x, int64_t n, int k, int n_init, uint32_t seed,
                      int32_t *labels /* [n] */, double *centers /* [k] */, double *inertia,
                      sd_err_t *e);

/* Per-cluster minimum and maximum of x over the points with each label
 * (cmin/cmax [k], either may be NULL; an empty cluster gets NaN). */
int cluster_label_range(const double *x, int64_t n, const int32_t *labels, int k,
                        double *cmin, double *cmax, sd_err_t *e);

/* Threshold classification of lens_300K.py's classifying(): x gets the label
 * of the cluster with the smallest maximum strictly greater than x; x at or
 * above every maximum gets label k-1 (the reference's quirk, kept so that the
 * classes match it; with sklearn's labelling k-1 need not be the top cluster). */
int cluster_classify(const double *x, int64_t n, int k, const double *cmax /* [k] */,
                     int32_t *cls /* [n] */, sd_err_t *e);

/* Transition counts of class sequences cls [nseries][nt] (values 0..k-1):
 * counts[a][b] += 1 for every series and t = 1..nt-1 with cls[t-1] = a,
 * cls[t] = b (diagonal included).  norm (may be NULL) = counts row-normalised,
 * empty rows zero.  Out-of-range classes are an error. */
int cluster_transitions(const int32_t *cls, int64_t nseries, int64_t nt, int k,
                        double *counts /* [k][k] */, double *norm /* [k][k] */, sd_err_t *e);

/* Gaussian KDE of x[n] (n >= 2, not all equal) on ngrid >= 2 points spanning
 * [min - 3 bw, max + 3 bw]: grid[ngrid], dens[ngrid] (integrates to 1).
 * bw_sd <= 0 selects scipy's Scott rule: kernel sd = std(x, ddof=1) * n^(-1/5);
 * the sd used is stored in *bw_used (may be NULL). */
int cluster_kde_gauss(const double *x, int64_t n, double bw_sd, int64_t ngrid, double *grid,
                      double *dens, double *bw_used, sd_err_t *e);

/* ---- the whole pipeline of lens_300K.py, one call ---- */
#define CLUSTER_MAX_K 16

typedef struct cluster_lens_opts {
    int window, order;  /* Savitzky–Golay (paper: 100, 2) */
    int k, n_init;      /* K-means (paper: 3, 10) */
    uint32_t seed;      /* numpy RandomState seed (paper: 12345) */
} cluster_lens_opts_t;

/* The paper's settings. */
cluster_lens_opts_t cluster_lens_opts_default(void);

typedef struct cluster_lens_result {
    int64_t natoms, nframes;
    int64_t fit_first, fit_frames; /* K-means fits frames fit_first .. fit_first+fit_frames-1
                                    * (python slice [w//2 : -w//2]) */
    int k;
    double *smooth;       /* [natoms][nframes] Savitzky–Golay of LENS along time */
    int32_t *fit_labels;  /* [fit_frames][natoms]: label of smooth[i][fit_first + f] */
    int32_t *classes;     /* [natoms][nframes] threshold classes of every frame */
    double centers[CLUSTER_MAX_K], cmin[CLUSTER_MAX_K], cmax[CLUSTER_MAX_K];
    int64_t csize[CLUSTER_MAX_K];
    double inertia;
    double tcounts[CLUSTER_MAX_K * CLUSTER_MAX_K]; /* [k][k], t = 1..nframes-1, all atoms */
    double tnorm[CLUSTER_MAX_K * CLUSTER_MAX_K];   /* row-normalised */
} cluster_lens_result_t;

/* LENS series lens [natoms][nframes] -> smoothing, K-means on the trimmed
 * frames (flattened frame-major, as the reference), per-cluster thresholds,
 * classes of all frames, transition matrix.  Needs nframes >= window and at
 * least k fitted values.  *r is filled (arrays owned by it; free with
 * cluster_lens_result_free, also after a failure). */
int cluster_lens_pipeline(const double *lens, int64_t natoms, int64_t nframes,
                          const cluster_lens_opts_t *o, cluster_lens_result_t *r, sd_err_t *e);
void cluster_lens_result_free(cluster_lens_result_t *r);

#endif
