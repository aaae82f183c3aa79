#include "sd_config.h"

#include <libconfig.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One table drives loading, unknown-key detection and writing, so the three
 * can never disagree about which options exist. */
typedef enum { OPT_STR, OPT_DBL, OPT_INT, OPT_BOOL, OPT_U64 } opt_type_t;

typedef struct opt {
    const char *path; /* dotted libconfig path */
    opt_type_t type;
    size_t off;
    size_t len;       /* OPT_STR buffer size */
    double lo, hi;    /* numeric range (inclusive) */
    const char *doc;
} opt_t;

#define S(p, f, d) {p, OPT_STR, offsetof(sd_config_t, f), sizeof(((sd_config_t *)0)->f), 0, 0, d}
#define D(p, f, lo, hi, d) {p, OPT_DBL, offsetof(sd_config_t, f), 0, lo, hi, d}
#define I(p, f, lo, hi, d) {p, OPT_INT, offsetof(sd_config_t, f), 0, lo, hi, d}
#define B(p, f, d) {p, OPT_BOOL, offsetof(sd_config_t, f), 0, 0, 1, d}
#define U(p, f, d) {p, OPT_U64, offsetof(sd_config_t, f), 0, 0, 0, d}

static const opt_t OPTS[] = {
    S("data_dir", data_dir, "recordings, checkpoints and session outputs"),
    {"workers", OPT_INT, offsetof(sd_config_t, workers), 0, 0, 64,
     "sim workers started by `stemdyn run` on this machine"},
    S("endpoints.console_in", ep.console_in, "ingest binds PULL: frames from the console"),
    S("endpoints.console_return", ep.console_return, "the console binds PULL: stats and errors back"),
    S("endpoints.recon_in", ep.recon_in, "ingest binds PUSH, recon connects PULL"),
    S("endpoints.broker_front", ep.broker_front, "broker binds ROUTER: models from recon (acknowledged)"),
    S("endpoints.broker_back", ep.broker_back, "broker binds ROUTER: workers connect DEALER"),
    S("endpoints.analyze_in", ep.analyze_in, "analyze binds ROUTER: snapshots from workers (acknowledged)"),
    S("endpoints.stats_pub", ep.stats_pub, "analyze binds PUB: stats deltas"),
    S("endpoints.stats_snapshot", ep.stats_snapshot, "analyze binds ROUTER: late-join snapshot"),
    S("md.potential", md.potential, "SMATB parameter set (\"Au\" = the paper's)"),
    D("md.temperature_K", md.temperature_K, 1e-3, 5000, "MD temperature (K)"),
    D("md.dt_fs", md.dt_fs, 1e-3, 20, "production time step (fs)"),
    I("md.thermalize_steps", md.thermalize_steps, 0, 1e9, "thermalisation steps at thermalize_dt_fs"),
    D("md.thermalize_dt_fs", md.thermalize_dt_fs, 1e-3, 20, "thermalisation time step (fs)"),
    D("md.production_ns", md.production_ns, 1e-6, 1e5, "simulated time per run (ns)"),
    D("md.analyse_from_ns", md.analyse_from_ns, 0, 1e5, "first analysed simulated time (ns)"),
    D("md.dump_every_ns", md.dump_every_ns, 1e-6, 1e5, "snapshot interval = transition lag (ns)"),
    D("md.damp_ps", md.damp_ps, 1e-3, 1e6, "Langevin damping (ps)"),
    D("md.checkpoint_every_ns", md.checkpoint_every_ns, 1e-6, 1e5, "checkpoint interval (ns)"),
    U("md.seed", md.seed, "base seed; each run derives its own from it and the frame index"),
    B("md.wall", md.wall, "9-3 LJ wall under the particle (support mimic)"),
    D("recon.temperature_K", recon.temperature_K, 1e-3, 5000, "Monte-Carlo temperature (K)"),
    I("recon.iterations", recon.iterations, 0, 1e8, "Monte-Carlo iterations per model"),
    D("recon.alpha", recon.alpha, 0, 1e6, "weight of the image mismatch in the fitness"),
    D("recon.dx_A", recon.dx_A, 0, 100, "pixel size (Å) when series_start has none (0: required)"),
    B("recon.series_aware", recon.series_aware, "use previous frames for stable counts"),
    D("analyze.lens_rcut_A", analyze.lens_rcut_A, 0.5, 20, "LENS cut-off (Å)"),
    S("analyze.dictionary", analyze.dictionary, "environment dictionary (empty: the paper's)"),
    D("analyze.mask_z_below_A", analyze.mask_z_below_A, -1e6, 1e6,
      "exclude atoms below this z in the first frame (omit: no mask)"),
    I("limits.queue_frames", limits.queue_frames, 1, 1e6, "in-memory frames per link"),
    I("limits.max_disk_mb", limits.max_disk_mb, 0, 1e12, "recording budget in MiB (0: disk size)"),
    I("limits.fsync_every_frames", limits.fsync_every_frames, 1, 1e6, "durability batch (frames)"),
    D("limits.fsync_every_s", limits.fsync_every_s, 1e-3, 3600, "durability batch (seconds)"),
    D("limits.series_idle_timeout_s", limits.series_idle_timeout_s, 0.1, 86400,
      "a series silent this long without series_end is closed"),
    D("limits.heartbeat_s", limits.heartbeat_s, 0.01, 3600, "heartbeat interval (s)"),
    I("limits.heartbeat_liveness", limits.heartbeat_liveness, 1, 1000,
      "missed heartbeats before a peer is declared dead"),
    S("security.server_cert", security.server_cert, "this server's secret certificate (CURVE on)"),
    S("security.client_certs", security.client_certs, "directory of allowed client certificates"),
    S("security.client_cert", security.client_cert, "this client's secret certificate"),
    S("security.server_public", security.server_public, "the server's public certificate"),
};
enum { NOPTS = sizeof OPTS / sizeof OPTS[0] };

