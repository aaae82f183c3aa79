#include "sd_image.h"

#include "sd_npy.h"
#include "sd_textio.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sd_image assumes a little-endian host"
#endif

#define MAX_SIDECAR_BYTES (1 << 20)

/* ---- pixel conversion ---------------------------------------------------- */

int sd_pixel_size(sd_pixel_type_t type)
{
    switch (type) {
    case SD_PIX_U8: case SD_PIX_I8: return 1;
    case SD_PIX_U16: case SD_PIX_I16: case SD_PIX_F16: return 2;
    case SD_PIX_U32: case SD_PIX_I32: case SD_PIX_F32: return 4;
    case SD_PIX_F64: case SD_PIX_I64: return 8;
    }
    return 0;
}

const char *sd_pixel_type_name(sd_pixel_type_t type)
{
    switch (type) {
    case SD_PIX_U8: return "uint8";
    case SD_PIX_U16: return "uint16";
    case SD_PIX_U32: return "uint32";
    case SD_PIX_I8: return "int8";
    case SD_PIX_I16: return "int16";
    case SD_PIX_I32: return "int32";
    case SD_PIX_F32: return "float32";
    case SD_PIX_F64: return "float64";
    case SD_PIX_F16: return "float16";
    case SD_PIX_I64: return "int64";
    }
    return "invalid";
}

static double half_to_double(uint16_t h)
{
    int s = h >> 15, ex = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v;
    if (ex == 0)
        v = ldexp((double)m, -24);
    else if (ex == 31)
        v = m ? NAN : INFINITY;
    else
        v = ldexp((double)(m | 0x400), ex - 25);
    return s ? -v : v;
}

/* Round to nearest even; |v| must be <= 65504 (checked by the caller). */
static uint16_t double_to_half(double v)
{
    uint16_t s = signbit(v) ? 0x8000 : 0;
    double a = fabs(v);
    if (a == 0)
        return s;
    int ex;
    frexp(a, &ex); /* a = f·2^ex, f in [0.5, 1) */
    int e = ex - 1;  /* a = 1.x · 2^e */
    if (e < -14) {
        /* subnormal: units of 2^-24 */
        double m = nearbyint(ldexp(a, 24));
        return (uint16_t)(s | (uint16_t)m); /* m == 1024 rolls into the smallest normal */
    }
    double m = nearbyint(ldexp(a, 10 - e)); /* 1024..2048 */
    if (m >= 2048) {
        m /= 2;
        e++;
    }
    return (uint16_t)(s | (uint16_t)((e + 15) << 10) | ((uint16_t)m & 0x3ff));
}

int sd_pixels_to_f64(const void *src, sd_pixel_type_t type, int64_t n, double *dst, sd_err_t *e)
{
    if (n < 0 || (n > 0 && (!src || !dst)) || sd_pixel_size(type) == 0)
        return sd_err_set(e, SD_EINVAL, "sd_pixels_to_f64: bad arguments");
    const unsigned char *s = src;
    switch (type) {
#define CONV(T)                                                                                    \
    for (int64_t i = 0; i < n; i++) {                                                              \
        T v;                                                                                       \
        memcpy(&v, s + i * (int64_t)sizeof v, sizeof v);                                           \
        dst[i] = (double)v;                                                                        \
    }                                                                                              \
    break;
    case SD_PIX_U8: CONV(uint8_t)
    case SD_PIX_U16: CONV(uint16_t)
    case SD_PIX_U32: CONV(uint32_t)
    case SD_PIX_I8: CONV(int8_t)
    case SD_PIX_I16: CONV(int16_t)
    case SD_PIX_I32: CONV(int32_t)
    case SD_PIX_I64: CONV(int64_t)
    case SD_PIX_F32: CONV(float)
    case SD_PIX_F64: CONV(double)
#undef CONV
    case SD_PIX_F16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = half_to_double(h);
        }
        break;
    }
    if (type == SD_PIX_F32 || type == SD_PIX_F64 || type == SD_PIX_F16)
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(dst[i]))
                return sd_err_set(e, SD_ERANGE, "pixel %lld is not finite", (long long)i);
    return SD_OK;
}

/* float64 → `type`: integers rounded to nearest and clamped to the type's range;
 * floats must fit (no silent infinities). */
static int f64_to_pixels(const double *src, int64_t n, sd_pixel_type_t type, void *dst, sd_err_t *e)
{
    unsigned char *d = dst;
    for (int64_t i = 0; i < n; i++) {
        double v = src[i];
        if (!isfinite(v))
            return sd_err_set(e, SD_ERANGE, "pixel %lld is not finite", (long long)i);
        switch (type) {
#define CLAMPI(T, LO, HI)                                                                          \
    {                                                                                              \
        double r = nearbyint(v);                                                                   \
        T x = r <= (double)(LO) ? (T)(LO) : r >= (double)(HI) ? (T)(HI) : (T)r;                    \
        memcpy(d + i * (int64_t)sizeof x, &x, sizeof x);                                           \
        break;                                                                                     \
    }
        case SD_PIX_U8: CLAMPI(uint8_t, 0, UINT8_MAX)
        case SD_PIX_U16: CLAMPI(uint16_t, 0, UINT16_MAX)
        case SD_PIX_U32: CLAMPI(uint32_t, 0, UINT32_MAX)
        case SD_PIX_I8: CLAMPI(int8_t, INT8_MIN, INT8_MAX)
        case SD_PIX_I16: CLAMPI(int16_t, INT16_MIN, INT16_MAX)
        case SD_PIX_I32: CLAMPI(int32_t, INT32_MIN, INT32_MAX)
#undef CLAMPI
        case SD_PIX_I64: {
            double r = nearbyint(v);
            int64_t x = r <= -9223372036854775808.0 ? INT64_MIN : r >= 9223372036854775807.0 ? INT64_MAX : (int64_t)r;
            memcpy(d + 8 * i, &x, 8);
            break;
        }
        case SD_PIX_F32: {
            if (fabs(v) > FLT_MAX)
                return sd_err_set(e, SD_ERANGE, "pixel %lld = %g does not fit in float32", (long long)i, v);
            float x = (float)v;
            memcpy(d + 4 * i, &x, 4);
            break;
        }
        case SD_PIX_F64:
            memcpy(d + 8 * i, &v, 8);
            break;
        case SD_PIX_F16: {
            if (fabs(v) > 65504.0)
                return sd_err_set(e, SD_ERANGE, "pixel %lld = %g does not fit in float16", (long long)i, v);
            uint16_t h = double_to_half(v);
            memcpy(d + 2 * i, &h, 2);
            break;
        }
        }
    }
    return SD_OK;
}

static int image_alloc(sd_image_t *out, int64_t w, int64_t h, int64_t nf, const char *nm, sd_err_t *e)
{
    memset(out, 0, sizeof *out);
    if (w < 1 || h < 1 || nf < 1)
        return sd_err_set(e, SD_EFORMAT, "%s: empty image (%lld x %lld x %lld)", nm, (long long)nf, (long long)h,
                          (long long)w);
    if (w > SD_IMAGE_MAX_PIXELS || h > SD_IMAGE_MAX_PIXELS / w || nf > SD_IMAGE_MAX_PIXELS / (w * h))
        return sd_err_set(e, SD_ENOMEM, "%s: %lld x %lld x %lld pixels exceeds the limit of %lld", nm, (long long)nf,
                          (long long)h, (long long)w, (long long)SD_IMAGE_MAX_PIXELS);
    out->data = malloc((size_t)(w * h * nf) * sizeof(double));
    if (!out->data)
        return sd_err_set(e, SD_ENOMEM, "%s: out of memory for %lld pixels", nm, (long long)(w * h * nf));
    out->width = w;
    out->height = h;
    out->nframes = nf;
    return SD_OK;
}

