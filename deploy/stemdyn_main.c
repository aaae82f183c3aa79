/* stemdyn — one binary, one subcommand per task; the stages contribute their
 * command tables through their public headers. */
#include "analyze.h"
#include "deploy_cli.h"
#include "ingest.h"
#include "recon.h"
#include "sd_cli.h"
#include "sd_version.h"
#include "sim.h"

#include <stdio.h>
#include <string.h>

static const sd_cli_cmd_t *const tables[] = {ingest_commands, recon_commands, sim_commands,
                                             analyze_commands, deploy_commands};
enum { NTABLES = sizeof tables / sizeof tables[0] };

static void usage(FILE *f)
{
    fprintf(f, "usage: stemdyn <command> [options]   (stemdyn <command> --help for each)\n\n"
               "stemdyn %s turns a live ADF-STEM session into atomic dynamics.\n\ncommands:\n",
            STEMDYN_VERSION);
    for (int t = 0; t < NTABLES; t++)
        for (const sd_cli_cmd_t *c = tables[t]; c->name; c++)
            fprintf(f, "  %-14s %s\n", c->name, c->summary);
    fprintf(f, "\n  --help         this list\n  --version      print the version\n");
}

static const sd_cli_cmd_t *find(const char *name)
{
    for (int t = 0; t < NTABLES; t++)
        for (const sd_cli_cmd_t *c = tables[t]; c->name; c++)
            if (!strcmp(c->name, name))
                return c;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return SD_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return SD_EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("stemdyn %s\n", STEMDYN_VERSION);
        return SD_EXIT_OK;
    }
    const sd_cli_cmd_t *c = find(cmd);
    if (!c) {
        fprintf(stderr, "stemdyn: unknown command '%s' (stemdyn --help lists the commands)\n", cmd);
        return SD_EXIT_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}
