#include "sd_fs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int sd_fs_mkdir_p(const char *path, sd_err_t *e)
{
    char tmp[4096];
    if (!path || !*path || snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return sd_err_set(e, SD_EINVAL, "bad directory path '%s'", path ? path : "");
    for (char *p = tmp + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return sd_err_set(e, SD_EIO, "cannot create directory %s: %s", tmp, strerror(errno));
        *p = c;
        if (!c)
            break;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return sd_err_set(e, SD_EIO, "%s exists and is not a directory", path);
    return SD_OK;
}
