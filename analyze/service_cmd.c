/* Commands of the live analysis side: the `analyze` process, and the clients
 * of its statistics (`monitor`, `web`, `report`). */
#include "analyze.h"
#include "analyze_service.h"
#include "sd_clock.h"
#include "sd_config.h"
#include "sd_log.h"
#include "sd_npy.h"
#include "statspub.h"
#include "report_tables.h"
#include "webfeed.h"
#include "webgw.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

int analyze_cmd_service(int argc, char **argv);
int analyze_cmd_monitor(int argc, char **argv);
int analyze_cmd_web(int argc, char **argv);
int analyze_cmd_report(int argc, char **argv);

int analyze_cmd_service(int argc, char **argv)
{
    static const char help[] =
        "usage: stemdyn analyze [--config FILE] [--for SECONDS]\n\n"
        "The analysis process: receives MD snapshots from the sim workers\n"
        "(endpoints.analyze_in), classifies every atom against the environment\n"
        "dictionary, computes LENS and accumulates transition counts per run, and\n"
        "publishes statistics: PUB deltas (endpoints.stats_pub), late-join snapshot\n"
        "(endpoints.stats_snapshot), and PUSH to the console (endpoints.console_return).\n"
        "Snapshots are journaled in DATA_DIR/analyze/ and replayed at start, so a\n"
        "restart loses and double-counts nothing; DATA_DIR/analyze/state.json holds\n"
        "the current state (for `stemdyn report`).\n";
    const char *cfg_path;
    double max_s;
    int rc = sd_cli_service_args(argc, argv, "analyze", help, &cfg_path, &max_s);
    if (rc >= 0)
        return rc;
    sd_config_t c;
    sd_err_t e;
    if (sd_config_load(cfg_path, &c, &e))
        return sd_cli_fail("analyze", SD_EXIT_FAIL, "%s", e.msg);
    analyze_service_t *s = analyze_service_new(&c, &e);
    if (!s)
        return sd_cli_fail("analyze", SD_EXIT_FAIL, "%s", e.msg);
    rc = analyze_service_run(s, max_s, &e);
    analyze_service_destroy(&s);
    if (rc)
        return sd_cli_fail("analyze", SD_EXIT_FAIL, "%s", e.msg);
    return SD_EXIT_OK;
}

/* "tcp://host:5561" -> "tcp://host:5562": the snapshot endpoint of a stats
 * endpoint when only one is given (the default configuration's layout). */
static int next_port(const char *ep, char *out, size_t cap)
{
    const char *colon = strrchr(ep, ':');
    if (!colon || strncmp(ep, "tcp://", 6))
        return -1;
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port >= 65535)
        return -1;
    snprintf(out, cap, "%.*s:%ld", (int)(colon - ep), ep, port + 1);
    return 0;
}

static int endpoints(const char *cmd, const char *stats, const char *snap, const char *cfg_path,
                     char *pub_out, char *snap_out, size_t cap)
{
    sd_config_t c;
    sd_err_t e;
    if (sd_config_load(cfg_path, &c, &e))
        return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    snprintf(pub_out, cap, "%s", stats ? stats : c.ep.stats_pub);
    if (snap)
        snprintf(snap_out, cap, "%s", snap);
    else if (stats && next_port(stats, snap_out, cap))
        return sd_cli_fail(cmd, SD_EXIT_USAGE,
                           "cannot derive the snapshot endpoint from %s: give --snapshot", stats);
    else if (!stats)
        snprintf(snap_out, cap, "%s", c.ep.stats_snapshot);
    return SD_EXIT_OK;
}

