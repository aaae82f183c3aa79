/* sd_config — the service configuration shared by every stemdyn process
 * (`stemdyn run --config FILE`, or each stage alone with the same file).
 *
 * The file is libconfig syntax (see deploy/stemdyn.conf for every option with
 * its default and meaning).  Every option has a default, so an empty file (or
 * no file) is a valid single-machine configuration.  Loading validates every
 * value (type, range, endpoint syntax) and names the offending setting.
 * sd_config_t is a plain value: copy it freely; strings are fixed buffers. */
#ifndef SD_CONFIG_H
#define SD_CONFIG_H

#include "sd_err.h"

#include <stdint.h>
#include <stdio.h>

#define SD_CONFIG_STRLEN 256

typedef struct sd_config_endpoints {
    char console_in[SD_CONFIG_STRLEN];      /* ingest PULL binds: console frames */
    char console_return[SD_CONFIG_STRLEN];  /* console PULL binds; ingest/analyze PUSH here */
    char recon_in[SD_CONFIG_STRLEN];        /* ingest PUSH binds, recon PULL connects */
    char broker_front[SD_CONFIG_STRLEN];    /* broker binds; recon sends models */
    char broker_back[SD_CONFIG_STRLEN];     /* broker ROUTER binds; workers DEALER connect */
    char analyze_in[SD_CONFIG_STRLEN];      /* analyze PULL binds; workers PUSH snapshots */
    char stats_pub[SD_CONFIG_STRLEN];       /* analyze PUB binds: stats deltas */
    char stats_snapshot[SD_CONFIG_STRLEN];  /* analyze ROUTER binds: late-join snapshot */
} sd_config_endpoints_t;

typedef struct sd_config_md {
    char potential[64];          /* sim parameter set, e.g. "Au" (the paper's) */
    double temperature_K;        /* (0, 5000] */
    double dt_fs;                /* production step (0, 20] */
    int64_t thermalize_steps;    /* >= 0, at thermalize_dt_fs */
    double thermalize_dt_fs;     /* (0, 20] */
    double production_ns;        /* simulated time per run (0, 1e5] */
    double analyse_from_ns;      /* snapshots before this time are not analysed [0, production_ns) */
    double dump_every_ns;        /* snapshot interval = δt of the transition matrices (0, production_ns] */
    double damp_ps;              /* Langevin damping (0, 1e6] */
    double checkpoint_every_ns;  /* (0, production_ns] */
    uint64_t seed;
    int wall;                    /* support mimic on/off */
} sd_config_md_t;

typedef struct sd_config_recon {
    double temperature_K;        /* Monte-Carlo temperature */
    int64_t iterations;          /* Monte-Carlo iterations per model */
    double alpha;                /* fitness weight of χ */
    double dx_A;                 /* pixel size when the frame does not say (0: from series_start) */
    int series_aware;            /* use previous frames (HMM) */
} sd_config_recon_t;

typedef struct sd_config_analyze {
    double lens_rcut_A;          /* LENS cut-off */
    char dictionary[SD_CONFIG_STRLEN]; /* empty: the shipped paper dictionary */
    double mask_z_below_A;       /* exclude atoms with z below this in the first frame; NaN = off */
} sd_config_analyze_t;

typedef struct sd_config_limits {
    int64_t queue_frames;        /* frames buffered in memory per link (HWM) */
    int64_t max_disk_mb;         /* recording budget; 0 = until the disk is full */
    int64_t fsync_every_frames;  /* durability batch */
    double fsync_every_s;
    double series_idle_timeout_s;/* missing series_end after this much silence */
    double heartbeat_s;          /* worker/broker heartbeat interval */
    int heartbeat_liveness;      /* missed heartbeats before a peer is dead */
} sd_config_limits_t;

typedef struct sd_config_security {
    char server_cert[SD_CONFIG_STRLEN];  /* secret cert of this side (zcert); empty = no CURVE */
    char client_certs[SD_CONFIG_STRLEN]; /* directory of allowed client public certs */
    char client_cert[SD_CONFIG_STRLEN];  /* this process's client cert, for connecting sides */
    char server_public[SD_CONFIG_STRLEN];/* the server's public cert, for connecting sides */
} sd_config_security_t;

typedef struct sd_config {
    char data_dir[SD_CONFIG_STRLEN];     /* recordings, checkpoints, session outputs */
    int workers;                         /* sim workers started by `stemdyn run` (0..64) */
    sd_config_endpoints_t ep;
    sd_config_md_t md;
    sd_config_recon_t recon;
    sd_config_analyze_t analyze;
    sd_config_limits_t limits;
    sd_config_security_t security;
} sd_config_t;

/* Fills *c with the built-in defaults (a one-machine deployment on loopback). */
void sd_config_defaults(sd_config_t *c);

/* Loads `path` over the defaults.  NULL path = defaults only.  Unknown
 * settings are errors (a typo must not silently fall back to a default). */
int sd_config_load(const char *path, sd_config_t *c, sd_err_t *e);

/* Checks ranges and cross-field rules (analyse_from < production, …). */
int sd_config_validate(const sd_config_t *c, sd_err_t *e);

/* Prints the configuration as a complete, commented libconfig file. */
void sd_config_print(FILE *f, const sd_config_t *c);

/* Writes the configuration file atomically (temporary file + rename). */
int sd_config_write(const char *path, const sd_config_t *c, sd_err_t *e);

#endif
