/* Command-line entry points of the analyze stage. */
#include "analyze.h"

#include <stddef.h>

/* Command entry points live next to their modules (soap_cmd.c, lens_cmd.c …). */
/* >>> SOAP work: declarations */
/* <<< SOAP work */
/* >>> LENS work: declarations */
/* lens_cmd_run is declared in analyze.h (LENS section). */
/* <<< LENS work */
/* live service and its clients (service_cmd.c) */
int analyze_cmd_service(int argc, char **argv);
int analyze_cmd_monitor(int argc, char **argv);
int analyze_cmd_web(int argc, char **argv);
int analyze_cmd_report(int argc, char **argv);

const sd_cli_cmd_t analyze_commands[] = {
    /* >>> SOAP work: entries */
    /* <<< SOAP work */
    /* >>> LENS work: entries */
    {"lens", "LENS per atom per frame; --cluster: the paper's K-means pipeline", lens_cmd_run},
    /* <<< LENS work */
    {"analyze", "the analysis process: snapshots in, statistics out (live service)",
     analyze_cmd_service},
    {"monitor", "live terminal view of the statistics", analyze_cmd_monitor},
    {"web", "live web dashboard (HTTP + Server-Sent Events)", analyze_cmd_web},
    {"report", "self-contained HTML report of a finished session", analyze_cmd_report},
    {NULL, NULL, NULL},
};