void sd_image_free(sd_image_t *img)
{
    if (!img)
        return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

static int check_image(const sd_image_t *img, const char *path, sd_err_t *e)
{
    if (!path || !img || !img->data || img->width < 1 || img->height < 1 || img->nframes < 1 ||
        img->width > SD_IMAGE_MAX_PIXELS || img->height > SD_IMAGE_MAX_PIXELS / img->width ||
        img->nframes > SD_IMAGE_MAX_PIXELS / (img->width * img->height))
        return sd_err_set(e, SD_EINVAL, "%s: invalid or empty image", path ? path : "(null)");
    if (!isfinite(img->dx) || img->dx < 0)
        return sd_err_set(e, SD_EINVAL, "%s: pixel size dx = %g is invalid", path, img->dx);
    return SD_OK;
}

static int has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), m = strlen(ext);
    return n > m && !strcasecmp(path + n - m, ext);
}

/* ---- TIFF ------------------------------------------------------------------ */

typedef struct tiff_ctx {
    char msg[256];
    int has;
} tiff_ctx_t;

static int tiff_on_error(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
    (void)tif;
    (void)module;
    tiff_ctx_t *c = ud;
    if (c && !c->has) {
        vsnprintf(c->msg, sizeof c->msg, fmt, ap);
        c->has = 1;
    }
    return 1;
}

static int tiff_on_warning(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
    (void)tif;
    (void)ud;
    (void)module;
    (void)fmt;
    (void)ap;
    return 1; /* unknown tags etc.: not our business */
}

static TIFFOpenOptions *tiff_options(tiff_ctx_t *ctx)
{
    TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
    if (!o)
        return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(o, tiff_on_error, ctx);
    TIFFOpenOptionsSetWarningHandlerExtR(o, tiff_on_warning, ctx);
    /* one strip/tile buffer never needs more than the largest image we accept */
    TIFFOpenOptionsSetMaxSingleMemAlloc(o, (tmsize_t)(SD_IMAGE_MAX_PIXELS * 8));
    return o;
}

static int tiff_pixel_type(uint16_t bps, uint16_t fmt, sd_pixel_type_t *t)
{
    if (fmt == SAMPLEFORMAT_UINT && bps == 8) *t = SD_PIX_U8;
    else if (fmt == SAMPLEFORMAT_UINT && bps == 16) *t = SD_PIX_U16;
    else if (fmt == SAMPLEFORMAT_UINT && bps == 32) *t = SD_PIX_U32;
    else if (fmt == SAMPLEFORMAT_INT && bps == 8) *t = SD_PIX_I8;
    else if (fmt == SAMPLEFORMAT_INT && bps == 16) *t = SD_PIX_I16;
    else if (fmt == SAMPLEFORMAT_INT && bps == 32) *t = SD_PIX_I32;
    else if (fmt == SAMPLEFORMAT_IEEEFP && bps == 32) *t = SD_PIX_F32;
    else if (fmt == SAMPLEFORMAT_IEEEFP && bps == 64) *t = SD_PIX_F64;
    else if (fmt == SAMPLEFORMAT_IEEEFP && bps == 16) *t = SD_PIX_F16;
    else return -1;
    return 0;
}

static int tiff_fail(tiff_ctx_t *ctx, const char *nm, const char *what, sd_err_t *e)
{
    return sd_err_set(e, SD_EFORMAT, "%s: %s%s%s", nm, what, ctx->has ? ": " : "", ctx->has ? ctx->msg : "");
}

/* Geometry of the current page; validates samples, type and the stored-bytes bound. */
static int tiff_page_info(TIFF *tif, tiff_ctx_t *ctx, const char *nm, unsigned d, uint64_t fsize, uint32_t *w,
                          uint32_t *h, sd_pixel_type_t *t, sd_err_t *e)
{
    uint16_t bps = 1, fmt = SAMPLEFORMAT_UINT, spp = 1, comp = COMPRESSION_NONE;
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, h))
        return tiff_fail(ctx, nm, "TIFF page lacks ImageWidth/ImageLength", e);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);
    if (spp != 1)
        return sd_err_set(e, SD_EFORMAT, "%s: page %u has %u samples per pixel (only grayscale images)", nm, d,
                          (unsigned)spp);
    if (tiff_pixel_type(bps, fmt, t))
        return sd_err_set(e, SD_EFORMAT, "%s: page %u: %u-bit sample format %u not supported", nm, d, (unsigned)bps,
                          (unsigned)fmt);
    if (*w < 1 || *h < 1)
        return sd_err_set(e, SD_EFORMAT, "%s: page %u is empty (%ux%u)", nm, d, (unsigned)*w, (unsigned)*h);
    /* Bound the decoded size by the stored bytes before allocating (hostile headers claim
     * huge pages): uncompressed data must all be there; no codec packs more than ~4096:1. */
    uint64_t *bc = NULL, stored = 0;
    int tiled = TIFFIsTiled(tif);
    uint32_t nchunks = tiled ? TIFFNumberOfTiles(tif) : TIFFNumberOfStrips(tif);
    if (TIFFGetField(tif, tiled ? TIFFTAG_TILEBYTECOUNTS : TIFFTAG_STRIPBYTECOUNTS, &bc) && bc)
        for (uint32_t k = 0; k < nchunks; k++)
            stored += bc[k] < (1ULL << 40) ? bc[k] : (1ULL << 40);
    if (stored > fsize)
        stored = fsize; /* libtiff invents byte counts when it chops up one big strip */
    double need = (double)*w * *h * sd_pixel_size(*t);
    if (comp == COMPRESSION_NONE ? (double)stored < need : (double)stored * 4096.0 + 65536.0 < need)
        return sd_err_set(e, SD_EFORMAT, "%s: page %u: %llu stored bytes cannot hold %ux%u %s pixels", nm, d,
                          (unsigned long long)stored, (unsigned)*w, (unsigned)*h, sd_pixel_type_name(*t));
    return SD_OK;
}

