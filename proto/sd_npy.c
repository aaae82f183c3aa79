#include "sd_npy.h"

#include "sd_textio.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sd_npy assumes a little-endian host"
#endif

#define MAX_HEADER_LEN (1u << 20)

typedef struct npy_hdr {
    sd_npy_dtype_t dtype;
    int esize;
    int swap;     /* big-endian data */
    int is_bool;  /* '|b1': normalise to 0/1 */
    int fortran;
    int ndim;
    int64_t shape[SD_NPY_MAX_DIMS];
    int64_t count;
    size_t data_off;
} npy_hdr_t;

int sd_npy_dtype_size(sd_npy_dtype_t t)
{
    switch (t) {
    case SD_NPY_F64: case SD_NPY_I64: return 8;
    case SD_NPY_F32: case SD_NPY_I32: return 4;
    case SD_NPY_U8: return 1;
    }
    return 0;
}

const char *sd_npy_dtype_name(sd_npy_dtype_t t)
{
    switch (t) {
    case SD_NPY_F64: return "<f8";
    case SD_NPY_F32: return "<f4";
    case SD_NPY_I64: return "<i8";
    case SD_NPY_I32: return "<i4";
    case SD_NPY_U8: return "|u1";
    }
    return "?";
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* Python string literal in '…' or "…" (no escapes needed for npy keys). */
static const char *parse_pystr(const char *p, const char *end, char *out, size_t cap)
{
    if (p >= end || (*p != '\'' && *p != '"'))
        return NULL;
    char q = *p++;
    size_t n = 0;
    while (p < end && *p != q) {
        if (*p == '\\' || n + 1 >= cap)
            return NULL;
        out[n++] = *p++;
    }
    if (p >= end)
        return NULL;
    out[n] = '\0';
    return p + 1;
}

static int parse_descr(const char *d, npy_hdr_t *h)
{
    size_t n = strlen(d);
    if (n < 3)
        return -1;
    char bo = d[0], k = d[1];
    int64_t sz;
    if (sd_parse_i64(d + 2, &sz))
        return -1;
    if (bo != '<' && bo != '>' && bo != '|' && bo != '=')
        return -1;
    h->swap = bo == '>' && sz > 1;
    h->is_bool = 0;
    if (k == 'f' && sz == 8)
        h->dtype = SD_NPY_F64;
    else if (k == 'f' && sz == 4)
        h->dtype = SD_NPY_F32;
    else if (k == 'i' && sz == 8)
        h->dtype = SD_NPY_I64;
    else if (k == 'i' && sz == 4)
        h->dtype = SD_NPY_I32;
    else if ((k == 'u' || k == 'b') && sz == 1) {
        h->dtype = SD_NPY_U8;
        h->is_bool = k == 'b';
    } else
        return -1;
    if (bo == '|' && sz != 1)
        return -1;
    h->esize = (int)sz;
    return 0;
}

static int parse_header(const unsigned char *buf, size_t avail, int64_t total, const char *nm, npy_hdr_t *h,
                        sd_err_t *e)
{
    memset(h, 0, sizeof *h);
    if (avail < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return sd_err_set(e, SD_EFORMAT, "%s: not an .npy file (bad magic)", nm);
    int major = buf[6], minor = buf[7];
    if (major < 1 || major > 3 || minor != 0)
        return sd_err_set(e, SD_EVERSION, "%s: unsupported .npy format version %d.%d", nm, major, minor);
    size_t hlen, start;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        start = 10;
    } else {
        if (avail < 12)
            return sd_err_set(e, SD_EFORMAT, "%s: truncated .npy header", nm);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        start = 12;
    }
    if (hlen > MAX_HEADER_LEN)
        return sd_err_set(e, SD_EFORMAT, "%s: .npy header length %zu is implausible", nm, hlen);
    if (avail < start + hlen)
        return sd_err_set(e, SD_EFORMAT, "%s: truncated .npy header (%zu of %zu bytes)", nm,
                          avail > start ? avail - start : 0, hlen);
    const char *p = (const char *)buf + start, *end = p + hlen;
    if (hlen == 0 || end[-1] != '\n')
        return sd_err_set(e, SD_EFORMAT, "%s: .npy header does not end with a newline", nm);
    for (const char *q = p; q < end; q++)
        if ((unsigned char)*q < 0x20 && *q != '\n' && *q != '\t')
            return sd_err_set(e, SD_EFORMAT, "%s: control character in .npy header", nm);
    end--; /* drop the newline */
    p = skip_ws(p, end);
    if (p >= end || *p++ != '{')
        return sd_err_set(e, SD_EFORMAT, "%s: .npy header is not a dict", nm);
    int got_descr = 0, got_fo = 0, got_shape = 0;
    for (;;) {
        p = skip_ws(p, end);
        if (p < end && *p == '}') {
            p++;
            break;
        }
        char key[32];
        p = parse_pystr(p, end, key, sizeof key);
        if (!p)
            return sd_err_set(e, SD_EFORMAT, "%s: .npy header: expected a quoted key", nm);
        p = skip_ws(p, end);
        if (p >= end || *p++ != ':')
            return sd_err_set(e, SD_EFORMAT, "%s: .npy header: expected ':' after '%s'", nm, key);
        p = skip_ws(p, end);
        if (!strcmp(key, "descr")) {
            char d[32];
            if (got_descr++)
                return sd_err_set(e, SD_EFORMAT, "%s: .npy header: duplicate 'descr'", nm);
            p = parse_pystr(p, end, d, sizeof d);
            if (!p)
                return sd_err_set(e, SD_EFORMAT, "%s: .npy header: 'descr' is not a simple type string", nm);
            if (parse_descr(d, h))
                return sd_err_set(e, SD_EFORMAT, "%s: unsupported dtype '%s' (want f8 f4 i8 i4 u1 b1)", nm, d);
        } else if (!strcmp(key, "fortran_order")) {
            if (got_fo++)
                return sd_err_set(e, SD_EFORMAT, "%s: .npy header: duplicate 'fortran_order'", nm);
            if (end - p >= 4 && !memcmp(p, "True", 4)) {
                h->fortran = 1;
                p += 4;
            } else if (end - p >= 5 && !memcmp(p, "False", 5)) {
                h->fortran = 0;
                p += 5;
            } else
                return sd_err_set(e, SD_EFORMAT, "%s: .npy header: fortran_order must be True or False", nm);
        } else if (!strcmp(key, "shape")) {
            if (got_shape++)
                return sd_err_set(e, SD_EFORMAT, "%s: .npy header: duplicate 'shape'", nm);
            if (p >= end || *p++ != '(')
                return sd_err_set(e, SD_EFORMAT, "%s: .npy header: shape must be a tuple", nm);
            h->ndim = 0;
            for (;;) {
                p = skip_ws(p, end);
                if (p < end && *p == ')') {
                    p++;
                    break;
                }
                if (p >= end || !isdigit((unsigned char)*p))
                    return sd_err_set(e, SD_EFORMAT, "%s: .npy header: bad shape entry", nm);
                int64_t v = 0;
                while (p < end && isdigit((unsigned char)*p)) {
                    if (v > (INT64_MAX - 9) / 10)
                        return sd_err_set(e, SD_ENOMEM, "%s: .npy shape dimension too large", nm);
                    v = v * 10 + (*p++ - '0');
                }
                if (p < end && *p == 'L')
                    p++; /* Python 2 long suffix */
                if (h->ndim >= SD_NPY_MAX_DIMS)
                    return sd_err_set(e, SD_EFORMAT, "%s: .npy array has more than %d dimensions", nm,
                                      SD_NPY_MAX_DIMS);
                h->shape[h->ndim++] = v;
                p = skip_ws(p, end);
                if (p < end && *p == ',') {
                    p++;
                    continue;
                }
                if (p < end && *p == ')') {
                    if (h->ndim == 1)
                        return sd_err_set(e, SD_EFORMAT, "%s: .npy header: 1-tuple shape needs a comma", nm);
                    p++;
                    break;
                }
                return sd_err_set(e, SD_EFORMAT, "%s: .npy header: bad shape tuple", nm);
            }
        } else
            return sd_err_set(e, SD_EFORMAT, "%s: .npy header: unexpected key '%s'", nm, key);
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}') {
            p++;
            break;
        }
        return sd_err_set(e, SD_EFORMAT, "%s: .npy header: expected ',' or '}'", nm);
    }
    p = skip_ws(p, end);
    if (p != end)
        return sd_err_set(e, SD_EFORMAT, "%s: .npy header: trailing text after the dict", nm);
    if (!got_descr || !got_fo || !got_shape)
        return sd_err_set(e, SD_EFORMAT, "%s: .npy header lacks %s", nm,
                          !got_descr ? "'descr'" : !got_fo ? "'fortran_order'" : "'shape'");
    int64_t count = 1;
    for (int i = 0; i < h->ndim; i++) {
        if (h->shape[i] != 0 && count > SD_NPY_MAX_BYTES / h->shape[i])
            return sd_err_set(e, SD_ENOMEM, "%s: .npy array larger than the %lld-byte limit", nm,
                              (long long)SD_NPY_MAX_BYTES);
        count *= h->shape[i];
    }
    if (count > SD_NPY_MAX_BYTES / h->esize)
        return sd_err_set(e, SD_ENOMEM, "%s: .npy array of %lld elements exceeds the %lld-byte limit", nm,
                          (long long)count, (long long)SD_NPY_MAX_BYTES);
    h->count = count;
    h->data_off = start + hlen;
    int64_t want = (int64_t)h->data_off + count * h->esize;
    if (total >= 0 && total != want)
        return sd_err_set(e, SD_EFORMAT, "%s: file has %lld bytes, header implies %lld (truncated or trailing data)",
                          nm, (long long)total, (long long)want);
    return SD_OK;
}

