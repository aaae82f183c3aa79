/* sd_image: the reference STEM images (raw + JSON), round trips of TIFF (every
 * type, multi-page), MRC (modes 0 1 2 6 12), raw and npy, conversions, and
 * rejection of malformed files. */
#include "sd_image.h"
#include "sd_npy.h"
#include "sdtest.h"

#include <stdint.h>
#include <tiffio.h>
#include <unistd.h>

static void tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "/tmp/sdtest_img_%d_%s", (int)getpid(), name);
}

static double img_sum(const sd_image_t *m)
{
    double s = 0;
    for (int64_t i = 0; i < m->width * m->height * m->nframes; i++)
        s += m->data[i];
    return s;
}

static void test_real_raw(sdt_t *t)
{
    char p[512];
    sd_err_t e = {0};
    sd_image_t m;
    /* values from numpy: np.fromfile(f, '<f8').reshape(rows, cols) */
    CHECK_EQ_INT(t, sd_image_read(sdt_shared_or_skip("oracle/stem/PtIr_obs.f64", p, sizeof p), &m, &e), SD_OK);
    CHECK(t, m.width == 512 && m.height == 512 && m.nframes == 1 && m.dx == 0.1211 && m.src_type == SD_PIX_F64);
    if (m.data) {
        CHECK_NEAR(t, img_sum(&m), 1585.8748675271895, 1e-9);
        CHECK(t, m.data[100 * 512 + 200] == 0.033338 && m.data[158 * 512 + 230] == 0.13721);
    }
    sd_image_free(&m);
    CHECK(t, m.data == NULL);
    CHECK_EQ_INT(t, sd_image_read(sdt_shared_or_skip("oracle/stem/HMM_obs_frame0.f64", p, sizeof p), &m, &e), SD_OK);
    CHECK(t, m.width == 361 && m.height == 361 && m.dx == 0.125);
    if (m.data) {
        CHECK_NEAR(t, img_sum(&m), 1221.9520000000002, 1e-9);
        CHECK(t, m.data[228 * 361 + 193] == 0.576 && m.data[255] == 0.064 && m.data[254] == 0.0);
    }
    sd_image_free(&m);
    /* non-square: rows 731, cols 714 */
    CHECK_EQ_INT(t, sd_image_read(sdt_shared_or_skip("oracle/stem/Aufivefold_obs.f64", p, sizeof p), &m, &e), SD_OK);
    CHECK(t, m.width == 714 && m.height == 731 && m.dx == 0.244);
    if (m.data) {
        CHECK(t, img_sum(&m) == 7863764246.0);
        CHECK(t, m.data[0] == 4400.0 && m.data[100 * 714 + 200] == 11454.0 && m.data[731 * 714 - 1] == 3465.0);
    }
    sd_image_free(&m);
}

/* A 3-frame 5x7 image whose values are exact in `type`. */
static void make_img(sd_image_t *m, sd_pixel_type_t type)
{
    m->width = 7;
    m->height = 5;
    m->nframes = 3;
    m->dx = 0.1211;
    m->data = malloc(105 * sizeof(double));
    for (int i = 0; i < 105; i++) {
        double v = i;
        switch (type) {
        case SD_PIX_I8: case SD_PIX_I16: case SD_PIX_I32: case SD_PIX_I64: v = i - 52; break;
        case SD_PIX_F32: case SD_PIX_F64: case SD_PIX_F16: v = (i - 52) * 0.25; break;
        default: break;
        }
        m->data[i] = v;
    }
    if (type == SD_PIX_U16) m->data[104] = 65535;
    if (type == SD_PIX_I16) m->data[0] = -32768;
    if (type == SD_PIX_U32) m->data[104] = 4294967295.0;
    if (type == SD_PIX_I32) m->data[0] = -2147483648.0;
    if (type == SD_PIX_F64) m->data[3] = 1.0 / 3.0;
    if (type == SD_PIX_F32) m->data[3] = (float)(1.0 / 3.0);
    if (type == SD_PIX_F16) m->data[3] = 65504, m->data[4] = 5.9604644775390625e-08, m->data[5] = -6.103515625e-05;
}