static int tiff_decode_page(TIFF *tif, tiff_ctx_t *ctx, const char *nm, uint32_t w, uint32_t h, sd_pixel_type_t t,
                            double *frame, unsigned char **buf, sd_err_t *e)
{
    int ps = sd_pixel_size(t), rc = SD_OK;
    if (TIFFIsTiled(tif)) {
        uint32_t tw = 0, th = 0;
        TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
        tmsize_t ts = TIFFTileSize(tif);
        if (tw < 1 || th < 1 || ts < (tmsize_t)tw * th * ps)
            return tiff_fail(ctx, nm, "bad TIFF tile geometry", e);
        free(*buf);
        if (!(*buf = malloc((size_t)ts)))
            return sd_err_set(e, SD_ENOMEM, "%s: out of memory for a TIFF tile", nm);
        for (uint32_t y = 0; y < h && !rc; y += th)
            for (uint32_t x = 0; x < w && !rc; x += tw) {
                if (TIFFReadTile(tif, *buf, x, y, 0, 0) < 0)
                    return tiff_fail(ctx, nm, "cannot decode a TIFF tile", e);
                uint32_t cw = w - x < tw ? w - x : tw, ch = h - y < th ? h - y : th;
                for (uint32_t r = 0; r < ch && !rc; r++)
                    rc = sd_pixels_to_f64(*buf + (size_t)r * tw * ps, t, cw, frame + (int64_t)(y + r) * w + x, e);
            }
        return rc;
    }
    uint32_t rps = h;
    TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
    if (rps < 1 || rps > h)
        rps = h;
    tmsize_t ss = TIFFStripSize(tif);
    uint32_t ns = TIFFNumberOfStrips(tif);
    if (ss < (tmsize_t)rps * w * ps || ns < (h - 1) / rps + 1)
        return tiff_fail(ctx, nm, "bad TIFF strip layout", e);
    free(*buf);
    if (!(*buf = malloc((size_t)ss)))
        return sd_err_set(e, SD_ENOMEM, "%s: out of memory for a TIFF strip", nm);
    for (uint32_t s = 0; (uint64_t)s * rps < h && !rc; s++) {
        uint32_t rows = h - s * rps < rps ? h - s * rps : rps;
        tmsize_t want = (tmsize_t)rows * w * ps;
        if (TIFFReadEncodedStrip(tif, s, *buf, want) < want)
            return tiff_fail(ctx, nm, "cannot decode a TIFF strip (truncated or corrupt)", e);
        rc = sd_pixels_to_f64(*buf, t, (int64_t)rows * w, frame + (int64_t)s * rps * w, e);
    }
    return rc;
}

static int read_tiff(TIFF *tif, tiff_ctx_t *ctx, const char *nm, uint64_t fsize, sd_image_t *out, sd_err_t *e)
{
    memset(out, 0, sizeof *out);
    tdir_t ndir = TIFFNumberOfDirectories(tif);
    if (ndir < 1)
        return tiff_fail(ctx, nm, "TIFF has no image directory", e);
    uint32_t w0 = 0, h0 = 0;
    sd_pixel_type_t t0 = SD_PIX_U8;
    double dx = 0;
    int rc;
    /* pass 1: every page's geometry, before anything large is allocated */
    for (tdir_t d = 0; d < ndir; d++) {
        uint32_t w = 0, h = 0;
        sd_pixel_type_t t = SD_PIX_U8;
        if (!TIFFSetDirectory(tif, d))
            return tiff_fail(ctx, nm, "cannot read TIFF directory", e);
        if ((rc = tiff_page_info(tif, ctx, nm, (unsigned)d, fsize, &w, &h, &t, e)))
            return rc;
        if (d == 0) {
            w0 = w;
            h0 = h;
            t0 = t;
            char *desc = NULL;
            if (TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &desc) && desc) {
                const char *k = strstr(desc, "dx_A=");
                double v;
                char tok[64];
                if (k && sscanf(k + 5, "%63[-+0-9.eE]", tok) == 1 && !sd_parse_f64(tok, &v) && v > 0)
                    dx = v;
            }
        } else if (w != w0 || h != h0 || t != t0) {
            return sd_err_set(e, SD_EFORMAT, "%s: page %u is %ux%u %s, page 0 is %ux%u %s (pages must match)", nm,
                              (unsigned)d, (unsigned)w, (unsigned)h, sd_pixel_type_name(t), (unsigned)w0,
                              (unsigned)h0, sd_pixel_type_name(t0));
        }
    }
    if ((rc = image_alloc(out, w0, h0, ndir, nm, e)))
        return rc;
    out->src_type = t0;
    unsigned char *buf = NULL;
    for (tdir_t d = 0; d < ndir && !rc; d++) {
        if (!TIFFSetDirectory(tif, d)) {
            rc = tiff_fail(ctx, nm, "cannot read TIFF directory", e);
            break;
        }
        rc = tiff_decode_page(tif, ctx, nm, w0, h0, t0, out->data + (int64_t)d * w0 * h0, &buf, e);
        if (rc && e && e->code == SD_ERANGE)
            sd_err_prefix(e, "%s: page %u", nm, (unsigned)d);
    }
    free(buf);
    if (rc) {
        sd_image_free(out);
        return rc;
    }
    out->dx = dx;
    return SD_OK;
}

static int read_tiff_path(const char *path, sd_image_t *out, sd_err_t *e)
{
    if (access(path, R_OK) != 0)
        return sd_err_set(e, errno == ENOENT ? SD_ENOTFOUND : SD_EIO, "%s: cannot open: %s", path, strerror(errno));
    tiff_ctx_t ctx = {{0}, 0};
    TIFFOpenOptions *o = tiff_options(&ctx);
    if (!o)
        return sd_err_set(e, SD_ENOMEM, "%s: out of memory", path);
    struct stat st;
    uint64_t fsize = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    TIFF *tif = TIFFOpenExt(path, "r", o);
    TIFFOpenOptionsFree(o);
    if (!tif)
        return tiff_fail(&ctx, path, "not a readable TIFF file", e);
    int rc = read_tiff(tif, &ctx, path, fsize, out, e);
    TIFFClose(tif);
    return rc;
}

typedef struct memfile {
    const unsigned char *buf;
    uint64_t len, pos;
} memfile_t;

static tmsize_t mf_read(thandle_t h, void *dst, tmsize_t n)
{
    memfile_t *m = (memfile_t *)h;
    if (n <= 0 || m->pos >= m->len)
        return 0;
    uint64_t k = (uint64_t)n < m->len - m->pos ? (uint64_t)n : m->len - m->pos;
    memcpy(dst, m->buf + m->pos, (size_t)k);
    m->pos += k;
    return (tmsize_t)k;
}

static tmsize_t mf_write(thandle_t h, void *src, tmsize_t n)
{
    (void)h;
    (void)src;
    (void)n;
    return -1;
}

static toff_t mf_seek(thandle_t h, toff_t off, int whence)
{
    memfile_t *m = (memfile_t *)h;
    uint64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->len;
    if (off > UINT64_MAX - base)
        return (toff_t)-1;
    m->pos = base + off; /* past the end is allowed, as for files; reads then return 0 */
    return m->pos;
}

static int mf_close(thandle_t h)
{
    (void)h;
    return 0;
}

static toff_t mf_size(thandle_t h)
{
    return ((memfile_t *)h)->len;
}

static int mf_map(thandle_t h, void **base, toff_t *size)
{
    (void)h;
    (void)base;
    (void)size;
    return 0; /* no mapping: libtiff reads through mf_read */
}

static void mf_unmap(thandle_t h, void *base, toff_t size)
{
    (void)h;
    (void)base;
    (void)size;
}

int sd_image_read_tiff_mem(const void *buf, size_t len, const char *name, sd_image_t *out, sd_err_t *e)
{
    if (!out)
        return sd_err_set(e, SD_EINVAL, "sd_image_read_tiff_mem: NULL argument");
    memset(out, 0, sizeof *out);
    const char *nm = name ? name : "(memory)";
    memfile_t m = {buf, buf ? len : 0, 0};
    tiff_ctx_t ctx = {{0}, 0};
    TIFFOpenOptions *o = tiff_options(&ctx);
    if (!o)
        return sd_err_set(e, SD_ENOMEM, "%s: out of memory", nm);
    TIFF *tif = TIFFClientOpenExt(nm, "rm", (thandle_t)&m, mf_read, mf_write, mf_seek, mf_close, mf_size, mf_map,
                                  mf_unmap, o);
    TIFFOpenOptionsFree(o);
    if (!tif)
        return tiff_fail(&ctx, nm, "not a readable TIFF file", e);
    int rc = read_tiff(tif, &ctx, nm, m.len, out, e);
    TIFFClose(tif);
    return rc;
}

