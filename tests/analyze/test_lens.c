/* LENS against the SOAPify/dynsight reference (../shared/oracle/lens, exact),
 * against a brute-force O(N^2) implementation, and on edge cases / bad input. */
#include "lens.h"
#include "sd_npy.h"
#include "sd_xyz.h"
#include "sdtest.h"

#include <stdint.h>

/* Positions of every frame of an extxyz file, [T][n][3]; NULL on failure. */
static double *load_traj(sdt_t *t, const char *path, int64_t *nframes, int64_t *n)
{
    sd_atoms_t **fr = NULL;
    sd_err_t e;
    int rc = sd_xyz_read_all(path, &fr, nframes, &e);
    CHECK_MSG(t, rc == SD_OK, "%s", e.msg);
    if (rc) return NULL;
    *n = fr[0]->n;
    double *pos = malloc((size_t)(*nframes * *n * 3) * sizeof *pos);
    for (int64_t f = 0; f < *nframes; f++) {
        CHECK_EQ_INT(t, fr[f]->n, *n);
        memcpy(pos + f * *n * 3, fr[f]->pos, (size_t)(*n * 3) * sizeof *pos);
    }
    sd_xyz_frames_free(&fr, *nframes);
    return pos;
}

static void check_reference(sdt_t *t, const char *tag, double rcut)
{
    char buf[1024], name[256];
    sdt_shared_or_skip("oracle/lens/dh484_jit0.3_20f.extxyz", buf, sizeof buf);
    int64_t T = 0, n = 0;
    double *pos = load_traj(t, buf, &T, &n);
    if (!pos) return;
    CHECK_EQ_INT(t, T, 20);
    CHECK_EQ_INT(t, n, 484);
    double *lens = malloc((size_t)(T * n) * sizeof *lens);
    int32_t *nn = malloc((size_t)(T * n) * sizeof *nn), *num = malloc((size_t)(T * n) * sizeof *num),
            *den = malloc((size_t)(T * n) * sizeof *den);
    sd_err_t e;
    int rc = lens_compute(T, n, pos, rcut, lens, nn, num, den, &e);
    CHECK_MSG(t, rc == SD_OK, "%s", e.msg);
    const char *what[4] = {"lens", "nneigh", "lensnum", "lensden"};
    for (int w = 0; w < 4; w++) {
        snprintf(name, sizeof name, "oracle/lens/%s_dh484_jit0.3_20f_%s.npy", what[w], tag);
        sdt_shared_or_skip(name, buf, sizeof buf);
        sd_npy_t ref;
        rc = sd_npy_read_f64(buf, &ref, &e);
        CHECK_MSG(t, rc == SD_OK, "%s", e.msg);
        if (rc) continue;
        CHECK_EQ_INT(t, ref.ndim, 2);
        CHECK_EQ_INT(t, ref.shape[0], n); /* reference layout: [atom][frame] */
        CHECK_EQ_INT(t, ref.shape[1], T);
        const double *r = ref.data;
        int64_t bad = 0;
        for (int64_t f = 0; f < T; f++)
            for (int64_t i = 0; i < n; i++) {
                double mine = w == 0 ? lens[f * n + i]
                              : w == 1 ? nn[f * n + i]
                              : w == 2 ? num[f * n + i]
                                       : den[f * n + i];
                if (mine != r[i * T + f]) bad++;
            }
        CHECK_MSG(t, bad == 0, "%s %s: %lld of %lld values differ", what[w], tag, (long long)bad,
                  (long long)(n * T));
        sd_npy_free(&ref);
    }
    free(pos), free(lens), free(nn), free(num), free(den);
}

static void test_reference_rc448(sdt_t *t) { check_reference(t, "rc4p48", 4.48); }
static void test_reference_rc488(sdt_t *t) { check_reference(t, "rc4p88", 4.88); }

