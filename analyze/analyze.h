/* analyze — public API of the analyze stage (the only header other stages and the
 * stemdyn binary include).  See README.md and ../shared/DESIGN.md. */
#ifndef ANALYZE_H
#define ANALYZE_H

#include "sd_cli.h"
#include "sd_err.h"

/* Subcommands this stage contributes to `stemdyn`, NULL-terminated. */
extern const sd_cli_cmd_t analyze_commands[];

/* ---- SOAP, dictionary, classification, transitions, TimeSOAP ---- */
/* (section owned by the SOAP work; see analyze/soap.c, dict.c, classify.c, transitions.c) */
/* SOAP power spectrum exactly as DScribe 2.1.1 (one species, GTO basis, not
 * periodic): every atom within r_cut + 3.7169·sigma of a centre (the centre
 * included) contributes; p[l][n][n'] = π√(8/(2l+1)) Σ_m c_nlm c_n'lm. */
typedef enum soap_layout {
    SOAP_LAYOUT_TRI = 0,  /* DScribe: f = l·T + t(n,n'), n <= n' row-major (324 for 8/8) */
    SOAP_LAYOUT_FULL = 1, /* the paper's: f = l·n_max² + n·n_max + n' (576 for 8/8) */
} soap_layout_t;
typedef struct soap_params {
    double r_cut; /* Å: sets the GTO widths (no cutoff function); > 1 */
    double sigma; /* Å: width of the atomic Gaussians; > 0 */
    int n_max;    /* radial functions, 1..20 */
    int l_max;    /* 0..20 */
} soap_params_t;
#define SOAP_RCUT_PAPER 4.48023312 /* 1.1 × √2 R0 of Au SMATB; the dictionary was made with it */
typedef struct soap soap_t;
/* Basis setup (alphas, betas = S^-1/2, constants, workspace).  NULL with *e
 * on bad parameters or an ill-conditioned basis.  A soap_t holds scratch
 * space: use one per thread. */
soap_t *soap_new(const soap_params_t *p, sd_err_t *e);
void soap_destroy(soap_t **s);
const soap_params_t *soap_get_params(const soap_t *s);
int soap_n_features(const soap_t *s, soap_layout_t layout);
double soap_neighbour_cutoff(const soap_t *s); /* r_cut + sigma·sqrt(-2 ln 1e-3) */
/* The basis actually used: alphas [l_max+1][n_max], betas [l_max+1][n_max][n_max]
 * (row n = orthonormal function, column k = primitive).  Borrowed. */
const double *soap_alphas(const soap_t *s);
const double *soap_betas(const soap_t *s);
/* I_nl(r) for one r: out [l_max+1][n_max] (for checks against tabulated values). */
void soap_radial_integrals(const soap_t *s, double r, double *out);
/* Spectra of the centres `centres` [ncent] (NULL: all n atoms, ncent = n) of
 * a frame of n atoms (pos [n][3], Å) into out [ncent][soap_n_features].
 * Fails (SD_EINVAL/SD_ERANGE/SD_EPHYS, message names the atom) on n == 0, a
 * non-finite coordinate, two atoms closer than 1e-6 Å, a centre out of range. */
int soap_compute(soap_t *s, int64_t n, const double *pos, int64_t ncent,
                 const int64_t *centres, soap_layout_t layout, double *out, sd_err_t *e);
/* DScribe triangle layout → full symmetric layout (rows independent; tri
 * and full must not overlap). */
void soap_tri_to_full(int n_max, int l_max, int64_t nrows, const double *tri, double *full);

/* Environment dictionary: unit reference vectors (full layout) and their
 * groups.  On disk (format "stemdyn-dict 1"): a text file (header, group
 * labels, one line per reference) and the vectors as a float64 .npy whose
 * name the header gives (relative to the text file). */
typedef struct dict {
    char name[64];
    soap_params_t params; /* SOAP parameters the vectors were made with */
    int dim;              /* (l_max+1)·n_max² */
    int n_refs, n_groups;
    double *vec;               /* [n_refs][dim], unit length */
    int *group;                /* [n_refs], 0..n_groups-1 */
    char (*ref_name)[64];      /* [n_refs] */
    char (*ref_source)[64];    /* [n_refs] source structure ("" unknown) */
    int64_t *ref_atom;         /* [n_refs] atom index in the source, -1 unknown */
    char (*group_label)[16];   /* [n_groups] */
} dict_t;
/* Zeroed dictionary with room for n_refs × dim and n_groups labels. */
dict_t *dict_new(int n_refs, int dim, int n_groups);
void dict_destroy(dict_t **d);
/* Loads and validates (format, dimension = (l_max+1)·n_max², unit vectors,
 * groups in range).  Caller destroys *out. */
