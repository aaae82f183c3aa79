/* Command-line entry points of the ingest stage: ingest, replay, keygen,
 * console (ingest_console.c). */
#include "ingest.h"

#include "sd_clock.h"
#include "sd_config.h"
#include "sd_log.h"
#include "sd_msg.h"
#include "sd_wire.h"

#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- shared helpers ---------------------------------------------------------- */

int ingest_curve_client(void *sock, const char *client_cert, const char *server_public,
                        sd_err_t *e)
{
    int has_c = client_cert && client_cert[0], has_s = server_public && server_public[0];
    if (!has_c && !has_s) return SD_OK;
    if (!has_c || !has_s)
        return sd_err_set(e, SD_EINVAL, "CURVE needs both --client-cert and --server-public");
    if (!zsys_has_curve())
        return sd_err_set(e, SD_EINVAL, "this libzmq was built without CURVE support");
    zcert_t *c = zcert_load(client_cert);
    if (!c || zcert_secret_txt(c)[0] == '\0' ||
        !strcmp(zcert_secret_txt(c), "0000000000000000000000000000000000000000")) {
        zcert_destroy(&c);
        return sd_err_set(e, SD_ENOTFOUND, "client certificate %s: cannot load its secret key "
                          "(%s_secret; make one with `stemdyn keygen`)", client_cert,
                          client_cert);
    }
    zcert_t *s = zcert_load(server_public);
    if (!s) {
        zcert_destroy(&c);
        return sd_err_set(e, SD_ENOTFOUND, "server certificate %s: cannot load", server_public);
    }
    zcert_apply(c, sock);
    zsock_set_curve_serverkey(sock, zcert_public_txt(s));
    zcert_destroy(&c);
    zcert_destroy(&s);
    return SD_OK;
}

static int mkdir_p(const char *dir)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static void sleep_ns(int64_t ns)
{
    if (ns <= 0) return;
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !zsys_interrupted) {
    }
}

/* ---- stemdyn ingest ------------------------------------------------------------ */

static void ingest_usage(FILE *f)
{
    fprintf(f,
        "usage: stemdyn ingest [options]\n"
        "Receives a live series from the acquisition console (PULL), validates every\n"
        "message, records it (append-only, CRC32C, fdatasync'ed) and forwards it to recon.\n\n"
        "  --config FILE          service configuration (endpoints, limits, security)\n"
        "  --bind EP              console endpoint to bind (tcp://*:5555)\n"
        "  --recording PATH       recording file (<data_dir>/recording.sdrec)\n"
        "  --recon EP             PUSH endpoint recon connects to (tcp://127.0.0.1:5557)\n"
        "  --no-recon             record only, forward nothing\n"
        "  --reply-to EP          console return endpoint for error replies (tcp://127.0.0.1:5556)\n"
        "  --no-reply             send no error replies\n"
        "  --backend B            auto | uring | pwrite (auto: io_uring, else pwrite)\n"
        "  --fsync-every N        fdatasync every N records (8)\n"
        "  --fsync-interval S     … and at most S seconds after a record (1.0)\n"
        "  --max-disk-mb N        recording budget in MiB, 0 = until the disk is full (0)\n"
        "  --memory-mb N          in-flight recording memory, also the largest frame (64)\n"
        "  --min-free-mb N        alert when the disk has less free space (256; 0 = off)\n"
        "  --hwm N                socket queue lengths in messages (64)\n"
        "  --idle-timeout S       close a series silent this long: missing series_end (30)\n"
        "  --server-cert FILE     CURVE: this server's secret certificate (stemdyn keygen)\n"
        "  --client-certs DIR     CURVE: directory of allowed client public certificates\n"
        "  --exit-after-series N  exit once N series ended (or timed out) and are forwarded\n"
        "  --stats-every S        log the counters every S seconds (10; 0 = never)\n"
        "On exit (SIGINT/SIGTERM) the counters are printed to stdout as one JSON line; the\n"
        "exit status is 1 if any accepted message could not be recorded.\n");
}

