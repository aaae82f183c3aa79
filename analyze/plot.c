/* SVG plots: heatmap with colour bar, chord diagram, dendrogram (analyze.h).
 * Each figure is built in memory and written atomically (temporary file in
 * the same directory, then rename) so a reader never sees half a file. */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLOT_FONT "DejaVu Sans, Helvetica, Arial, sans-serif"
#define PLOT_MAX_K 4096
#define PLOT_PI 3.14159265358979323846

/* ---- growable text buffer ---- */
typedef struct sb {
    char *s;
    size_t len, cap;
    int oom;
} sb_t;

__attribute__((format(printf, 2, 3))) static void sb_printf(sb_t *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (m < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->len + (size_t)m < b->cap) {
            b->len += (size_t)m;
            return;
        }
        size_t nc = (b->cap ? 2 * b->cap : 4096) + (size_t)m;
        char *p = realloc(b->s, nc);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = nc;
    }
}

/* XML-escaped copy of a label (truncated to 200 bytes). */
static void sb_text(sb_t *b, const char *t)
{
    if (!t) return;
    for (int i = 0; t[i] && i < 200; i++) {
        switch (t[i]) {
        case '<': sb_printf(b, "&lt;"); break;
        case '>': sb_printf(b, "&gt;"); break;
        case '&': sb_printf(b, "&amp;"); break;
        case '"': sb_printf(b, "&quot;"); break;
        default:
            if ((unsigned char)t[i] >= 0x20) sb_printf(b, "%c", t[i]);
        }
    }
}

static size_t label_len(const char *t)
{
    size_t n = 0;
    if (!t) return 0;
    for (; *t && n < 200; t++)
        if (((unsigned char)*t & 0xC0) != 0x80) n++; /* count UTF-8 characters */
    return n;
}

static int write_atomic(const char *path, sb_t *b, sd_err_t *e)
{
    if (b->oom) {
        free(b->s);
        return sd_err_set(e, SD_ENOMEM, "plot: out of memory building %s", path);
    }
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16);
    if (!tmp) {
        free(b->s);
        return sd_err_set(e, SD_ENOMEM, "plot: out of memory");
    }
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int er = errno;
        free(tmp);
        free(b->s);
        return sd_err_set(e, SD_EIO, "plot: cannot create %s: %s", path, strerror(er));
    }
    (void)fchmod(fd, 0644); /* mkstemp makes 0600; a figure is for sharing */
    FILE *f = fdopen(fd, "w");
    int ok = f && fwrite(b->s, 1, b->len, f) == b->len;
    if (f) ok &= fclose(f) == 0;
    else close(fd);
    ok = ok && rename(tmp, path) == 0;
    int er = errno;
    if (!ok) unlink(tmp);
    free(tmp);
    free(b->s);
    b->s = NULL;
    if (!ok) return sd_err_set(e, SD_EIO, "plot: cannot write %s: %s", path, strerror(er));
    return SD_OK;
}

static void svg_open(sb_t *b, double w, double h, const char *title)
{
    sb_printf(b,
              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
              "viewBox=\"0 0 %.0f %.0f\" font-family=\"%s\">\n",
              w, h, w, h, PLOT_FONT);
    sb_printf(b, "<title>");
    sb_text(b, title ? title : "");
    sb_printf(b, "</title>\n<rect class=\"background\" x=\"0\" y=\"0\" width=\"%.0f\" "
                 "height=\"%.0f\" fill=\"#ffffff\"/>\n",
              w, h);
    if (title && *title) {
        sb_printf(b,
                  "<text x=\"%.1f\" y=\"28\" font-size=\"17\" font-weight=\"bold\" "
                  "text-anchor=\"middle\" fill=\"#222\">",
                  w / 2);
        sb_text(b, title);
        sb_printf(b, "</text>\n");
    }
}

/* ---- colours ---- */
static const unsigned char viridis[9][3] = {
    {68, 1, 84},    {71, 44, 122},  {59, 82, 139},  {44, 114, 142}, {33, 145, 140},
    {40, 174, 128}, {94, 201, 98},  {173, 220, 48}, {253, 231, 37},
};

static void viridis_at(double t, char out[8])
{
    if (!(t >= 0)) t = 0;
    if (t > 1) t = 1;
    double u = t * 8;
    int i = (int)u;
    if (i > 7) i = 7;
    double f = u - i;
    int c[3];
    for (int k = 0; k < 3; k++)
        c[k] = (int)lround(viridis[i][k] + f * (viridis[i + 1][k] - viridis[i][k]));
    snprintf(out, 8, "#%02x%02x%02x", c[0] & 255, c[1] & 255, c[2] & 255);
}

