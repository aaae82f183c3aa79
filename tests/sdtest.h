/* sdtest — a minimal assertion harness for stemdyn's C tests.
 *
 * A test file defines `static void test_xxx(sdt_t *t)` functions and lists
 * them in SDT_MAIN(...).  Each CHECK records a pass or a failure (with file,
 * line and values) and the run ends with "N passed, N failed" and a non-zero
 * exit on any failure.  A test that needs ../shared data it cannot find calls
 * SDT_SKIP, which exits 77 (ctest's SKIP_RETURN_CODE). */
#ifndef SDTEST_H
#define SDTEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

typedef struct sdt {
    int passed, failed;
    const char *name;
} sdt_t;

#define SDT_SKIP_CODE 77

#define CHECK(t, cond)                                                                   \
    do {                                                                                 \
        if (cond) (t)->passed++;                                                         \
        else {                                                                           \
            (t)->failed++;                                                               \
            fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__,        \
                    (t)->name, #cond);                                                   \
        }                                                                                \
    } while (0)

#define CHECK_MSG(t, cond, ...)                                                          \
    do {                                                                                 \
        if (cond) (t)->passed++;                                                         \
        else {                                                                           \
            (t)->failed++;                                                               \
            fprintf(stderr, "%s:%d: %s: CHECK(%s) failed: ", __FILE__, __LINE__,        \
                    (t)->name, #cond);                                                   \
            fprintf(stderr, __VA_ARGS__);                                                \
            fputc('\n', stderr);                                                         \
        }                                                                                \
    } while (0)

#define CHECK_EQ_INT(t, a, b)                                                            \
    do {                                                                                 \
        long long sdt_a_ = (long long)(a), sdt_b_ = (long long)(b);                      \
        CHECK_MSG(t, sdt_a_ == sdt_b_, "%s = %lld, %s = %lld", #a, sdt_a_, #b, sdt_b_);  \
    } while (0)

#define CHECK_NEAR(t, a, b, tol)                                                         \
    do {                                                                                 \
        double sdt_a_ = (double)(a), sdt_b_ = (double)(b);                               \
        CHECK_MSG(t, fabs(sdt_a_ - sdt_b_) <= (tol), "%s = %.17g, %s = %.17g, |diff| %.3g > %.3g", \
                  #a, sdt_a_, #b, sdt_b_, fabs(sdt_a_ - sdt_b_), (double)(tol));         \
    } while (0)

#define CHECK_STR_CONTAINS(t, hay, needle)                                               \
    do {                                                                                 \
        const char *sdt_h_ = (hay), *sdt_n_ = (needle);                                  \
        CHECK_MSG(t, sdt_h_ && strstr(sdt_h_, sdt_n_), "'%s' does not contain '%s'",     \
                  sdt_h_ ? sdt_h_ : "(null)", sdt_n_);                                   \
    } while (0)

#define SDT_SKIP(...)                                                                    \
    do {                                                                                 \
        fprintf(stderr, "SKIP: ");                                                       \
        fprintf(stderr, __VA_ARGS__);                                                    \
        fputc('\n', stderr);                                                             \
        exit(SDT_SKIP_CODE);                                                             \
    } while (0)

typedef void (*sdt_fn)(sdt_t *);
typedef struct sdt_case {
    const char *name;
    sdt_fn fn;
} sdt_case_t;

#define SDT_CASE(fn) {#fn, fn}

/* Runs the listed cases, or only those named on the command line. */
static inline int sdt_run(const sdt_case_t *cases, int n, int argc, char **argv)
{
    sdt_t t = {0, 0, NULL};
    int ran = 0;
    for (int i = 0; i < n; i++) {
        if (argc > 1) {
            int want = 0;
            for (int a = 1; a < argc; a++)
                if (!strcmp(argv[a], cases[i].name)) want = 1;
            if (!want) continue;
        }
        int before = t.failed;
        t.name = cases[i].name;
        cases[i].fn(&t);
        ran++;
        fprintf(stderr, "%s %s\n", t.failed == before ? "ok  " : "FAIL", cases[i].name);
    }
    printf("%d passed, %d failed\n", t.passed, t.failed);
    return (t.failed || ran == 0) ? 1 : 0;
}

#define SDT_MAIN(...)                                                                    \
    int main(int argc, char **argv)                                                      \
    {                                                                                    \
        static const sdt_case_t cases[] = {__VA_ARGS__};                                 \
        return sdt_run(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv);        \
    }

/* Path of a file under ../shared (STEMDYN_SHARED_DIR, or the compiled-in default). */
static inline const char *sdt_shared(const char *rel, char *buf, size_t len)
{
    const char *root = getenv("STEMDYN_SHARED_DIR");
#ifdef STEMDYN_SHARED_DIR_DEFAULT
    if (!root) root = STEMDYN_SHARED_DIR_DEFAULT;
#endif
    if (!root) root = "../shared";
    snprintf(buf, len, "%s/%s", root, rel);
    return buf;
}

/* Like sdt_shared but skips the whole test (exit 77) when the file is absent. */
static inline const char *sdt_shared_or_skip(const char *rel, char *buf, size_t len)
{
    sdt_shared(rel, buf, len);
    FILE *f = fopen(buf, "rb");
    if (!f) SDT_SKIP("reference file %s not found (set STEMDYN_SHARED_DIR)", buf);
    fclose(f);
    return buf;
}

/* Runs a command entry point in-process with stdout and stderr captured into
 * out[0..outlen) (NUL-terminated); returns its exit status. */
static inline int sdt_capture(int (*run)(int, char **), int argc, char **argv, char *out,
                              size_t outlen)
{
    char path[64];
    snprintf(path, sizeof path, "sdt_capture_%d.txt", (int)getpid());
    fflush(stdout);
    fflush(stderr);
    int save_err = dup(2), save_out = dup(1);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    dup2(fd, 2);
    dup2(fd, 1);
    close(fd);
    int rc = run(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(save_err, 2);
    dup2(save_out, 1);
    close(save_err);
    close(save_out);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(out, 1, outlen - 1, f) : 0;
    out[n] = 0;
    if (f)
        fclose(f);
    remove(path);
    return rc;
}

#endif
