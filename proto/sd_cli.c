#include "sd_cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sd_cli_parse_double(const char *s, const char *what, double lo, double hi,
                        double *out, sd_err_t *e)
{
    if (!s || !*s)
        return sd_err_set(e, SD_EINVAL, "%s: empty value", what);
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE)
        return sd_err_set(e, SD_EINVAL, "%s: '%s' is not a number", what, s);
    if (!isfinite(v) || v < lo || v > hi)
        return sd_err_set(e, SD_ERANGE, "%s: %s is outside [%g, %g]", what, s, lo, hi);
    *out = v;
    return SD_OK;
}

int sd_cli_parse_i64(const char *s, const char *what, int64_t lo, int64_t hi,
                     int64_t *out, sd_err_t *e)
{
    if (!s || !*s)
        return sd_err_set(e, SD_EINVAL, "%s: empty value", what);
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE)
        return sd_err_set(e, SD_EINVAL, "%s: '%s' is not an integer", what, s);
    if (v < lo || v > hi)
        return sd_err_set(e, SD_ERANGE, "%s: %s is outside [%lld, %lld]", what, s,
                          (long long)lo, (long long)hi);
    *out = (int64_t)v;
    return SD_OK;
}

static double unit_fs(const char *u)
{
    if (!strcmp(u, "fs")) return 1.0;
    if (!strcmp(u, "ps")) return 1e3;
    if (!strcmp(u, "ns")) return 1e6;
    if (!strcmp(u, "us") || !strcmp(u, "\xc2\xb5s")) return 1e9;
    if (!strcmp(u, "ms")) return 1e12;
    if (!strcmp(u, "s")) return 1e15;
    return 0.0;
}

int sd_cli_parse_duration_fs(const char *s, const char *what, const char *default_unit,
                             double *out_fs, sd_err_t *e)
{
    if (!s || !*s)
        return sd_err_set(e, SD_EINVAL, "%s: empty value", what);
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE || !isfinite(v) || v < 0)
        return sd_err_set(e, SD_EINVAL, "%s: '%s' is not a non-negative duration", what, s);
    double f = unit_fs(*end ? end : default_unit);
    if (f == 0.0)
        return sd_err_set(e, SD_EINVAL, "%s: unknown time unit in '%s' (use fs, ps, ns, us, ms, s)",
                          what, s);
    *out_fs = v * f;
    return SD_OK;
}

int sd_cli_fail(const char *cmd, int exit_code, const char *fmt, ...)
{
    fprintf(stderr, "stemdyn %s: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return exit_code;
}

int sd_cli_service_args(int argc, char **argv, const char *cmd, const char *help,
                        const char **cfg_path, double *max_s)
{
    static const struct option lo[] = {{"config", required_argument, 0, 'c'},
                                        {"for", required_argument, 0, 't'},
                                        {"help", no_argument, 0, 'h'},
                                        {0, 0, 0, 0}};
    sd_err_t e;
    int ch;
    *cfg_path = NULL;
    *max_s = 0;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "c:t:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'c': *cfg_path = optarg; break;
        case 't':
            if (sd_cli_parse_double(optarg, "--for", 0, 1e9, max_s, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'h': fputs(help, stdout); return SD_EXIT_OK;
        default: return SD_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return sd_cli_fail(cmd, SD_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
    return -1;
}
