/* sd_textio — internal helpers shared by proto's text and binary format code
 * (xyz, LAMMPS data, npy, images): a line source over a FILE or a memory
 * buffer, strict number parsing, shortest round-trip double formatting and
 * atomic file replacement.  Not a stable API for other stages. */
#ifndef SD_TEXTIO_H
#define SD_TEXTIO_H

#include "sd_err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct sd_linesrc {
    FILE *f;            /* borrowed or owned (own_f) */
    int own_f;
    const char *buf;    /* memory source (borrowed), when f == NULL */
    size_t len, pos;
    char *line;         /* current line, NUL-terminated, without "\r\n" */
    size_t cap;
    size_t linelen;
    long lineno;        /* 1-based number of the current line */
    int64_t size;       /* total bytes when known, else -1 */
    int64_t offset;     /* bytes consumed so far */
} sd_linesrc_t;

/* Opens a file line source; SD_OK or an error naming `path`. */
int sd_linesrc_open_file(sd_linesrc_t *s, const char *path, sd_err_t *e);
/* A line source over buf[0..len) (borrowed). */
void sd_linesrc_open_mem(sd_linesrc_t *s, const void *buf, size_t len);
void sd_linesrc_close(sd_linesrc_t *s);
/* Next line: 1 on a line (s->line), 0 at end of input, < 0 on error (NUL byte,
 * I/O failure); `name` prefixes messages. */
int sd_linesrc_next(sd_linesrc_t *s, const char *name, sd_err_t *e);
/* Bytes left after the current position, or -1 when unknown. */
int64_t sd_linesrc_remaining(const sd_linesrc_t *s);

/* Splits s (modified in place) on whitespace into tok[0..max); returns the
 * count, or max + 1 to signal "too many". */
int sd_split_ws(char *s, char **tok, int max);

/* Whole token must be a finite double / an int64; 0 on success, -1 otherwise. */
int sd_parse_f64(const char *tok, double *out);
int sd_parse_i64(const char *tok, int64_t *out);
/* %g-style text with 15, 16 or 17 significant digits (the fewest that work,
 * almost always) that strtod reads back to exactly v, sign of zero included. */
void sd_fmt_f64(char buf[32], double v);

/* Whole file into a malloc'd buffer (NUL-terminated, *len excludes it), refusing
 * files over max_bytes. */
int sd_read_file(const char *path, int64_t max_bytes, char **buf, size_t *len, sd_err_t *e);

/* Atomic replacement: open a temporary sibling of `path` for writing,
 * then commit (flush, fsync, rename) or abort (unlink). */
typedef struct sd_atomic_file {
    FILE *f;
    char tmp[4096];
    char path[4096];
} sd_atomic_file_t;
int sd_atomic_open(sd_atomic_file_t *af, const char *path, sd_err_t *e);
int sd_atomic_commit(sd_atomic_file_t *af, sd_err_t *e);
void sd_atomic_abort(sd_atomic_file_t *af);

#endif
