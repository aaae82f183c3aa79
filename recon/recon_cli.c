/* Command-line entry points of the recon stage. */
#include "recon.h"

#include <stddef.h>

/* >>> counting work: declarations */
#include "count_cmd.h"
/* <<< counting work */
/* >>> 3D work: declarations */
int recon_cmd_reconstruct(int argc, char **argv); /* model3d_cmd.c */
/* <<< 3D work */
int recon_cmd_service(int argc, char **argv); /* recon_service_cmd.c */

const sd_cli_cmd_t recon_commands[] = {
    /* >>> counting work: entries */
    {"count", "count atoms per column in an ADF-STEM image (StatSTEM method)", recon_cmd_count},
    {"stem-sim", "synthetic ADF-STEM frame of an atomic model", recon_cmd_stemsim},
    /* <<< counting work */
    /* >>> 3D work: entries */
    {"reconstruct", "3D model from atom counts (columns.csv or image): MC local-minima search",
     recon_cmd_reconstruct},
    /* <<< 3D work */
    {"recon", "the reconstruction process: frames in, models out (live service)",
     recon_cmd_service},
    {NULL, NULL, NULL},
};
