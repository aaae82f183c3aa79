/* sd_log — timestamped, levelled log lines on stderr for the service processes.
 * The threshold comes from STEMDYN_LOG (error|warn|info|debug, default info),
 * read at each call so no mutable global is needed. */
#ifndef SD_LOG_H
#define SD_LOG_H

enum sd_log_level { SD_LOG_ERROR = 0, SD_LOG_WARN = 1, SD_LOG_INFO = 2, SD_LOG_DEBUG = 3 };

void sd_log(int level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
