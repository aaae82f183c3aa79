/* sd_err — the error status every fallible stemdyn function returns.
 *
 * Contract: a fallible function returns an int status (SD_OK = 0, negative on
 * failure) and, when given a non-NULL sd_err_t*, fills a human-readable message
 * the caller can print as is.  The message names what was wrong with the input
 * (file, field, value), never only "error".  sd_err_t is caller-owned storage. */
#ifndef SD_ERR_H
#define SD_ERR_H

#include <stddef.h>

enum sd_status {
    SD_OK = 0,
    SD_EINVAL = -1,   /* bad argument or input value */
    SD_EIO = -2,      /* file or socket I/O failed */
    SD_ENOMEM = -3,   /* allocation failed or a size limit was exceeded */
    SD_EFORMAT = -4,  /* malformed file or message */
    SD_EVERSION = -5, /* newer major protocol/file version */
    SD_ERANGE = -6,   /* value out of its allowed range (incl. NaN/inf) */
    SD_ENOTFOUND = -7,/* missing file, key, element … */
    SD_EPHYS = -8,    /* physically impossible input (overlapping atoms …) */
    SD_EAGAIN = -9,   /* nothing available yet; try again */
    SD_ESTATE = -10,  /* call not valid in the object's current state */
};

#define SD_ERR_MSGLEN 512

typedef struct sd_err {
    int code;
    char msg[SD_ERR_MSGLEN];
} sd_err_t;

/* Sets *e (if e != NULL) to code and a printf-formatted message; returns code
 * so that `return sd_err_set(e, SD_EINVAL, "…");` reads naturally. */
int sd_err_set(sd_err_t *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an existing message (adds context while unwinding). */
int sd_err_prefix(sd_err_t *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Clears *e to SD_OK with an empty message. */
void sd_err_clear(sd_err_t *e);

/* Static name of a status code, e.g. "invalid input". */
const char *sd_err_name(int code);

#endif
