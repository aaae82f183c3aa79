/* .npy reader/writer: reference arrays (sums checked against numpy), round
 * trips of every dtype and rank, Fortran order, versions 2/3, big-endian, and
 * malformed headers. */
#include "sd_npy.h"
#include "sdtest.h"

#include <stdint.h>
#include <unistd.h>

static void tmp_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "/tmp/sdtest_npy_%d_%s", (int)getpid(), name);
}

static double sum_f64(const sd_npy_t *a)
{
    double s = 0;
    for (int64_t i = 0; i < a->count; i++)
        s += ((const double *)a->data)[i];
    return s;
}

typedef struct real_case {
    const char *rel;
    sd_npy_dtype_t dtype;
    int ndim;
    int64_t shape[3];
    double sum; /* numpy: a.astype(float64).sum() */
} real_case_t;

static void test_real_files(sdt_t *t)
{
    static const real_case_t cases[] = {
        {"oracle/soap/dh484.soap.npy", SD_NPY_F64, 2, {484, 324, 0}, 738526.23931153},
        {"oracle/soap/to976.soap.npy", SD_NPY_F64, 2, {976, 324, 0}, 1624802.075571822},
        {"oracle/soap/dh484_mu1nu1.soap576.npy", SD_NPY_F64, 2, {484, 576, 0}, 461977.75214057503},
        {"oracle/lens/dist47_dh484_jit0.3_20f.npy", SD_NPY_F64, 3, {20, 484, 47}, 86523.62161692139},
        {"oracle/lens/group_dh484_jit0.3_20f.npy", SD_NPY_I64, 2, {20, 484, 0}, 30906.0},
        {"oracle/lens/kmlabels_dh484_cnjit_300f.npy", SD_NPY_I64, 1, {96800, 0, 0}, 91867.0},
        {"oracle/lens/lens_dh484_jit0.3_20f_rc4p48.npy", SD_NPY_F64, 2, {484, 20, 0}, 1251.3328274259009},
        {"oracle/lens/grouptmat_norm_dh484_jit0.3_20f.npy", SD_NPY_F64, 2, {10, 10, 0}, 10.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const real_case_t *c = &cases[i];
        char p[512];
        sd_err_t e = {0};
        sd_npy_t a;
        sdt_shared_or_skip(c->rel, p, sizeof p);
        CHECK_EQ_INT(t, sd_npy_read(p, &a, &e), SD_OK);
        CHECK_EQ_INT(t, a.dtype, c->dtype);
        CHECK_EQ_INT(t, a.ndim, c->ndim);
        for (int k = 0; k < c->ndim; k++)
            CHECK_EQ_INT(t, a.shape[k], c->shape[k]);
        sd_npy_free(&a);
        CHECK_EQ_INT(t, sd_npy_read_f64(p, &a, &e), SD_OK);
        CHECK_EQ_INT(t, a.dtype, SD_NPY_F64);
        CHECK_NEAR(t, sum_f64(&a), c->sum, 1e-12 * fabs(c->sum) + 1e-12);
        sd_npy_free(&a);
        CHECK(t, a.data == NULL);
    }
    /* counts stored as float64 read as int64 */
    char p[512];
    sd_err_t e = {0};
    sd_npy_t a;
    CHECK_EQ_INT(t, sd_npy_read_i64(sdt_shared_or_skip("oracle/lens/nneigh_dh484_jit0.3_20f_rc4p48.npy", p, sizeof p),
                                    &a, &e), SD_OK);
    int64_t s = 0;
    for (int64_t i = 0; i < a.count; i++)
        s += ((int64_t *)a.data)[i];
    CHECK_EQ_INT(t, s, 146420);
    sd_npy_free(&a);
    /* but not fractional floats */
    CHECK_EQ_INT(t, sd_npy_read_i64(sdt_shared_or_skip("oracle/lens/lens_dh484_jit0.3_20f_rc4p48.npy", p, sizeof p), &a,
                                    &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "is not an integer");
    CHECK(t, a.data == NULL);
}

static void fill(void *d, sd_npy_dtype_t dt, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        switch (dt) {
        case SD_NPY_F64: ((double *)d)[i] = i * 0.1 - 7.0 / 3.0; break;
        case SD_NPY_F32: ((float *)d)[i] = (float)(i * 0.1 - 7.0 / 3.0); break;
        case SD_NPY_I64: ((int64_t *)d)[i] = i * 1000000007LL - (1LL << 40); break;
        case SD_NPY_I32: ((int32_t *)d)[i] = (int32_t)(i * 7 - 50); break;
        case SD_NPY_U8: ((uint8_t *)d)[i] = (uint8_t)(i * 37); break;
        }
    }
}

static void test_roundtrip_all(sdt_t *t)
{
    static const int64_t shapes[][3] = {{0, 0, 0}, {7, 0, 0}, {3, 5, 0}, {2, 3, 4}, {0, 4, 0}};
    static const int ndims[] = {0, 1, 2, 3, 2};
    for (int dt = SD_NPY_F64; dt <= SD_NPY_U8; dt++)
        for (int s = 0; s < 5; s++) {
            int64_t n = 1;
            for (int k = 0; k < ndims[s]; k++)
                n *= shapes[s][k];
            int es = sd_npy_dtype_size((sd_npy_dtype_t)dt);
            void *d = calloc((size_t)(n ? n : 1), (size_t)es);
            fill(d, (sd_npy_dtype_t)dt, n);
            char path[256];
            tmp_path(path, sizeof path, "rt.npy");
            sd_err_t e = {0};
            CHECK_EQ_INT(t, sd_npy_write(path, (sd_npy_dtype_t)dt, ndims[s], shapes[s], d, &e), SD_OK);
            /* header padded to 64 bytes, as numpy writes it */
            FILE *f = fopen(path, "rb");
            unsigned char h[10] = {0};
            if (f) {
                CHECK(t, fread(h, 1, 10, f) == 10);
                fseek(f, 0, SEEK_END);
                CHECK_EQ_INT(t, ftell(f), 10 + (h[8] | h[9] << 8) + n * es);
                fclose(f);
            }
            CHECK_EQ_INT(t, (10 + (h[8] | h[9] << 8)) % 64, 0);
            sd_npy_t a;
            CHECK_EQ_INT(t, sd_npy_read(path, &a, &e), SD_OK);
            CHECK_EQ_INT(t, a.dtype, dt);
            CHECK_EQ_INT(t, a.ndim, ndims[s]);
            CHECK_EQ_INT(t, a.count, n);
            for (int k = 0; k < ndims[s]; k++)
                CHECK_EQ_INT(t, a.shape[k], shapes[s][k]);
            CHECK(t, n == 0 || memcmp(a.data, d, (size_t)(n * es)) == 0);
            sd_npy_free(&a);
            free(d);
            unlink(path);
        }
}

/* Builds an .npy image in memory with an arbitrary header dict. */
static size_t make_npy(unsigned char *buf, int major, const char *dict, const void *data, size_t nb)
{
    size_t dl = strlen(dict);
    size_t pre = major == 1 ? 10 : 12;
    size_t total = (pre + dl + 1 + 63) / 64 * 64;
    size_t hlen = total - pre;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    if (major > 1)
        buf[10] = buf[11] = 0;
    memcpy(buf + pre, dict, dl);
    memset(buf + pre + dl, ' ', hlen - dl - 1);
    buf[total - 1] = '\n';
    if (nb)
        memcpy(buf + total, data, nb);
    return total + nb;
}

static void test_layouts(sdt_t *t)
{
    unsigned char buf[1024];
    sd_err_t e = {0};
    sd_npy_t a;
    /* Fortran order 2x3: memory holds columns */
    double fd[6] = {0, 10, 1, 11, 2, 12}; /* a[i][j] = 10 i + j */
    size_t n = make_npy(buf, 1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", fd, sizeof fd);
    CHECK_EQ_INT(t, sd_npy_read_mem(buf, n, "f.npy", &a, &e), SD_OK);
    double want[6] = {0, 1, 2, 10, 11, 12};
    CHECK(t, a.count == 6 && memcmp(a.data, want, sizeof want) == 0);
    sd_npy_free(&a);
    /* Fortran 3-D 2x3x4: element (i,j,k) = 100 i + 10 j + k at F offset i + 2 j + 6 k */
    int32_t f3[24], c3[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) {
                f3[i + 2 * j + 6 * k] = 100 * i + 10 * j + k;
                c3[(i * 3 + j) * 4 + k] = 100 * i + 10 * j + k;
            }
    n = make_npy(buf, 1, "{'shape': (2, 3, 4), 'fortran_order': True, 'descr': '<i4'}", f3, sizeof f3);
    CHECK_EQ_INT(t, sd_npy_read_mem(buf, n, "f3.npy", &a, &e), SD_OK);
    CHECK(t, a.dtype == SD_NPY_I32 && a.count == 24 && memcmp(a.data, c3, sizeof c3) == 0);
    sd_npy_free(&a);
    /* versions 2.0 and 3.0 */
    int64_t iv[3] = {-1, 0, 1LL << 50};
    for (int major = 2; major <= 3; major++) {
        n = make_npy(buf, major, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", iv, sizeof iv);
        CHECK_EQ_INT(t, sd_npy_read_mem(buf, n, "v.npy", &a, &e), SD_OK);
        CHECK(t, a.count == 3 && memcmp(a.data, iv, sizeof iv) == 0);
        sd_npy_free(&a);
    }
    /* big-endian float64 */
    unsigned char be[8] = {0x3f, 0xf8, 0, 0, 0, 0, 0, 0}; /* 1.5 */
    n = make_npy(buf, 1, "{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", be, 8);
    CHECK_EQ_INT(t, sd_npy_read_mem(buf, n, "be.npy", &a, &e), SD_OK);
    CHECK(t, a.count == 1 && ((double *)a.data)[0] == 1.5);
    sd_npy_free(&a);
    /* bool read as u8 0/1 */
    unsigned char bv[3] = {0, 1, 1};
    n = make_npy(buf, 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", bv, 3);
    CHECK_EQ_INT(t, sd_npy_read_mem(buf, n, "b.npy", &a, &e), SD_OK);
    CHECK(t, a.dtype == SD_NPY_U8 && a.count == 3 && ((uint8_t *)a.data)[2] == 1);
    sd_npy_free(&a);
    /* the header encoder matches numpy byte for byte (numpy 1.24 np.save of zeros((484,324))) */
    char h[256];
    size_t hl;
    int64_t sh[2] = {484, 324};
    CHECK_EQ_INT(t, sd_npy_encode_header(SD_NPY_F64, 2, sh, h, sizeof h, &hl, &e), SD_OK);
    CHECK_EQ_INT(t, hl, 128);
    CHECK(t, memcmp(h + 10, "{'descr': '<f8', 'fortran_order': False, 'shape': (484, 324), }", 63) == 0 &&
                 h[127] == '\n' && h[126] == ' ');
    char rp[512];
    FILE *rf = fopen(sdt_shared("oracle/soap/dh484.soap.npy", rp, sizeof rp), "rb");
    if (rf) {
        char ref[128];
        CHECK(t, fread(ref, 1, 128, rf) == 128 && memcmp(ref, h, 128) == 0);
        fclose(rf);
    }
}

typedef struct bad_case {
    int major;
    const char *dict;
    size_t nbytes; /* data bytes appended */
    int code;
    const char *frag;
} bad_case_t;

static void test_malformed(sdt_t *t)
{
    static const bad_case_t cases[] = {
        {1, "{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }", 32, SD_EFORMAT, "unsupported dtype '<c16'"},
        {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", 16, SD_EFORMAT, "header implies"},
        {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", 16, SD_EFORMAT, "trailing data"},
        {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", 0, SD_EFORMAT, "bad shape entry"},
        {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 1024), }", 0, SD_ENOMEM, "limit"},
        {1, "{'descr': '<f8', 'fortran_order': False}", 0, SD_EFORMAT, "lacks 'shape'"},
        {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2), }", 16, SD_EFORMAT, "needs a comma"},
        {1, "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16, SD_EFORMAT, "duplicate"},
        {1, "{'descr': '<f8', 'fortran_order': Maybe, 'shape': (2,), }", 16, SD_EFORMAT, "True or False"},
        {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'extra': 1}", 16, SD_EFORMAT, "unexpected key 'extra'"},
        {1, "['descr', '<f8']", 0, SD_EFORMAT, "not a dict"},
        {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), } junk", 16, SD_EFORMAT, "trailing text"},
        {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,2,3,4,5,6,7,8,9), }", 0, SD_EFORMAT, "more than 8"},
        {4, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16, SD_EVERSION, "version 4.0"},
    };
    unsigned char buf[1024];
    unsigned char zeros[64] = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = make_npy(buf, cases[i].major, cases[i].dict, zeros, cases[i].nbytes);
        sd_err_t e = {0};
        sd_npy_t a;
        int rc = sd_npy_read_mem(buf, n, "bad.npy", &a, &e);
        CHECK_MSG(t, rc == cases[i].code, "case %zu: rc %d want %d (%s)", i, rc, cases[i].code, e.msg);
        CHECK_STR_CONTAINS(t, e.msg, cases[i].frag);
        CHECK_STR_CONTAINS(t, e.msg, "bad.npy");
        CHECK(t, a.data == NULL);
    }
    sd_err_t e = {0};
    sd_npy_t a;
    CHECK_EQ_INT(t, sd_npy_read_mem("PK\3\4 not numpy", 15, "zip.npy", &a, &e), SD_EFORMAT);
    CHECK_STR_CONTAINS(t, e.msg, "bad magic");
    size_t n = make_npy(buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", zeros, 16);
    CHECK_EQ_INT(t, sd_npy_read_mem(buf, 40, "cut.npy", &a, &e), SD_EFORMAT);
    CHECK_STR_CONTAINS(t, e.msg, "truncated .npy header");
    /* truncated data in a real file */
    char path[256];
    tmp_path(path, sizeof path, "cut.npy");
    FILE *f = fopen(path, "wb");
    fwrite(buf, 1, n - 3, f);
    fclose(f);
    CHECK_EQ_INT(t, sd_npy_read(path, &a, &e), SD_EFORMAT);
    CHECK_STR_CONTAINS(t, e.msg, path);
    CHECK_STR_CONTAINS(t, e.msg, "truncated");
    unlink(path);
    CHECK_EQ_INT(t, sd_npy_read("/nonexistent/a.npy", &a, &e), SD_ENOTFOUND);
    /* writer argument checks */
    int64_t neg[1] = {-2};
    CHECK_EQ_INT(t, sd_npy_write(path, SD_NPY_F64, 1, neg, zeros, &e), SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "negative");
    CHECK(t, access(path, F_OK) != 0);
}

SDT_MAIN(SDT_CASE(test_real_files), SDT_CASE(test_roundtrip_all), SDT_CASE(test_layouts), SDT_CASE(test_malformed))
