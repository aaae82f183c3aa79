/* Command-line entry points of the sim stage. */
#include "sim.h"

#include <stddef.h>

const sd_cli_cmd_t sim_commands[] = {
    {NULL, NULL, NULL},
};