static void check_same(sdt_t *t, const sd_image_t *a, const sd_image_t *b, const char *what)
{
    CHECK_MSG(t, a->width == b->width && a->height == b->height && a->nframes == b->nframes, "%s: geometry", what);
    if (a->width == b->width && a->height == b->height && a->nframes == b->nframes && b->data) {
        int64_t bad = -1;
        for (int64_t i = 0; i < a->width * a->height * a->nframes && bad < 0; i++)
            if (a->data[i] != b->data[i])
                bad = i;
        CHECK_MSG(t, bad < 0, "%s: pixel %lld %.17g vs %.17g", what, (long long)bad, bad >= 0 ? a->data[bad] : 0.0,
                  bad >= 0 ? b->data[bad] : 0.0);
    }
}

static void test_tiff_roundtrip(sdt_t *t)
{
    static const sd_pixel_type_t types[] = {SD_PIX_U8, SD_PIX_U16, SD_PIX_U32, SD_PIX_I8,
                                            SD_PIX_I16, SD_PIX_I32, SD_PIX_F32, SD_PIX_F64};
    char path[256];
    tmp_path(path, sizeof path, "rt.tif");
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        sd_image_t m, b;
        make_img(&m, types[k]);
        sd_err_t e = {0};
        CHECK_EQ_INT(t, sd_image_write_tiff(path, &m, types[k], &e), SD_OK);
        CHECK_EQ_INT(t, sd_image_read(path, &b, &e), SD_OK);
        CHECK_MSG(t, b.src_type == types[k], "type %s read as %s", sd_pixel_type_name(types[k]),
                  sd_pixel_type_name(b.src_type));
        CHECK(t, b.dx == 0.1211);
        check_same(t, &m, &b, sd_pixel_type_name(types[k]));
        sd_image_free(&b);
        /* same bytes through the in-memory reader */
        FILE *f = fopen(path, "rb");
        if (f) {
            fseek(f, 0, SEEK_END);
            long n = ftell(f);
            fseek(f, 0, SEEK_SET);
            char *buf = malloc((size_t)n);
            CHECK(t, fread(buf, 1, (size_t)n, f) == (size_t)n);
            fclose(f);
            CHECK_EQ_INT(t, sd_image_read_tiff_mem(buf, (size_t)n, "mem.tif", &b, &e), SD_OK);
            check_same(t, &m, &b, "tiff mem");
            sd_image_free(&b);
            free(buf);
        }
        sd_image_free(&m);
    }
    unlink(path);
}

