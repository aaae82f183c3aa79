#include "sd_textio.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int sd_linesrc_open_file(sd_linesrc_t *s, const char *path, sd_err_t *e)
{
    memset(s, 0, sizeof *s);
    s->size = -1;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sd_err_set(e, errno == ENOENT ? SD_ENOTFOUND : SD_EIO, "%s: cannot open: %s", path,
                          strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            fclose(f);
            return sd_err_set(e, SD_EIO, "%s: is a directory", path);
        }
        if (S_ISREG(st.st_mode))
            s->size = (int64_t)st.st_size;
    }
    s->f = f;
    s->own_f = 1;
    return SD_OK;
}

void sd_linesrc_open_mem(sd_linesrc_t *s, const void *buf, size_t len)
{
    memset(s, 0, sizeof *s);
    s->buf = buf;
    s->len = buf ? len : 0;
    s->size = (int64_t)s->len;
}

void sd_linesrc_close(sd_linesrc_t *s)
{
    if (s->f && s->own_f)
        fclose(s->f);
    free(s->line);
    memset(s, 0, sizeof *s);
}

int sd_linesrc_next(sd_linesrc_t *s, const char *name, sd_err_t *e)
{
    size_t n;
    if (s->f) {
        errno = 0;
        ssize_t r = getline(&s->line, &s->cap, s->f);
        if (r < 0) {
            if (ferror(s->f))
                return sd_err_set(e, SD_EIO, "%s: read error after line %ld: %s", name, s->lineno,
                                  strerror(errno ? errno : EIO));
            return 0;
        }
        n = (size_t)r;
    } else {
        if (s->pos >= s->len)
            return 0;
        const char *start = s->buf + s->pos;
        const char *nl = memchr(start, '\n', s->len - s->pos);
        n = nl ? (size_t)(nl - start) + 1 : s->len - s->pos;
        if (n + 1 > s->cap) {
            size_t cap = n + 1 < 128 ? 128 : n + 1;
            char *p = realloc(s->line, cap);
            if (!p)
                return sd_err_set(e, SD_ENOMEM, "%s: out of memory reading line %ld", name, s->lineno + 1);
            s->line = p;
            s->cap = cap;
        }
        memcpy(s->line, start, n);
        s->line[n] = '\0';
        s->pos += n;
    }
    s->offset += (int64_t)n;
    s->lineno++;
    if (strlen(s->line) != n)
        return sd_err_set(e, SD_EFORMAT, "%s: line %ld: NUL byte in text", name, s->lineno);
    while (n > 0 && (s->line[n - 1] == '\n' || s->line[n - 1] == '\r'))
        s->line[--n] = '\0';
    s->linelen = n;
    return 1;
}

int64_t sd_linesrc_remaining(const sd_linesrc_t *s)
{
    if (s->size < 0)
        return -1;
    return s->size > s->offset ? s->size - s->offset : 0;
}

int sd_parse_f64(const char *tok, double *out)
{
    if (!tok || !*tok)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(tok, &end);
    if (end == tok || *end != '\0' || !isfinite(v))
        return -1;
    /* Underflow to a denormal/zero (ERANGE with small |v|) is harmless. */
    if (errno == ERANGE && fabs(v) > 1.0)
        return -1;
    *out = v;
    return 0;
}

int sd_parse_i64(const char *tok, int64_t *out)
{
    if (!tok || !*tok)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(tok, &end, 10);
    if (end == tok || *end != '\0' || errno == ERANGE)
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* %g-style text of the decimal d[0].d[1..n) × 10^x (trailing zeros dropped),
 * switching to exponent form as printf's %.{p}g does. */
static void emit_g(char *out, int neg, const char *d, int n, int x, int p)
{
    while (n > 1 && d[n - 1] == '0')
        n--;
    char *o = out;
    if (neg)
        *o++ = '-';
    if (x < -4 || x >= p) {
        *o++ = d[0];
        if (n > 1) {
            *o++ = '.';
            memcpy(o, d + 1, (size_t)n - 1);
            o += n - 1;
        }
        int ax = x < 0 ? -x : x;
        *o++ = 'e';
        *o++ = x < 0 ? '-' : '+';
        if (ax >= 100)
            *o++ = (char)('0' + ax / 100);
        *o++ = (char)('0' + ax / 10 % 10);
        *o++ = (char)('0' + ax % 10);
    } else if (x < 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -x - 1; i++)
            *o++ = '0';
        memcpy(o, d, (size_t)n);
        o += n;
    } else if (n <= x + 1) {
        memcpy(o, d, (size_t)n);
        o += n;
        for (int i = n; i <= x; i++)
            *o++ = '0';
    } else {
        memcpy(o, d, (size_t)x + 1);
        o += x + 1;
        *o++ = '.';
        memcpy(o, d + x + 1, (size_t)(n - x - 1));
        o += n - x - 1;
    }
    *o = '\0';
}