const char *plot_class_colour(int i, char buf[8])
{
    static const char *const okabe[8] = {"#0072b2", "#e69f00", "#009e73", "#cc79a7",
                                         "#56b4e9", "#d55e00", "#f0e442", "#000000"};
    if (i >= 0 && i < 7) { /* black is kept for text */
        memcpy(buf, okabe[i], 8);
        return buf;
    }
    double h = fmod(i * 137.508, 360.0) / 60.0, s = 0.65, v = 0.8, c = v * s;
    double x = c * (1 - fabs(fmod(h, 2.0) - 1)), r = 0, g = 0, bl = 0;
    int hi = (int)h;
    if (hi == 0) r = c, g = x;
    else if (hi == 1) r = x, g = c;
    else if (hi == 2) g = c, bl = x;
    else if (hi == 3) g = x, bl = c;
    else if (hi == 4) r = x, bl = c;
    else r = c, bl = x;
    double m = v - c;
    snprintf(buf, 8, "#%02x%02x%02x", (int)lround((r + m) * 255) & 255,
             (int)lround((g + m) * 255) & 255, (int)lround((bl + m) * 255) & 255);
    return buf;
}

static int check_labels(int k, const char *const *labels, const char *what, sd_err_t *e)
{
    if (!labels) return sd_err_set(e, SD_EINVAL, "%s: NULL labels", what);
    for (int i = 0; i < k; i++)
        if (!labels[i]) return sd_err_set(e, SD_EINVAL, "%s: label %d is NULL", what, i);
    return SD_OK;
}

/* Value as short text: integers plainly, others with 3 significant digits. */
static void fmt_value(double v, char *buf, size_t len)
{
    if (v == floor(v) && fabs(v) < 1e6) snprintf(buf, len, "%.0f", v);
    else if (fabs(v) >= 1e-3 && fabs(v) < 1e4) snprintf(buf, len, "%.3g", v);
    else snprintf(buf, len, "%.2e", v);
}