/* Deterministic pseudo-random numbers (xorshift) for synthetic clouds. */
static double urand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* LENS of T frames by the O(N^2) definition vs lens_compute. */
static void check_bruteforce(sdt_t *t, const double *pos, int64_t n, int64_t T, double rc,
                             const char *what)
{
    double *lens = malloc((size_t)(T * n) * sizeof *lens);
    int32_t *nn = malloc((size_t)(T * n) * sizeof *nn);
    sd_err_t e;
    int rc_ = lens_compute(T, n, pos, rc, lens, nn, NULL, NULL, &e);
    CHECK_MSG(t, rc_ == SD_OK, "%s: %s", what, e.msg);
    unsigned char *in = calloc((size_t)(T * n * n), 1);
    for (int64_t f = 0; f < T; f++)
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                const double *a = pos + (f * n + i) * 3, *b = pos + (f * n + j) * 3;
                double d2 = (a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                            (a[2] - b[2]) * (a[2] - b[2]);
                in[(f * n + i) * n + j] = i != j && d2 <= rc * rc;
            }
    int64_t bad = 0, pairs = 0;
    for (int64_t f = 0; f < T; f++)
        for (int64_t i = 0; i < n; i++) {
            int cnt = 0, nx = 0, dn = 0;
            for (int64_t j = 0; j < n; j++) {
                cnt += in[(f * n + i) * n + j];
                if (f > 0) {
                    int a = in[(f * n + i) * n + j], b = in[((f - 1) * n + i) * n + j];
                    nx += a != b;
                    dn += a + b;
                }
            }
            pairs += cnt;
            double want = dn ? (double)nx / dn : 0.0;
            if (rc_ != SD_OK || nn[f * n + i] != cnt || lens[f * n + i] != want) bad++;
        }
    CHECK_MSG(t, bad == 0, "%s: %lld atoms differ", what, (long long)bad);
    CHECK_MSG(t, pairs > n, "%s: only %lld neighbour pairs (test too weak)", what, (long long)pairs);
    free(lens), free(nn), free(in);
}

static void test_bruteforce(sdt_t *t)
{
    const int64_t n = 300, T = 6;
    uint64_t seed = 88172645463325252ull;
    double *pos = malloc((size_t)(T * n * 3) * sizeof *pos);
    /* a dense blob plus far outliers (exercises the cell-grid widening) */
    for (int64_t i = 0; i < T * n * 3; i++) pos[i] = 12.0 * urand(&seed);
    for (int64_t f = 0; f < T; f++) {
        pos[(f * n + 7) * 3] = 1e4;
        pos[(f * n + 8) * 3 + 1] = -3e3;
    }
    check_bruteforce(t, pos, n, T, 3.1, "blob+outliers");
    /* flat: every z = 0 (one cell layer) */
    for (int64_t i = 0; i < T * n; i++) {
        pos[3 * i] = 30.0 * urand(&seed);
        pos[3 * i + 1] = 30.0 * urand(&seed);
        pos[3 * i + 2] = 0;
    }
    check_bruteforce(t, pos, n, T, 2.9, "plane");
    /* a chain along y with spacing near the cut-off: exact boundary cases */
    for (int64_t f = 0; f < T; f++)
        for (int64_t i = 0; i < n; i++) {
            double *p = pos + (f * n + i) * 3;
            p[0] = 0;
            p[1] = 2.0 * (double)i + (f % 2 ? 0.0 : 0.25 * (double)(i % 3));
            p[2] = 0;
        }
    check_bruteforce(t, pos, n, T, 2.0, "chain");
    /* cut-off larger than the whole cloud: everybody neighbours everybody */
    for (int64_t i = 0; i < T * n * 3; i++) pos[i] = 5.0 * urand(&seed);
    check_bruteforce(t, pos, n, T, 100.0, "one cell");
    free(pos);
}