int sd_image_write_tiff(const char *path, const sd_image_t *img, sd_pixel_type_t type, sd_err_t *e)
{
    int rc = check_image(img, path, e);
    if (rc)
        return rc;
    uint16_t bps, fmt;
    switch (type) {
    case SD_PIX_U8: bps = 8; fmt = SAMPLEFORMAT_UINT; break;
    case SD_PIX_U16: bps = 16; fmt = SAMPLEFORMAT_UINT; break;
    case SD_PIX_U32: bps = 32; fmt = SAMPLEFORMAT_UINT; break;
    case SD_PIX_I8: bps = 8; fmt = SAMPLEFORMAT_INT; break;
    case SD_PIX_I16: bps = 16; fmt = SAMPLEFORMAT_INT; break;
    case SD_PIX_I32: bps = 32; fmt = SAMPLEFORMAT_INT; break;
    case SD_PIX_F32: bps = 32; fmt = SAMPLEFORMAT_IEEEFP; break;
    case SD_PIX_F64: bps = 64; fmt = SAMPLEFORMAT_IEEEFP; break;
    default:
        return sd_err_set(e, SD_EINVAL, "%s: TIFF writer does not support %s pixels", path, sd_pixel_type_name(type));
    }
    if (img->width > UINT32_MAX || img->height > UINT32_MAX || img->nframes > 65535)
        return sd_err_set(e, SD_EINVAL, "%s: image too large for TIFF", path);
    int ps = sd_pixel_size(type);
    int64_t w = img->width, h = img->height;
    unsigned char *row = malloc((size_t)(w * ps));
    if (!row)
        return sd_err_set(e, SD_ENOMEM, "%s: out of memory", path);
    /* validate everything before creating the file */
    for (int64_t i = 0; i < w * h * img->nframes; i += w)
        if ((rc = f64_to_pixels(img->data + i, w, type, row, e))) {
            free(row);
            return sd_err_prefix(e, "%s: frame %lld row %lld", path, (long long)(i / (w * h)),
                                 (long long)((i / w) % h));
        }
    sd_atomic_file_t af;
    if ((rc = sd_atomic_open(&af, path, e))) {
        free(row);
        return rc;
    }
    fflush(af.f);
    int fd = dup(fileno(af.f));
    tiff_ctx_t ctx = {{0}, 0};
    TIFFOpenOptions *o = tiff_options(&ctx);
    int big = (double)w * h * img->nframes * ps > 3.9e9;
    TIFF *tif = (fd >= 0 && o) ? TIFFFdOpenExt(fd, af.tmp, big ? "w8" : "w", o) : NULL;
    if (o)
        TIFFOpenOptionsFree(o);
    if (!tif) {
        if (fd >= 0)
            close(fd);
        free(row);
        sd_atomic_abort(&af);
        return tiff_fail(&ctx, path, "cannot create TIFF", e);
    }
    char desc[96] = "stemdyn";
    if (img->dx > 0)
        snprintf(desc, sizeof desc, "stemdyn dx_A=%.17g", img->dx);
    for (int64_t f = 0; f < img->nframes && !rc; f++) {
        TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)w);
        TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)h);
        TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, bps);
        TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, fmt);
        TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)1);
        TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
        TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_NONE);
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(tif, 0));
        TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, desc);
        if (img->nframes > 1) {
            TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
            TIFFSetField(tif, TIFFTAG_PAGENUMBER, (uint16_t)f, (uint16_t)img->nframes);
        }
        for (int64_t y = 0; y < h && !rc; y++) {
            rc = f64_to_pixels(img->data + (f * h + y) * w, w, type, row, e);
            if (!rc && TIFFWriteScanline(tif, row, (uint32_t)y, 0) < 0)
                rc = tiff_fail(&ctx, path, "TIFF write failed", e);
        }
        if (!rc && !TIFFWriteDirectory(tif))
            rc = tiff_fail(&ctx, path, "TIFF directory write failed", e);
    }
    TIFFClose(tif); /* closes the dup'd descriptor */
    free(row);
    if (!rc && ctx.has)
        rc = tiff_fail(&ctx, path, "TIFF write failed", e);
    if (rc) {
        sd_atomic_abort(&af);
        return rc;
    }
    /* libtiff wrote through its own descriptor: af.f's stream holds nothing unflushed */
    return sd_atomic_commit(&af, e);
}

/* ---- MRC --------------------------------------------------------------------- */

#define MRC_HDR 1024

typedef struct mrc_info {
    int64_t nx, ny, nz;
    int mode;
    sd_pixel_type_t type;
    int64_t data_off;
    double dx;
} mrc_info_t;

static int32_t rd_i32(const unsigned char *h, int off)
{
    int32_t v;
    memcpy(&v, h + off, 4);
    return v;
}

static float rd_f32(const unsigned char *h, int off)
{
    float v;
    memcpy(&v, h + off, 4);
    return v;
}

static int mrc_parse(const unsigned char *h, int64_t total, const char *nm, mrc_info_t *mi, sd_err_t *e)
{
    memset(mi, 0, sizeof *mi);
    if (total < MRC_HDR)
        return sd_err_set(e, SD_EFORMAT, "%s: %lld bytes is too short for an MRC header", nm, (long long)total);
    static const unsigned char zero4[4] = {0, 0, 0, 0};
    if (memcmp(h + 208, "MAP ", 4) != 0 && memcmp(h + 208, zero4, 4) != 0)
        return sd_err_set(e, SD_EFORMAT, "%s: not an MRC file (no 'MAP ' at byte 208)", nm);
    if (h[212] == 0x11 && h[213] == 0x11)
        return sd_err_set(e, SD_EFORMAT, "%s: big-endian MRC files are not supported", nm);
    mi->nx = rd_i32(h, 0);
    mi->ny = rd_i32(h, 4);
    mi->nz = rd_i32(h, 8);
    mi->mode = rd_i32(h, 12);
    if (mi->nx < 1 || mi->ny < 1 || mi->nz < 1)
        return sd_err_set(e, SD_EFORMAT, "%s: MRC dimensions %lld x %lld x %lld must be positive", nm,
                          (long long)mi->nx, (long long)mi->ny, (long long)mi->nz);
    switch (mi->mode) {
    case 0: {
        /* MRC2014: signed; IMOD marks files whose bytes are unsigned by a stamp without flag bit 0 */
        int imod = rd_i32(h, 152) == 1146047817;
        mi->type = imod && !(rd_i32(h, 156) & 1) ? SD_PIX_U8 : SD_PIX_I8;
        break;
    }
    case 1: mi->type = SD_PIX_I16; break;
    case 2: mi->type = SD_PIX_F32; break;
    case 6: mi->type = SD_PIX_U16; break;
    case 12: mi->type = SD_PIX_F16; break;
    default:
        return sd_err_set(e, SD_EFORMAT, "%s: MRC mode %d not supported (0, 1, 2, 6, 12)", nm, mi->mode);
    }
    int32_t mapc = rd_i32(h, 64), mapr = rd_i32(h, 68), maps = rd_i32(h, 72);
    if (!((mapc == 1 && mapr == 2 && maps == 3) || (mapc == 0 && mapr == 0 && maps == 0)))
        return sd_err_set(e, SD_EFORMAT, "%s: MRC axis order %d,%d,%d not supported (want 1,2,3)", nm, mapc, mapr,
                          maps);
    int32_t nsymbt = rd_i32(h, 92);
    if (nsymbt < 0 || nsymbt > total - MRC_HDR)
        return sd_err_set(e, SD_EFORMAT, "%s: MRC extended header size %d is invalid", nm, nsymbt);
    if (mi->nx > SD_IMAGE_MAX_PIXELS || mi->ny > SD_IMAGE_MAX_PIXELS / mi->nx ||
        mi->nz > SD_IMAGE_MAX_PIXELS / (mi->nx * mi->ny))
        return sd_err_set(e, SD_ENOMEM, "%s: MRC of %lld x %lld x %lld pixels exceeds the limit", nm,
                          (long long)mi->nx, (long long)mi->ny, (long long)mi->nz);
    int64_t want = MRC_HDR + (int64_t)nsymbt + mi->nx * mi->ny * mi->nz * sd_pixel_size(mi->type);
    if (total != want)
        return sd_err_set(e, SD_EFORMAT, "%s: file has %lld bytes, MRC header implies %lld", nm, (long long)total,
                          (long long)want);
    mi->data_off = MRC_HDR + nsymbt;
    int32_t mx = rd_i32(h, 28);
    double cx = rd_f32(h, 40);
    if (mx > 0 && isfinite(cx) && cx > 0)
        mi->dx = cx / mx;
    return SD_OK;
}