static void print_stats_json(FILE *f, const ingest_receiver_stats_t *s)
{
    fprintf(f,
            "{\"received\":%llu,\"accepted\":%llu,\"malformed\":%llu,\"foreign\":%llu,"
            "\"unexpected\":%llu,\"recorded\":%llu,\"unrecorded\":%llu,\"lost\":%llu,"
            "\"durable\":%llu,\"forwarded\":%llu,\"seq_missing\":%llu,\"seq_backwards\":%llu,"
            "\"frames_missing\":%llu,\"frames_repeated\":%llu,\"series_started\":%llu,"
            "\"series_ended\":%llu,\"series_timed_out\":%llu,\"series_unterminated\":%llu,"
            "\"ends_synthesized\":%llu,"
            "\"errors_sent\":%llu,\"errors_unsent\":%llu,\"auth_failures\":%llu,"
            "\"backend\":\"%s\",\"registered_buffers\":%d,\"syncs\":%llu,\"bytes\":%llu}\n",
            (unsigned long long)s->received, (unsigned long long)s->accepted,
            (unsigned long long)s->malformed, (unsigned long long)s->foreign,
            (unsigned long long)s->unexpected, (unsigned long long)s->recorded,
            (unsigned long long)s->unrecorded, (unsigned long long)s->rec.lost,
            (unsigned long long)s->rec.durable, (unsigned long long)s->forwarded,
            (unsigned long long)s->seq_missing, (unsigned long long)s->seq_backwards,
            (unsigned long long)s->frames_missing, (unsigned long long)s->frames_repeated,
            (unsigned long long)s->series_started, (unsigned long long)s->series_ended,
            (unsigned long long)s->series_timed_out, (unsigned long long)s->series_unterminated,
            (unsigned long long)s->ends_synthesized,
            (unsigned long long)s->errors_sent, (unsigned long long)s->errors_unsent,
            (unsigned long long)s->auth_failures,
            s->rec.backend == INGEST_BACKEND_URING ? "uring" : "pwrite",
            s->rec.registered_buffers, (unsigned long long)s->rec.syncs,
            (unsigned long long)s->rec.bytes);
}

static int copy_opt(char *dst, size_t cap, const char *v, const char *what, const char *cmd)
{
    if (strlen(v) >= cap) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s is too long", what);
    snprintf(dst, cap, "%s", v);
    return 0;
}