static void bswap_inplace(unsigned char *d, int64_t count, int esize)
{
    for (int64_t i = 0; i < count; i++) {
        unsigned char *x = d + i * esize;
        for (int a = 0, b = esize - 1; a < b; a++, b--) {
            unsigned char t = x[a];
            x[a] = x[b];
            x[b] = t;
        }
    }
}

/* Fortran (first index fastest) → C order. */
static int f_to_c(void **data, const npy_hdr_t *h, const char *nm, sd_err_t *e)
{
    if (h->ndim < 2 || h->count == 0)
        return SD_OK;
    unsigned char *src = *data, *dst = malloc((size_t)(h->count * h->esize));
    if (!dst)
        return sd_err_set(e, SD_ENOMEM, "%s: out of memory transposing a Fortran-order array", nm);
    int64_t cstride[SD_NPY_MAX_DIMS], idx[SD_NPY_MAX_DIMS] = {0};
    cstride[h->ndim - 1] = 1;
    for (int k = h->ndim - 2; k >= 0; k--)
        cstride[k] = cstride[k + 1] * h->shape[k + 1];
    int64_t off = 0;
    for (int64_t L = 0; L < h->count; L++) {
        memcpy(dst + off * h->esize, src + L * h->esize, (size_t)h->esize);
        for (int k = 0; k < h->ndim; k++) {
            idx[k]++;
            off += cstride[k];
            if (idx[k] < h->shape[k])
                break;
            off -= idx[k] * cstride[k];
            idx[k] = 0;
        }
    }
    free(src);
    *data = dst;
    return SD_OK;
}