int sd_image_read_mrc_mem(const void *buf, size_t len, const char *name, sd_image_t *out, sd_err_t *e)
{
    if (!out)
        return sd_err_set(e, SD_EINVAL, "sd_image_read_mrc_mem: NULL argument");
    memset(out, 0, sizeof *out);
    const char *nm = name ? name : "(memory)";
    mrc_info_t mi;
    int rc = mrc_parse(buf, buf ? (int64_t)len : 0, nm, &mi, e);
    if (rc)
        return rc;
    if ((rc = image_alloc(out, mi.nx, mi.ny, mi.nz, nm, e)))
        return rc;
    if ((rc = sd_pixels_to_f64((const unsigned char *)buf + mi.data_off, mi.type, mi.nx * mi.ny * mi.nz, out->data,
                               e))) {
        sd_image_free(out);
        return sd_err_prefix(e, "%s", nm);
    }
    out->dx = mi.dx;
    out->src_type = mi.type;
    return SD_OK;
}

static int read_mrc_path(const char *path, sd_image_t *out, sd_err_t *e)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return sd_err_set(e, errno == ENOENT ? SD_ENOTFOUND : SD_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    unsigned char h[MRC_HDR];
    int rc;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return sd_err_set(e, SD_EIO, "%s: not a regular file", path);
    }
    size_t got = fread(h, 1, MRC_HDR, f);
    mrc_info_t mi = {0};
    if (got < MRC_HDR)
        rc = sd_err_set(e, SD_EFORMAT, "%s: %zu bytes is too short for an MRC header", path, got);
    else
        rc = mrc_parse(h, (int64_t)st.st_size, path, &mi, e);
    if (!rc)
        rc = image_alloc(out, mi.nx, mi.ny, mi.nz, path, e);
    unsigned char *fb = NULL;
    int64_t fpix = mi.nx * mi.ny, ps = sd_pixel_size(mi.type);
    if (!rc && !(fb = malloc((size_t)(fpix * ps))))
        rc = sd_err_set(e, SD_ENOMEM, "%s: out of memory", path);
    if (!rc && fseek(f, (long)mi.data_off, SEEK_SET) != 0)
        rc = sd_err_set(e, SD_EIO, "%s: seek failed", path);
    for (int64_t z = 0; !rc && z < mi.nz; z++) {
        if (fread(fb, (size_t)ps, (size_t)fpix, f) != (size_t)fpix)
            rc = sd_err_set(e, SD_EIO, "%s: short read in section %lld", path, (long long)z);
        else if ((rc = sd_pixels_to_f64(fb, mi.type, fpix, out->data + z * fpix, e)))
            sd_err_prefix(e, "%s: section %lld", path, (long long)z);
    }
    free(fb);
    fclose(f);
    if (rc) {
        sd_image_free(out);
        return rc;
    }
    out->dx = mi.dx;
    out->src_type = mi.type;
    return SD_OK;
}

int sd_image_write_mrc(const char *path, const sd_image_t *img, sd_pixel_type_t type, sd_err_t *e)
{
    int rc = check_image(img, path, e);
    if (rc)
        return rc;
    int mode;
    switch (type) {
    case SD_PIX_I8: mode = 0; break;
    case SD_PIX_I16: mode = 1; break;
    case SD_PIX_F32: mode = 2; break;
    case SD_PIX_U16: mode = 6; break;
    case SD_PIX_F16: mode = 12; break;
    default:
        return sd_err_set(e, SD_EINVAL, "%s: MRC has no mode for %s pixels (int8, int16, uint16, float32, float16)",
                          path, sd_pixel_type_name(type));
    }
    if (img->width > INT32_MAX || img->height > INT32_MAX || img->nframes > INT32_MAX)
        return sd_err_set(e, SD_EINVAL, "%s: image too large for MRC", path);
    int64_t n = img->width * img->height * img->nframes;
    int ps = sd_pixel_size(type);
    unsigned char *data = malloc((size_t)(n * ps));
    double *back = malloc((size_t)n * sizeof *back);
    if (!data || !back) {
        free(data);
        free(back);
        return sd_err_set(e, SD_ENOMEM, "%s: out of memory", path);
    }
    if ((rc = f64_to_pixels(img->data, n, type, data, e)) || (rc = sd_pixels_to_f64(data, type, n, back, e))) {
        free(data);
        free(back);
        return sd_err_prefix(e, "%s", path);
    }
    /* statistics of the stored values, as readers display them */
    double mn = back[0], mxv = back[0], sum = 0, sq = 0;
    for (int64_t i = 0; i < n; i++) {
        mn = fmin(mn, back[i]);
        mxv = fmax(mxv, back[i]);
        sum += back[i];
    }
    double mean = sum / (double)n;
    for (int64_t i = 0; i < n; i++)
        sq += (back[i] - mean) * (back[i] - mean);
    free(back);
    unsigned char h[MRC_HDR];
    memset(h, 0, sizeof h);
    int32_t iv[10] = {(int32_t)img->width, (int32_t)img->height, (int32_t)img->nframes, mode, 0, 0, 0,
                      (int32_t)img->width, (int32_t)img->height, (int32_t)img->nframes};
    memcpy(h, iv, sizeof iv);
    float cell[6] = {(float)(img->width * img->dx), (float)(img->height * img->dx), (float)(img->nframes * img->dx),
                     90.f, 90.f, 90.f};
    memcpy(h + 40, cell, sizeof cell);
    int32_t maps[3] = {1, 2, 3};
    memcpy(h + 64, maps, sizeof maps);
    float st[3] = {(float)mn, (float)mxv, (float)mean};
    memcpy(h + 76, st, sizeof st);
    int32_t nver = 20141;
    memcpy(h + 108, &nver, 4);
    memcpy(h + 208, "MAP ", 4);
    h[212] = 0x44;
    h[213] = 0x44;
    float rms = (float)sqrt(sq / (double)n);
    memcpy(h + 216, &rms, 4);
    int32_t nlabl = 1;
    memcpy(h + 220, &nlabl, 4);
    memcpy(h + 224, "stemdyn", 7);
    sd_atomic_file_t af;
    if ((rc = sd_atomic_open(&af, path, e))) {
        free(data);
        return rc;
    }
    if (fwrite(h, 1, MRC_HDR, af.f) != MRC_HDR || fwrite(data, (size_t)ps, (size_t)n, af.f) != (size_t)n) {
        int en = errno;
        free(data);
        sd_atomic_abort(&af);
        return sd_err_set(e, SD_EIO, "%s: write failed: %s", path, strerror(en));
    }
    free(data);
    return sd_atomic_commit(&af, e);
}