static int cmd_ingest(int argc, char **argv)
{
    const char *cmd = "ingest";
    static const struct option lo[] = {
        {"config", 1, 0, 'c'},        {"bind", 1, 0, 'b'},         {"recording", 1, 0, 'r'},
        {"recon", 1, 0, 'R'},         {"no-recon", 0, 0, 'N'},     {"reply-to", 1, 0, 'y'},
        {"no-reply", 0, 0, 'Y'},      {"backend", 1, 0, 'B'},      {"fsync-every", 1, 0, 'f'},
        {"fsync-interval", 1, 0, 'F'}, {"max-disk-mb", 1, 0, 'm'}, {"memory-mb", 1, 0, 'M'},
        {"hwm", 1, 0, 'H'},           {"idle-timeout", 1, 0, 'i'}, {"server-cert", 1, 0, 's'},
        {"client-certs", 1, 0, 'C'},  {"exit-after-series", 1, 0, 'x'},
        {"stats-every", 1, 0, 'S'},   {"min-free-mb", 1, 0, 'L'},  {"help", 0, 0, 'h'},
        {0, 0, 0, 0}};
    /* First pass: the configuration file, which the other options override. */
    const char *config = NULL;
    optind = 0;
    opterr = 0;
    for (int c; (c = getopt_long(argc, argv, "", lo, NULL)) != -1;) {
        if (c == 'c') config = optarg;
        if (c == 'h') {
            ingest_usage(stdout);
            return SD_EXIT_OK;
        }
    }
    sd_config_t cfg;
    sd_err_t e;
    sd_config_defaults(&cfg);
    if (config && sd_config_load(config, &cfg, &e) != SD_OK)
        return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
    ingest_receiver_opts_t o;
    ingest_receiver_opts_default(&o);
    snprintf(o.bind, sizeof o.bind, "%s", cfg.ep.console_in);
    snprintf(o.recon, sizeof o.recon, "%s", cfg.ep.recon_in);
    snprintf(o.reply_to, sizeof o.reply_to, "%s", cfg.ep.console_return);
    o.recording[0] = '\0';
    o.hwm = (int)cfg.limits.queue_frames;
    o.rec.max_bytes = (uint64_t)cfg.limits.max_disk_mb << 20;
    o.rec.sync_every = (uint32_t)cfg.limits.fsync_every_frames;
    o.rec.sync_interval_s = cfg.limits.fsync_every_s;
    o.idle_timeout_s = cfg.limits.series_idle_timeout_s;
    snprintf(o.server_cert, sizeof o.server_cert, "%s", cfg.security.server_cert);
    snprintf(o.client_certs, sizeof o.client_certs, "%s", cfg.security.client_certs);
    int64_t exit_after = 0, iv;
    double stats_every = 10;

    optind = 0;
    opterr = 1;
    for (int c; (c = getopt_long(argc, argv, "", lo, NULL)) != -1;) {
        int bad = 0;
        switch (c) {
        case 'c': break;
        case 'b': bad = copy_opt(o.bind, sizeof o.bind, optarg, "--bind", cmd); break;
        case 'r': bad = copy_opt(o.recording, sizeof o.recording, optarg, "--recording", cmd); break;
        case 'R': bad = copy_opt(o.recon, sizeof o.recon, optarg, "--recon", cmd); break;
        case 'N': o.recon[0] = '\0'; break;
        case 'y': bad = copy_opt(o.reply_to, sizeof o.reply_to, optarg, "--reply-to", cmd); break;
        case 'Y': o.reply_to[0] = '\0'; break;
        case 'B':
            if (!strcmp(optarg, "auto")) o.rec.backend = INGEST_BACKEND_AUTO;
            else if (!strcmp(optarg, "uring")) o.rec.backend = INGEST_BACKEND_URING;
            else if (!strcmp(optarg, "pwrite")) o.rec.backend = INGEST_BACKEND_PWRITE;
            else return sd_cli_fail(cmd, SD_EXIT_USAGE, "--backend: '%s' is not auto, uring or "
                                    "pwrite", optarg);
            break;
        case 'f':
            if (sd_cli_parse_i64(optarg, "--fsync-every", 1, 1000000, &iv, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            o.rec.sync_every = (uint32_t)iv;
            break;
        case 'F':
            if (sd_cli_parse_double(optarg, "--fsync-interval", 1e-3, 3600, &o.rec.sync_interval_s, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'm':
            if (sd_cli_parse_i64(optarg, "--max-disk-mb", 0, INT64_MAX >> 21, &iv, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            o.rec.max_bytes = (uint64_t)iv << 20;
            break;
        case 'L':
            if (sd_cli_parse_i64(optarg, "--min-free-mb", 0, INT64_MAX >> 21, &iv, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            o.rec.min_free_bytes = (uint64_t)iv << 20;
            break;
        case 'M':
            if (sd_cli_parse_i64(optarg, "--memory-mb", 1, 65536, &iv, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            o.rec.arena_bytes = (size_t)iv << 20;
            break;
        case 'H':
            if (sd_cli_parse_i64(optarg, "--hwm", 1, 1000000, &iv, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            o.hwm = (int)iv;
            break;
        case 'i':
            if (sd_cli_parse_double(optarg, "--idle-timeout", 1e-3, 1e6, &o.idle_timeout_s, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 's': bad = copy_opt(o.server_cert, sizeof o.server_cert, optarg, "--server-cert", cmd); break;
        case 'C': bad = copy_opt(o.client_certs, sizeof o.client_certs, optarg, "--client-certs", cmd); break;
        case 'x':
            if (sd_cli_parse_i64(optarg, "--exit-after-series", 1, INT64_MAX, &exit_after, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'S':
            if (sd_cli_parse_double(optarg, "--stats-every", 0, 1e6, &stats_every, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        default: return sd_cli_fail(cmd, SD_EXIT_USAGE, "bad option (see --help)");
        }
        if (bad) return bad;
    }
    if (optind < argc)
        return sd_cli_fail(cmd, SD_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
    if (!o.recording[0]) {
        if (mkdir_p(cfg.data_dir) != 0)
            return sd_cli_fail(cmd, SD_EXIT_FAIL, "cannot create %s: %s", cfg.data_dir,
                               strerror(errno));
        snprintf(o.recording, sizeof o.recording, "%s/recording.sdrec", cfg.data_dir);
    }
    ingest_receiver_t *r = ingest_receiver_new(&o, &e);
    if (!r) return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    int rc = SD_OK;
    int64_t next_stats = sd_clock_mono_ns() + (int64_t)(stats_every * 1e9);
    ingest_receiver_stats_t s;
    while (!zsys_interrupted) {
        if ((rc = ingest_receiver_step(r, 100, &e)) != SD_OK) break;
        ingest_receiver_stats(r, &s);
        if (exit_after && (int64_t)(s.series_ended + s.series_timed_out) >= exit_after &&
            (!o.recon[0] || s.forwarded >= s.rec.written) &&
            s.rec.written + s.rec.lost >= s.recorded)
            break;
        if (stats_every > 0 && sd_clock_mono_ns() >= next_stats) {
            sd_log(SD_LOG_INFO, "ingest", "received %llu, recorded %llu (durable %llu), "
                   "forwarded %llu, rejected %llu, unrecorded %llu",
                   (unsigned long long)s.received, (unsigned long long)s.recorded,
                   (unsigned long long)s.rec.durable, (unsigned long long)s.forwarded,
                   (unsigned long long)(s.malformed + s.foreign + s.unexpected),
                   (unsigned long long)(s.unrecorded + s.rec.lost));
            next_stats += (int64_t)(stats_every * 1e9);
        }
    }
    sd_err_t fe;
    if (ingest_receiver_flush(r, &fe) != SD_OK) sd_log(SD_LOG_ERROR, "ingest", "%s", fe.msg);
    ingest_receiver_stats(r, &s); /* final: everything written and synced */
    ingest_receiver_destroy(&r);
    if (rc != SD_OK) return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    print_stats_json(stdout, &s);
    fflush(stdout);
    uint64_t lost = s.unrecorded + s.rec.lost;
    if (lost) {
        fprintf(stderr, "stemdyn ingest: %llu accepted message(s) were NOT recorded "
                "(disk full, budget or memory: see the log above)\n", (unsigned long long)lost);
        return SD_EXIT_FAIL;
    }
    return SD_EXIT_OK;
}

/* ---- stemdyn replay -------------------------------------------------------------- */

static void replay_usage(FILE *f)
{
    fprintf(f,
        "usage: stemdyn replay RECORDING|IMAGE_DIR --to ENDPOINT [options]\n"
        "Acts as the acquisition console over the live wire protocol (PUSH): sends every\n"
        "message of a recording verbatim and in order, or the images of a directory\n"
        "(.tif .tiff .mrc .npy, raw + .json; by name) as one series of f32 frames.\n\n"
        "  --to EP               where ingest listens (tcp://127.0.0.1:5555)\n"
        "  --speed X             1 = the recorded pace, 2 = twice as fast, 0 = as fast as\n"
        "                        possible (1)\n"
        "  --from-frame K        recording: the series_start before frame K, then frame K…\n"
        "  --interval S          image directory: seconds between frames at speed 1 (0.6)\n"
        "  --series-id ID        image directory: series identifier (replay-<unix time>)\n"
        "  --client-cert FILE    CURVE: this client's certificate (stemdyn keygen)\n"
        "  --server-public FILE  CURVE: the server's public certificate\n"
        "  --linger S            wait at most S seconds at exit for delivery (30)\n"
        "  --config FILE         take --to and the CURVE files from a configuration\n");
}

static int cmd_replay(int argc, char **argv)
{
    const char *cmd = "replay";
    static const struct option lo[] = {
        {"to", 1, 0, 't'},          {"speed", 1, 0, 's'},         {"from-frame", 1, 0, 'k'},
        {"client-cert", 1, 0, 'c'}, {"server-public", 1, 0, 'p'}, {"linger", 1, 0, 'l'},
        {"config", 1, 0, 'C'},      {"interval", 1, 0, 'i'},      {"series-id", 1, 0, 'S'},
        {"help", 0, 0, 'h'},        {0, 0, 0, 0}};
    const char *to = NULL, *ccert = NULL, *spub = NULL, *config = NULL, *series_id = NULL;
    double speed = 1, linger = 30, interval = 0.6;
    int64_t from_frame = -1;
    sd_err_t e;
    optind = 0;
    for (int c; (c = getopt_long(argc, argv, "", lo, NULL)) != -1;) {
        switch (c) {
        case 't': to = optarg; break;
        case 's':
            if (sd_cli_parse_double(optarg, "--speed", 0, 1e6, &speed, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'k':
            if (sd_cli_parse_i64(optarg, "--from-frame", 0, INT64_MAX, &from_frame, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'c': ccert = optarg; break;
        case 'p': spub = optarg; break;
        case 'l':
            if (sd_cli_parse_double(optarg, "--linger", 0, 1e6, &linger, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'C': config = optarg; break;
        case 'i':
            if (sd_cli_parse_double(optarg, "--interval", 0, 3600, &interval, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'S': series_id = optarg; break;
        case 'h': replay_usage(stdout); return SD_EXIT_OK;
        default: return sd_cli_fail(cmd, SD_EXIT_USAGE, "bad option (see --help)");
        }
    }
    if (optind != argc - 1)
        return sd_cli_fail(cmd, SD_EXIT_USAGE, "give exactly one RECORDING or IMAGE_DIR (see "
                           "--help)");
    const char *src = argv[optind];
    sd_config_t cfg;
    sd_config_defaults(&cfg);
    if (config && sd_config_load(config, &cfg, &e) != SD_OK)
        return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
    if (!to) to = config ? cfg.ep.console_in : "tcp://127.0.0.1:5555";
    if (!ccert && cfg.security.client_cert[0]) ccert = cfg.security.client_cert;
    if (!spub && cfg.security.server_public[0]) spub = cfg.security.server_public;
    char tobuf[SD_CONFIG_STRLEN];
    snprintf(tobuf, sizeof tobuf, "%s", to);
    char *star = strstr(tobuf, "://*:"); /* a bind address from the config: connect locally */
    if (star) {
        char rest[SD_CONFIG_STRLEN];
        snprintf(rest, sizeof rest, "%s", star + 4);
        snprintf(star, sizeof tobuf - (size_t)(star - tobuf), "://127.0.0.1%s", rest);
    }
    struct stat st;
    if (stat(src, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* a directory of images: one series, frames every --interval / speed */
        ingest_console_opts_t co;
        ingest_console_opts_default(&co);
        co.to = tobuf;
        co.return_ep = NULL;
        co.images_dir = src;
        co.interval_s = speed > 0 ? interval / speed : 0;
        co.wait_s = 0;
        co.linger_s = linger;
        co.client_cert = ccert;
        co.server_public = spub;
        co.quiet = 1;
        char sidbuf[64];
        snprintf(sidbuf, sizeof sidbuf, "replay-%lld",
                 (long long)(sd_clock_wall_ns() / 1000000000));
        co.series_id = series_id ? series_id : sidbuf;
        if (!ingest_series_id_ok(co.series_id))
            return sd_cli_fail(cmd, SD_EXIT_USAGE, "--series-id: '%s' must be 1..%d of "
                               "[A-Za-z0-9._-]", co.series_id, SD_MSG_ID_MAX);
        ingest_console_result_t res;
        int rc = ingest_console_stream(&co, &res, &e);
        fprintf(stderr, "stemdyn replay: sent %lld frame(s) of %s to %s, dropped %lld\n",
                (long long)res.frames_sent, src, tobuf, (long long)res.frames_dropped);
        if (rc != SD_OK) return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
        return res.frames_dropped ? SD_EXIT_FAIL : SD_EXIT_OK;
    }
    sd_rec_reader_t *rd = sd_rec_reader_open(src, &e);
    if (!rd) return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
    const sd_rec_scan_info_t *info = sd_rec_reader_info(rd);
    if (info->n_corrupt || info->torn_bytes)
        fprintf(stderr, "stemdyn replay: %s: %llu corrupt region(s), %llu torn byte(s) at the "
                "end: replaying the %llu valid records\n", src,
                (unsigned long long)info->n_corrupt, (unsigned long long)info->torn_bytes,
                (unsigned long long)sd_rec_reader_count(rd));
    uint64_t first = 0, n = sd_rec_reader_count(rd);
    int64_t start_rec = -1; /* the series_start to send before jumping to first */
    if (from_frame >= 0) {
        int64_t k = sd_rec_reader_find(rd, SD_REC_KIND_FRAME, from_frame, 0);
        if (k < 0) {
            sd_rec_reader_destroy(&rd);
            return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s has no frame %lld", src,
                               (long long)from_frame);
        }
        first = (uint64_t)k;
        for (int64_t s = k - 1; s >= 0; s--)
            if (sd_rec_reader_entry(rd, (uint64_t)s)->kind == SD_REC_KIND_SERIES_START) {
                start_rec = s;
                break;
            }
    }
    zsys_init();
    zsys_set_logstream(NULL);
    zsock_t *push = zsock_new(ZMQ_PUSH);
    int rc = SD_EXIT_OK;
    if (!push) {
        sd_rec_reader_destroy(&rd);
        return sd_cli_fail(cmd, SD_EXIT_FAIL, "cannot create a socket");
    }
    zsock_set_linger(push, (int)(linger * 1000));
    zsock_set_sndhwm(push, 1000);
    if (ingest_curve_client(push, ccert, spub, &e) != SD_OK) {
        rc = sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
        goto out;
    }
    if (zsock_connect(push, "%s", tobuf) < 0) {
        rc = sd_cli_fail(cmd, SD_EXIT_USAGE, "cannot connect to %s: %s", tobuf,
                         zmq_strerror(zmq_errno()));
        goto out;
    }
    uint64_t sent = 0;
    int64_t t0_rec = 0, t0_wall = sd_clock_mono_ns();
    for (int64_t j = start_rec >= 0 ? -1 : 0; (uint64_t)(first + j) < n || j < 0; j++) {
        if (zsys_interrupted) break;
        uint64_t i = j < 0 ? (uint64_t)start_rec : first + (uint64_t)j;
        sd_rec_record_t rec;
        if (sd_rec_reader_read(rd, i, &rec, &e) != SD_OK) {
            fprintf(stderr, "stemdyn replay: %s (skipped)\n", e.msg);
            continue;
        }
        if (sent == 0) t0_rec = rec.t_ns;
        if (speed > 0 && sent > 0 && j > 0) /* the recorded pace, relative to the start */
            sleep_ns(t0_wall + (int64_t)((double)(rec.t_ns - t0_rec) / speed) -
                     sd_clock_mono_ns());
        if (j == 0) { /* after a jump, pace from here */
            t0_rec = rec.t_ns;
            t0_wall = sd_clock_mono_ns();
        }
        sd_parts_t p = {0};
        p.n = (int)(rec.n_parts < SD_MSG_MAX_PARTS ? rec.n_parts : SD_MSG_MAX_PARTS);
        for (int k = 0; k < p.n; k++) {
            p.data[k] = rec.parts[k];
            p.len[k] = rec.lens[k];
        }
        if (sd_wire_send(push, &p, 0, &e) != SD_OK) {
            rc = sd_cli_fail(cmd, SD_EXIT_FAIL, "sending record %llu: %s",
                             (unsigned long long)i, e.msg);
            goto out;
        }
        sent++;
    }
    fprintf(stderr, "stemdyn replay: sent %llu message(s) from %s to %s\n",
            (unsigned long long)sent, src, tobuf);
out:
    zsock_destroy(&push); /* lingers until delivered (or --linger) */
    sd_rec_reader_destroy(&rd);
    return rc;
}

/* ---- stemdyn keygen -------------------------------------------------------------- */

static int cmd_keygen(int argc, char **argv)
{
    const char *cmd = "keygen";
    static const struct option lo[] = {{"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    optind = 0;
    for (int c; (c = getopt_long(argc, argv, "", lo, NULL)) != -1;) {
        if (c == 'h') {
            printf("usage: stemdyn keygen NAME\n"
                   "Makes a CURVE certificate: NAME (public, give it to the other side) and\n"
                   "NAME_secret (keep it).  A server (ingest) uses its NAME_secret with\n"
                   "--server-cert NAME; clients are allowed by copying their public NAME\n"
                   "into the server's --client-certs directory.\n");
            return SD_EXIT_OK;
        }
        return sd_cli_fail(cmd, SD_EXIT_USAGE, "bad option (see --help)");
    }
    if (optind != argc - 1) return sd_cli_fail(cmd, SD_EXIT_USAGE, "give exactly one NAME");
    const char *name = argv[optind];
    if (!zsys_has_curve())
        return sd_cli_fail(cmd, SD_EXIT_FAIL, "this libzmq was built without CURVE support");
    zcert_t *c = zcert_new();
    if (!c) return sd_cli_fail(cmd, SD_EXIT_FAIL, "cannot make a key pair");
    char when[64];
    snprintf(when, sizeof when, "%lld", (long long)(sd_clock_wall_ns() / 1000000000));
    zcert_set_meta(c, "created-by", "stemdyn keygen");
    zcert_set_meta(c, "created-unix-s", "%s", when);
    struct stat st;
    if (stat(name, &st) == 0) {
        zcert_destroy(&c);
        return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s exists: not overwriting a certificate", name);
    }
    int rc = zcert_save(c, name);
    if (rc == 0) {
        char sec[1100];
        snprintf(sec, sizeof sec, "%s_secret", name);
        chmod(sec, 0600);
        printf("%s\n", zcert_public_txt(c));
    }
    zcert_destroy(&c);
    if (rc != 0) return sd_cli_fail(cmd, SD_EXIT_FAIL, "cannot write %s: %s", name, strerror(errno));
    return SD_EXIT_OK;
}

const sd_cli_cmd_t ingest_commands[] = {
    {"ingest", "receive, validate, record and forward a live series (PULL from the console)",
     cmd_ingest},
    {"replay", "send a recording to ingest as the console would (same wire protocol)",
     cmd_replay},
    {"keygen", "make a CURVE certificate pair for authenticated, encrypted endpoints",
     cmd_keygen},
    {"console", "reference acquisition console: stream a series, print the stats sent back",
     ingest_console_main},
    {NULL, NULL, NULL},
};