static int finish(void *data, const npy_hdr_t *h, sd_npy_t *out, const char *nm, sd_err_t *e)
{
    if (h->swap)
        bswap_inplace(data, h->count, h->esize);
    if (h->is_bool) {
        unsigned char *b = data;
        for (int64_t i = 0; i < h->count; i++)
            b[i] = b[i] != 0;
    }
    if (h->fortran && f_to_c(&data, h, nm, e)) {
        free(data);
        return e ? e->code : SD_ENOMEM;
    }
    out->dtype = h->dtype;
    out->ndim = h->ndim;
    memcpy(out->shape, h->shape, sizeof out->shape);
    out->count = h->count;
    out->data = data;
    return SD_OK;
}

int sd_npy_read_mem(const void *buf, size_t len, const char *name, sd_npy_t *out, sd_err_t *e)
{
    if (!out)
        return sd_err_set(e, SD_EINVAL, "sd_npy_read_mem: NULL argument");
    memset(out, 0, sizeof *out);
    const char *nm = name ? name : "(memory)";
    if (!buf)
        len = 0;
    npy_hdr_t h;
    int rc = parse_header(buf, len, (int64_t)len, nm, &h, e);
    if (rc)
        return rc;
    size_t nb = (size_t)(h.count * h.esize);
    void *data = malloc(nb ? nb : 1);
    if (!data)
        return sd_err_set(e, SD_ENOMEM, "%s: out of memory (%zu bytes)", nm, nb);
    if (nb)
        memcpy(data, (const unsigned char *)buf + h.data_off, nb);
    return finish(data, &h, out, nm, e);
}

