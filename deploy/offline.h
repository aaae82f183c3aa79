/* offline — the pipeline on a recording in one process (see offline.c). */
#ifndef OFFLINE_H
#define OFFLINE_H

#include "sd_config.h"
#include "sd_err.h"

/* Writes outdir/state.json with the statistics of every frame of `recording`. */
int offline_run(const sd_config_t *cfg, const char *recording, const char *outdir, sd_err_t *e);
/* `stemdyn offline` entry point. */
int offline_cmd(int argc, char **argv);

#endif
