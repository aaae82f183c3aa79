/* Command-line entry points of the sim stage. */
#include "sim.h"

#include <stddef.h>

/* >>> live service (sim_service_cmd.c: broker and worker) */
int sim_cmd_service(int argc, char **argv);
/* <<< live service */

const sd_cli_cmd_t sim_commands[] = {
    /* >>> live service */
    {"sim", "the MD service: `stemdyn sim broker` and `stemdyn sim worker`", sim_cmd_service},
    /* <<< live service */
    {NULL, NULL, NULL},
};