/* ---- raw + JSON sidecar -------------------------------------------------------- */

/* A strict little JSON scanner: validates the whole document and picks the few
 * top-level keys the sidecar needs. */
typedef struct js {
    const char *p, *end;
    int depth;
} js_t;

static void js_ws(js_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

/* String at j->p; decoded into out[cap] when out != NULL (error if it does not fit). */
static int js_string(js_t *j, char *out, size_t cap)
{
    if (j->p >= j->end || *j->p != '"')
        return -1;
    j->p++;
    size_t n = 0;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p++;
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            if (j->p >= j->end)
                return -1;
            char x = *j->p++;
            switch (x) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'u':
                for (int k = 0; k < 4; k++, j->p++)
                    if (j->p >= j->end || !isxdigit((unsigned char)*j->p))
                        return -1;
                c = '?'; /* only ASCII matters in the keys and values we use */
                break;
            default:
                return -1;
            }
        }
        if (out) {
            if (n + 1 >= cap)
                return -1;
            out[n++] = (char)c;
        }
    }
    if (j->p >= j->end)
        return -1;
    j->p++;
    if (out)
        out[n] = '\0';
    return 0;
}

static int js_number(js_t *j, double *out)
{
    const char *s = j->p;
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p >= j->end || !isdigit((unsigned char)*j->p))
        return -1;
    if (*j->p == '0')
        j->p++;
    else
        while (j->p < j->end && isdigit((unsigned char)*j->p))
            j->p++;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || !isdigit((unsigned char)*j->p))
            return -1;
        while (j->p < j->end && isdigit((unsigned char)*j->p))
            j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (j->p >= j->end || !isdigit((unsigned char)*j->p))
            return -1;
        while (j->p < j->end && isdigit((unsigned char)*j->p))
            j->p++;
    }
    char tmp[64];
    size_t n = (size_t)(j->p - s);
    if (n >= sizeof tmp)
        return out ? -1 : 0; /* absurdly long numbers are only fine where ignored */
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    double v;
    if (sd_parse_f64(tmp, &v))
        return out ? -1 : 0;
    if (out)
        *out = v;
    return 0;
}

static int js_skip_value(js_t *j)
{
    js_ws(j);
    if (j->p >= j->end)
        return -1;
    char c = *j->p;
    if (c == '"')
        return js_string(j, NULL, 0);
    if (c == '{' || c == '[') {
        if (++j->depth > 64)
            return -1;
        char close = c == '{' ? '}' : ']';
        j->p++;
        js_ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
            j->depth--;
            return 0;
        }
        for (;;) {
            js_ws(j);
            if (c == '{') {
                if (js_string(j, NULL, 0))
                    return -1;
                js_ws(j);
                if (j->p >= j->end || *j->p++ != ':')
                    return -1;
            }
            if (js_skip_value(j))
                return -1;
            js_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == close) {
                j->p++;
                j->depth--;
                return 0;
            }
            return -1;
        }
    }
    if (j->end - j->p >= 4 && !memcmp(j->p, "true", 4)) {
        j->p += 4;
        return 0;
    }
    if (j->end - j->p >= 5 && !memcmp(j->p, "false", 5)) {
        j->p += 5;
        return 0;
    }
    if (j->end - j->p >= 4 && !memcmp(j->p, "null", 4)) {
        j->p += 4;
        return 0;
    }
    return js_number(j, NULL);
}

static int js_int_array(js_t *j, int64_t *v, int max, int *n)
{
    js_ws(j);
    if (j->p >= j->end || *j->p++ != '[')
        return -1;
    *n = 0;
    js_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return 0;
    }
    for (;;) {
        js_ws(j);
        double d;
        if (*n >= max || js_number(j, &d) || d != floor(d) || d < 0 || d > 4e9)
            return -1;
        v[(*n)++] = (int64_t)d;
        js_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            return 0;
        }
        return -1;
    }
}

typedef struct sidecar {
    int64_t shape[4];
    int nshape;
    int64_t rc[4];
    int nrc;
    int64_t nframes;
    int has_nframes;
    char dtype[256];
    double dx;
} sidecar_t;

static int parse_dtype(const char *s, sd_pixel_type_t *t)
{
    char w[32];
    size_t n = 0;
    while (*s == ' ')
        s++;
    while (s[n] && !isspace((unsigned char)s[n]) && s[n] != ',' && n + 1 < sizeof w) {
        w[n] = s[n];
        n++;
    }
    w[n] = '\0';
    if (strstr(s, "big-endian") || strstr(s, "big endian") || w[0] == '>')
        return -2;
    if (strstr(s, "Fortran") || strstr(s, "column-major"))
        return -3;
    const char *name = w[0] == '<' || w[0] == '|' || w[0] == '=' ? w + 1 : w;
    static const struct {
        const char *a, *b;
        sd_pixel_type_t t;
    } map[] = {{"float64", "f8", SD_PIX_F64}, {"float32", "f4", SD_PIX_F32}, {"float16", "f2", SD_PIX_F16},
               {"uint8", "u1", SD_PIX_U8},    {"uint16", "u2", SD_PIX_U16},  {"uint32", "u4", SD_PIX_U32},
               {"int8", "i1", SD_PIX_I8},     {"int16", "i2", SD_PIX_I16},   {"int32", "i4", SD_PIX_I32},
               {"int64", "i8", SD_PIX_I64},   {"double", "double", SD_PIX_F64}, {"float", "single", SD_PIX_F32}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcasecmp(name, map[i].a) || !strcasecmp(name, map[i].b)) {
            *t = map[i].t;
            return 0;
        }
    return -1;
}

