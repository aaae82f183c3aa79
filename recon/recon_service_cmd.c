/* `stemdyn recon`: the reconstruction process of the live service. */
#include "recon_service.h"
#include "sd_cli.h"
#include "sd_config.h"

#include <stdio.h>

int recon_cmd_service(int argc, char **argv);

int recon_cmd_service(int argc, char **argv)
{
    static const char help[] =
        "usage: stemdyn recon [--config FILE] [--for SECONDS]\n\n"
        "The reconstruction process: takes frames in order from ingest\n"
        "(endpoints.recon_in), counts the atoms of every column, builds a 3D model\n"
        "(recon.* settings) and sends it to the sim broker (endpoints.broker_front),\n"
        "resending until acknowledged.  After a restart it catches up from the\n"
        "recording (DATA_DIR/recording.sdrec): no frame is lost.  Timings per frame\n"
        "go to DATA_DIR/recon/latency.csv.\n";
    const char *cfg_path;
    double max_s;
    int rc = sd_cli_service_args(argc, argv, "recon", help, &cfg_path, &max_s);
    if (rc >= 0)
        return rc;
    sd_config_t c;
    sd_err_t e;
    if (sd_config_load(cfg_path, &c, &e))
        return sd_cli_fail("recon", SD_EXIT_FAIL, "%s", e.msg);
    recon_service_t *s = recon_service_new(&c, &e);
    if (!s)
        return sd_cli_fail("recon", SD_EXIT_FAIL, "%s", e.msg);
    rc = recon_service_run(s, max_s, &e);
    recon_service_destroy(&s);
    return rc ? sd_cli_fail("recon", SD_EXIT_FAIL, "%s", e.msg) : SD_EXIT_OK;
}