static void test_tiff_foreign(sdt_t *t)
{
    /* tiled, deflate-compressed float32 written with libtiff directly (as other tools do) */
    char path[256];
    tmp_path(path, sizeof path, "tiled.tif");
    TIFF *tif = TIFFOpen(path, "w");
    CHECK(t, tif != NULL);
    if (!tif)
        return;
    uint32_t W = 40, H = 36, TW = 16, TH = 16;
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, W);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, H);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 32);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    TIFFSetField(tif, TIFFTAG_TILEWIDTH, TW);
    TIFFSetField(tif, TIFFTAG_TILELENGTH, TH);
    float tile[16 * 16];
    for (uint32_t y = 0; y < H; y += TH)
        for (uint32_t x = 0; x < W; x += TW) {
            for (uint32_t r = 0; r < TH; r++)
                for (uint32_t c = 0; c < TW; c++)
                    tile[r * TW + c] = (float)((y + r) * 1000 + (x + c));
            TIFFWriteTile(tif, tile, x, y, 0, 0);
        }
    TIFFClose(tif);
    sd_image_t m;
    sd_err_t e = {0};
    CHECK_EQ_INT(t, sd_image_read(path, &m, &e), SD_OK);
    CHECK(t, m.width == 40 && m.height == 36 && m.nframes == 1 && m.src_type == SD_PIX_F32 && m.dx == 0);
    if (m.data)
        CHECK(t, m.data[35 * 40 + 39] == 35039 && m.data[17 * 40 + 3] == 17003);
    sd_image_free(&m);

    /* RGB is refused with a clear message */
    tif = TIFFOpen(path, "w");
    uint8_t row[3 * 4] = {0};
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, 4);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, 2);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 3);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFWriteScanline(tif, row, 0, 0);
    TIFFWriteScanline(tif, row, 1, 0);
    TIFFClose(tif);
    CHECK_EQ_INT(t, sd_image_read(path, &m, &e), SD_EFORMAT);
    CHECK_STR_CONTAINS(t, e.msg, "3 samples per pixel");
    CHECK_STR_CONTAINS(t, e.msg, path);

    /* pages of different sizes */
    sd_image_t a = {0}, b = {0};
    make_img(&a, SD_PIX_U8);
    a.nframes = 1;
    char p2[256];
    tmp_path(p2, sizeof p2, "page.tif");
    CHECK_EQ_INT(t, sd_image_write_tiff(p2, &a, SD_PIX_U8, &e), SD_OK);
    tif = TIFFOpen(p2, "a");
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, 3);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, 1);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFWriteScanline(tif, row, 0, 0);
    TIFFClose(tif);
    CHECK_EQ_INT(t, sd_image_read(p2, &b, &e), SD_EFORMAT);
    CHECK_STR_CONTAINS(t, e.msg, "page 1 is 3x1");
    sd_image_free(&a);

    /* a header claiming a huge page over a few stored bytes is refused before allocating */
    tif = TIFFOpen(p2, "w");
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, 4);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, 100000000);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 8);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, 100000000);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFWriteScanline(tif, row, 0, 0);
    TIFFClose(tif);
    CHECK_EQ_INT(t, sd_image_read(p2, &b, &e), SD_EFORMAT);
    CHECK_STR_CONTAINS(t, e.msg, "cannot hold 4x100000000 uint8 pixels");
    CHECK(t, b.data == NULL);

    /* garbage and truncation */
    const char junk[] = "II*\0garbage that is not a TIFF";
    CHECK_EQ_INT(t, sd_image_read_tiff_mem(junk, sizeof junk, "junk.tif", &m, &e), SD_EFORMAT);
    CHECK_STR_CONTAINS(t, e.msg, "junk.tif");
    CHECK_EQ_INT(t, sd_image_read_tiff_mem("", 0, "empty.tif", &m, &e), SD_EFORMAT);
    unlink(path);
    unlink(p2);
}