static int parse_sidecar(const char *txt, size_t len, const char *nm, sidecar_t *sc, sd_err_t *e)
{
    memset(sc, 0, sizeof *sc);
    js_t j = {txt, txt + len, 0};
    int got_dtype = 0, got_dx = 0;
    js_ws(&j);
    if (j.p >= j.end || *j.p++ != '{')
        return sd_err_set(e, SD_EFORMAT, "%s: sidecar is not a JSON object", nm);
    js_ws(&j);
    if (j.p < j.end && *j.p == '}')
        j.p++;
    else
        for (;;) {
            char key[64];
            js_ws(&j);
            if (js_string(&j, key, sizeof key))
                return sd_err_set(e, SD_EFORMAT, "%s: bad JSON key near byte %td", nm, j.p - txt);
            js_ws(&j);
            if (j.p >= j.end || *j.p++ != ':')
                return sd_err_set(e, SD_EFORMAT, "%s: expected ':' after \"%s\"", nm, key);
            js_ws(&j);
            int bad = 0;
            if (!strcmp(key, "shape")) {
                bad = sc->nshape || js_int_array(&j, sc->shape, 4, &sc->nshape) || sc->nshape < 2 || sc->nshape > 3;
            } else if (!strcmp(key, "shape_rows_cols")) {
                bad = sc->nrc || js_int_array(&j, sc->rc, 4, &sc->nrc) || sc->nrc != 2;
            } else if (!strcmp(key, "nframes")) {
                double d;
                bad = sc->has_nframes || js_number(&j, &d) || d != floor(d) || d < 1 || d > 4e9;
                sc->nframes = bad ? 0 : (int64_t)d;
                sc->has_nframes = 1;
            } else if (!strcmp(key, "dtype")) {
                bad = got_dtype++ || js_string(&j, sc->dtype, sizeof sc->dtype);
            } else if (!strcmp(key, "dx_A") || !strcmp(key, "dx_angstrom") || !strcmp(key, "dx")) {
                bad = got_dx++ || js_number(&j, &sc->dx) || !(sc->dx > 0);
            } else {
                bad = js_skip_value(&j);
            }
            if (bad)
                return sd_err_set(e, SD_EFORMAT, "%s: bad or duplicate value for \"%s\"", nm, key);
            js_ws(&j);
            if (j.p < j.end && *j.p == ',') {
                j.p++;
                continue;
            }
            if (j.p < j.end && *j.p == '}') {
                j.p++;
                break;
            }
            return sd_err_set(e, SD_EFORMAT, "%s: expected ',' or '}' near byte %td", nm, j.p - txt);
        }
    js_ws(&j);
    if (j.p != j.end)
        return sd_err_set(e, SD_EFORMAT, "%s: trailing text after the JSON object", nm);
    if (!got_dtype)
        return sd_err_set(e, SD_EFORMAT, "%s: sidecar lacks \"dtype\"", nm);
    if (!sc->nshape && !sc->nrc)
        return sd_err_set(e, SD_EFORMAT, "%s: sidecar lacks \"shape\" or \"shape_rows_cols\"", nm);
    return SD_OK;
}

/* Geometry and type from a sidecar; validates shape against nbytes (-1: skip). */
static int sidecar_geometry(const sidecar_t *sc, int64_t nbytes, const char *nm, int64_t *w, int64_t *h,
                            int64_t *nf, sd_pixel_type_t *t, sd_err_t *e)
{
    int r = parse_dtype(sc->dtype, t);
    if (r == -2)
        return sd_err_set(e, SD_EFORMAT, "%s: big-endian raw data not supported (dtype \"%.60s\")", nm, sc->dtype);
    if (r == -3)
        return sd_err_set(e, SD_EFORMAT, "%s: Fortran-order raw data not supported (dtype \"%.60s\")", nm, sc->dtype);
    if (r)
        return sd_err_set(e, SD_EFORMAT, "%s: unknown dtype \"%.60s\"", nm, sc->dtype);
    if (sc->nshape) {
        *nf = sc->nshape == 3 ? sc->shape[0] : 1;
        *h = sc->shape[sc->nshape - 2];
        *w = sc->shape[sc->nshape - 1];
    } else {
        *nf = 1;
        *h = sc->rc[0];
        *w = sc->rc[1];
    }
    if (sc->nshape && sc->nrc && (sc->rc[0] != *h || sc->rc[1] != *w))
        return sd_err_set(e, SD_EFORMAT, "%s: \"shape\" and \"shape_rows_cols\" disagree", nm);
    if (sc->has_nframes) {
        if (sc->nshape == 3 && sc->nframes != *nf)
            return sd_err_set(e, SD_EFORMAT, "%s: \"nframes\" disagrees with \"shape\"", nm);
        *nf = sc->nframes;
    }
    if (*w < 1 || *h < 1 || *nf < 1)
        return sd_err_set(e, SD_EFORMAT, "%s: empty image in sidecar shape", nm);
    if (*w > SD_IMAGE_MAX_PIXELS || *h > SD_IMAGE_MAX_PIXELS / *w || *nf > SD_IMAGE_MAX_PIXELS / (*w * *h))
        return sd_err_set(e, SD_ENOMEM, "%s: sidecar shape exceeds the pixel limit", nm);
    int64_t want = *w * *h * *nf * sd_pixel_size(*t);
    if (nbytes >= 0 && nbytes != want)
        return sd_err_set(e, SD_EFORMAT, "%s: raw data has %lld bytes, sidecar shape %lld x %lld x %lld of %s needs %lld",
                          nm, (long long)nbytes, (long long)*nf, (long long)*h, (long long)*w, sd_pixel_type_name(*t),
                          (long long)want);
    return SD_OK;
}

int sd_image_read_raw_mem(const void *raw, size_t rawlen, const char *json, size_t jsonlen, const char *name,
                          sd_image_t *out, sd_err_t *e)
{
    if (!out)
        return sd_err_set(e, SD_EINVAL, "sd_image_read_raw_mem: NULL argument");
    memset(out, 0, sizeof *out);
    const char *nm = name ? name : "(memory)";
    sidecar_t sc;
    int rc = parse_sidecar(json ? json : "", json ? jsonlen : 0, nm, &sc, e);
    int64_t w, h, nf;
    sd_pixel_type_t t;
    if (!rc)
        rc = sidecar_geometry(&sc, raw ? (int64_t)rawlen : 0, nm, &w, &h, &nf, &t, e);
    if (!rc)
        rc = image_alloc(out, w, h, nf, nm, e);
    if (rc)
        return rc;
    if ((rc = sd_pixels_to_f64(raw, t, w * h * nf, out->data, e))) {
        sd_image_free(out);
        return sd_err_prefix(e, "%s", nm);
    }
    out->dx = sc.dx;
    out->src_type = t;
    return SD_OK;
}

/* Sidecar of `path`: "path.json", else the path with its extension replaced by ".json". */
static int find_sidecar(const char *path, char *out, size_t cap, sd_err_t *e)
{
    snprintf(out, cap, "%s.json", path);
    if (access(out, R_OK) == 0)
        return SD_OK;
    char alt[4096];
    snprintf(alt, sizeof alt, "%s", path);
    char *dot = strrchr(alt, '.'), *slash = strrchr(alt, '/');
    if (dot && (!slash || dot > slash)) {
        *dot = '\0';
        char tmp[4096 + 8];
        snprintf(tmp, sizeof tmp, "%s.json", alt);
        if (access(tmp, R_OK) == 0) {
            snprintf(out, cap, "%s", tmp);
            return SD_OK;
        }
        return sd_err_set(e, SD_ENOTFOUND, "%s: unknown image type and no JSON sidecar (%s.json or %s)", path, path,
                          tmp);
    }
    return sd_err_set(e, SD_ENOTFOUND, "%s: unknown image type and no JSON sidecar %s.json", path, path);
}

