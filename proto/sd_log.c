#include "sd_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int threshold(void)
{
    const char *s = getenv("STEMDYN_LOG");
    if (!s) return SD_LOG_INFO;
    if (!strcmp(s, "error")) return SD_LOG_ERROR;
    if (!strcmp(s, "warn")) return SD_LOG_WARN;
    if (!strcmp(s, "debug")) return SD_LOG_DEBUG;
    return SD_LOG_INFO;
}

void sd_log(int level, const char *component, const char *fmt, ...)
{
    if (level > threshold())
        return;
    static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[1024];
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, names[level < 0 ? 0 : level > 3 ? 3 : level],
                     component);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line); /* one write per line keeps processes' logs unmixed */
}