static void test_edge_cases(sdt_t *t)
{
    sd_err_t e;
    /* inclusive cut-off: atoms exactly rcut apart are neighbours */
    double p0[9] = {0, 0, 0, 2, 0, 0, 10, 0, 0};
    double p1[9] = {0, 0, 0, 2.5, 0, 0, 10, 0, 0}; /* atom 1 leaves atom 0 */
    double p2[9] = {0, 0, 0, 2.5, 0, 0, 4.0, 0, 0}; /* atom 2 joins atom 1 */
    lens_state_t *s = lens_state_new(3, 2.0, &e);
    CHECK(t, s != NULL);
    double l[3];
    int32_t nn[3], num[3], den[3];
    CHECK(t, lens_state_push(s, 3, p0, l, nn, num, den, &e) == SD_OK);
    CHECK_EQ_INT(t, nn[0], 1);
    CHECK_EQ_INT(t, nn[1], 1);
    CHECK_EQ_INT(t, nn[2], 0);
    CHECK(t, l[0] == 0 && l[1] == 0 && l[2] == 0 && num[0] == 0 && den[0] == 0);
    const int32_t *idx;
    CHECK_EQ_INT(t, lens_state_neighbours(s, 0, &idx), 1);
    CHECK_EQ_INT(t, idx[0], 1);
    CHECK(t, lens_state_push(s, 3, p1, l, nn, num, den, &e) == SD_OK);
    CHECK(t, l[0] == 1.0 && num[0] == 1 && den[0] == 1);
    CHECK(t, l[1] == 1.0);
    CHECK(t, l[2] == 0.0 && den[2] == 0); /* both sets empty -> 0 */
    CHECK(t, lens_state_push(s, 3, p2, l, nn, num, den, &e) == SD_OK);
    CHECK(t, l[0] == 0.0 && den[0] == 0);
    CHECK(t, l[1] == 1.0 && num[1] == 1 && den[1] == 1 && nn[1] == 1);
    CHECK_EQ_INT(t, lens_state_frames(s), 3);
    lens_state_reset(s);
    CHECK(t, lens_state_push(s, 3, p2, l, nn, num, den, &e) == SD_OK);
    CHECK(t, l[1] == 0.0 && den[1] == 0);
    lens_state_destroy(&s);
    CHECK(t, s == NULL);
    lens_state_destroy(&s); /* NULL-safe */

    /* a single atom: no neighbours, LENS 0 */
    s = lens_state_new(1, 4.48, &e);
    double one[3] = {1, 2, 3};
    CHECK(t, lens_state_push(s, 1, one, l, nn, NULL, NULL, &e) == SD_OK);
    CHECK(t, lens_state_push(s, 1, one, l, nn, NULL, NULL, &e) == SD_OK);
    CHECK(t, l[0] == 0 && nn[0] == 0);
    lens_state_destroy(&s);
}

static void test_bad_input(sdt_t *t)
{
    sd_err_t e;
    CHECK(t, lens_state_new(0, 4.48, &e) == NULL);
    CHECK_STR_CONTAINS(t, e.msg, "atom count");
    CHECK(t, lens_state_new(5, 0.0, &e) == NULL);
    CHECK(t, lens_state_new(5, NAN, &e) == NULL);
    CHECK_STR_CONTAINS(t, e.msg, "cut-off");
    double l[3];
    CHECK(t, lens_compute(0, 3, l, 4.0, l, NULL, NULL, NULL, &e) == SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "no frames");

    lens_state_t *s = lens_state_new(3, 3.0, &e);
    double ok[9] = {0, 0, 0, 2, 0, 0, 0, 2, 0};
    double nan[9] = {0, 0, 0, 2, NAN, 0, 0, 2, 0};
    double same[9] = {0, 0, 0, 2, 0, 0, 2, 0, 0};
    double far[9] = {0, 0, 0, 2.9, 0, 0, 0, 9, 0};
    CHECK(t, lens_state_push(s, 3, ok, l, NULL, NULL, NULL, &e) == SD_OK);
    CHECK_EQ_INT(t, lens_state_push(s, 3, nan, l, NULL, NULL, NULL, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "atom 1");
    CHECK_STR_CONTAINS(t, e.msg, "non-finite");
    CHECK_EQ_INT(t, lens_state_push(s, 3, same, l, NULL, NULL, NULL, &e), SD_EPHYS);
    CHECK_STR_CONTAINS(t, e.msg, "same position");
    double huge[9] = {-1e308, 0, 0, 1e308, 0, 0, 0, 2, 0};
    CHECK_EQ_INT(t, lens_state_push(s, 3, huge, l, NULL, NULL, NULL, &e), SD_ERANGE);
    CHECK_STR_CONTAINS(t, e.msg, "span");
    CHECK_EQ_INT(t, lens_state_push(s, 2, ok, l, NULL, NULL, NULL, &e), SD_EINVAL);
    CHECK_STR_CONTAINS(t, e.msg, "has 2 atoms but the trajectory has 3");
    /* failed pushes left the state at frame 1: this compares with `ok` */
    CHECK_EQ_INT(t, lens_state_frames(s), 1);
    int32_t num[3], den[3];
    CHECK(t, lens_state_push(s, 3, far, l, NULL, num, den, &e) == SD_OK);
    /* atom 0: {1,2} -> {1}: 1/3 */
    CHECK(t, num[0] == 1 && den[0] == 3);
    CHECK_NEAR(t, l[0], 1.0 / 3.0, 0);
    lens_state_destroy(&s);
}

SDT_MAIN(SDT_CASE(test_reference_rc448), SDT_CASE(test_reference_rc488),
         SDT_CASE(test_bruteforce), SDT_CASE(test_edge_cases), SDT_CASE(test_bad_input))
