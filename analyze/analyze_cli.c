/* Command-line entry points of the analyze stage. */
#include "analyze.h"

#include <stddef.h>

/* Command entry points live next to their modules (soap_cmd.c, lens_cmd.c …). */
/* >>> SOAP work: declarations */
/* <<< SOAP work */
/* >>> LENS work: declarations */
/* <<< LENS work */

const sd_cli_cmd_t analyze_commands[] = {
    /* >>> SOAP work: entries */
    /* <<< SOAP work */
    /* >>> LENS work: entries */
    /* <<< LENS work */
    {NULL, NULL, NULL},
};