static void print_table(const statsclient_t *c)
{
    const stats_run_t *runs;
    int n = statsclient_runs(c, &runs);
    const stats_run_t *m = statsclient_run(c, -1);
    printf("\033[H\033[2J");
    printf("stemdyn monitor — seq %llu, %d runs\n\n", (unsigned long long)statsclient_seq(c),
           m ? n - 1 : n);
    if (!m) {
        printf("(no statistics yet)\n");
        fflush(stdout);
        return;
    }
    int k = m->k;
    printf("transition probabilities P(i→j), merged over runs (δt per frame):\n      ");
    for (int j = 0; j < k; j++)
        printf("%7s", m->labels[j]);
    printf("   frames: %lld\n", (long long)m->frames);
    for (int i = 0; i < k; i++) {
        int64_t row = 0;
        for (int j = 0; j < k; j++)
            row += m->counts[i * k + j];
        printf("%5s ", m->labels[i]);
        for (int j = 0; j < k; j++) {
            if (!row || !m->counts[i * k + j])
                printf("%7s", ".");
            else
                printf("%7.4f", (double)m->counts[i * k + j] / (double)row);
        }
        printf("\n");
    }
    printf("\npopulations (fraction of atoms, mean ± sd over frames):\n");
    for (int g = 0; g < k; g++)
        printf("  %-4s %.4f ± %.4f\n", m->labels[g], m->pop_mean[g], m->pop_std[g]);
    printf("\nruns:\n");
    for (int r = 0; r < n; r++) {
        if (runs[r].run_id < 0)
            continue;
        printf("  run %-4lld %9.4g / %-6.4g ns  %8.2f ns/day  %5lld frames  LENS %.2f/%.2f/%.2f\n",
               (long long)runs[r].run_id, runs[r].sim_ns, runs[r].target_ns, runs[r].ns_per_day,
               (long long)runs[r].frames, runs[r].lens_fractions[0], runs[r].lens_fractions[1],
               runs[r].lens_fractions[2]);
    }
    fflush(stdout);
}