int sd_npy_read(const char *path, sd_npy_t *out, sd_err_t *e)
{
    if (!path || !out)
        return sd_err_set(e, SD_EINVAL, "sd_npy_read: NULL argument");
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return sd_err_set(e, errno == ENOENT ? SD_ENOTFOUND : SD_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return sd_err_set(e, SD_EIO, "%s: not a regular file", path);
    }
    unsigned char pre[12];
    size_t got = fread(pre, 1, sizeof pre, f);
    size_t hl = 0;
    if (got >= 10 && !memcmp(pre, "\x93NUMPY", 6))
        hl = pre[6] == 1 ? 10 + ((size_t)pre[8] | (size_t)pre[9] << 8)
                         : (got < 12 ? got
                                     : 12 + ((size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
                                             (size_t)pre[11] << 24));
    if (hl > MAX_HEADER_LEN + 12)
        hl = MAX_HEADER_LEN + 13; /* parse_header reports it */
    if (hl > (size_t)st.st_size)
        hl = (size_t)st.st_size;
    if (hl < got)
        hl = got;
    unsigned char *hdr = malloc(hl ? hl : 1);
    if (!hdr) {
        fclose(f);
        return sd_err_set(e, SD_ENOMEM, "%s: out of memory", path);
    }
    memcpy(hdr, pre, got);
    if (hl > got && fread(hdr + got, 1, hl - got, f) != hl - got) {
        free(hdr);
        fclose(f);
        return sd_err_set(e, SD_EIO, "%s: short read in the header", path);
    }
    npy_hdr_t h;
    int rc = parse_header(hdr, hl, (int64_t)st.st_size, path, &h, e);
    free(hdr);
    if (rc) {
        fclose(f);
        return rc;
    }
    size_t nb = (size_t)(h.count * h.esize);
    void *data = malloc(nb ? nb : 1);
    if (!data) {
        fclose(f);
        return sd_err_set(e, SD_ENOMEM, "%s: out of memory (%zu bytes)", path, nb);
    }
    if (fseek(f, (long)h.data_off, SEEK_SET) != 0 || fread(data, 1, nb, f) != nb) {
        free(data);
        fclose(f);
        return sd_err_set(e, SD_EIO, "%s: short read in the data", path);
    }
    fclose(f);
    return finish(data, &h, out, path, e);
}

void sd_npy_free(sd_npy_t *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

static int convert_f64(sd_npy_t *a, const char *nm, sd_err_t *e)
{
    if (a->dtype == SD_NPY_F64)
        return SD_OK;
    double *d = malloc((size_t)(a->count ? a->count : 1) * sizeof *d);
    if (!d) {
        sd_npy_free(a);
        return sd_err_set(e, SD_ENOMEM, "%s: out of memory converting to float64", nm);
    }
    for (int64_t i = 0; i < a->count; i++) {
        switch (a->dtype) {
        case SD_NPY_F32: d[i] = ((const float *)a->data)[i]; break;
        case SD_NPY_I64: d[i] = (double)((const int64_t *)a->data)[i]; break;
        case SD_NPY_I32: d[i] = ((const int32_t *)a->data)[i]; break;
        case SD_NPY_U8: d[i] = ((const uint8_t *)a->data)[i]; break;
        case SD_NPY_F64: break;
        }
    }
    free(a->data);
    a->data = d;
    a->dtype = SD_NPY_F64;
    return SD_OK;
}

int sd_npy_read_f64(const char *path, sd_npy_t *out, sd_err_t *e)
{
    int rc = sd_npy_read(path, out, e);
    return rc ? rc : convert_f64(out, path, e);
}

static int convert_i64(sd_npy_t *a, const char *nm, sd_err_t *e)
{
    if (a->dtype == SD_NPY_I64)
        return SD_OK;
    int64_t *d = malloc((size_t)(a->count ? a->count : 1) * sizeof *d);
    if (!d) {
        sd_npy_free(a);
        return sd_err_set(e, SD_ENOMEM, "%s: out of memory converting to int64", nm);
    }
    for (int64_t i = 0; i < a->count; i++) {
        double v = 0;
        switch (a->dtype) {
        case SD_NPY_F32: v = ((const float *)a->data)[i]; break;
        case SD_NPY_F64: v = ((const double *)a->data)[i]; break;
        case SD_NPY_I32: d[i] = ((const int32_t *)a->data)[i]; continue;
        case SD_NPY_U8: d[i] = ((const uint8_t *)a->data)[i]; continue;
        case SD_NPY_I64: continue;
        }
        /* floats holding whole numbers (counts saved as float) convert exactly */
        if (!(v == floor(v)) || !(fabs(v) < 9.2e18)) {
            free(d);
            int rc = sd_err_set(e, SD_ERANGE, "%s: element %lld = %.17g is not an integer", nm, (long long)i, v);
            sd_npy_free(a);
            return rc;
        }
        d[i] = (int64_t)v;
    }
    free(a->data);
    a->data = d;
    a->dtype = SD_NPY_I64;
    return SD_OK;
}

int sd_npy_read_i64(const char *path, sd_npy_t *out, sd_err_t *e)
{
    int rc = sd_npy_read(path, out, e);
    return rc ? rc : convert_i64(out, path, e);
}

int sd_npy_encode_header(sd_npy_dtype_t dtype, int ndim, const int64_t *shape, char *buf, size_t cap, size_t *len,
                         sd_err_t *e)
{
    if (sd_npy_dtype_size(dtype) == 0)
        return sd_err_set(e, SD_EINVAL, "invalid npy dtype %d", (int)dtype);
    if (ndim < 0 || ndim > SD_NPY_MAX_DIMS || (ndim > 0 && !shape))
        return sd_err_set(e, SD_EINVAL, "npy ndim %d not in 0..%d", ndim, SD_NPY_MAX_DIMS);
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", sd_npy_dtype_name(dtype));
    int64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return sd_err_set(e, SD_EINVAL, "npy shape[%d] = %lld is negative", i, (long long)shape[i]);
        if (shape[i] && count > SD_NPY_MAX_BYTES / shape[i])
            return sd_err_set(e, SD_ENOMEM, "npy array exceeds the size limit");
        count *= shape[i];
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    }
    if (count > SD_NPY_MAX_BYTES / sd_npy_dtype_size(dtype))
        return sd_err_set(e, SD_ENOMEM, "npy array exceeds the size limit");
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", ndim == 1 ? "," : "");
    /* numpy pads magic + length + dict + '\n' to a multiple of 64 bytes */
    size_t total = 10 + (size_t)n + 1;
    total = (total + 63) / 64 * 64;
    if (total > cap)
        return sd_err_set(e, SD_EINVAL, "npy header buffer too small");
    size_t hlen = total - 10;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)(hlen & 0xff);
    buf[9] = (char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', total - 10 - (size_t)n - 1);
    buf[total - 1] = '\n';
    *len = total;
    return SD_OK;
}

int sd_npy_write(const char *path, sd_npy_dtype_t dtype, int ndim, const int64_t *shape, const void *data,
                 sd_err_t *e)
{
    if (!path)
        return sd_err_set(e, SD_EINVAL, "sd_npy_write: NULL path");
    char hdr[640];
    size_t hlen;
    int rc = sd_npy_encode_header(dtype, ndim, shape, hdr, sizeof hdr, &hlen, e);
    if (rc)
        return sd_err_prefix(e, "%s", path);
    int64_t count = 1;
    for (int i = 0; i < ndim; i++)
        count *= shape[i];
    size_t nb = (size_t)count * (size_t)sd_npy_dtype_size(dtype);
    if (nb && !data)
        return sd_err_set(e, SD_EINVAL, "%s: NULL data for %lld elements", path, (long long)count);
    sd_atomic_file_t af;
    if ((rc = sd_atomic_open(&af, path, e)))
        return rc;
    if (fwrite(hdr, 1, hlen, af.f) != hlen || (nb && fwrite(data, 1, nb, af.f) != nb)) {
        int en = errno;
        sd_atomic_abort(&af);
        return sd_err_set(e, SD_EIO, "%s: write failed: %s", path, strerror(en));
    }
    return sd_atomic_commit(&af, e);
}
