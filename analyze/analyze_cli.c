/* Command-line entry points of the analyze stage. */
#include "analyze.h"

#include <stddef.h>

/* Command entry points live next to their modules (soap_cmd.c, lens_cmd.c …). */
/* >>> SOAP work: declarations */
int soap_cmd_soap(int argc, char **argv);        /* soap_cmd.c */
int soap_cmd_classify(int argc, char **argv);
int soap_cmd_transitions(int argc, char **argv);
int soap_cmd_dict(int argc, char **argv);
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
    {"soap", "SOAP power spectra of a structure or trajectory (DScribe-exact) to .npy", soap_cmd_soap},
    {"classify", "classify atoms against a SOAP environment dictionary (the paper's by default)", soap_cmd_classify},
    {"transitions", "transition counts/probabilities/lifetimes/populations between environments", soap_cmd_transitions},
    {"dict", "build or show a SOAP environment dictionary (dict build | dict show)", soap_cmd_dict},
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
