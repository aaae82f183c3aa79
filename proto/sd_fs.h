/* sd_fs — small file-system helpers shared by the service processes. */
#ifndef SD_FS_H
#define SD_FS_H

#include "sd_err.h"

/* Creates `path` and its missing parents (mode 0755); an existing
 * directory is fine.  SD_EIO names the component that could not be made. */
int sd_fs_mkdir_p(const char *path, sd_err_t *e);

#endif
