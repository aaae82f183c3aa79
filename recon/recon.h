/* recon — public API of the recon stage (the only header other stages and the
 * stemdyn binary include).  See README.md and ../shared/DESIGN.md. */
#ifndef RECON_H
#define RECON_H

#include "sd_cli.h"
#include "sd_err.h"

#include <stdint.h>

/* Subcommands this stage contributes to `stemdyn`, NULL-terminated. */
extern const sd_cli_cmd_t recon_commands[];

/* ---- atomic columns: the result of counting, the input of 3D reconstruction ---- */
/* One frame's columns as flat arrays of length n (owned by the struct; free
 * with recon_columns_free).  Positions in Å in the image frame (x = col·dx,
 * y = row·dx).  count < 0 means "not counted". */
typedef struct recon_columns {
    int64_t n;
    double *x, *y;       /* [n] Å */
    double *eta;         /* [n] fitted Gaussian height (image units) */
    double *rho;         /* [n] Gaussian width (Å) */
    double *scs;         /* [n] scattering cross-section 2π η ρ² (image units · Å²) */
    int32_t *count;      /* [n] atoms in the column */
    double *prob;        /* [n] posterior probability of that count, 0..1 */
    double dx;           /* Å per pixel of the source image */
} recon_columns_t;

/* Allocates arrays for n columns (zeroed, count = -1); SD_ENOMEM on failure. */
int recon_columns_alloc(recon_columns_t *c, int64_t n, sd_err_t *e);
void recon_columns_free(recon_columns_t *c);
/* columns.csv: header "x,y,eta,rho,scs,count,probability" (Å, %.10g).  The
 * reader accepts any column order by header name and needs at least x,y,count. */
int recon_columns_write_csv(const char *path, const recon_columns_t *c, sd_err_t *e);
int recon_columns_read_csv(const char *path, recon_columns_t *c, sd_err_t *e);

/* ---- synthetic microscope, column finding, Gaussian fit, counting ---- */
/* (section owned by the counting work: recon/stemsim.c, detect.c, fit.c, count.c) */

/* Default SCS library: simulated Pt [110] cross-sections (Å² · fraction of the
 * incident beam) for 1..20 atoms (../shared/oracle/stem/LibraryPt.txt). */
#define RECON_LIB_PT_N 20
extern const double recon_lib_pt[RECON_LIB_PT_N];
/* Au/Pt cross-section ratio used to scale the Pt library for gold ((79/78)^1.7). */
#define RECON_AU_OVER_PT 1.0219

/* SCS of an n-atom column from a library lib[0..nlib) (lib[i] = i+1 atoms);
 * linear extrapolation past the end with the last step; 0 for n <= 0. */
double recon_lib_scs(const double *lib, int nlib, int n);

/* --- synthetic microscope --- */
typedef struct recon_stemsim_opts {
    int zone;           /* 110 or 100: zone axis found from the lattice; 0: project along z as is */
    double dx;          /* Å per pixel (0.12) */
    double width;       /* Gaussian width s, Å (0.7) */
    double dose;        /* e/Å²; <= 0: no noise */
    double background;  /* image units (fraction of beam) added everywhere (0) */
    double scan_noise;  /* σ of a random per-row x shift, pixels (0) */
    double drift_x, drift_y; /* specimen drift during the scan, Å over the frame: row r
                                sees the specimen moved by (r/size)·(drift_x, drift_y) (0) */
    int64_t size;       /* image is size × size pixels (1024) */
    uint64_t seed;      /* noise and sub-pixel offset seed */
    const double *lib;  /* SCS library (NULL: Pt library scaled by RECON_AU_OVER_PT) */
    int nlib;
} recon_stemsim_opts_t;
void recon_stemsim_opts_default(recon_stemsim_opts_t *o);
/* The library stem-sim draws with: o->lib, or the Pt library × RECON_AU_OVER_PT
 * written into buf (caller-owned).  *nlib gets its length. */