int analyze_cmd_monitor(int argc, char **argv)
{
    static const struct option lo[] = {{"snapshot", required_argument, 0, 's'},
                                        {"config", required_argument, 0, 'c'},
                                        {"once", no_argument, 0, '1'},
                                        {"timeout", required_argument, 0, 't'},
                                        {"until-frames", required_argument, 0, 'u'},
                                        {"help", no_argument, 0, 'h'},
                                        {0, 0, 0, 0}};
    const char *snap = NULL, *cfg = NULL;
    int once = 0, ch;
    int64_t until = 0;
    double timeout = 0;
    sd_err_t e;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "s:c:1t:u:h", lo, NULL)) != -1) {
        switch (ch) {
        case 's': snap = optarg; break;
        case 'u':
            if (sd_cli_parse_i64(optarg, "--until-frames", 1, INT64_MAX, &until, &e))
                return sd_cli_fail("monitor", SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'c': cfg = optarg; break;
        case '1': once = 1; break;
        case 't':
            if (sd_cli_parse_double(optarg, "--timeout", 0, 1e9, &timeout, &e))
                return sd_cli_fail("monitor", SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'h':
            printf("usage: stemdyn monitor [ENDPOINT] [--snapshot EP] [--config FILE] [--once]\n"
                   "                       [--until-frames N] [--timeout S]\n\n"
                   "Live terminal view of the statistics: transition matrix, populations, runs.\n"
                   "ENDPOINT is analyze's PUB endpoint (default from the configuration); the\n"
                   "snapshot endpoint defaults to the next port.  --once prints the state as soon\n"
                   "as it is synchronised and exits; --until-frames N exits (status 0) once N\n"
                   "snapshots are analysed over all runs; --timeout stops after S seconds\n"
                   "(status 1 if --once or --until-frames was not satisfied).\n");
            return SD_EXIT_OK;
        default: return SD_EXIT_USAGE;
        }
    }
    const char *stats = optind < argc ? argv[optind++] : NULL;
    if (optind < argc)
        return sd_cli_fail("monitor", SD_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
    char pub[512], sep[512];
    int rc = endpoints("monitor", stats, snap, cfg, pub, sep, sizeof pub);
    if (rc)
        return rc;
    sd_config_t scfg; /* CURVE keys, when the configuration has them */
    sd_config_defaults(&scfg);
    if (cfg && sd_config_load(cfg, &scfg, &e))
        return sd_cli_fail("monitor", SD_EXIT_USAGE, "%s", e.msg);
    void *ctx = zmq_ctx_new();
    statsclient_t *c = statsclient_new_secure(ctx, &scfg.security, pub, sep, &e);
    if (!c) {
        zmq_ctx_term(ctx);
        return sd_cli_fail("monitor", SD_EXIT_FAIL, "%s", e.msg);
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    struct timespec zero = {0, 0};
    int64_t end = timeout > 0 ? sd_clock_mono_ns() + (int64_t)(timeout * 1e9) : 0;
    int64_t last_draw = 0;
    rc = SD_EXIT_OK;
    for (;;) {
        int k = statsclient_poll(c, 200, &e);
        if (k < 0) {
            rc = sd_cli_fail("monitor", SD_EXIT_FAIL, "%s", e.msg);
            break;
        }
        int64_t now = sd_clock_mono_ns();
        const stats_run_t *merged = statsclient_run(c, -1);
        int reached = until > 0 && statsclient_synced(c) && merged && merged->frames >= until;
        if (statsclient_synced(c) && (k > 0 || once || reached) &&
            (now - last_draw > 250000000LL || reached)) {
            print_table(c);
            last_draw = now;
            if (once || reached)
                break;
        }
        if (sigtimedwait(&set, NULL, &zero) > 0)
            break;
        if (end && now > end) {
            if (once || until > 0)
                rc = sd_cli_fail("monitor", SD_EXIT_FAIL, "%s from %s within %.1f s",
                                 until > 0 ? "not enough frames analysed" : "no statistics", pub,
                                 timeout);
            break;
        }
    }
    statsclient_destroy(&c);
    zmq_ctx_term(ctx);
    return rc;
}

/* ---- web ---- */

typedef struct jb {
    char *p;
    size_t len, cap;
} jb_t;

static void jb_add(jb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jb_add(jb_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (k < 0)
            return;
        if (b->p && (size_t)k < b->cap - b->len) {
            b->len += (size_t)k;
            return;
        }
        size_t cap = 2 * b->cap + (size_t)k + 256;
        char *q = realloc(b->p, cap);
        if (!q)
            return;
        b->p = q;
        b->cap = cap;
    }
}

static void jb_num(jb_t *b, double v)
{
    if (isfinite(v))
        jb_add(b, "%.6g", v);
    else
        jb_add(b, "null");
}

static void run_json(jb_t *b, const stats_run_t *r, int with_counts)
{
    int k = r->k;
    jb_add(b, "{\"run_id\":%lld,\"frames\":%lld,\"sim_ns\":", (long long)r->run_id,
           (long long)r->frames);
    jb_num(b, r->sim_ns);
    jb_add(b, ",\"target_ns\":");
    jb_num(b, r->target_ns);
    jb_add(b, ",\"ns_per_day\":");
    jb_num(b, r->ns_per_day);
    jb_add(b, ",\"populations_mean\":[");
    for (int g = 0; g < k; g++) {
        jb_add(b, "%s", g ? "," : "");
        jb_num(b, r->pop_mean[g]);
    }
    jb_add(b, "],\"populations_std\":[");
    for (int g = 0; g < k; g++) {
        jb_add(b, "%s", g ? "," : "");
        jb_num(b, r->pop_std[g]);
    }
    jb_add(b, "],\"lens_fractions\":[%.6g,%.6g,%.6g]", r->lens_fractions[0], r->lens_fractions[1],
           r->lens_fractions[2]);
    if (with_counts) {
        jb_add(b, ",\"counts\":[");
        for (int i = 0; i < k; i++) {
            jb_add(b, "%s[", i ? "," : "");
            for (int j = 0; j < k; j++)
                jb_add(b, "%s%lld", j ? "," : "", (long long)r->counts[i * k + j]);
            jb_add(b, "]");
        }
        jb_add(b, "]");
    }
    jb_add(b, "}");
}

/* The page's state from what the stats messages carry; LENS fractions over
 * time are accumulated here (hist, [nhist][4]). */
static char *client_json(const statsclient_t *c, double dt_ns, double *hist, int *nhist, int cap)
{
    const stats_run_t *runs;
    int n = statsclient_runs(c, &runs);
    const stats_run_t *m = statsclient_run(c, -1);
    jb_t b = {0};
    jb_add(&b, "{\"stats\":{\"seq\":%llu,\"dt_ns\":", (unsigned long long)statsclient_seq(c));
    jb_num(&b, dt_ns);
    if (m) {
        jb_add(&b, ",\"labels\":[");
        for (int g = 0; g < m->k; g++)
            jb_add(&b, "%s\"%s\"", g ? "," : "", m->labels[g]);
        jb_add(&b, "],\"merged\":");
        run_json(&b, m, 1);
        /* the paper's average over runs (unweighted mean of each run's
         * row-normalised matrix), for the page's "mean of runs" scope */
        int k = m->k, nr = 0;
        double *all = malloc((size_t)(n ? n : 1) * (size_t)(k * k) * sizeof *all);
        double mp[SD_STATS_MAX_K * SD_STATS_MAX_K];
        for (int r = 0; all && r < n; r++)
            if (runs[r].run_id >= 0 && runs[r].k == k) {
                for (int i = 0; i < k * k; i++)
                    all[(size_t)nr * (size_t)(k * k) + (size_t)i] = (double)runs[r].counts[i];
                nr++;
            }
        if (all && nr > 0) {
            trans_mean_rownorm(k, nr, all, mp);
            jb_add(&b, ",\"mean_P\":[");
            for (int i = 0; i < k; i++) {
                jb_add(&b, "%s[", i ? "," : "");
                for (int j = 0; j < k; j++) {
                    jb_add(&b, "%s", j ? "," : "");
                    jb_num(&b, mp[i * k + j]);
                }
                jb_add(&b, "]");
            }
            jb_add(&b, "]");
        }
        free(all);
        if (*nhist == 0 || hist[4 * (*nhist - 1)] != m->sim_ns) {
            if (*nhist == cap) {
                memmove(hist, hist + 4, (size_t)(cap - 1) * 4 * sizeof *hist);
                (*nhist)--;
            }
            double *h = hist + 4 * (*nhist)++;
            h[0] = m->sim_ns;
            memcpy(h + 1, m->lens_fractions, 3 * sizeof *h);
        }
        jb_add(&b, ",\"lens\":{\"class_names\":[\"static\",\"intermediate\",\"dynamic\"],\"fractions_t\":[");
        for (int i = 0; i < *nhist; i++)
            jb_add(&b, "%s[%.6g,%.6g,%.6g,%.6g]", i ? "," : "", hist[4 * i], hist[4 * i + 1],
                   hist[4 * i + 2], hist[4 * i + 3]);
        jb_add(&b, "]}");
        for (int i = 0; i < m->n_latency; i++)
            if (!strcmp(m->latency[i].name, "frame_to_model"))
                jb_add(&b, ",\"health\":{\"latency_p50_s\":%.6g,\"latency_p99_s\":%.6g}",
                       m->latency[i].p50_s, m->latency[i].p99_s);
    }
    jb_add(&b, ",\"runs\":[");
    int first = 1;
    for (int r = 0; r < n; r++) {
        if (runs[r].run_id < 0)
            continue;
        jb_add(&b, "%s", first ? "" : ",");
        run_json(&b, &runs[r], 1);
        first = 0;
    }
    jb_add(&b, "]}}");
    return b.p;
}

int analyze_cmd_web(int argc, char **argv)
{
    static const struct option lo[] = {{"stats", required_argument, 0, 's'},
                                        {"snapshot", required_argument, 0, 'n'},
                                        {"listen", required_argument, 0, 'l'},
                                        {"config", required_argument, 0, 'c'},
                                        {"session", required_argument, 0, 'S'},
                                        {"for", required_argument, 0, 't'},
                                        {"help", no_argument, 0, 'h'},
                                        {0, 0, 0, 0}};
    const char *stats = NULL, *snap = NULL, *cfg = NULL, *listen = "127.0.0.1:8080", *session = NULL;
    double max_s = 0;
    sd_err_t e;
    int ch;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "s:n:l:c:t:h", lo, NULL)) != -1) {
        switch (ch) {
        case 's': stats = optarg; break;
        case 'n': snap = optarg; break;
        case 'l': listen = optarg; break;
        case 'c': cfg = optarg; break;
        case 'S': session = optarg; break;
        case 't':
            if (sd_cli_parse_double(optarg, "--for", 0, 1e9, &max_s, &e))
                return sd_cli_fail("web", SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'h':
            printf("usage: stemdyn web [--stats ENDPOINT] [--snapshot EP] [--listen HOST:PORT]\n"
                   "                   [--session DIR] [--config FILE] [--for SECONDS]\n\n"
                   "Serves the live dashboard: subscribes to analyze's statistics (late-join\n"
                   "snapshot first) and pushes the newest state to every browser over\n"
                   "Server-Sent Events, at most 10 updates per second per client (newest wins).\n"
                   "Default listen address 127.0.0.1:8080 (port 0 picks a free port); the URL\n"
                   "is printed on stdout.  --session DIR (default: the configuration's data_dir\n"
                   "when it exists) adds what the statistics do not carry, read from the session\n"
                   "directory: the latest frame with its counted columns (recon/latest.json), the\n"
                   "current model coloured by environment, LENS over time and its KDE\n"
                   "(analyze/state.json), frames received, gaps and drops (recording.sdrec).\n"
                   "--for stops after SECONDS.\n");
            return SD_EXIT_OK;
        default: return SD_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return sd_cli_fail("web", SD_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
    char host[64];
    int64_t port = 0;
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host ||
        sd_cli_parse_i64(colon + 1, "--listen port", 0, 65535, &port, &e))
        return sd_cli_fail("web", SD_EXIT_USAGE, "--listen wants HOST:PORT, got '%s'", listen);
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
    char pub[512], sep[512];
    int rc = endpoints("web", stats, snap, cfg, pub, sep, sizeof pub);
    if (rc)
        return rc;
    char sdir[SD_CONFIG_STRLEN] = "";
    struct stat st;
    sd_config_t wc; /* loads: endpoints() above already accepted it */
    if (sd_config_load(cfg, &wc, &e))
        return sd_cli_fail("web", SD_EXIT_FAIL, "%s", e.msg);
    /* the transition lag δt is the snapshot interval (τ = δt / p): the stats
     * messages do not carry it; a session's state.json does and wins */
    double dt_ns = wc.md.dump_every_ns;
    if (session) {
        if (stat(session, &st) != 0 || !S_ISDIR(st.st_mode))
            return sd_cli_fail("web", SD_EXIT_USAGE, "--session %s: not a directory", session);
        snprintf(sdir, sizeof sdir, "%s", session);
    } else if (stat(wc.data_dir, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(sdir, sizeof sdir, "%s", wc.data_dir);
    }
    /* before any thread exists: libmicrohttpd's threads inherit the mask, so
     * SIGINT/SIGTERM reach the loop below (sigtimedwait) and not a server
     * thread, where the default action would kill the process mid-reply */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    webgw_opts_t o = {.host = host, .port = (int)port, .max_rate_hz = 10, .max_clients = 64};
    webgw_t *g = webgw_new(&o, &e);
    if (!g)
        return sd_cli_fail("web", SD_EXIT_FAIL, "%s", e.msg);
    sd_config_t scfg; /* CURVE keys, when the configuration has them */
    sd_config_defaults(&scfg);
    if (cfg && sd_config_load(cfg, &scfg, &e)) {
        webgw_destroy(&g);
        return sd_cli_fail("web", SD_EXIT_USAGE, "%s", e.msg);
    }
    void *ctx = zmq_ctx_new();
    statsclient_t *c = statsclient_new_secure(ctx, &scfg.security, pub, sep, &e);
    if (!c) {
        webgw_destroy(&g);
        zmq_ctx_term(ctx);
        return sd_cli_fail("web", SD_EXIT_FAIL, "%s", e.msg);
    }
    webfeed_t *feed = sdir[0] ? webfeed_new(sdir, NULL) : NULL;
    printf("stemdyn web: http://%s:%d/ (stats from %s%s%s)\n", host, webgw_port(g), pub,
           feed ? ", session " : "", feed ? sdir : "");
    fflush(stdout);
    struct timespec zero = {0, 0};
    int64_t end = max_s > 0 ? sd_clock_mono_ns() + (int64_t)(max_s * 1e9) : 0;
    enum { HIST = 4000 };
    double *hist = malloc(HIST * 4 * sizeof *hist);
    int nhist = 0;
    int64_t next_feed = 0;
    int live = 0; /* the stats client has delivered; the file copy is no longer shown */
    uint64_t file_stats_version = 0;
    while (hist) {
        int k = statsclient_poll(c, 100, &e);
        if (k > 0 && statsclient_run(c, -1)) {
            char *js = client_json(c, dt_ns, hist, &nhist, HIST);
            if (js) {
                webgw_publish(g, js, strlen(js), NULL);
                free(js);
                live = 1;
            }
        }
        int64_t now = sd_clock_mono_ns();
        if (feed && now >= next_feed) {
            /* the session files change about once a second (state.json) or
             * once a frame (latest.json): four looks a second suffice */
            webfeed_poll(feed, g, NULL);
            double fdt = webfeed_dt_ns(feed);
            if (fdt > 0)
                dt_ns = fdt;
            size_t n = 0;
            uint64_t ver = 0;
            const char *fs = webfeed_stats(feed, &n, &ver);
            if (!live && ver != file_stats_version) {
                file_stats_version = ver;
                jb_t b = {0};
                if (fs)
                    jb_add(&b, "{\"stats\":%.*s}", (int)n, fs);
                if (b.p)
                    webgw_publish(g, b.p, b.len, NULL);
                free(b.p);
            }
            next_feed = now + 250000000LL;
        }
        if (sigtimedwait(&set, NULL, &zero) > 0 || (end && now > end))
            break;
    }
    free(hist);
    webfeed_destroy(&feed);
    statsclient_destroy(&c);
    zmq_ctx_term(ctx);
    webgw_destroy(&g);
    return SD_EXIT_OK;
}

/* ---- report ---- */

int analyze_cmd_report(int argc, char **argv)
{
    static const struct option lo[] = {{"output", required_argument, 0, 'o'},
                                        {"help", no_argument, 0, 'h'},
                                        {0, 0, 0, 0}};
    const char *out = NULL;
    int ch;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'o': out = optarg; break;
        case 'h':
            printf("usage: stemdyn report SESSION_DIR -o report.html\n\n"
                   "Writes a self-contained HTML report of a finished session (the dashboard's\n"
                   "plots, static, no server needed) from SESSION_DIR/analyze/state.json (or\n"
                   "SESSION_DIR/state.json, as `stemdyn offline -o DIR` writes), with the last\n"
                   "frame (recon/latest.json) and the recording's counters when present, and\n"
                   "every table as CSV and .npy in REPORT_tables/ next to it (report.html →\n"
                   "report_tables/): runs, transition counts per run and merged, P (merged and\n"
                   "the mean over runs), tau, populations mean/std per run and merged, LENS\n"
                   "fractions over time and the LENS KDE.\n");
            return SD_EXIT_OK;
        default: return SD_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || !out)
        return sd_cli_fail("report", SD_EXIT_USAGE, "usage: stemdyn report SESSION_DIR -o report.html");
    sd_err_t e;
    char *js = NULL;
    size_t len = 0;
    if (webfeed_session_json(argv[optind], &js, &len, &e))
        return sd_cli_fail("report", SD_EXIT_FAIL, "%s", e.msg);
    char tdir[4096];
    size_t ol = strlen(out);
    if (ol > 5 && !strcmp(out + ol - 5, ".html"))
        ol -= 5;
    snprintf(tdir, sizeof tdir, "%.*s_tables", (int)ol, out);
    int nfiles = 0;
    int rc = report_tables_write(js, len, tdir, &nfiles, &e);
    if (!rc)
        rc = webgw_write_report(out, js, len, &e);
    free(js);
    if (rc)
        return sd_cli_fail("report", SD_EXIT_FAIL, "%s", e.msg);
    printf("wrote %s and %d tables in %s/\n", out, nfiles, tdir);
    return SD_EXIT_OK;
}
