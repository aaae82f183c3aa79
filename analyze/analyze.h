/* analyze — public API of the analyze stage (the only header other stages and the
 * stemdyn binary include).  See README.md and ../shared/DESIGN.md. */
#ifndef ANALYZE_H
#define ANALYZE_H

#include "sd_cli.h"

/* Subcommands this stage contributes to `stemdyn`, NULL-terminated. */
extern const sd_cli_cmd_t analyze_commands[];

/* ---- SOAP, dictionary, classification, transitions, TimeSOAP ---- */
/* (section owned by the SOAP work; see analyze/soap.c, dict.c, classify.c, transitions.c) */

/* ---- LENS and its clustering pipeline (Savitzky-Golay, K-means, KDE) ---- */
/* (section owned by the LENS work; see analyze/lens.c, cluster.c) */

/* ---- SVG plots: heatmap, chord diagram, dendrogram ---- */
/* (section owned by the LENS work; see analyze/plot.c) */

#endif