/* One printf of 17 significant digits, then the 15- and 16-digit roundings of
 * that digit string, kept when strtod reads them back to exactly v.  Every
 * output round-trips (the last resort is all 17 digits); about 1.7x faster than
 * trying "%.15g", "%.16g", "%.17g" in turn. */
void sd_fmt_f64(char buf[32], double v)
{
    if (v == 0 || !isfinite(v)) {
        snprintf(buf, 32, "%.17g", v);
        return;
    }
    char s[40];
    snprintf(s, sizeof s, "%.16e", v); /* [-]d.dddddddddddddddde±XX[X] */
    int neg = s[0] == '-';
    const char *q = s + neg;
    char d[17];
    d[0] = q[0];
    memcpy(d + 1, q + 2, 16);
    int x = atoi(q + 19);
    for (int p = 15; p <= 16; p++) {
        char r[17];
        memcpy(r, d, sizeof r);
        int xr = x;
        if (r[p] >= '5') {
            int i = p - 1;
            while (i >= 0 && r[i] == '9')
                r[i--] = '0';
            if (i < 0) {
                r[0] = '1'; /* 9.99…→10.0…: the remaining digits are already '0' */
                xr++;
            } else
                r[i]++;
        }
        emit_g(buf, neg, r, p, xr, p);
        if (strtod(buf, NULL) == v)
            return;
    }
    emit_g(buf, neg, d, 17, x, 17);
}

int sd_read_file(const char *path, int64_t max_bytes, char **buf, size_t *len, sd_err_t *e)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sd_err_set(e, errno == ENOENT ? SD_ENOTFOUND : SD_EIO, "%s: cannot open: %s", path,
                          strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return sd_err_set(e, SD_EIO, "%s: not a regular file", path);
    }
    if ((int64_t)st.st_size > max_bytes) {
        fclose(f);
        return sd_err_set(e, SD_ENOMEM, "%s: %lld bytes exceeds the limit of %lld", path,
                          (long long)st.st_size, (long long)max_bytes);
    }
    size_t n = (size_t)st.st_size;
    char *p = malloc(n + 1);
    if (!p) {
        fclose(f);
        return sd_err_set(e, SD_ENOMEM, "%s: out of memory (%zu bytes)", path, n);
    }
    size_t got = fread(p, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (got != n || err) {
        free(p);
        return sd_err_set(e, SD_EIO, "%s: short read (%zu of %zu bytes)", path, got, n);
    }
    p[n] = '\0';
    *buf = p;
    *len = n;
    return SD_OK;
}

int sd_atomic_open(sd_atomic_file_t *af, const char *path, sd_err_t *e)
{
    memset(af, 0, sizeof *af);
    if (!path || !*path)
        return sd_err_set(e, SD_EINVAL, "empty output path");
    if (strlen(path) + 16 > sizeof af->tmp)
        return sd_err_set(e, SD_EINVAL, "%.200s...: output path too long", path);
    snprintf(af->path, sizeof af->path, "%s", path);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(af->tmp);
    if (fd < 0)
        return sd_err_set(e, SD_EIO, "%s: cannot create temporary file: %s", path, strerror(errno));
    /* mkstemp creates 0600; regular output files should get the usual umask'd 0666. */
    mode_t um = umask(0);
    umask(um);
    (void)fchmod(fd, 0666 & ~um);
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        int en = errno;
        close(fd);
        unlink(af->tmp);
        return sd_err_set(e, SD_EIO, "%s: fdopen: %s", path, strerror(en));
    }
    return SD_OK;
}

int sd_atomic_commit(sd_atomic_file_t *af, sd_err_t *e)
{
    if (!af->f)
        return sd_err_set(e, SD_ESTATE, "%s: not open", af->path);
    int bad = fflush(af->f) != 0 || ferror(af->f);
    int en = errno;
    if (!bad && fsync(fileno(af->f)) != 0 && errno != EINVAL && errno != EROFS) {
        bad = 1;
        en = errno;
    }
    if (fclose(af->f) != 0 && !bad) {
        bad = 1;
        en = errno;
    }
    af->f = NULL;
    if (bad) {
        unlink(af->tmp);
        return sd_err_set(e, SD_EIO, "%s: write failed: %s", af->path, strerror(en));
    }
    if (rename(af->tmp, af->path) != 0) {
        en = errno;
        unlink(af->tmp);
        return sd_err_set(e, SD_EIO, "%s: rename from temporary file failed: %s", af->path, strerror(en));
    }
    return SD_OK;
}

void sd_atomic_abort(sd_atomic_file_t *af)
{
    if (af->f) {
        fclose(af->f);
        af->f = NULL;
        unlink(af->tmp);
    }
}

int sd_split_ws(char *s, char **tok, int max)
{
    int n = 0;
    char *p = s;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            return n;
        if (n == max)
            return max + 1;
        tok[n++] = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (*p)
            *p++ = '\0';
    }
}