/* ------------------------------------------------------------------ */
int plot_heatmap_svg(const char *path, int k, const double *m, const char *const *labels,
                     const char *title, int log_scale, sd_err_t *e)
{
    if (!path || !m || k < 1 || k > PLOT_MAX_K)
        return sd_err_set(e, SD_EINVAL, "heatmap: bad arguments (k = %d)", k);
    int rc = check_labels(k, labels, "heatmap", e);
    if (rc) return rc;
    double vmin = INFINITY, vmax = -INFINITY;
    for (int i = 0; i < k * k; i++)
        if (isfinite(m[i]) && m[i] > 0) {
            vmin = fmin(vmin, m[i]);
            vmax = fmax(vmax, m[i]);
        }
    const int any = isfinite(vmax);
    if (!any) vmin = 0.1, vmax = 1;
    if (log_scale) {
        if (vmin == vmax) vmin = vmax / 10;
    } else {
        vmin = 0;
    }
    const double lmin = log_scale ? log10(vmin) : vmin, lmax = log_scale ? log10(vmax) : vmax;
    size_t lw = 0;
    for (int i = 0; i < k; i++) lw = label_len(labels[i]) > lw ? label_len(labels[i]) : lw;
    const double cell = fmax(14, fmin(96, 520.0 / k));
    const double labw = 7.6 * (double)lw + 10;
    const double x0 = 40 + labw, y0 = 52, side = cell * k;
    const double bar_x = x0 + side + 26, bar_w = 18;
    const double W = bar_x + bar_w + 90, H = y0 + side + labw * 0.72 + 56;
    sb_t b = {0};
    svg_open(&b, W, H, title);
    /* cells: blank (not drawn) where <= 0; frame and grid lines */
    sb_printf(&b, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                  "fill=\"#fafafa\" stroke=\"#999\" stroke-width=\"1\"/>\n",
              x0, y0, side, side);
    const int show_text = cell >= 34;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
            double v = m[i * k + j];
            if (!(isfinite(v) && v > 0)) continue;
            double tt = lmax > lmin ? ((log_scale ? log10(v) : v) - lmin) / (lmax - lmin) : 1;
            char col[8];
            viridis_at(tt, col);
            sb_printf(&b,
                      "<rect class=\"cell\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
                      "fill=\"%s\"><title>",
                      x0 + j * cell, y0 + i * cell, cell, cell, col);
            sb_text(&b, labels[i]);
            sb_printf(&b, " → ");
            sb_text(&b, labels[j]);
            sb_printf(&b, ": %.6g</title></rect>\n", v);
            if (show_text) {
                char vb[32];
                fmt_value(v, vb, sizeof vb);
                sb_printf(&b,
                          "<text x=\"%.2f\" y=\"%.2f\" font-size=\"%.0f\" text-anchor=\"middle\" "
                          "dominant-baseline=\"central\" fill=\"%s\">%s</text>\n",
                          x0 + (j + 0.5) * cell, y0 + (i + 0.5) * cell,
                          fmin(12, cell / ((double)strlen(vb) * 0.62 + 0.5)),
                          tt < 0.62 ? "#ffffff" : "#1a1a1a", vb);
            }
        }
    if (cell >= 10)
        for (int i = 1; i < k; i++)
            sb_printf(&b,
                      "<path class=\"grid\" d=\"M%.2f %.2fH%.2fM%.2f %.2fV%.2f\" stroke=\"#ffffff\" "
                      "stroke-width=\"1\" fill=\"none\"/>\n",
                      x0, y0 + i * cell, x0 + side, x0 + i * cell, y0, y0 + side);
    /* axis labels: rows (from) on the left, columns (to) below, rotated */
    const double fs = fmin(13, fmax(8, cell * 0.7));
    for (int i = 0; i < k; i++) {
        sb_printf(&b,
                  "<text class=\"rowlabel\" x=\"%.1f\" y=\"%.2f\" font-size=\"%.0f\" "
                  "text-anchor=\"end\" dominant-baseline=\"central\" fill=\"#222\">",
                  x0 - 6, y0 + (i + 0.5) * cell, fs);
        sb_text(&b, labels[i]);
        sb_printf(&b, "</text>\n");
        const double cx = x0 + (i + 0.5) * cell, cy = y0 + side + 8;
        sb_printf(&b,
                  "<text class=\"collabel\" x=\"%.2f\" y=\"%.2f\" font-size=\"%.0f\" "
                  "text-anchor=\"end\" dominant-baseline=\"central\" fill=\"#222\" "
                  "transform=\"rotate(-45 %.2f %.2f)\">",
                  cx, cy, fs, cx, cy);
        sb_text(&b, labels[i]);
        sb_printf(&b, "</text>\n");
    }
    sb_printf(&b,
              "<text x=\"16\" y=\"%.1f\" font-size=\"14\" text-anchor=\"middle\" fill=\"#222\" "
              "transform=\"rotate(-90 16 %.1f)\">from</text>\n",
              y0 + side / 2, y0 + side / 2);
    sb_printf(&b,
              "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" text-anchor=\"middle\" "
              "fill=\"#222\">to</text>\n",
              x0 + side / 2, H - 14);
    /* colour bar: a vertical gradient, high values on top */
    sb_printf(&b, "<defs><linearGradient id=\"cbar\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">");
    for (int s = 0; s <= 16; s++) {
        char col[8];
        viridis_at(s / 16.0, col);
        sb_printf(&b, "<stop offset=\"%.4f\" stop-color=\"%s\"/>", s / 16.0, col);
    }
    sb_printf(&b, "</linearGradient></defs>\n");
    sb_printf(&b,
              "<rect class=\"colorbar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
              "fill=\"url(#cbar)\" stroke=\"#666\" stroke-width=\"0.8\"/>\n",
              bar_x, y0, bar_w, side);
    if (any) {
        /* ticks */
        double tv[64];
        int nt = 0;
        if (log_scale) {
            int d0 = (int)floor(lmin + 1e-9), d1 = (int)ceil(lmax - 1e-9);
            const int span = d1 - d0;
            const int step = span > 12 ? (span + 5) / 6 : 1;
            static const double sub[3] = {1, 2, 5};
            for (int d = d0; d <= d1 && nt < 60; d += step)
                for (int s = 0; s < (span <= 1 ? 3 : 1) && nt < 60; s++) {
                    double v = sub[s] * pow(10, d);
                    if (log10(v) >= lmin - 1e-9 && log10(v) <= lmax + 1e-9) tv[nt++] = v;
                }
        } else {
            double raw = (lmax - lmin) / 5, p = pow(10, floor(log10(raw))), st = p;
            if (raw / p > 5) st = 10 * p;
            else if (raw / p > 2) st = 5 * p;
            else if (raw / p > 1) st = 2 * p;
            for (double v = 0; v <= lmax * (1 + 1e-12) && nt < 60; v += st) tv[nt++] = v;
        }
        for (int i = 0; i < nt; i++) {
            double pv = log_scale ? log10(tv[i]) : tv[i];
            double y = lmax > lmin ? y0 + side - (pv - lmin) / (lmax - lmin) * side : y0;
            sb_printf(&b,
                      "<path class=\"tick\" d=\"M%.1f %.2fh5\" stroke=\"#444\" "
                      "stroke-width=\"1\"/>\n",
                      bar_x + bar_w, y);
            if (log_scale && fabs(tv[i] / pow(10, round(log10(tv[i]))) - 1) < 1e-9) {
                int d = (int)lround(log10(tv[i]));
                sb_printf(&b,
                          "<text x=\"%.1f\" y=\"%.2f\" font-size=\"12\" "
                          "dominant-baseline=\"central\" fill=\"#222\">10<tspan dy=\"-6\" "
                          "font-size=\"9\">%d</tspan></text>\n",
                          bar_x + bar_w + 8, y, d);
            } else {
                char vb[32];
                fmt_value(tv[i], vb, sizeof vb);
                if (log_scale) snprintf(vb, sizeof vb, "%g", tv[i]);
                sb_printf(&b,
                          "<text x=\"%.1f\" y=\"%.2f\" font-size=\"%d\" "
                          "dominant-baseline=\"central\" fill=\"#222\">%s</text>\n",
                          bar_x + bar_w + 8, y, log_scale ? 10 : 12, vb);
            }
        }
    } else {
        sb_printf(&b,
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\" "
                  "fill=\"#777\">no positive entries</text>\n",
                  x0 + side / 2, y0 + side / 2);
    }
    sb_printf(&b, "</svg>\n");
    return write_atomic(path, &b, e);
}