static int read_raw_path(const char *path, sd_image_t *out, sd_err_t *e)
{
    memset(out, 0, sizeof *out);
    char jp[4096 + 16];
    int rc = find_sidecar(path, jp, sizeof jp, e);
    if (rc)
        return rc;
    char *js;
    size_t jl;
    if ((rc = sd_read_file(jp, MAX_SIDECAR_BYTES, &js, &jl, e)))
        return rc;
    sidecar_t sc;
    rc = parse_sidecar(js, jl, jp, &sc, e);
    free(js);
    if (rc)
        return rc;
    struct stat st;
    if (stat(path, &st) != 0)
        return sd_err_set(e, errno == ENOENT ? SD_ENOTFOUND : SD_EIO, "%s: cannot stat: %s", path, strerror(errno));
    int64_t w, h, nf;
    sd_pixel_type_t t;
    if ((rc = sidecar_geometry(&sc, (int64_t)st.st_size, path, &w, &h, &nf, &t, e)))
        return rc;
    if ((rc = image_alloc(out, w, h, nf, path, e)))
        return rc;
    FILE *f = fopen(path, "rb");
    if (!f) {
        sd_image_free(out);
        return sd_err_set(e, SD_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    int ps = sd_pixel_size(t);
    int64_t fpix = w * h;
    unsigned char *fb = malloc((size_t)(fpix * ps));
    if (!fb)
        rc = sd_err_set(e, SD_ENOMEM, "%s: out of memory", path);
    for (int64_t z = 0; !rc && z < nf; z++) {
        if (fread(fb, (size_t)ps, (size_t)fpix, f) != (size_t)fpix)
            rc = sd_err_set(e, SD_EIO, "%s: short read in frame %lld", path, (long long)z);
        else if ((rc = sd_pixels_to_f64(fb, t, fpix, out->data + z * fpix, e)))
            sd_err_prefix(e, "%s: frame %lld", path, (long long)z);
    }
    free(fb);
    fclose(f);
    if (rc) {
        sd_image_free(out);
        return rc;
    }
    out->dx = sc.dx;
    out->src_type = t;
    return SD_OK;
}

int sd_image_write_raw(const char *path, const sd_image_t *img, sd_pixel_type_t type, sd_err_t *e)
{
    int rc = check_image(img, path, e);
    if (rc)
        return rc;
    int ps = sd_pixel_size(type);
    if (!ps)
        return sd_err_set(e, SD_EINVAL, "%s: invalid pixel type %d", path, (int)type);
    int64_t n = img->width * img->height * img->nframes;
    unsigned char *data = malloc((size_t)(n * ps));
    if (!data)
        return sd_err_set(e, SD_ENOMEM, "%s: out of memory", path);
    if ((rc = f64_to_pixels(img->data, n, type, data, e))) {
        free(data);
        return sd_err_prefix(e, "%s", path);
    }
    char jp[4096];
    if (strlen(path) + 6 > sizeof jp) {
        free(data);
        return sd_err_set(e, SD_EINVAL, "%.200s...: path too long", path);
    }
    snprintf(jp, sizeof jp, "%s.json", path);
    sd_atomic_file_t af, aj;
    if ((rc = sd_atomic_open(&af, path, e))) {
        free(data);
        return rc;
    }
    if (fwrite(data, (size_t)ps, (size_t)n, af.f) != (size_t)n) {
        int en = errno;
        free(data);
        sd_atomic_abort(&af);
        return sd_err_set(e, SD_EIO, "%s: write failed: %s", path, strerror(en));
    }
    free(data);
    if ((rc = sd_atomic_open(&aj, jp, e))) {
        sd_atomic_abort(&af);
        return rc;
    }
    char dxs[32], dxline[64] = "";
    sd_fmt_f64(dxs, img->dx);
    if (img->dx > 0) /* unknown dx (0) is left out: readers treat a missing dx as unknown */
        snprintf(dxline, sizeof dxline, " \"dx_A\": %s,\n", dxs);
    fprintf(aj.f,
            "{\n \"shape\": [%lld, %lld, %lld],\n \"shape_rows_cols\": [%lld, %lld],\n \"nframes\": %lld,\n"
            " \"dtype\": \"%s little-endian, row-major (C order)\",\n%s"
            " \"pixel_convention\": \"pixel (r,c) 0-based at x=c*dx, y=r*dx\",\n \"writer\": \"stemdyn\"\n}\n",
            (long long)img->nframes, (long long)img->height, (long long)img->width, (long long)img->height,
            (long long)img->width, (long long)img->nframes, sd_pixel_type_name(type), dxline);
    if ((rc = sd_atomic_commit(&af, e))) {
        sd_atomic_abort(&aj);
        return rc;
    }
    return sd_atomic_commit(&aj, e);
}

/* ---- npy ------------------------------------------------------------------------ */

static int image_from_npy(sd_npy_t *a, const char *nm, sd_image_t *out, sd_err_t *e)
{
    if (a->ndim != 2 && a->ndim != 3) {
        int nd = a->ndim;
        sd_npy_free(a);
        return sd_err_set(e, SD_EFORMAT, "%s: image .npy must be 2-D or 3-D, not %d-D", nm, nd);
    }
    sd_pixel_type_t t = SD_PIX_F64;
    switch (a->dtype) {
    case SD_NPY_F64: t = SD_PIX_F64; break;
    case SD_NPY_F32: t = SD_PIX_F32; break;
    case SD_NPY_I64: t = SD_PIX_I64; break;
    case SD_NPY_I32: t = SD_PIX_I32; break;
    case SD_NPY_U8: t = SD_PIX_U8; break;
    }
    int64_t nf = a->ndim == 3 ? a->shape[0] : 1, h = a->shape[a->ndim - 2], w = a->shape[a->ndim - 1];
    int rc = image_alloc(out, w, h, nf, nm, e);
    if (!rc && (rc = sd_pixels_to_f64(a->data, t, w * h * nf, out->data, e))) {
        sd_image_free(out);
        sd_err_prefix(e, "%s", nm);
    }
    sd_npy_free(a);
    if (!rc)
        out->src_type = t;
    return rc;
}

int sd_image_read_npy_mem(const void *buf, size_t len, const char *name, sd_image_t *out, sd_err_t *e)
{
    if (!out)
        return sd_err_set(e, SD_EINVAL, "sd_image_read_npy_mem: NULL argument");
    memset(out, 0, sizeof *out);
    const char *nm = name ? name : "(memory)";
    sd_npy_t a;
    int rc = sd_npy_read_mem(buf, len, nm, &a, e);
    return rc ? rc : image_from_npy(&a, nm, out, e);
}

int sd_image_write_npy(const char *path, const sd_image_t *img, sd_err_t *e)
{
    int rc = check_image(img, path, e);
    if (rc)
        return rc;
    for (int64_t i = 0; i < img->width * img->height * img->nframes; i++)
        if (!isfinite(img->data[i]))
            return sd_err_set(e, SD_ERANGE, "%s: pixel %lld is not finite", path, (long long)i);
    int64_t sh[3] = {img->nframes, img->height, img->width};
    return img->nframes == 1 ? sd_npy_write(path, SD_NPY_F64, 2, sh + 1, img->data, e)
                             : sd_npy_write(path, SD_NPY_F64, 3, sh, img->data, e);
}

/* ---- dispatch -------------------------------------------------------------------- */

int sd_image_read(const char *path, sd_image_t *out, sd_err_t *e)
{
    if (!path || !out)
        return sd_err_set(e, SD_EINVAL, "sd_image_read: NULL argument");
    memset(out, 0, sizeof *out);
    if (has_ext(path, ".tif") || has_ext(path, ".tiff"))
        return read_tiff_path(path, out, e);
    if (has_ext(path, ".mrc") || has_ext(path, ".mrcs") || has_ext(path, ".st") || has_ext(path, ".ali") ||
        has_ext(path, ".rec") || has_ext(path, ".map"))
        return read_mrc_path(path, out, e);
    if (has_ext(path, ".npy")) {
        sd_npy_t a;
        int rc = sd_npy_read(path, &a, e);
        return rc ? rc : image_from_npy(&a, path, out, e);
    }
    return read_raw_path(path, out, e);
}
