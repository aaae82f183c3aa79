/* deploy_cli — the commands that concern a whole deployment: `run` (the
 * one-machine supervisor) and `config` (print or check a configuration). */
#ifndef DEPLOY_CLI_H
#define DEPLOY_CLI_H

#include "sd_cli.h"

extern const sd_cli_cmd_t deploy_commands[];

#endif