/* ------------------------------------------------------------------ */
static void polar(double cx, double cy, double r, double a, double *x, double *y)
{
    *x = cx + r * sin(a);
    *y = cy - r * cos(a);
}

int plot_chord_svg(const char *path, int k, const double *flow, const char *const *labels,
                   const char *title, sd_err_t *e)
{
    if (!path || !flow || k < 1 || k > PLOT_MAX_K)
        return sd_err_set(e, SD_EINVAL, "chord: bad arguments (k = %d)", k);
    int rc = check_labels(k, labels, "chord", e);
    if (rc) return rc;
    for (int i = 0; i < k * k; i++)
        if (!isfinite(flow[i]) || flow[i] < 0)
            return sd_err_set(e, SD_ERANGE, "chord: flow[%d][%d] = %g (need finite, >= 0)",
                              i / k, i % k, flow[i]);
    double *tot = calloc((size_t)k, sizeof *tot);
    if (!tot) return sd_err_set(e, SD_ENOMEM, "chord: out of memory");
    double all = 0;
    int nact = 0;
    for (int i = 0; i < k; i++) {
        for (int j = 0; j < k; j++)
            if (j != i) tot[i] += flow[i * k + j] + flow[j * k + i];
        all += tot[i];
        nact += tot[i] > 0;
    }
    size_t lw = 0;
    for (int i = 0; i < k; i++) lw = label_len(labels[i]) > lw ? label_len(labels[i]) : lw;
    const double labw = 8.5 * (double)(lw > 40 ? 40 : lw);
    const double R = 230, ring = 18, cx = R + ring + 24 + labw, cy = 310;
    const double lx = 2 * cx + 10, W = lx + fmax(340, 40 + 7.5 * (double)(lw > 40 ? 40 : lw) + 110),
                 H = 640;
    sb_t b = {0};
    svg_open(&b, W, H, title);
    if (all <= 0) {
        sb_printf(&b,
                  "<text x=\"%.0f\" y=\"%.0f\" font-size=\"15\" text-anchor=\"middle\" "
                  "fill=\"#777\">no exchanges between different classes</text>\n",
                  cx, cy);
    } else {
        const double gap = nact > 1 ? fmin(0.04, 0.5 / nact) : 0;
        const double scale = (2 * PLOT_PI - gap * nact) / all;
        /* per node: start angle; per (i,j): start of the out-segment i->j and
         * of the in-segment j->i inside node i's arc */
        double *outs = malloc((size_t)k * k * sizeof *outs), *ins = malloc((size_t)k * k * sizeof *ins);
        double *a0 = malloc((size_t)k * sizeof *a0);
        if (!outs || !ins || !a0) {
            free(outs), free(ins), free(a0), free(tot), free(b.s);
            return sd_err_set(e, SD_ENOMEM, "chord: out of memory");
        }
        double a = 0;
        for (int i = 0; i < k; i++) {
            a0[i] = a;
            if (tot[i] <= 0) continue;
            /* partners counter-clockwise first: the segment towards a node
             * sits on the side of the arc facing it, so ribbons do not cross
             * needlessly (a pair's two ribbons nest) */
            for (int d = k - 1; d >= 1; d--) {
                int j = (i + d) % k;
                outs[i * k + j] = a;
                a += flow[i * k + j] * scale;
                ins[i * k + j] = a;
                a += flow[j * k + i] * scale;
            }
            a += gap;
        }
        /* ribbons under the arcs: i -> j from i's out-segment to j's in-segment */
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) {
                double f = flow[i * k + j];
                if (j == i || f <= 0) continue;
                double s0 = outs[i * k + j], s1 = s0 + f * scale;
                double t0 = ins[j * k + i], t1 = t0 + f * scale;
                double x1, y1, x2, y2, x3, y3, x4, y4;
                const double r = R - 2;
                polar(cx, cy, r, s0, &x1, &y1);
                polar(cx, cy, r, s1, &x2, &y2);
                polar(cx, cy, r, t0, &x3, &y3);
                polar(cx, cy, r, t1, &x4, &y4);
                char col[8];
                plot_class_colour(i, col);
                sb_printf(&b,
                          "<path class=\"ribbon\" d=\"M%.2f %.2fA%.1f %.1f 0 %d 1 %.2f %.2f"
                          "Q%.1f %.1f %.2f %.2fA%.1f %.1f 0 %d 1 %.2f %.2fQ%.1f %.1f %.2f %.2fZ\" "
                          "fill=\"%s\" fill-opacity=\"0.62\" stroke=\"%s\" stroke-width=\"0.6\" "
                          "stroke-opacity=\"0.9\"><title>",
                          x1, y1, r, r, (s1 - s0) > PLOT_PI, x2, y2, cx, cy, x3, y3, r, r,
                          (t1 - t0) > PLOT_PI, x4, y4, cx, cy, x1, y1, col, col);
                sb_text(&b, labels[i]);
                sb_printf(&b, " → ");
                sb_text(&b, labels[j]);
                sb_printf(&b, ": %.6g</title></path>\n", f);
            }
        /* node arcs and labels */
        for (int i = 0; i < k; i++) {
            if (tot[i] <= 0) continue;
            double s0 = a0[i], s1 = a0[i] + tot[i] * scale, big = (s1 - s0) > PLOT_PI;
            if (s1 - s0 >= 2 * PLOT_PI - 1e-9) s1 = s0 + 2 * PLOT_PI - 1e-4;
            double x1, y1, x2, y2, x3, y3, x4, y4;
            polar(cx, cy, R + ring, s0, &x1, &y1);
            polar(cx, cy, R + ring, s1, &x2, &y2);
            polar(cx, cy, R, s1, &x3, &y3);
            polar(cx, cy, R, s0, &x4, &y4);
            char col[8];
            plot_class_colour(i, col);
            sb_printf(&b,
                      "<path class=\"arc\" d=\"M%.2f %.2fA%.1f %.1f 0 %d 1 %.2f %.2fL%.2f %.2f"
                      "A%.1f %.1f 0 %d 0 %.2f %.2fZ\" fill=\"%s\" stroke=\"#ffffff\" "
                      "stroke-width=\"1\"><title>",
                      x1, y1, R + ring, R + ring, (int)big, x2, y2, x3, y3, R, R, (int)big, x4,
                      y4, col);
            sb_text(&b, labels[i]);
            sb_printf(&b, ": total exchange %.6g</title></path>\n", tot[i]);
            double am = 0.5 * (s0 + s1), tx, ty;
            polar(cx, cy, R + ring + 10, am, &tx, &ty);
            const char *anchor = sin(am) > 0.15 ? "start" : sin(am) < -0.15 ? "end" : "middle";
            const char *base = cos(am) > 0.5 ? "auto" : cos(am) < -0.5 ? "hanging" : "central";
            sb_printf(&b,
                      "<text class=\"nodelabel\" x=\"%.1f\" y=\"%.1f\" font-size=\"14\" "
                      "font-weight=\"bold\" text-anchor=\"%s\" dominant-baseline=\"%s\" "
                      "fill=\"#222\">",
                      tx, ty, anchor, base);
            sb_text(&b, labels[i]);
            sb_printf(&b, "</text>\n");
        }
        free(outs), free(ins), free(a0);
    }
    /* legend: every class, its colour and total exchange */
    const double ly = 70;
    sb_printf(&b,
              "<text x=\"%.0f\" y=\"%.0f\" font-size=\"13\" font-weight=\"bold\" "
              "fill=\"#222\">class: exchanges (in + out)</text>\n",
              lx, ly);
    const double row = fmin(22, 500.0 / k);
    for (int i = 0; i < k; i++) {
        char col[8], vb[32];
        plot_class_colour(i, col);
        fmt_value(tot[i], vb, sizeof vb);
        double y = ly + 14 + i * row;
        sb_printf(&b,
                  "<rect class=\"legend\" x=\"%.0f\" y=\"%.1f\" width=\"12\" height=\"12\" "
                  "fill=\"%s\"/><text x=\"%.0f\" y=\"%.1f\" font-size=\"%.0f\" "
                  "dominant-baseline=\"central\" fill=\"#222\">",
                  lx, y, col, lx + 18, y + 6, fmin(13, row * 0.7));
        sb_text(&b, labels[i]);
        sb_printf(&b, ": %s</text>\n", vb);
    }
    sb_printf(&b,
              "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" fill=\"#666\">ribbon i → j: "
              "width = count, colour = source i</text>\n",
              lx, H - 20);
    sb_printf(&b, "</svg>\n");
    free(tot);
    return write_atomic(path, &b, e);
}

