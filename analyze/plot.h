/* plot — standalone SVG figures for the analyze stage (heatmap, chord
 * diagram, dendrogram).  The public API is in analyze.h ("SVG plots"); this
 * header only adds the shared palette so other figures match the colours. */
#ifndef PLOT_H
#define PLOT_H

#include "analyze.h"

/* Categorical colour of class i (Okabe–Ito, then golden-angle hues) as
 * "#rrggbb" into buf[8]; returns buf. */
const char *plot_class_colour(int i, char buf[8]);

#endif
