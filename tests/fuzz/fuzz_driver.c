/* fuzz_driver — a main() for libFuzzer harnesses where libFuzzer is not used
 * (gcc builds, ctest).  Feeds every file of a corpus directory to
 * LLVMFuzzerTestOneInput, then deterministic mutations of each (bit flips,
 * interesting bytes and 32-bit lengths, truncations, insertions, deletions,
 * duplications: a fixed-seed xorshift PRNG, so a failure reproduces), then a
 * few random inputs.  Every input lives in a malloc block of exactly its size
 * so ASan catches a read one byte past the end.
 *
 *   fuzz_<name> CORPUS_DIR [MUTATIONS_PER_FILE=300] [SEED=1]
 *
 * Exit 0 when every input ran (a crash or sanitizer report aborts).  An empty
 * or missing corpus directory is reported and only random inputs run. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (16u << 20)

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static size_t rng_below(uint64_t *s, size_t n)
{
    return n ? (size_t)(rng_next(s) % n) : 0;
}

static void run_exact(const uint8_t *buf, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy) {
        fprintf(stderr, "fuzz_driver: out of memory\n");
        exit(2);
    }
    if (n)
        memcpy(copy, buf, n);
    LLVMFuzzerTestOneInput(copy, n);
    free(copy);
}

/* Applies 1..4 random edits to buf[0..*n) (capacity cap). */
static void mutate(uint8_t *buf, size_t *n, size_t cap, uint64_t *s)
{
    static const uint8_t bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xc0, 0xc1, 0xc2, 0xca,
                                    0xcb, 0xcf, 0xd3, 0xdc, 0xdd, 0xde, 0xdf, 0xa0, 0x90};
    static const uint32_t words[] = {0, 1, 2, 3, 4, 7, 8, 16, 24, 0x7f, 0x80, 0xff, 0xffff,
                                     0x10000, 0x7fffffff, 0x80000000u, 0xffffffffu};
    int edits = 1 + (int)rng_below(s, 4);
    for (int k = 0; k < edits; k++) {
        size_t len = *n;
        switch (rng_below(s, 8)) {
        case 0: /* bit flip */
            if (len)
                buf[rng_below(s, len)] ^= (uint8_t)(1u << rng_below(s, 8));
            break;
        case 1: /* interesting byte */
            if (len)
                buf[rng_below(s, len)] = bytes[rng_below(s, sizeof bytes)];
            break;
        case 2: /* interesting 32-bit value, little or big endian */
            if (len >= 4) {
                size_t at = rng_below(s, len - 3);
                uint32_t w = words[rng_below(s, sizeof words / sizeof words[0])];
                int be = (int)rng_below(s, 2);
                for (int b = 0; b < 4; b++)
                    buf[at + (size_t)b] = (uint8_t)(w >> (8 * (be ? 3 - b : b)));
            }
            break;
        case 3: /* truncate */
            *n = rng_below(s, len + 1);
            break;
        case 4: /* insert a random byte */
            if (len < cap) {
                size_t at = rng_below(s, len + 1);
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = (uint8_t)rng_next(s);
                *n = len + 1;
            }
            break;
        case 5: /* delete a range */
            if (len) {
                size_t at = rng_below(s, len), k2 = 1 + rng_below(s, len - at);
                memmove(buf + at, buf + at + k2, len - at - k2);
                *n = len - k2;
            }
            break;
        case 6: /* duplicate a range */
            if (len) {
                size_t at = rng_below(s, len), k2 = 1 + rng_below(s, len - at);
                if (k2 > cap - len)
                    k2 = cap - len;
                memmove(buf + at + k2, buf + at, len - at);
                *n = len + k2;
            }
            break;
        default: /* random byte */
            if (len)
                buf[rng_below(s, len)] = (uint8_t)rng_next(s);
            break;
        }
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR [MUTATIONS_PER_FILE] [SEED]\n", argv[0]);
        return 2;
    }
    long per_file = argc > 2 ? strtol(argv[2], NULL, 10) : 300;
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    uint64_t s = seed ? seed : 1;

    /* Sorted file list: the run is the same on every machine. */
    char **names = NULL;
    size_t nn = 0;
    DIR *d = opendir(argv[1]);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char **nb = realloc(names, (nn + 1) * sizeof *names);
            if (!nb)
                return 2;
            names = nb;
            names[nn++] = strdup(de->d_name);
        }
        closedir(d);
    }
    if (nn)
        qsort(names, nn, sizeof *names, cmp_str);
    else
        fprintf(stderr, "%s: no corpus files in %s; random inputs only\n", argv[0], argv[1]);

    long inputs = 0;
    for (size_t f = 0; f < nn; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], names[f]);
        FILE *fp = fopen(path, "rb");
        if (!fp) {
            fprintf(stderr, "%s: cannot open %s\n", argv[0], path);
            return 2;
        }
        uint8_t *buf = malloc(FUZZ_MAX_INPUT);
        if (!buf)
            return 2;
        size_t n = fread(buf, 1, FUZZ_MAX_INPUT / 2, fp);
        fclose(fp);
        run_exact(buf, n);
        inputs++;
        uint8_t *work = malloc(FUZZ_MAX_INPUT);
        if (!work)
            return 2;
        for (long j = 0; j < per_file; j++) {
            size_t wn = n;
            memcpy(work, buf, n);
            mutate(work, &wn, FUZZ_MAX_INPUT, &s);
            run_exact(work, wn);
            inputs++;
        }
        free(work);
        free(buf);
        free(names[f]);
    }
    free(names);

    uint8_t rnd[512];
    for (int j = 0; j < 200; j++) {
        size_t n = rng_below(&s, sizeof rnd + 1);
        for (size_t i = 0; i < n; i++)
            rnd[i] = (uint8_t)rng_next(&s);
        run_exact(rnd, n);
        inputs++;
    }
    printf("%s: %ld inputs from %zu corpus file(s), seed %llu: no crash\n", argv[0], inputs, nn,
           (unsigned long long)seed);
    return 0;
}