void sd_config_defaults(sd_config_t *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->data_dir, sizeof c->data_dir, "stemdyn-data");
    c->workers = 1;
    snprintf(c->ep.console_in, SD_CONFIG_STRLEN, "tcp://*:5555");
    snprintf(c->ep.console_return, SD_CONFIG_STRLEN, "tcp://127.0.0.1:5556");
    snprintf(c->ep.recon_in, SD_CONFIG_STRLEN, "tcp://127.0.0.1:5557");
    snprintf(c->ep.broker_front, SD_CONFIG_STRLEN, "tcp://127.0.0.1:5558");
    snprintf(c->ep.broker_back, SD_CONFIG_STRLEN, "tcp://127.0.0.1:5559");
    snprintf(c->ep.analyze_in, SD_CONFIG_STRLEN, "tcp://127.0.0.1:5560");
    snprintf(c->ep.stats_pub, SD_CONFIG_STRLEN, "tcp://127.0.0.1:5561");
    snprintf(c->ep.stats_snapshot, SD_CONFIG_STRLEN, "tcp://127.0.0.1:5562");
    snprintf(c->md.potential, sizeof c->md.potential, "Au");
    c->md.temperature_K = 673.0;
    c->md.dt_fs = 5.0;
    c->md.thermalize_steps = 20000;
    c->md.thermalize_dt_fs = 1.0;
    c->md.production_ns = 2000.0; /* the paper: 2 µs, last 1 µs analysed */
    c->md.analyse_from_ns = 1000.0;
    c->md.dump_every_ns = 1.0;
    c->md.damp_ps = 100.0;
    c->md.checkpoint_every_ns = 1.0;
    c->md.seed = 20240307;
    c->md.wall = 0;
    c->recon.temperature_K = 673.0;
    c->recon.iterations = 2000;
    c->recon.alpha = 1.0;
    c->recon.dx_A = 0.0;
    c->recon.series_aware = 1;
    c->analyze.lens_rcut_A = 4.88; /* the paper's value at 673 K */
    c->analyze.mask_z_below_A = NAN;
    c->limits.queue_frames = 64;
    c->limits.max_disk_mb = 0;
    c->limits.fsync_every_frames = 8;
    c->limits.fsync_every_s = 1.0;
    c->limits.series_idle_timeout_s = 30.0;
    c->limits.heartbeat_s = 1.0;
    c->limits.heartbeat_liveness = 3;
}

static const opt_t *find_opt(const char *path)
{
    for (int i = 0; i < NOPTS; i++)
        if (!strcmp(OPTS[i].path, path))
            return &OPTS[i];
    return NULL;
}

/* Rejects settings the table does not know, recursing through groups. */
static int check_unknown(const config_setting_t *g, const char *prefix, const char *file,
                         sd_err_t *e)
{
    int n = config_setting_length(g);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", name ? name : "?");
        if (config_setting_is_group(s)) {
            int rc = check_unknown(s, path, file, e);
            if (rc)
                return rc;
        } else if (!find_opt(path)) {
            return sd_err_set(e, SD_EINVAL, "%s:%d: unknown setting '%s'", file,
                              config_setting_source_line(s), path);
        }
    }
    return SD_OK;
}