int dict_load(const char *path, dict_t **out, sd_err_t *e);
/* Writes path (text) and, next to it, <path without extension>.npy. */
int dict_save(const char *path, const dict_t *d, sd_err_t *e);
/* The shipped paper dictionary (47 references, 10 groups): $STEMDYN_DICT, or
 * the compiled-in analyze/data path. */
const char *dict_default_path(void);
/* SOAP distance of unit vectors: sqrt(|2 - 2 a·b|). */
double dict_distance(int dim, const double *a, const double *b);
/* Complete-linkage clustering (scipy.cluster.hierarchy.linkage 'complete') of
 * n items from a condensed distance matrix dist[n(n-1)/2] (pairs i<j in order).
 * Merge m joins za[m] and zb[m] (ids < n leaves, n+k = merge k) at zh[m],
 * heights non-decreasing; zsize[m] = leaves in the merged cluster (may be NULL). */
int dict_linkage_complete(int n, const double *dist, int *za, int *zb, double *zh,
                          int *zsize, sd_err_t *e);
/* Flat clusters (scipy fcluster criterion 'distance'): items whose cophenetic
 * distance is <= cut share a label; labels 0..k-1 in order of first item.
 * Returns k. */
int dict_fcluster(int n, const int *za, const int *zb, const double *zh, double cut,
                  int *label);
/* Unit full-layout SOAP vectors vec [n][dim] of atom atoms[i] of structure
 * sources[i], read from DIR/<source>_minimized.data (or <source>.data, .xyz). */
int dict_environments(const soap_params_t *p, const char *dir, int n, const char (*sources)[64],
                      const int64_t *atoms, double *vec, sd_err_t *e);
/* Groups d's references (complete linkage of the SOAP distances, cut at `cut`):
 * sets d->group, d->n_groups (d must have room for n_refs labels) and labels.
 * With `like`, clusters whose members map (by reference name) one-to-one onto
 * like's groups take like's labels and numbering; returns 1 when they do not
 * (labels g0, g1, …), 0 otherwise. */
int dict_group(dict_t *d, double cut, const dict_t *like, sd_err_t *e);

/* Classification against a dictionary, frame by frame, with TimeSOAP. */
typedef struct classify classify_t;
/* Builds the SOAP calculator with the dictionary's parameters (d is borrowed
 * and must outlive the classifier). */
classify_t *classify_new(const dict_t *d, sd_err_t *e);
void classify_destroy(classify_t **c);
/* One frame of n atoms (pos [n][3]); any output may be NULL: group/refidx
 * [n]; dist [n][n_refs]; unit [n][dim] (the normalised full vectors);
 * timesoap [n] = d between each atom's vector here and in the previous call
 * (NaN on the first call after classify_new/classify_reset).  A frame whose
 * atom count differs from the previous one is refused (SD_EINVAL) until
 * classify_reset.  Errors of soap_compute pass through. */
int classify_frame(classify_t *c, int64_t n, const double *pos, int64_t *group,
                   int64_t *refidx, double *dist, double *unit, double *timesoap, sd_err_t *e);
/* Forget the previous frame (a new trajectory follows). */
void classify_reset(classify_t *c);
/* Pure part, for vectors already computed: full-layout unit vectors x [n][dim]. */
int classify_vectors(const dict_t *d, int64_t n, const double *x, int64_t *group,
                     int64_t *refidx, double *dist, sd_err_t *e);
/* Normalises rows of full-layout vectors in place; a zero row is an error. */
int classify_normalise(int64_t nrows, int dim, double *x, sd_err_t *e);

/* Transitions between k groups. */
/* Adds to counts [k][k] the per-atom transitions g[t-1][i] → g[t][i] of one
 * run g [T][n] (diagonal included); atoms with mask[i] == 0 are skipped (mask
 * may be NULL); pop [T][k] (may be NULL) gets the population of each frame.
 * A label outside 0..k-1 is an error. */
int trans_count(int k, int64_t T, int64_t n, const int64_t *g, const unsigned char *mask,
                double *counts, double *pop, sd_err_t *e);
/* Row-normalised P (rows without counts stay zero). */
void trans_rownorm(int k, const double *counts, double *p);
/* τ_ij = dt / p_ij for i != j and p_ij > 0, else 0. */
void trans_tau(int k, const double *p, double dt, double *tau);
/* The paper's run average: unweighted mean of each run's row-normalised matrix. */
void trans_mean_rownorm(int k, int nruns, const double *counts /* [nruns][k][k] */, double *p);
/* Mask of atoms whose z (first frame) is >= z_min: mask [n] = 1 kept, 0 excluded. */
void trans_mask_z_below(int64_t n, const double *pos0, double z_min, unsigned char *mask);
/* ΔTimeSOAP (SOAPify's deltaTimeSOAP): d [n][T1-1] = ts[t+1][i] - ts[t][i] for a
 * TimeSOAP series ts [T1][n]. */
