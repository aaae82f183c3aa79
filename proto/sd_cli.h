/* sd_cli — the subcommand table and strict option-value parsing shared by every
 * stage's command-line entry points.
 *
 * Each stage exports a NULL-terminated sd_cli_cmd_t array from its public
 * header; deploy/stemdyn_main.c concatenates them.  A command's run() gets
 * argv[0] = the command name and returns the process exit status
 * (0 ok, 1 runtime failure, 2 usage error).  Commands print their own errors
 * as "stemdyn CMD: message" on stderr. */
#ifndef SD_CLI_H
#define SD_CLI_H

#include "sd_err.h"

#include <stdint.h>

typedef struct sd_cli_cmd {
    const char *name;
    const char *summary; /* one line for `stemdyn --help` */
    int (*run)(int argc, char **argv);
} sd_cli_cmd_t;

enum { SD_EXIT_OK = 0, SD_EXIT_FAIL = 1, SD_EXIT_USAGE = 2 };

/* Strict conversions: the whole string must be a finite number inside
 * [lo, hi]; on failure *e names the option (`what`) and the bad text. */
int sd_cli_parse_double(const char *s, const char *what, double lo, double hi,
                        double *out, sd_err_t *e);
int sd_cli_parse_i64(const char *s, const char *what, int64_t lo, int64_t hi,
                     int64_t *out, sd_err_t *e);
/* A duration with unit: fs, ps, ns, us (µs) or s; returns femtoseconds.
 * A bare number is taken in `default_unit` ("fs", "ns" …). */
int sd_cli_parse_duration_fs(const char *s, const char *what, const char *default_unit,
                             double *out_fs, sd_err_t *e);

/* The options of every service process: --config FILE, --for SECONDS (stop
 * by itself, for tests and demos), --help (prints `help`).  Returns -1 when
 * the command should go on, else the exit status to return. */
int sd_cli_service_args(int argc, char **argv, const char *cmd, const char *help,
                        const char **cfg_path, double *max_s);

/* Prints "stemdyn CMD: msg\n" to stderr and returns SD_EXIT_USAGE or
 * SD_EXIT_FAIL (as given) — for `return sd_cli_fail(...)` in commands. */
int sd_cli_fail(const char *cmd, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