static int load_one(const config_t *cf, const opt_t *o, sd_config_t *c, const char *file,
                    sd_err_t *e)
{
    const config_setting_t *s = config_lookup(cf, o->path);
    if (!s)
        return SD_OK;
    char *base = (char *)c + o->off;
    int line = config_setting_source_line(s);
    int t = config_setting_type(s);
    switch (o->type) {
    case OPT_STR: {
        if (t != CONFIG_TYPE_STRING)
            return sd_err_set(e, SD_EINVAL, "%s:%d: %s must be a string", file, line, o->path);
        const char *v = config_setting_get_string(s);
        if (strlen(v) >= o->len)
            return sd_err_set(e, SD_ERANGE, "%s:%d: %s is longer than %zu characters", file, line,
                              o->path, o->len - 1);
        memcpy(base, v, strlen(v) + 1);
        return SD_OK;
    }
    case OPT_BOOL:
        if (t != CONFIG_TYPE_BOOL)
            return sd_err_set(e, SD_EINVAL, "%s:%d: %s must be true or false", file, line, o->path);
        *(int *)base = config_setting_get_bool(s);
        return SD_OK;
    case OPT_U64:
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
            return sd_err_set(e, SD_EINVAL, "%s:%d: %s must be an integer", file, line, o->path);
        if (config_setting_get_int64(s) < 0)
            return sd_err_set(e, SD_ERANGE, "%s:%d: %s must be >= 0", file, line, o->path);
        *(uint64_t *)base = (uint64_t)config_setting_get_int64(s);
        return SD_OK;
    case OPT_INT:
    case OPT_DBL: {
        double v;
        if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
            v = (double)config_setting_get_int64(s);
        else if (t == CONFIG_TYPE_FLOAT && o->type == OPT_DBL)
            v = config_setting_get_float(s);
        else
            return sd_err_set(e, SD_EINVAL, "%s:%d: %s must be %s", file, line, o->path,
                              o->type == OPT_INT ? "an integer" : "a number");
        if (!isfinite(v) || v < o->lo || v > o->hi)
            return sd_err_set(e, SD_ERANGE, "%s:%d: %s = %g is outside [%g, %g]", file, line,
                              o->path, v, o->lo, o->hi);
        if (o->type == OPT_DBL)
            *(double *)base = v;
        else if (!strcmp(o->path, "workers"))
            *(int *)base = (int)v;
        else if (!strcmp(o->path, "limits.heartbeat_liveness"))
            *(int *)base = (int)v;
        else
            *(int64_t *)base = (int64_t)v;
        return SD_OK;
    }
    }
    return SD_OK;
}

int sd_config_load(const char *path, sd_config_t *c, sd_err_t *e)
{
    sd_config_defaults(c);
    if (!path)
        return SD_OK;
    config_t cf;
    config_init(&cf);
    if (config_read_file(&cf, path) != CONFIG_TRUE) {
        int rc;
        if (config_error_type(&cf) == CONFIG_ERR_FILE_IO)
            rc = sd_err_set(e, SD_EIO, "cannot read config file %s", path);
        else
            rc = sd_err_set(e, SD_EFORMAT, "%s:%d: %s", path, config_error_line(&cf),
                            config_error_text(&cf));
        config_destroy(&cf);
        return rc;
    }
    int rc = check_unknown(config_root_setting(&cf), "", path, e);
    for (int i = 0; !rc && i < NOPTS; i++)
        rc = load_one(&cf, &OPTS[i], c, path, e);
    config_destroy(&cf);
    if (rc)
        return rc;
    rc = sd_config_validate(c, e);
    if (rc)
        sd_err_prefix(e, "%s", path);
    return rc;
}

static int check_endpoint(const char *name, const char *ep, sd_err_t *e)
{
    if (!strncmp(ep, "tcp://", 6) || !strncmp(ep, "ipc://", 6) || !strncmp(ep, "inproc://", 9))
        return SD_OK;
    return sd_err_set(e, SD_EINVAL, "endpoints.%s = '%s' is not a tcp://, ipc:// or inproc:// endpoint",
                      name, ep);
}