const double *recon_stemsim_library(const recon_stemsim_opts_t *o, double buf[RECON_LIB_PT_N], int *nlib);

/* Projects n atoms pos[n][3] (Å) along the zone axis into columns.  On
 * success *cols holds the true columns: x, y (Å, in the projection frame,
 * centred on the image of o->size pixels), count, scs (library value), rho = width,
 * eta = scs/(2π width²), prob = 1.  axis_out[3] (may be NULL) receives the
 * beam direction in the model frame.  Caller frees *cols. */
int recon_stemsim_columns(const double *pos, int64_t n, const recon_stemsim_opts_t *o,
                          recon_columns_t *cols, double axis_out[3], sd_err_t *e);
/* The columns an ideal counter can see: columns of cols closer than min_sep Å
 * (unresolvable at the microscope's width, e.g. a displaced surface atom next
 * to a column) are merged, atom-weighted, into one holding both counts.
 * *out is allocated here (caller frees).  Use it as the truth to compare
 * counts with; render from the unmerged columns. */
int recon_stemsim_truth(const recon_columns_t *cols, double min_sep, const recon_stemsim_opts_t *o,
                        recon_columns_t *out, sd_err_t *e);
/* Renders columns into img[size][size] (caller-owned): background + Σ
 * scs/(2π s²) Gaussians, then Poisson noise at o->dose.  Uses cols->x/y/scs. */
int recon_stemsim_render(const recon_columns_t *cols, const recon_stemsim_opts_t *o,
                         double *img, sd_err_t *e);

/* --- column detection (FFTW) --- */
typedef struct recon_detect_info {
    double spacing;      /* strongest lattice spacing from the Fourier transform, Å */
    double min_sep;      /* separation bound used for the maxima, Å */
    double threshold;    /* filtered-intensity threshold used */
    double lattice_nn;   /* shortest projected lattice vector, Å (0: none found) */
    int nvec;            /* projected lattice neighbour vectors found (± pairs) */
    double vec[16][2];   /* Å */
    int64_t n_maxima, n_added, n_pruned;
} recon_detect_info_t;
/* Finds column positions in img[h][w] (dx Å/px): FFT lattice spacing, maxima of
 * the matched-filtered image with a separation bound, completion at empty
 * lattice sites, pruning of close pairs and of islands off the crystal.  *xy is
 * malloc'ed [n][2] (Å, caller frees); *n = 0 for a frame with no particle
 * (constant or noise only: not an error).  SD_ERANGE for non-finite pixels or
 * dx, SD_EINVAL for a too-small image or signal without a crystal lattice.
 * FFTW planning is not thread-safe: call from one thread at a time. */
int recon_detect_columns(const double *img, int64_t h, int64_t w, double dx, double **xy,
                         int64_t *n, recon_detect_info_t *info, sd_err_t *e);

/* --- Gaussian model fit (StatSTEM model, one shared width) --- */
typedef struct recon_fit_opts {
    int fit_background;  /* 1: ζ is fitted; 0: fixed at `background` */
    double background;
    int max_sweeps;      /* position sweeps per width update (4) */
    int outer_iters;     /* alternations positions ↔ width (3) */
    double rho0;         /* start width Å; <= 0: mean NN distance / 4 */
    int poisson_weights; /* 1: final heights by Poisson-weighted LS (0: StatSTEM's unweighted) */
    int fix_positions;   /* 1: positions are known (e.g. a model's columns): heights only */
    int fix_width;       /* 1: ρ = rho0 (must be > 0), no width search */
} recon_fit_opts_t;
void recon_fit_opts_default(recon_fit_opts_t *o);
/* Fits I = ζ + Σ η_c exp(-|r-r_c|²/2ρ²) (boxes ±3ρ) to img[h][w].  xy[n][2]
 * (Å) are the start positions and receive the fitted ones; eta[n] receives
 * heights; *rho, *zeta receive the width and background. */
int recon_fit_gaussians(const double *img, int64_t h, int64_t w, double dx, const recon_fit_opts_t *o,
                        double *xy, int64_t n, double *eta, double *rho, double *zeta, sd_err_t *e);