static void test_mrc(sdt_t *t)
{
    static const struct {
        sd_pixel_type_t type;
        int mode;
    } cases[] = {{SD_PIX_I8, 0}, {SD_PIX_I16, 1}, {SD_PIX_F32, 2}, {SD_PIX_U16, 6}, {SD_PIX_F16, 12}};
    char path[256];
    tmp_path(path, sizeof path, "rt.mrc");
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sd_image_t m, b;
        make_img(&m, cases[k].type);
        if (cases[k].type == SD_PIX_I8)
            for (int i = 0; i < 105; i++)
                m.data[i] = i - 52;
        sd_err_t e = {0};
        CHECK_EQ_INT(t, sd_image_write_mrc(path, &m, cases[k].type, &e), SD_OK);
        FILE *f = fopen(path, "rb");
        unsigned char h[1024] = {0};
        if (f) {
            CHECK(t, fread(h, 1, 1024, f) == 1024);
            fclose(f);
        }
        int32_t mode, dims[3];
        memcpy(&mode, h + 12, 4);
        memcpy(dims, h, 12);
        CHECK_EQ_INT(t, mode, cases[k].mode);
        CHECK(t, dims[0] == 7 && dims[1] == 5 && dims[2] == 3 && !memcmp(h + 208, "MAP ", 4));
        CHECK_EQ_INT(t, sd_image_read(path, &b, &e), SD_OK);
        CHECK(t, b.src_type == cases[k].type);
        CHECK_NEAR(t, b.dx, 0.1211, 1e-7); /* cell lengths are float32 */
        check_same(t, &m, &b, "mrc");
        sd_image_free(&b);
        sd_image_free(&m);
    }
    /* unsupported writer types */
    sd_image_t m;
    make_img(&m, SD_PIX_U8);
    sd_err_t e = {0};
    CHECK_EQ_INT(t, sd_image_write_mrc(path, &m, SD_PIX_U32, &e), SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "no mode for uint32");
    m.data[7] = 1e6;
    CHECK_EQ_INT(t, sd_image_write_mrc(path, &m, SD_PIX_F16, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "does not fit in float16");
    sd_image_free(&m);

    /* malformed headers, built from a valid 2x2 float32 file */
    unsigned char buf[1024 + 16];
    memset(buf, 0, sizeof buf);
    int32_t hv[4] = {2, 2, 1, 2};
    memcpy(buf, hv, sizeof hv);
    memcpy(buf + 208, "MAP ", 4);
    buf[212] = 0x44;
    buf[213] = 0x44;
    sd_image_t b;
    CHECK_EQ_INT(t, sd_image_read_mrc_mem(buf, sizeof buf, "ok.mrc", &b, &e), SD_OK);
    sd_image_free(&b);
    struct {
        int off;
        int32_t val;
        size_t len;
        int code;
        const char *frag;
    } bad[] = {
        {12, 3, sizeof buf, SD_EFORMAT, "MRC mode 3 not supported"},
        {0, 0, sizeof buf, SD_EFORMAT, "must be positive"},
        {8, 2, sizeof buf, SD_EFORMAT, "MRC header implies 1056"},
        {-1, 0, sizeof buf - 1, SD_EFORMAT, "file has 1039 bytes"},
        {64, 2, sizeof buf, SD_EFORMAT, "axis order 2,0,0"},
        {92, 100000, sizeof buf, SD_EFORMAT, "extended header size 100000"},
        {208, 0x2050414e, sizeof buf, SD_EFORMAT, "not an MRC file"},
        {212, 0x1111, sizeof buf, SD_EFORMAT, "big-endian"},
        {0, 1 << 30, sizeof buf, SD_ENOMEM, "exceeds the limit"},
        {-1, 0, 100, SD_EFORMAT, "too short for an MRC header"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char c[sizeof buf];
        memcpy(c, buf, sizeof buf);
        if (bad[i].off >= 0)
            memcpy(c + bad[i].off, &bad[i].val, 4);
        if (bad[i].off == 0 && bad[i].val == 1 << 30)
            memcpy(c + 4, &bad[i].val, 4);
        int rc = sd_image_read_mrc_mem(c, bad[i].len, "bad.mrc", &b, &e);
        CHECK_MSG(t, rc == bad[i].code, "case %zu: rc %d (%s)", i, rc, e.msg);
        CHECK_STR_CONTAINS(t, e.msg, bad[i].frag);
        CHECK_STR_CONTAINS(t, e.msg, "bad.mrc");
        CHECK(t, b.data == NULL);
    }
    /* NaN pixel */
    float nanv = NAN;
    memcpy(buf + 1024 + 8, &nanv, 4);
    CHECK_EQ_INT(t, sd_image_read_mrc_mem(buf, sizeof buf, "nan.mrc", &b, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "pixel 2 is not finite");
    unlink(path);
}

static void test_raw_npy(sdt_t *t)
{
    static const sd_pixel_type_t types[] = {SD_PIX_U8, SD_PIX_U16, SD_PIX_U32, SD_PIX_I8,  SD_PIX_I16,
                                            SD_PIX_I32, SD_PIX_F32, SD_PIX_F64, SD_PIX_F16, SD_PIX_I64};
    char path[256], jp[300];
    tmp_path(path, sizeof path, "rt.raw");
    snprintf(jp, sizeof jp, "%s.json", path);
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        sd_image_t m, b;
        make_img(&m, types[k]);
        sd_err_t e = {0};
        CHECK_EQ_INT(t, sd_image_write_raw(path, &m, types[k], &e), SD_OK);
        CHECK_EQ_INT(t, sd_image_read(path, &b, &e), SD_OK);
        CHECK(t, b.src_type == types[k] && b.dx == 0.1211);
        check_same(t, &m, &b, sd_pixel_type_name(types[k]));
        sd_image_free(&b);
        sd_image_free(&m);
    }
    unlink(path);
    unlink(jp);
    /* npy 3-D and 2-D */
    sd_image_t m, b;
    make_img(&m, SD_PIX_F64);
    sd_err_t e = {0};
    tmp_path(path, sizeof path, "rt.npy");
    CHECK_EQ_INT(t, sd_image_write_npy(path, &m, &e), SD_OK);
    CHECK_EQ_INT(t, sd_image_read(path, &b, &e), SD_OK);
    check_same(t, &m, &b, "npy 3-D");
    CHECK(t, b.dx == 0);
    sd_image_free(&b);
    m.nframes = 1;
    CHECK_EQ_INT(t, sd_image_write_npy(path, &m, &e), SD_OK);
    sd_npy_t a;
    CHECK_EQ_INT(t, sd_npy_read(path, &a, &e), SD_OK);
    CHECK(t, a.ndim == 2 && a.shape[0] == 5 && a.shape[1] == 7);
    sd_npy_free(&a);
    int32_t iv[6] = {1, 2, 3, 4, 5, 6};
    int64_t sh1[1] = {6}, sh2[2] = {2, 3};
    CHECK_EQ_INT(t, sd_npy_write(path, SD_NPY_I32, 2, sh2, iv, &e), SD_OK);
    CHECK_EQ_INT(t, sd_image_read(path, &b, &e), SD_OK);
    CHECK(t, b.width == 3 && b.height == 2 && b.src_type == SD_PIX_I32 && b.data[5] == 6);
    sd_image_free(&b);
    CHECK_EQ_INT(t, sd_npy_write(path, SD_NPY_I32, 1, sh1, iv, &e), SD_OK);
    CHECK_EQ_INT(t, sd_image_read(path, &b, &e), SD_EFORMAT);
    CHECK_STR_CONTAINS(t, e.msg, "must be 2-D or 3-D, not 1-D");
    unlink(path);
    sd_image_free(&m);
}

static void test_raw_malformed(sdt_t *t)
{
    double px[6] = {0, 1, 2, 3, 4, 5};
    struct {
        const char *json;
        size_t rawlen;
        int code;
        const char *frag;
    } cases[] = {
        {"{\"shape_rows_cols\": [2, 3], \"dtype\": \"float64 little-endian, row-major (C order)\", \"dx_A\": 0.5}", 48,
         SD_OK, ""},
        {"{\"shape\": [1, 2, 3], \"dtype\": \"<f8\"}", 48, SD_OK, ""},
        {"{\"shape_rows_cols\": [2, 3], \"dtype\": \"float64\"}", 40, SD_EFORMAT, "raw data has 40 bytes"},
        {"{\"shape_rows_cols\": [2, 3], \"dtype\": \"complex128\"}", 48, SD_EFORMAT, "unknown dtype"},
        {"{\"shape_rows_cols\": [2, 3], \"dtype\": \"float64 big-endian\"}", 48, SD_EFORMAT, "big-endian"},
        {"{\"shape_rows_cols\": [2, 3], \"dtype\": \">f8\"}", 48, SD_EFORMAT, "big-endian"},
        {"{\"shape_rows_cols\": [2, 3]}", 48, SD_EFORMAT, "lacks \"dtype\""},
        {"{\"dtype\": \"<f8\"}", 48, SD_EFORMAT, "lacks \"shape\""},
        {"{\"shape_rows_cols\": [2, 3], \"dtype\": \"<f8\",}", 48, SD_EFORMAT, "bad JSON key"},
        {"{\"shape_rows_cols\": [2, 3], \"dtype\": \"<f8\"} x", 48, SD_EFORMAT, "trailing text"},
        {"{\"shape_rows_cols\": [2, 3.5], \"dtype\": \"<f8\"}", 48, SD_EFORMAT, "\"shape_rows_cols\""},
        {"{\"shape_rows_cols\": [2, 3], \"dtype\": \"<f8\", \"dx_A\": -1}", 48, SD_EFORMAT, "\"dx_A\""},
        {"{\"shape_rows_cols\": [0, 3], \"dtype\": \"<f8\"}", 0, SD_EFORMAT, "empty image"},
        {"{\"shape_rows_cols\": [100000, 100000], \"dtype\": \"<f8\"}", 48, SD_ENOMEM, "pixel limit"},
        {"{\"shape\": [2, 3], \"shape_rows_cols\": [3, 2], \"dtype\": \"<f8\"}", 48, SD_EFORMAT, "disagree"},
        {"[1, 2]", 48, SD_EFORMAT, "not a JSON object"},
        {"{\"a\": [[[[{\"b\": null}]]]], \"shape_rows_cols\": [2, 3], \"dtype\": \"<f8\", \"c\": \"\\u00e9\"}", 48,
         SD_OK, ""},
        {"{\"a\": \"unterminated, \"shape_rows_cols\": [2, 3], \"dtype\": \"<f8\"}", 48, SD_EFORMAT, "expected ','"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sd_image_t m;
        sd_err_t e = {0};
        int rc = sd_image_read_raw_mem(px, cases[i].rawlen, cases[i].json, strlen(cases[i].json), "bad.raw", &m, &e);
        CHECK_MSG(t, rc == cases[i].code, "case %zu: rc %d (%s)", i, rc, e.msg);
        if (cases[i].code) {
            CHECK_STR_CONTAINS(t, e.msg, cases[i].frag);
            CHECK_STR_CONTAINS(t, e.msg, "bad.raw");
        } else {
            CHECK(t, m.width == 3 && m.height == 2 && m.data[5] == 5);
        }
        sd_image_free(&m);
    }
    /* missing sidecar names both places it looked */
    char path[256];
    tmp_path(path, sizeof path, "nosidecar.f64");
    FILE *f = fopen(path, "wb");
    fwrite(px, 8, 6, f);
    fclose(f);
    sd_image_t m;
    sd_err_t e = {0};
    CHECK_EQ_INT(t, sd_image_read(path, &m, &e), SD_ENOTFOUND);
    CHECK_STR_CONTAINS(t, e.msg, "no JSON sidecar");
    CHECK_STR_CONTAINS(t, e.msg, "nosidecar.json");
    unlink(path);
    CHECK_EQ_INT(t, sd_image_read("/nonexistent/a.tif", &m, &e), SD_ENOTFOUND);
    CHECK_EQ_INT(t, sd_image_read("/nonexistent/a.mrc", &m, &e), SD_ENOTFOUND);
}

static void test_conversions(sdt_t *t)
{
    sd_image_t m = {0}, b = {0};
    m.width = 8;
    m.height = 1;
    m.nframes = 1;
    double v[8] = {-5, 2.5, 3.5, 254.6, 255.4, 300, 1e300, -0.4};
    m.data = v;
    char path[256];
    tmp_path(path, sizeof path, "conv.tif");
    sd_err_t e = {0};
    CHECK_EQ_INT(t, sd_image_write_tiff(path, &m, SD_PIX_U8, &e), SD_OK);
    CHECK_EQ_INT(t, sd_image_read(path, &b, &e), SD_OK);
    double want[8] = {0, 2, 4, 255, 255, 255, 255, 0}; /* nearest (ties to even), clamped */
    CHECK(t, b.data && memcmp(b.data, want, sizeof want) == 0);
    sd_image_free(&b);
    CHECK_EQ_INT(t, sd_image_write_tiff(path, &m, SD_PIX_F32, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "does not fit in float32");
    v[6] = NAN;
    CHECK_EQ_INT(t, sd_image_write_tiff(path, &m, SD_PIX_I16, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "not finite");
    CHECK_EQ_INT(t, sd_image_write_tiff(path, &m, SD_PIX_F16, &e), SD_EINVAL);
    m.dx = -1;
    v[6] = 0;
    CHECK_EQ_INT(t, sd_image_write_raw(path, &m, SD_PIX_F64, &e), SD_EINVAL);
    unlink(path);
    /* half floats: every finite value survives float16 → float64 → float16 (raw writer) exactly */
    static double all[63488];
    int64_t nh = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if (((h >> 10) & 0x1f) == 0x1f)
            continue; /* inf/NaN */
        uint16_t hv16 = (uint16_t)h;
        CHECK(t, sd_pixels_to_f64(&hv16, SD_PIX_F16, 1, &all[nh], &e) == SD_OK);
        nh++;
    }
    CHECK_EQ_INT(t, nh, 63488);
    sd_image_t hi = {nh, 1, 1, all, 0, SD_PIX_F64};
    char rp[256];
    tmp_path(rp, sizeof rp, "half.raw");
    CHECK_EQ_INT(t, sd_image_write_raw(rp, &hi, SD_PIX_F16, &e), SD_OK);
    CHECK_EQ_INT(t, sd_image_read(rp, &b, &e), SD_OK);
    check_same(t, &hi, &b, "float16 exhaustive");
    CHECK(t, b.data && b.data[1] == 5.9604644775390625e-08 && b.src_type == SD_PIX_F16);
    sd_image_free(&b);
    /* rounding to nearest even between neighbours: 1 + 2^-11 → 1, 1 + 3·2^-11 → 1 + 2^-9 */
    double mid[2] = {1.0 + ldexp(1, -11), 1.0 + 3 * ldexp(1, -11)};
    sd_image_t mi = {2, 1, 1, mid, 0, SD_PIX_F64};
    CHECK_EQ_INT(t, sd_image_write_raw(rp, &mi, SD_PIX_F16, &e), SD_OK);
    CHECK_EQ_INT(t, sd_image_read(rp, &b, &e), SD_OK);
    CHECK(t, b.data && b.data[0] == 1.0 && b.data[1] == 1.0 + ldexp(1, -9));
    sd_image_free(&b);
    unlink(rp);
    char rj[300];
    snprintf(rj, sizeof rj, "%s.json", rp);
    unlink(rj);
    uint16_t hv = 0x7c00; /* +inf */
    double d;
    CHECK_EQ_INT(t, sd_pixels_to_f64(&hv, SD_PIX_F16, 1, &d, &e), SD_ERANGE);
    CHECK_EQ_INT(t, sd_pixel_size(SD_PIX_F16), 2);
    CHECK_EQ_INT(t, sd_pixel_size((sd_pixel_type_t)99), 0);
}

SDT_MAIN(SDT_CASE(test_real_raw), SDT_CASE(test_tiff_roundtrip), SDT_CASE(test_tiff_foreign), SDT_CASE(test_mrc),
         SDT_CASE(test_raw_npy), SDT_CASE(test_raw_malformed), SDT_CASE(test_conversions))
