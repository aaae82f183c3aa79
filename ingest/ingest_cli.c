/* Command-line entry points of the ingest stage. */
#include "ingest.h"

#include <stddef.h>

const sd_cli_cmd_t ingest_commands[] = {
    {NULL, NULL, NULL},
};