/* Cramér–Rao bound of the SCS under shot noise: sigma[n] (caller-owned)
 * receives the smallest standard deviation of SCS_c that any unbiased
 * estimator reaches from one frame of the columns cols (x, y, scs used) drawn
 * with width rho (Å) on background zeta (>= 0; 0: known to be 0) at `dose`
 * e/Å², pixels dx Å.  positions_known = 1: heights (and ζ) are the only
 * unknowns; 0: every column's x, y are fitted too.  Dense in 3n+1 unknowns:
 * meant for one particle (n up to a few thousand). */
int recon_scs_crb(const recon_columns_t *cols, double rho, double zeta, double dx, double dose,
                  int positions_known, double *sigma, sd_err_t *e);
/* Probability that an unbiased SCS estimate ~ N(lib(n), sigma²) of an n-atom
 * column lies in n's half-way interval of lib[0..nlib): the exact-count rate
 * of a library counter at that precision (with recon_scs_crb: the best any
 * such counter can do). */
double recon_lib_p_correct(const double *lib, int nlib, int n, double sigma);

/* --- counting --- */
typedef struct recon_gmm {
    int k;
    double mu[64], w[64], sigma; /* means (ascending), proportions, shared σ */
    double nll, icl, bic;
} recon_gmm_t;
#define RECON_GMM_KMAX 64
/* Shared-variance 1-D Gaussian mixture fit (EM, deterministic initialisations) of
 * x[n] with k components. */
int recon_gmm_fit(const double *x, int64_t n, int k, recon_gmm_t *g, sd_err_t *e);

typedef enum recon_order_rule {
    RECON_ORDER_LIBRARY = 0, /* ICL local minima, pick best match to the library (default) */
    RECON_ORDER_ARGMIN = 1,  /* global ICL minimum */
    RECON_ORDER_FIXED = 2,   /* k = fixed_k */
    RECON_ORDER_LIBMATCH = 3,/* no mixture: nearest library value */
    RECON_ORDER_LIBSCALE = 4,/* known library (e.g. synthetic frames): nearest library value
                              * after one global scale fitted to the frame; no mixture */
} recon_order_rule_t;

typedef struct recon_count_opts {
    recon_order_rule_t rule;
    int kmax;             /* largest order tried (0: automatic from the SCS range) */
    int fixed_k;
    const double *lib;    /* SCS library (NULL: Pt library; scale below) */
    int nlib;
    double lib_scale;     /* multiplies lib (1.0) */
    recon_fit_opts_t fit;
    int no_residual_completion; /* 1: skip adding columns found in the fit residual */
    double neighbour_prior; /* > 0: spatial prior on counts, scale τ in atoms (0.4 is a good
                             * value): an interior column's count follows the mean count of its
                             * first-shell neighbours with Student-t (ν = 3) scatter τ; applied by
                             * iterated conditional modes after the mixture / library counts.
                             * 0 (default): columns counted independently (StatSTEM). */
    int skip_fit;         /* no effect: recon_count_scs / recon_series_count always
                           * count the SCS they are given (kept for callers that set it) */
} recon_count_opts_t;
void recon_count_opts_default(recon_count_opts_t *o);

typedef struct recon_count_info {
    recon_detect_info_t det;
    int k;                  /* chosen order */
    int offset;             /* atoms in the first component */
    double icl[RECON_GMM_KMAX + 1]; /* ICL(k), k = 1..kmax */
    int kmax;
    int64_t atoms;          /* Σ counts */
    double zeta;
    double t_detect, t_fit, t_count; /* CPU seconds of the calling thread */
} recon_count_info_t;

/* Counts columns from their SCS: cols->scs must be set; fills count and prob. */
int recon_count_scs(recon_columns_t *cols, const recon_count_opts_t *o, recon_count_info_t *info,
                    sd_err_t *e);