int sd_config_validate(const sd_config_t *c, sd_err_t *e)
{
    const struct { const char *n; const char *v; } eps[] = {
        {"console_in", c->ep.console_in},       {"console_return", c->ep.console_return},
        {"recon_in", c->ep.recon_in},           {"broker_front", c->ep.broker_front},
        {"broker_back", c->ep.broker_back},     {"analyze_in", c->ep.analyze_in},
        {"stats_pub", c->ep.stats_pub},         {"stats_snapshot", c->ep.stats_snapshot},
    };
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        int rc = check_endpoint(eps[i].n, eps[i].v, e);
        if (rc)
            return rc;
    }
    if (!c->data_dir[0])
        return sd_err_set(e, SD_EINVAL, "data_dir must not be empty");
    if (c->md.analyse_from_ns >= c->md.production_ns)
        return sd_err_set(e, SD_ERANGE, "md.analyse_from_ns (%g) must be below md.production_ns (%g)",
                          c->md.analyse_from_ns, c->md.production_ns);
    if (c->md.dump_every_ns > c->md.production_ns)
        return sd_err_set(e, SD_ERANGE, "md.dump_every_ns (%g) exceeds md.production_ns (%g)",
                          c->md.dump_every_ns, c->md.production_ns);
    double steps = c->md.dump_every_ns * 1e6 / c->md.dt_fs;
    if (fabs(steps - nearbyint(steps)) > 1e-6 * steps)
        return sd_err_set(e, SD_EINVAL, "md.dump_every_ns (%g ns) is not a whole number of %g fs steps",
                          c->md.dump_every_ns, c->md.dt_fs);
    int has_srv = c->security.server_cert[0] != 0, has_dir = c->security.client_certs[0] != 0;
    if (has_srv != has_dir)
        return sd_err_set(e, SD_EINVAL,
                          "security.server_cert and security.client_certs must be set together");
    if ((c->security.client_cert[0] != 0) != (c->security.server_public[0] != 0))
        return sd_err_set(e, SD_EINVAL,
                          "security.client_cert and security.server_public must be set together");
    return SD_OK;
}

static void write_value(FILE *f, const opt_t *o, const sd_config_t *c, const char *leaf)
{
    const char *base = (const char *)c + o->off;
    switch (o->type) {
    case OPT_STR:
        fprintf(f, "%s = \"%s\";", leaf, base);
        break;
    case OPT_BOOL:
        fprintf(f, "%s = %s;", leaf, *(const int *)base ? "true" : "false");
        break;
    case OPT_U64:
        fprintf(f, "%s = %lluL;", leaf, (unsigned long long)*(const uint64_t *)base);
        break;
    case OPT_DBL: {
        double v = *(const double *)base;
        if (isnan(v)) {
            fprintf(f, "# %s = (unset);", leaf);
            break;
        }
        char num[64];
        snprintf(num, sizeof num, "%.17g", v);
        if (!strpbrk(num, ".eE"))
            strcat(num, ".0"); /* libconfig needs a float literal for a float setting */
        fprintf(f, "%s = %s;", leaf, num);
        break;
    }
    case OPT_INT:
        if (!strcmp(o->path, "workers") || !strcmp(o->path, "limits.heartbeat_liveness"))
            fprintf(f, "%s = %d;", leaf, *(const int *)base);
        else
            fprintf(f, "%s = %lldL;", leaf, (long long)*(const int64_t *)base);
        break;
    }
}

void sd_config_print(FILE *f, const sd_config_t *c)
{
    fprintf(f, "# stemdyn configuration (libconfig syntax). Every setting is optional.\n");
    char group[64] = "";
    for (int i = 0; i < NOPTS; i++) {
        const opt_t *o = &OPTS[i];
        const char *dot = strchr(o->path, '.');
        char g[64] = "";
        if (dot)
            snprintf(g, sizeof g, "%.*s", (int)(dot - o->path), o->path);
        if (strcmp(g, group)) {
            if (group[0])
                fprintf(f, "};\n");
            if (g[0])
                fprintf(f, "\n%s = {\n", g);
            snprintf(group, sizeof group, "%s", g);
        }
        fprintf(f, "%s# %s\n%s", g[0] ? "  " : "", o->doc, g[0] ? "  " : "");
        write_value(f, o, c, dot ? dot + 1 : o->path);
        fputc('\n', f);
    }
    if (group[0])
        fprintf(f, "};\n");
}

int sd_config_write(const char *path, const sd_config_t *c, sd_err_t *e)
{
    char tmp[1024];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return sd_err_set(e, SD_EINVAL, "path too long: %s", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return sd_err_set(e, SD_EIO, "cannot write %s", tmp);
    sd_config_print(f, c);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return sd_err_set(e, SD_EIO, "cannot write %s", path);
    }
    return SD_OK;
}
