/* Command-line entry points of the recon stage. */
#include "recon.h"

#include <stddef.h>

/* >>> counting work: declarations */
/* <<< counting work */
/* >>> 3D work: declarations */
/* <<< 3D work */

const sd_cli_cmd_t recon_commands[] = {
    /* >>> counting work: entries */
    /* <<< counting work */
    /* >>> 3D work: entries */
    /* <<< 3D work */
    {NULL, NULL, NULL},
};
