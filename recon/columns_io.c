/* columns_io — recon_columns_t storage and its columns.csv form.
 *
 * The CSV is the hand-over between counting and 3D reconstruction (and what a
 * user edits by hand), so the reader is strict about values (finite numbers,
 * integer counts, no missing fields) but lenient about layout: any column
 * order, extra columns ignored, CRLF line ends, blank lines skipped. */
#include "recon.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int recon_columns_alloc(recon_columns_t *c, int64_t n, sd_err_t *e)
{
    if (!c) return sd_err_set(e, SD_EINVAL, "recon_columns_alloc: NULL columns");
    memset(c, 0, sizeof *c);
    /* 2^28 columns would be a 16k×16k image full of columns spaced 1 px apart:
     * anything above is a corrupted count, not an image. */
    if (n < 0 || n > ((int64_t)1 << 28))
        return sd_err_set(e, SD_ERANGE, "recon_columns_alloc: column count %lld out of range",
                          (long long)n);
    size_t m = n > 0 ? (size_t)n : 1; /* malloc(0) may return NULL: keep pointers valid */
    c->x = calloc(m, sizeof *c->x);
    c->y = calloc(m, sizeof *c->y);
    c->eta = calloc(m, sizeof *c->eta);
    c->rho = calloc(m, sizeof *c->rho);
    c->scs = calloc(m, sizeof *c->scs);
    c->count = malloc(m * sizeof *c->count);
    c->prob = calloc(m, sizeof *c->prob);
    if (!c->x || !c->y || !c->eta || !c->rho || !c->scs || !c->count || !c->prob) {
        recon_columns_free(c);
        return sd_err_set(e, SD_ENOMEM, "recon_columns_alloc: out of memory for %lld columns",
                          (long long)n);
    }
    for (size_t i = 0; i < m; i++) c->count[i] = -1;
    c->n = n;
    return SD_OK;
}

void recon_columns_free(recon_columns_t *c)
{
    if (!c) return;
    free(c->x);
    free(c->y);
    free(c->eta);
    free(c->rho);
    free(c->scs);
    free(c->count);
    free(c->prob);
    memset(c, 0, sizeof *c);
}

int recon_columns_write_csv(const char *path, const recon_columns_t *c, sd_err_t *e)
{
    if (!path || !c) return sd_err_set(e, SD_EINVAL, "recon_columns_write_csv: NULL argument");
    if (c->n > 0 && (!c->x || !c->y || !c->eta || !c->rho || !c->scs || !c->count || !c->prob))
        return sd_err_set(e, SD_EINVAL, "recon_columns_write_csv: columns not allocated");
    FILE *f = fopen(path, "w");
    if (!f) return sd_err_set(e, SD_EIO, "%s: cannot open for writing: %s", path, strerror(errno));
    fprintf(f, "x,y,eta,rho,scs,count,probability\n");
    for (int64_t i = 0; i < c->n; i++)
        fprintf(f, "%.10g,%.10g,%.10g,%.10g,%.10g,%d,%.10g\n", c->x[i], c->y[i], c->eta[i],
                c->rho[i], c->scs[i], (int)c->count[i], c->prob[i]);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return sd_err_set(e, SD_EIO, "%s: write failed: %s", path, strerror(errno));
    return SD_OK;
}

/* ---- reader ---- */

enum { F_X, F_Y, F_ETA, F_RHO, F_SCS, F_COUNT, F_PROB, F_NFIELDS };
static const char *const field_names[F_NFIELDS] = {"x", "y", "eta", "rho", "scs", "count",
                                                   "probability"};

#define CSV_MAX_COLS 64

/* Strips trailing CR/LF and surrounding blanks in place. */
static char *trim(char *s)
{
    while (*s && isspace((unsigned char)*s)) s++;
    size_t l = strlen(s);
    while (l > 0 && isspace((unsigned char)s[l - 1])) s[--l] = '\0';
    return s;
}

/* Splits a line at commas in place; returns the number of fields (or -1 if
 * more than max).  Fields are trimmed; quotes are not part of this format. */
static int split(char *line, char **fld, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n >= max) return -1;
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        fld[n++] = trim(p);
        if (!comma) break;
        p = comma + 1;
    }
    return n;
}

static int blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s)) return 0;
    return 1;
}

/* Reads the next line of any length into *buf (grown as needed); returns 0 at
 * EOF with nothing read, 1 on a line, -1 on allocation failure. */
static int read_line(FILE *f, char **buf, size_t *cap)
{
    size_t len = 0;
    int ch;
    int any = 0;
    while ((ch = fgetc(f)) != EOF) {
        any = 1;
        if (len + 2 > *cap) {
            size_t nc = *cap ? *cap * 2 : 256;
            char *nb = realloc(*buf, nc);
            if (!nb) return -1;
            *buf = nb;
            *cap = nc;
        }
        if (ch == '\n') break;
        (*buf)[len++] = (char)ch;
    }
    if (!any) return 0;
    (*buf)[len] = '\0'; /* any=1 implies the buffer was grown at least once */
    return 1;
}

static int parse_num(const char *s, double *v)
{
    if (!*s) return -1;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(d)) return -1;
    *v = d;
    return 0;
}

static int parse_count(const char *s, int32_t *v)
{
    if (!*s) return -1;
    char *end;
    errno = 0;
    long long k = strtoll(s, &end, 10);
    if (*end == '.') { /* "12.0" from a spreadsheet: accept integral values only */
        double d;
        if (parse_num(s, &d) || d != floor(d) || fabs(d) > 1e9) return -1;
        *v = (int32_t)d;
        return 0;
    }
    if (*end || errno == ERANGE || k < -1 || k > 1000000) return -1;
    *v = (int32_t)k;
    return 0;
}