/* Full pipeline on one frame img[h][w] (dx Å/px): detect, fit, add columns the
 * fit residual shows at empty lattice sites (≥ one atom's SCS), drop columns
 * below half an atom or on top of a neighbour, refit, count.  *out is
 * allocated here (caller frees with recon_columns_free); n = 0 when no
 * particle.  Single-threaded; info->t_* are CPU seconds per stage. */
int recon_count_image(const double *img, int64_t h, int64_t w, double dx, const recon_count_opts_t *o,
                      recon_columns_t *out, recon_count_info_t *info, sd_err_t *e);

/* --- series (HMM over frames): per-column forward filter --- */
typedef struct recon_series recon_series_t;
/* p_stay: probability a column keeps its count from one frame to the next. */
recon_series_t *recon_series_new(double p_stay);
void recon_series_destroy(recon_series_t **s);
/* Counts one frame like recon_count_scs (cols->scs set), then combines the
 * per-column likelihood with the previous frame's posterior of the nearest
 * column (within match_dist Å) through the transition model. */
int recon_series_count(recon_series_t *s, recon_columns_t *cols, const recon_count_opts_t *o,
                       double match_dist, recon_count_info_t *info, sd_err_t *e);

/* ---- 3D reconstruction (FCC column model, Monte-Carlo minima search) ---- */
/* (section owned by the 3D work: recon/model3d.c) */
struct sd_atoms;

/* Options of recon_model3d_build; recon_model3d_opts_default fills the
 * paper's values.  The beam is the model's z axis; columns sit at their
 * (x, y) from the columns table. */
typedef struct recon_model3d_opts {
    char potential[32];  /* sim potential set name, default "Au" (the paper's SMATB) */
    double c;            /* repeat along the beam, Å; <= 0: a0/√2 of the potential's own
                            FCC lattice (Au SMATB: 2.8738), so that the MC energies see
                            no artificial strain along the beam */
    double zinfo_b;      /* height offset of the second [110] sublattice, in repeats (0.5) */
    double temp_K;       /* Boltzmann factor temperature, 673 K */
    double threshold;    /* accept a move when exp(-ΔE/kT) > threshold (paper: 0.9) */
    int64_t iterations;  /* Monte-Carlo moves (paper: 2000) */
    uint64_t seed;       /* RNG seed (column and direction choice), default 1 */
    int max_minima;      /* lowest distinct local minima relaxed and scored, default 2 */
    double alpha;        /* fitness weight, eV/atom per unit χ, default 0.1 */
    int relax;           /* 1 (default): minimise each candidate with sim_minimize */
    double relax_etol;   /* sim_minimize etol (default 1e-5: loose, for the pipeline) */
    double relax_ftol;   /* sim_minimize ftol, 2-norm eV/Å (default 0: off) */
    int64_t relax_maxiter; /* default 200 */
    int64_t md_steps;    /* > 0: after the first minimisation, this many Langevin MD steps
                            at temp_K (the paper's finite-temperature relaxation, shortened),
                            then a second minimisation; default 0 (off) */
    double md_dt_fs;     /* MD time step, default 2 fs */
    double md_damp_ps;   /* Langevin damping, default 0.1 ps (short runs need tight coupling) */
} recon_model3d_opts_t;

/* What the build did (all energies eV/atom of the SMATB potential, times s). */
typedef struct recon_model3d_info {
    int64_t natoms;        /* atoms in the model = Σ count over used columns */
    int64_t ncolumns;      /* columns with count > 0 (used) */
    int64_t ncolumns_skipped; /* columns with count <= 0 (empty or not counted) */
    int ngroups;           /* connected column groups of the sublattice assignment */
    double c;              /* repeat used, Å */
    int64_t accepted;      /* accepted MC moves */
    int nminima;           /* distinct local minima kept (<= max_minima) */
    int chosen;            /* index (by unrelaxed energy) of the chosen minimum */
    double e_start;        /* StatSTEM start model, unrelaxed */
    double e_mc;           /* chosen minimum before relaxation */
    double e_final;        /* chosen model after relaxation (= e_mc when relax = 0) */
    double chi_count;      /* fraction of atoms that left their column during relaxation */
    double chi_disp;       /* mean displacement of projected column positions, Å */
    double chi, fitness;   /* χ = chi_count + chi_disp; f = e_final + alpha·χ */
    int64_t relax_iterations; /* summed over candidates */
    int64_t md_steps;      /* MD steps run, summed over candidates */
    double t_setup_s, t_mc_s, t_relax_s, t_total_s;
} recon_model3d_info_t;

