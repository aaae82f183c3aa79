/* Helpers for the sim tests: a minimal reader of numbers out of the oracle
 * JSON files (a key followed by a number or a possibly nested array). */
#ifndef SIM_TESTUTIL_H
#define SIM_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline char *stu_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b) b[n] = 0;
    fclose(f);
    return b;
}

/* Locates "key": after position `from` (NULL = start). */
static inline const char *stu_key(const char *json, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *s = strstr(json, pat);
    return s ? s + strlen(pat) : NULL;
}

/* Reads up to max numbers of the value of "key" (flattening nested arrays);
 * returns how many were read, -1 when the key is missing. */
static inline long stu_numbers(const char *json, const char *key, double *out, long max)
{
    const char *s = stu_key(json, key);
    if (!s) return -1;
    while (*s == ' ' || *s == '\n') s++;
    long n = 0;
    if (*s != '[') {
        char *end;
        double v = strtod(s, &end);
        if (end == s) return -1;
        if (max > 0) out[0] = v;
        return 1;
    }
    int depth = 0;
    do {
        if (*s == '[') {
            depth++;
            s++;
        } else if (*s == ']') {
            depth--;
            s++;
        } else if (*s == ',' || *s == ' ' || *s == '\n' || *s == '\r' || *s == '\t') {
            s++;
        } else {
            char *end;
            double v = strtod(s, &end);
            if (end == s) return -1;
            if (n < max) out[n] = v;
            n++;
            s = end;
        }
    } while (depth > 0 && *s);
    return n;
}

static inline double stu_number(const char *json, const char *key)
{
    double v = NAN;
    if (stu_numbers(json, key, &v, 1) != 1) return NAN;
    return v;
}

#endif