int recon_columns_read_csv(const char *path, recon_columns_t *c, sd_err_t *e)
{
    if (!path || !c) return sd_err_set(e, SD_EINVAL, "recon_columns_read_csv: NULL argument");
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "r");
    if (!f)
        return sd_err_set(e, errno == ENOENT ? SD_ENOTFOUND : SD_EIO, "%s: cannot open: %s", path,
                          strerror(errno));

    char *line = NULL;
    size_t cap = 0;
    int rc = SD_OK;
    int map[F_NFIELDS];
    for (int k = 0; k < F_NFIELDS; k++) map[k] = -1;
    char *fld[CSV_MAX_COLS];
    int ncol = 0;
    int64_t lineno = 0;
    int r;

    /* header: first non-blank line */
    while ((r = read_line(f, &line, &cap)) == 1) {
        lineno++;
        if (!blank(line)) break;
    }
    if (r < 0) {
        rc = sd_err_set(e, SD_ENOMEM, "%s: out of memory reading header", path);
        goto done;
    }
    if (r == 0) {
        rc = sd_err_set(e, SD_EFORMAT, "%s: empty file (expected header x,y,...,count)", path);
        goto done;
    }
    /* a UTF-8 BOM from spreadsheet exports */
    char *hdr = line;
    if ((unsigned char)hdr[0] == 0xEF && (unsigned char)hdr[1] == 0xBB &&
        (unsigned char)hdr[2] == 0xBF)
        hdr += 3;
    ncol = split(hdr, fld, CSV_MAX_COLS);
    if (ncol < 0) {
        rc = sd_err_set(e, SD_EFORMAT, "%s:%lld: more than %d columns in header", path,
                        (long long)lineno, CSV_MAX_COLS);
        goto done;
    }
    for (int j = 0; j < ncol; j++)
        for (int k = 0; k < F_NFIELDS; k++)
            if (!strcmp(fld[j], field_names[k])) {
                if (map[k] >= 0) {
                    rc = sd_err_set(e, SD_EFORMAT, "%s:%lld: column '%s' appears twice", path,
                                    (long long)lineno, field_names[k]);
                    goto done;
                }
                map[k] = j;
            }
    if (map[F_X] < 0 || map[F_Y] < 0 || map[F_COUNT] < 0) {
        rc = sd_err_set(e, SD_EFORMAT, "%s:%lld: header needs columns x, y and count (got '%s')",
                        path, (long long)lineno, fld[0]);
        goto done;
    }

    /* rows: grow arrays geometrically */
    int64_t n = 0, ncap = 0;
    recon_columns_t t;
    memset(&t, 0, sizeof t);
    while ((r = read_line(f, &line, &cap)) == 1) {
        lineno++;
        if (blank(line)) continue;
        int nf = split(line, fld, CSV_MAX_COLS);
        if (nf != ncol) {
            rc = sd_err_set(e, SD_EFORMAT, "%s:%lld: %d fields, header has %d", path,
                            (long long)lineno, nf < 0 ? CSV_MAX_COLS + 1 : nf, ncol);
            break;
        }
        if (n == ncap) {
            int64_t nc = ncap ? ncap * 2 : 64;
            recon_columns_t g;
            rc = recon_columns_alloc(&g, nc, e);
            if (rc) break;
            if (n > 0) {
                memcpy(g.x, t.x, (size_t)n * sizeof *g.x);
                memcpy(g.y, t.y, (size_t)n * sizeof *g.y);
                memcpy(g.eta, t.eta, (size_t)n * sizeof *g.eta);
                memcpy(g.rho, t.rho, (size_t)n * sizeof *g.rho);
                memcpy(g.scs, t.scs, (size_t)n * sizeof *g.scs);
                memcpy(g.count, t.count, (size_t)n * sizeof *g.count);
                memcpy(g.prob, t.prob, (size_t)n * sizeof *g.prob);
            }
            recon_columns_free(&t);
            t = g;
            ncap = nc;
        }
        double *dst[F_NFIELDS] = {t.x + n, t.y + n, t.eta + n, t.rho + n, t.scs + n, NULL,
                                  t.prob + n};
        for (int k = 0; k < F_NFIELDS && !rc; k++) {
            if (map[k] < 0) continue;
            const char *s = fld[map[k]];
            if (k == F_COUNT) {
                if (parse_count(s, t.count + n))
                    rc = sd_err_set(e, SD_EFORMAT,
                                    "%s:%lld: count '%s' is not an integer >= -1", path,
                                    (long long)lineno, s);
            } else if (parse_num(s, dst[k])) {
                rc = sd_err_set(e, SD_EFORMAT, "%s:%lld: %s '%s' is not a finite number", path,
                                (long long)lineno, field_names[k], s);
            } else if (k == F_PROB && (*dst[k] < 0 || *dst[k] > 1)) {
                rc = sd_err_set(e, SD_ERANGE, "%s:%lld: probability %s outside 0..1", path,
                                (long long)lineno, s);
            }
        }
        if (rc) break;
        n++;
    }
    if (!rc && r < 0) rc = sd_err_set(e, SD_ENOMEM, "%s: out of memory reading line", path);
    if (!rc && ferror(f)) rc = sd_err_set(e, SD_EIO, "%s: read error", path);
    if (rc) {
        recon_columns_free(&t);
        goto done;
    }
    if (ncap == 0) {
        rc = recon_columns_alloc(&t, 0, e);
        if (rc) goto done;
    }
    t.n = n;
    *c = t;
done:
    free(line);
    fclose(f);
    return rc;
}
