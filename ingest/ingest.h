/* ingest — public API of the ingest stage (the only header other stages and the
 * stemdyn binary include).  See README.md and ../shared/DESIGN.md. */
#ifndef INGEST_H
#define INGEST_H

#include "sd_cli.h"

/* Subcommands this stage contributes to `stemdyn`, NULL-terminated. */
extern const sd_cli_cmd_t ingest_commands[];

#endif