/* ------------------------------------------------------------------ */
int plot_dendrogram_svg(const char *path, int n, const int *za, const int *zb, const double *zh,
                        const char *const *leaf_labels, double cut, sd_err_t *e)
{
    if (!path || n < 2 || n > PLOT_MAX_K || !za || !zb || !zh)
        return sd_err_set(e, SD_EINVAL, "dendrogram: bad arguments (n = %d)", n);
    int rc = check_labels(n, leaf_labels, "dendrogram", e);
    if (rc) return rc;
    const int nn = 2 * n - 1;
    int *used = calloc((size_t)nn, sizeof *used), *order = malloc((size_t)n * sizeof *order);
    int *stack = malloc((size_t)nn * sizeof *stack), *group = malloc((size_t)nn * sizeof *group);
    double *x = malloc((size_t)nn * sizeof *x), *h = malloc((size_t)nn * sizeof *h);
    if (!used || !order || !stack || !group || !x || !h) {
        rc = sd_err_set(e, SD_ENOMEM, "dendrogram: out of memory");
        goto out;
    }
    double hmax = 0;
    for (int i = 0; i < n - 1; i++) {
        int a = za[i], c = zb[i];
        if (a < 0 || c < 0 || a >= n + i || c >= n + i || a == c || used[a] || used[c]) {
            rc = sd_err_set(e, SD_EINVAL,
                            "dendrogram: merge %d joins %d and %d (each must be a leaf < %d or "
                            "an earlier merge, used once)",
                            i, a, c, n);
            goto out;
        }
        if (!isfinite(zh[i]) || zh[i] < 0) {
            rc = sd_err_set(e, SD_ERANGE, "dendrogram: height %g of merge %d", zh[i], i);
            goto out;
        }
        used[a] = used[c] = 1;
        hmax = fmax(hmax, zh[i]);
    }
    /* leaf order: depth-first from the root, left (za) before right (zb) */
    int sp = 0, no = 0;
    stack[sp++] = nn - 1;
    while (sp > 0) {
        int id = stack[--sp];
        if (id < n) order[no++] = id;
        else {
            stack[sp++] = zb[id - n];
            stack[sp++] = za[id - n];
        }
    }
    for (int i = 0; i < n; i++) h[i] = 0;
    for (int i = 0; i < no; i++) x[order[i]] = i;
    for (int i = 0; i < n - 1; i++) {
        x[n + i] = 0.5 * (x[za[i]] + x[zb[i]]);
        h[n + i] = zh[i];
    }
    /* colour groups: maximal subtrees merged at or below the cut (the flat
     * clusters of scipy's fcluster(..., 'distance')); links above are grey */
    int ng = 0;
    for (int id = nn - 1; id >= 0; id--) group[id] = -1;
    for (int id = nn - 1; id >= 0; id--) {
        if (group[id] >= 0 || (id >= n && h[id] > cut) || cut <= 0) continue;
        /* id is below the cut and its parent (if any) is not: new group */
        int g = ng++;
        sp = 0;
        stack[sp++] = id;
        while (sp > 0) {
            int c = stack[--sp];
            group[c] = g;
            if (c >= n) {
                stack[sp++] = za[c - n];
                stack[sp++] = zb[c - n];
            }
        }
    }
    size_t lw = 0;
    for (int i = 0; i < n; i++) lw = label_len(leaf_labels[i]) > lw ? label_len(leaf_labels[i]) : lw;
    const double step = fmax(12, fmin(40, 900.0 / n));
    const double x0 = 80, y0 = 56, ph = 380, pw = step * n;
    const double W = x0 + pw + 40, H = y0 + ph + 7.2 * (double)lw + 30;
    const double top = (cut > hmax ? cut : hmax) * 1.06;
    const double sc = top > 0 ? ph / top : 0;
#define XP(v) (x0 + ((v) + 0.5) * step)
#define YP(v) (y0 + ph - (v)*sc)
    sb_t b = {0};
    char ttl[96];
    snprintf(ttl, sizeof ttl, "Dendrogram (%d leaves)", n);
    svg_open(&b, W, H, ttl);
    /* y axis with ticks */
    sb_printf(&b, "<path class=\"axis\" d=\"M%.1f %.1fV%.1f\" stroke=\"#444\" stroke-width=\"1\"/>\n",
              x0 - 8, y0, y0 + ph);
    if (top > 0) {
        double raw = top / 5, p = pow(10, floor(log10(raw))), st = p;
        if (raw / p > 5) st = 10 * p;
        else if (raw / p > 2) st = 5 * p;
        else if (raw / p > 1) st = 2 * p;
        for (double v = 0; v <= top * (1 + 1e-12); v += st) {
            char vb[32];
            snprintf(vb, sizeof vb, "%g", fabs(v) < 1e-12 * top ? 0.0 : v);
            sb_printf(&b,
                      "<path class=\"tick\" d=\"M%.1f %.2fh-5\" stroke=\"#444\"/>"
                      "<text x=\"%.1f\" y=\"%.2f\" font-size=\"11\" text-anchor=\"end\" "
                      "dominant-baseline=\"central\" fill=\"#222\">%s</text>\n",
                      x0 - 8, YP(v), x0 - 16, YP(v), vb);
        }
    }
    sb_printf(&b,
              "<text x=\"20\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\" fill=\"#222\" "
              "transform=\"rotate(-90 20 %.1f)\">distance</text>\n",
              y0 + ph / 2, y0 + ph / 2);
    for (int i = 0; i < n - 1; i++) {
        const int id = n + i, a = za[i], c = zb[i];
        char col[8] = "#888888";
        if (group[id] >= 0) plot_class_colour(group[id], col);
        sb_printf(&b,
                  "<path class=\"link\" d=\"M%.2f %.2fV%.2fH%.2fV%.2f\" fill=\"none\" "
                  "stroke=\"%s\" stroke-width=\"1.6\"/>\n",
                  XP(x[a]), YP(h[a]), YP(h[id]), XP(x[c]), YP(h[c]), col);
    }
    for (int i = 0; i < n; i++) {
        const double lx = XP(x[i]), ly = y0 + ph + 8;
        sb_printf(&b,
                  "<text class=\"leaf\" x=\"%.2f\" y=\"%.2f\" font-size=\"%.0f\" "
                  "text-anchor=\"end\" dominant-baseline=\"central\" fill=\"#222\" "
                  "transform=\"rotate(-90 %.2f %.2f)\">",
                  lx, ly, fmin(12, step * 0.8), lx, ly);
        sb_text(&b, leaf_labels[i]);
        sb_printf(&b, "</text>\n");
    }
    if (cut > 0) {
        sb_printf(&b,
                  "<path class=\"cut\" d=\"M%.1f %.2fH%.1f\" stroke=\"#d62728\" "
                  "stroke-width=\"1.4\" stroke-dasharray=\"6 4\"/>\n"
                  "<text x=\"%.1f\" y=\"%.2f\" font-size=\"12\" text-anchor=\"end\" "
                  "fill=\"#d62728\">cut %g (%d groups)</text>\n",
                  x0 - 8, YP(cut), x0 + pw, x0 + pw, YP(cut) - 6, cut, ng);
    }
#undef XP
#undef YP
    sb_printf(&b, "</svg>\n");
    rc = write_atomic(path, &b, e);
out:
    free(used), free(order), free(stack), free(group), free(x), free(h);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Nice tick step for a range (1, 2, 5 x 10^k, about 5 ticks). */
static double nice_step(double range)
{
    double raw = range / 5, p = pow(10, floor(log10(raw))), st = p;
    if (raw / p > 5) st = 10 * p;
    else if (raw / p > 2) st = 5 * p;
    else if (raw / p > 1) st = 2 * p;
    return st;
}

int plot_kde_svg(const char *path, int64_t ngrid, const double *grid, const double *dens,
                 int ncut, const double *cuts, const int *region_colour,
                 const char *const *region_label, const char *xlabel, const char *title,
                 sd_err_t *e)
{
    if (!path || !grid || !dens || ngrid < 2 || ngrid > 10000000 || ncut < 0 || ncut > 64 ||
        (ncut > 0 && (!cuts || !region_colour)))
        return sd_err_set(e, SD_EINVAL, "KDE plot: bad arguments");
    double ymax = 0;
    for (int64_t g = 0; g < ngrid; g++) {
        if (!isfinite(grid[g]) || !isfinite(dens[g]) || dens[g] < 0 ||
            (g > 0 && !(grid[g] > grid[g - 1])))
            return sd_err_set(e, SD_ERANGE,
                              "KDE plot: point %lld (%g, %g) is not finite, negative or not "
                              "ascending",
                              (long long)g, grid[g], dens[g]);
        ymax = fmax(ymax, dens[g]);
    }
    for (int c = 0; c < ncut; c++)
        if (!isfinite(cuts[c]) || (c > 0 && cuts[c] < cuts[c - 1]))
            return sd_err_set(e, SD_ERANGE, "KDE plot: cut %d (%g) not finite or not ascending",
                              c, cuts[c]);
    if (region_label)
        for (int r = 0; r <= ncut; r++)
            if (!region_label[r]) return sd_err_set(e, SD_EINVAL, "KDE plot: label %d is NULL", r);
    if (ymax <= 0) ymax = 1;
    const double x0 = 80, y0 = 56, pw = 560, ph = 340, W = x0 + pw + 210, H = y0 + ph + 70;
    const double gx0 = grid[0], gx1 = grid[ngrid - 1], top = ymax * 1.08;
#define PX(v) (x0 + ((v)-gx0) / (gx1 - gx0) * pw)
#define PY(v) (y0 + ph - (v) / top * ph)
    sb_t b = {0};
    svg_open(&b, W, H, title);
    /* filled regions between cuts (density interpolated at each cut) */
    for (int r = 0; r <= ncut; r++) {
        const double lo = r == 0 ? gx0 : fmax(gx0, cuts[r - 1]);
        const double hi = r == ncut ? gx1 : fmin(gx1, cuts[r]);
        if (!(hi > lo)) continue;
        char col[8] = "#4c72b0";
        if (region_colour) plot_class_colour(region_colour[r], col);
        sb_printf(&b, "<path class=\"region\" d=\"M%.2f %.2f", PX(lo), PY(0));
        int64_t g = 0;
        while (g < ngrid && grid[g] < lo) g++;
        if (g > 0 && g < ngrid) { /* density at lo */
            double f = (lo - grid[g - 1]) / (grid[g] - grid[g - 1]);
            sb_printf(&b, "L%.2f %.2f", PX(lo), PY(dens[g - 1] + f * (dens[g] - dens[g - 1])));
        }
        for (; g < ngrid && grid[g] <= hi; g++) sb_printf(&b, "L%.2f %.2f", PX(grid[g]), PY(dens[g]));
        if (g < ngrid && g > 0) {
            double f = (hi - grid[g - 1]) / (grid[g] - grid[g - 1]);
            sb_printf(&b, "L%.2f %.2f", PX(hi), PY(dens[g - 1] + f * (dens[g] - dens[g - 1])));
        }
        sb_printf(&b, "L%.2f %.2fZ\" fill=\"%s\" fill-opacity=\"0.45\" stroke=\"none\"/>\n",
                  PX(hi), PY(0), col);
    }
    /* the curve */
    sb_printf(&b, "<path class=\"curve\" d=\"");
    for (int64_t g = 0; g < ngrid; g++)
        sb_printf(&b, "%c%.2f %.2f", g ? 'L' : 'M', PX(grid[g]), PY(dens[g]));
    sb_printf(&b, "\" fill=\"none\" stroke=\"#1a1a1a\" stroke-width=\"1.6\"/>\n");
    for (int c = 0; c < ncut; c++)
        if (cuts[c] > gx0 && cuts[c] < gx1)
            sb_printf(&b,
                      "<path class=\"cutline\" d=\"M%.2f %.2fV%.2f\" stroke=\"#555\" "
                      "stroke-width=\"1\" stroke-dasharray=\"4 3\"/>\n",
                      PX(cuts[c]), y0, y0 + ph);
    /* axes with ticks */
    sb_printf(&b,
              "<path class=\"axis\" d=\"M%.1f %.1fV%.1fH%.1f\" fill=\"none\" stroke=\"#444\" "
              "stroke-width=\"1\"/>\n",
              x0, y0, y0 + ph, x0 + pw);
    double st = nice_step(gx1 - gx0);
    for (double v = ceil(gx0 / st) * st; v <= gx1 + 1e-12 * st; v += st) {
        double vv = fabs(v) < 1e-9 * st ? 0 : v;
        sb_printf(&b,
                  "<path class=\"tick\" d=\"M%.2f %.1fv5\" stroke=\"#444\"/><text x=\"%.2f\" "
                  "y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\" fill=\"#222\">%g</text>\n",
                  PX(vv), y0 + ph, PX(vv), y0 + ph + 18, vv);
    }
    st = nice_step(top);
    for (double v = 0; v <= top; v += st)
        sb_printf(&b,
                  "<path class=\"tick\" d=\"M%.1f %.2fh-5\" stroke=\"#444\"/><text x=\"%.1f\" "
                  "y=\"%.2f\" font-size=\"11\" text-anchor=\"end\" dominant-baseline=\"central\" "
                  "fill=\"#222\">%g</text>\n",
                  x0, PY(v), x0 - 8, PY(v), v);
    sb_printf(&b,
              "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\" "
              "fill=\"#222\">",
              x0 + pw / 2, y0 + ph + 44);
    sb_text(&b, xlabel ? xlabel : "value");
    sb_printf(&b,
              "</text>\n<text x=\"22\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\" "
              "fill=\"#222\" transform=\"rotate(-90 22 %.1f)\">density</text>\n",
              y0 + ph / 2, y0 + ph / 2);
    if (region_label)
        for (int r = 0; r <= ncut; r++) {
            char col[8] = "#4c72b0";
            if (region_colour) plot_class_colour(region_colour[r], col);
            const double ly = y0 + 10 + r * 22;
            sb_printf(&b,
                      "<rect class=\"legend\" x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"14\" "
                      "fill=\"%s\" fill-opacity=\"0.6\"/><text x=\"%.1f\" y=\"%.1f\" "
                      "font-size=\"12\" dominant-baseline=\"central\" fill=\"#222\">",
                      x0 + pw + 20, ly, col, x0 + pw + 40, ly + 7);
            sb_text(&b, region_label[r]);
            sb_printf(&b, "</text>\n");
        }
#undef PX
#undef PY
    sb_printf(&b, "</svg>\n");
    return write_atomic(path, &b, e);
}
