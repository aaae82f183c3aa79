#include "sd_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sd_err_set(sd_err_t *e, int code, const char *fmt, ...)
{
    if (!e)
        return code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

int sd_err_prefix(sd_err_t *e, const char *fmt, ...)
{
    if (!e)
        return SD_OK;
    char old[SD_ERR_MSGLEN];
    memcpy(old, e->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    size_t used = (size_t)n < sizeof e->msg ? (size_t)n : sizeof e->msg - 1;
    size_t room = sizeof e->msg - used;
    /* Truncation is fine: the head and the start of the old message matter most. */
    if (room > 2) {
        memcpy(e->msg + used, ": ", 2);
        used += 2;
        room -= 2;
        size_t k = strnlen(old, sizeof old);
        if (k >= room)
            k = room - 1;
        memcpy(e->msg + used, old, k);
        e->msg[used + k] = '\0';
    }
    return e->code;
}

void sd_err_clear(sd_err_t *e)
{
    if (!e)
        return;
    e->code = SD_OK;
    e->msg[0] = '\0';
}

const char *sd_err_name(int code)
{
    switch (code) {
    case SD_OK: return "ok";
    case SD_EINVAL: return "invalid input";
    case SD_EIO: return "I/O error";
    case SD_ENOMEM: return "out of memory or over a size limit";
    case SD_EFORMAT: return "malformed data";
    case SD_EVERSION: return "unsupported version";
    case SD_ERANGE: return "value out of range";
    case SD_ENOTFOUND: return "not found";
    case SD_EPHYS: return "physically invalid input";
    case SD_EAGAIN: return "not available yet";
    case SD_ESTATE: return "invalid state";
    default: return "unknown error";
    }
}