void trans_timesoap_delta(int64_t T1, int64_t n, const double *ts, double *d);

/* Ideal nanoparticles (fcc nearest-neighbour distance d_nn, Å), centred at 0. */
/* Mackay icosahedron with `shells` shells around the centre atom (923 for 6),
 * vertices along (±1, 0, ±t) and cyclic permutations (t = golden ratio). */
int npgen_icosahedron(int shells, double d_nn, int64_t *n, double **pos, sd_err_t *e);
/* Marks/Ino decahedron as ase.cluster.Decahedron(p, q, r): p atoms along the
 * (100) edges normal to the 5-fold axis, q along the axis, r Marks re-entrance. */
int npgen_decahedron(int p, int q, int r, double d_nn, int64_t *n, double **pos, sd_err_t *e);
/* Octahedron of `length` atoms per edge with `cut` layers removed at each vertex. */
int npgen_truncated_octahedron(int length, int cut, double d_nn, int64_t *n, double **pos,
                               sd_err_t *e);
/* By the paper's names: ico923_6, to807_11_3, to976_12_4, dh1086_7_1_3,
 * dh1734_5_4_4 (generic: ico<N>_<shells>, to<N>_<len>_<cut>, dh<N>_<p>_<q>_<r+1>: the
 * paper's names count the Marks depth from 1;
 * N is checked).  *pos is malloc'd [n][3]; caller frees. */
int npgen_by_name(const char *name, double d_nn, int64_t *n, double **pos, sd_err_t *e);

/* ---- LENS and its clustering pipeline (Savitzky-Golay, K-means, KDE) ---- */
/* (section owned by the LENS work; see analyze/lens.c, cluster.c)
 * lens.h: incremental per-frame LENS (lens_state_new/push/destroy, with
 *   neighbour counts, numerators, denominators) and lens_compute() over a
 *   whole trajectory; outputs frame-major [T][N].
 * cluster.h: cluster_savgol(_rows) (= scipy savgol_filter mode='interp'),
 *   cluster_kmeans_1d (= sklearn KMeans k-means++/lloyd, same seed -> same
 *   labels), cluster_label_range, cluster_classify (lens_300K.py thresholds),
 *   cluster_transitions (k x k counts + row-normalised), cluster_kde_gauss
 *   (Scott), and cluster_lens_pipeline() doing all of it on [N][T] LENS. */
#include "cluster.h"
#include "lens.h"
/* `stemdyn lens` (analyze/lens_cmd.c). */
int lens_cmd_run(int argc, char **argv);

/* ---- SVG plots: heatmap, chord diagram, dendrogram, KDE ---- */
/* (section owned by the LENS work; see analyze/plot.c)
 * Each writes a standalone SVG file atomically; labels are borrowed. */
/* Heatmap of a k×k matrix m (row i = from, column j = to); log colour scale
 * when log_scale; entries <= 0 (unobserved) drawn blank. */
int plot_heatmap_svg(const char *path, int k, const double *m /* [k][k] */,
                     const char *const *labels /* [k] */, const char *title, int log_scale,
                     sd_err_t *e);
/* Chord diagram of the exchanges between k environments (flow[i][j] = count i→j;
 * the diagonal is ignored). */
int plot_chord_svg(const char *path, int k, const double *flow /* [k][k] */,
                   const char *const *labels /* [k] */, const char *title, sd_err_t *e);
/* Dendrogram of n leaves from a scipy-style linkage: merge i joins clusters
 * za[i] and zb[i] (ids < n are leaves, n+j is merge j) at height zh[i]; a
 * dashed line at cut (<= 0: none). */
int plot_dendrogram_svg(const char *path, int n, const int *za /* [n-1] */,
                        const int *zb /* [n-1] */, const double *zh /* [n-1] */,
                        const char *const *leaf_labels /* [n] */, double cut, sd_err_t *e);
/* Density curve dens(grid) (ngrid >= 2, grid ascending) with the area under
 * it split at ncut ascending cuts into ncut+1 regions, region r filled with
 * class colour region_colour[r] and named region_label[r] in the legend
 * (region_colour/region_label may be NULL when ncut == 0). */
int plot_kde_svg(const char *path, int64_t ngrid, const double *grid, const double *dens,
                 int ncut, const double *cuts /* [ncut] */,
                 const int *region_colour /* [ncut+1] */,
                 const char *const *region_label /* [ncut+1] */, const char *xlabel,
                 const char *title, sd_err_t *e);

#endif