void recon_model3d_opts_default(recon_model3d_opts_t *o);

/* Reconstructs a 3D model from counted columns: StatSTEM start model on FCC
 * sites, the paper's Monte-Carlo local-minima search (threshold acceptance:
 * a move is taken when exp(-ΔE/kT) exceeds `threshold`), relaxation of the
 * lowest local minima, choice by fitness f = E/atom + α·χ.  Columns with
 * count <= 0 are skipped; no usable column gives an empty model (n = 0),
 * not an error.  *out (caller destroys with sd_atoms_destroy): species of
 * the potential, positions (z along the beam, centre of mass at z = 0), per-atom property
 * "column_id:I:1" = row index in cols, info energy (eV, total), energy_per_atom,
 * fitness, chi, c, temp_K.  o = NULL: defaults.  info may be NULL. */
int recon_model3d_build(const recon_columns_t *cols, const recon_model3d_opts_t *o,
                        struct sd_atoms **out, recon_model3d_info_t *info, sd_err_t *e);

/* The pipeline's `model` message (proto/sd_msg.h) for a model of
 * recon_model3d_build: element, positions (borrowed from model: keep it alive
 * until the message is encoded), column ids (copied to *colid, malloc'd, caller
 * frees), energies from the model's info, provenance method
 * "statstem-start+mc-local-minima" with o's iterations and seed (o = NULL:
 * defaults).  An empty model cannot be sent (the message needs >= 1 atom):
 * SD_ERANGE, and the caller skips the frame. */
struct sd_msg_model;
int recon_model3d_to_msg(const struct sd_atoms *model, const recon_model3d_opts_t *o,
                         const char *series_id, int64_t frame_index, const char *model_id,
                         struct sd_msg_model *msg, int32_t **colid, sd_err_t *e);

/* Ground truth from a 3D model (tests and evaluation): projects the n atoms
 * along the beam and groups them into columns.  axis [3]: the beam direction
 * (need not be unit); refine != 0 replaces it by the mean direction of the
 * nearest-neighbour bonds within 10° of it (a <110> chain direction: MD-
 * relaxed models are rotated by a few degrees) and writes it to axis_out
 * (may be NULL).  Atoms within `tol` Å (<= 0: 0.9) of a running column
 * centre join it; nearest-centre refinement follows, and centres closer than
 * 1.6 Å (well below the 2.5 Å of [110] columns) are merged.  Fills cols (x, y
 * in an in-plane frame perpendicular to the beam, count, prob = 1; caller
 * frees), and optionally col_of_atom [n] (column of each atom) and zlo/zhi
 * (malloc'd [cols->n]: extent of each column along the beam; caller frees). */
int recon_columns_from_model(int64_t n, const double *pos /* [n][3] */, const double axis[3],
                             int refine, double tol, recon_columns_t *cols, int64_t *col_of_atom,
                             double **zlo, double **zhi, double axis_out[3], sd_err_t *e);

/* z-extent agreement of a reconstructed model (atoms with column_id) with the
 * truth extents zlo/zhi [ncol] from recon_columns_from_model: the fraction
 * of columns whose lowest and highest atoms both lie within c/2 of the
 * truth's, after the best common shift along the beam and the better of the
 * two mirror images (a projection cannot tell z from -z).  Columns the model
 * has no atom for count as mismatches. */
int recon_model3d_extent_match(const struct sd_atoms *model, int64_t ncol, const double *zlo,
                               const double *zhi, double c, double *fraction, int *mirrored,
                               sd_err_t *e);

#endif
