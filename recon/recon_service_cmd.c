/* `stemdyn recon`: the reconstruction process of the live service. */
#include "recon_service.h"
#include "sd_cli.h"
#include "sd_config.h"

#include <getopt.h>
#include <stdio.h>

int recon_cmd_service(int argc, char **argv);

int recon_cmd_service(int argc, char **argv)
{
    static const struct option lo[] = {{"config", required_argument, 0, 'c'},
                                        {"for", required_argument, 0, 't'},
                                        {"help", no_argument, 0, 'h'},
                                        {0, 0, 0, 0}};
    const char *cfg_path = NULL;
    double max_s = 0;
    sd_err_t e;
    int ch;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "c:t:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'c': cfg_path = optarg; break;
        case 't':
            if (sd_cli_parse_double(optarg, "--for", 0, 1e9, &max_s, &e))
                return sd_cli_fail("recon", SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'h':
            printf("usage: stemdyn recon [--config FILE] [--for SECONDS]\n\n"
                   "The reconstruction process: takes frames in order from ingest\n"
                   "(endpoints.recon_in), counts the atoms of every column, builds a 3D model\n"
                   "(recon.* settings) and sends it to the sim broker (endpoints.broker_front),\n"
                   "resending until acknowledged.  After a restart it catches up from the\n"
                   "recording (DATA_DIR/recording.sdrec): no frame is lost.  Timings per frame\n"
                   "go to DATA_DIR/recon/latency.csv.\n");
            return SD_EXIT_OK;
        default: return SD_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return sd_cli_fail("recon", SD_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
    sd_config_t c;
    if (sd_config_load(cfg_path, &c, &e))
        return sd_cli_fail("recon", SD_EXIT_FAIL, "%s", e.msg);
    recon_service_t *s = recon_service_new(&c, &e);
    if (!s)
        return sd_cli_fail("recon", SD_EXIT_FAIL, "%s", e.msg);
    int rc = recon_service_run(s, max_s, &e);
    recon_service_destroy(&s);
    return rc ? sd_cli_fail("recon", SD_EXIT_FAIL, "%s", e.msg) : SD_EXIT_OK;
}
