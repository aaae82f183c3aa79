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

/* ---- LENS and its clustering pipeline (Savitzky-Golay, K-means, KDE) ---- */
/* (section owned by the LENS work; see analyze/lens.c, cluster.c) */

/* ---- SVG plots: heatmap, chord diagram, dendrogram ---- */
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

#endif
