/* sim — public API of the sim stage (the only header other stages and the
 * stemdyn binary include).  See README.md and ../shared/DESIGN.md. */
#ifndef SIM_H
#define SIM_H

#include "sd_cli.h"

/* Subcommands this stage contributes to `stemdyn`, NULL-terminated. */
extern const sd_cli_cmd_t sim_commands[];

#endif
