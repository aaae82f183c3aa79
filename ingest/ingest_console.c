/* `stemdyn console` — a reference acquisition console: streams one series
 * (series_start, frames at a fixed interval, series_end) over the live wire
 * protocol and prints what comes back on its return channel (stats pushed by
 * analyze, error replies from ingest).
 *
 * Like a real microscope it never waits for the pipeline: a frame that cannot
 * be queued at once (ingest down, queue full) is dropped and counted, and the
 * count travels in series_end.frames_dropped. */
#include "ingest.h"

#include "sd_clock.h"
#include "sd_config.h"
#include "sd_image.h"
#include "sd_msg.h"
#include "sd_wire.h"

#include <czmq.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct console {
    zsock_t *push, *ret;
    int64_t frames_sent, frames_dropped, stats_seen, errors_seen;
    int quiet;
} console_t;

static void print_return(console_t *c, const sd_msg_t *m)
{
    if (m->type == SD_MSG_ERROR) {
        c->errors_seen++;
        printf("error from %s (code %d%s%s, frame %lld): %s\n", m->u.error.origin,
               (int)m->u.error.code, m->u.error.series_id[0] ? ", series " : "",
               m->u.error.series_id, (long long)m->u.error.frame_index, m->u.error.message);
    } else if (m->type == SD_MSG_STATS) {
        const sd_msg_stats_t *s = &m->u.stats;
        c->stats_seen++;
        printf("stats #%llu: %lld frame(s) analysed, sim %.3g/%.3g ns (%.3g ns/day); groups:",
               (unsigned long long)s->seq, (long long)s->frames, s->sim_ns, s->target_ns,
               s->ns_per_day);
        for (int i = 0; i < s->k; i++)
            printf(" %s=%.3f", s->labels[i], s->pop_mean ? s->pop_mean[i] : NAN);
        printf("\n");
    } else {
        printf("%s message on the return channel\n", sd_msg_type_name(m->type));
    }
    fflush(stdout);
}

/* Prints everything waiting on the return channel; waits up to wait_ms. */
static void drain_return(console_t *c, int wait_ms)
{
    if (!c->ret) {
        if (wait_ms > 0) zclock_sleep(wait_ms);
        return;
    }
    int64_t end = sd_clock_mono_ns() + (int64_t)wait_ms * 1000000;
    for (;;) {
        int64_t left = (end - sd_clock_mono_ns()) / 1000000;
        zmq_pollitem_t it = {zsock_resolve(c->ret), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, left > 0 ? (long)left : 0) <= 0) {
            if (left <= 0 || zsys_interrupted) return;
            continue;
        }
        sd_msg_t m;
        sd_err_t e;
        int rc = sd_wire_recv_msg(c->ret, &m, NULL, SD_WIRE_DONTWAIT, &e);
        if (rc == SD_OK) print_return(c, &m);
        else if (rc != SD_EAGAIN) printf("unreadable message on the return channel: %s\n", e.msg);
        sd_msg_free(&m);
    }
}

/* ---- frame sources ------------------------------------------------------------ */

typedef struct source {
    int64_t n, width, height; /* n: frames, -1 = not known before the end */
    double dx_A;
    uint64_t rng;            /* synthetic */
    char **files;            /* images: sorted paths */
    int n_files, file;       /* next file to read */
    sd_image_t img;          /* the file being streamed */
    int64_t img_frame;       /* next frame of img */
} source_t;

static double urand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * (1.0 / 9007199254740992.0);
}

/* A square lattice of Gaussian atomic columns (3.9 Å spacing) with thermal
 * jitter and Poisson-like shot noise: a stand-in for a live STEM series. */
static void synth_frame(source_t *s, int64_t k, float *px)
{
    double a = 3.92 / s->dx_A, sig = 0.45 / s->dx_A;
    for (int64_t i = 0; i < s->width * s->height; i++) px[i] = 100.0f;
    int nx = (int)(s->width / a) + 1, ny = (int)(s->height / a) + 1;
    int rad = (int)(4 * sig) + 1;
    for (int cy = 0; cy < ny; cy++)
        for (int cx = 0; cx < nx; cx++) {
            double x0 = (cx + 0.5) * a + 0.3 * sig * (urand(&s->rng) - 0.5);
            double y0 = (cy + 0.5) * a + 0.3 * sig * (urand(&s->rng) - 0.5);
            double h = 1000.0 * (1 + ((cx * 7 + cy * 3 + (int)k / 10) % 5));
            for (int y = (int)y0 - rad; y <= (int)y0 + rad; y++)
                for (int x = (int)x0 - rad; x <= (int)x0 + rad; x++) {
                    if (x < 0 || y < 0 || x >= s->width || y >= s->height) continue;
                    double r2 = (x - x0) * (x - x0) + (y - y0) * (y - y0);
                    px[y * s->width + x] += (float)(h * exp(-r2 / (2 * sig * sig)));
                }
        }
    for (int64_t i = 0; i < s->width * s->height; i++) {
        double g = urand(&s->rng) + urand(&s->rng) + urand(&s->rng) - 1.5; /* ~N(0, 0.5) */
        double v = px[i] + 2.0 * g * sqrt(px[i]);
        px[i] = (float)(v < 0 ? 0 : v);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void source_free(source_t *s)
{
    for (int i = 0; i < s->n_files; i++) free(s->files[i]);
    free(s->files);
    sd_image_free(&s->img);
    memset(s, 0, sizeof *s);
}

/* Image files of dir, by name: .tif .tiff .mrc .npy, and raw files with a
 * .json sidecar (the sidecars themselves are not frames). */
static int list_images(source_t *s, const char *dir, sd_err_t *e)
{
    DIR *d = opendir(dir);
    if (!d) return sd_err_set(e, SD_ENOTFOUND, "%s: %s", dir, strerror(errno));
    int cap = 0;
    struct dirent *de;
    int rc = SD_OK;
    while ((de = readdir(d)) && rc == SD_OK) {
        const char *n = de->d_name, *dot = strrchr(n, '.');
        if (n[0] == '.') continue;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, n) >= (int)sizeof path) continue;
        int ok = dot && (!strcasecmp(dot, ".tif") || !strcasecmp(dot, ".tiff") ||
                         !strcasecmp(dot, ".mrc") || !strcasecmp(dot, ".npy"));
        if (!ok && !(dot && !strcasecmp(dot, ".json"))) {
            char side[4200];
            snprintf(side, sizeof side, "%s.json", path);
            ok = zsys_file_exists(side);
        }
        if (!ok) continue;
        if (s->n_files == cap) {
            cap = cap ? 2 * cap : 64;
            char **f = realloc(s->files, sizeof *f * (size_t)cap);
            if (!f) {
                rc = sd_err_set(e, SD_ENOMEM, "out of memory listing %s", dir);
                break;
            }
            s->files = f;
        }
        if (!(s->files[s->n_files] = strdup(path))) rc = sd_err_set(e, SD_ENOMEM, "out of memory");
        else s->n_files++;
    }
    closedir(d);
    if (rc) return rc;
    if (!s->n_files)
        return sd_err_set(e, SD_ENOTFOUND, "%s holds no images (.tif .tiff .mrc .npy, or raw "
                          "with a .json sidecar)", dir);
    qsort(s->files, (size_t)s->n_files, sizeof *s->files, cmp_str);
    return SD_OK;
}

/* Opens the next file; its geometry must be that of the series. */
static int next_file(source_t *s, sd_err_t *e)
{
    sd_image_free(&s->img);
    memset(&s->img, 0, sizeof s->img);
    if (s->file >= s->n_files) return SD_ENOTFOUND;
    const char *p = s->files[s->file++];
    int rc = sd_image_read(p, &s->img, e);
    if (rc) return rc;
    if (s->width && (s->img.width != s->width || s->img.height != s->height))
        return sd_err_set(e, SD_EFORMAT, "%s: %lldx%lld, but the series is %lldx%lld", p,
                          (long long)s->img.width, (long long)s->img.height,
                          (long long)s->width, (long long)s->height);
    if (s->img.width > SD_MSG_MAX_DIM || s->img.height > SD_MSG_MAX_DIM)
        return sd_err_set(e, SD_ERANGE, "%s: %lldx%lld is larger than a frame may be", p,
                          (long long)s->img.width, (long long)s->img.height);
    s->img_frame = 0;
    return SD_OK;
}

static int images_open(source_t *s, const char *dir, double dx_default, sd_err_t *e)
{
    int rc = list_images(s, dir, e);
    if (!rc) rc = next_file(s, e);
    if (rc) return rc;
    s->width = s->img.width;
    s->height = s->img.height;
    s->dx_A = s->img.dx > 0 ? s->img.dx : dx_default;
    s->n = s->n_files == 1 ? s->img.nframes : -1;
    return SD_OK;
}

/* Next frame as f32 into px; SD_ENOTFOUND at the end. */
static int source_next(source_t *s, int64_t k, float *px, sd_err_t *e)
{
    if (!s->files) {
        if (k >= s->n) return SD_ENOTFOUND;
        synth_frame(s, k, px);
        return SD_OK;
    }
    while (s->img_frame >= s->img.nframes) {
        int rc = next_file(s, e);
        if (rc) return rc;
    }
    const double *src = s->img.data + s->img_frame * s->width * s->height;
    for (int64_t i = 0; i < s->width * s->height; i++) px[i] = (float)src[i];
    s->img_frame++;
    return SD_OK;
}

/* ---- the command ------------------------------------------------------------- */

static int send_or_fail(console_t *c, const sd_msg_t *m, const char *what, sd_err_t *e)
{
    int rc = sd_wire_send_msg(c->push, m, 0, e);
    if (rc != SD_OK) sd_err_prefix(e, "sending %s", what);
    return rc;
}

void ingest_console_opts_default(ingest_console_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->to = "tcp://127.0.0.1:5555";
    o->n_synthetic = 10;
    o->width = o->height = 256;
    o->dx_A = 0.2;
    o->seed = 1;
    o->interval_s = 0.6;
    o->wait_s = 2;
    o->linger_s = 10;
}

int ingest_console_stream(const ingest_console_opts_t *o, ingest_console_result_t *res,
                          sd_err_t *e)
{
    source_t src = {0};
    src.dx_A = o->dx_A;
    if (o->images_dir) {
        int rc = images_open(&src, o->images_dir, o->dx_A, e);
        if (rc) {
            source_free(&src);
            return rc;
        }
    } else {
        src.n = o->n_synthetic;
        src.width = o->width;
        src.height = o->height;
        src.rng = o->seed * 2654435761u + 1;
    }
    zsys_init();
    zsys_set_logstream(NULL);
    console_t c = {0};
    c.quiet = o->quiet;
    int rc = SD_OK;
    float *px = malloc(sizeof(float) * (size_t)(src.width * src.height));
    c.push = zsock_new(ZMQ_PUSH);
    if (!px || !c.push) {
        rc = sd_err_set(e, SD_ENOMEM, "out of memory");
        goto out;
    }
    zsock_set_sndhwm(c.push, 64);
    zsock_set_linger(c.push, (int)(o->linger_s * 1000));
    zsock_set_sndtimeo(c.push, 5000);
    if ((rc = ingest_curve_client(c.push, o->client_cert, o->server_public, e))) goto out;
    if (zsock_connect(c.push, "%s", o->to) < 0) {
        rc = sd_err_set(e, SD_EINVAL, "cannot connect to %s", o->to);
        goto out;
    }
    if (o->return_ep && o->return_ep[0]) {
        c.ret = zsock_new(ZMQ_PULL);
        if (!c.ret || zsock_bind(c.ret, "%s", o->return_ep) < 0) {
            rc = sd_err_set(e, SD_EIO, "cannot bind the return channel %s: %s", o->return_ep,
                            zmq_strerror(zmq_errno()));
            goto out;
        }
    }
    sd_msg_t m;
    sd_msg_init(&m, SD_MSG_SERIES_START);
    sd_msg_series_start_t *ss = &m.u.series_start;
    snprintf(ss->series_id, sizeof ss->series_id, "%s", o->series_id);
    ss->width = (int32_t)src.width;
    ss->height = (int32_t)src.height;
    ss->dtype = SD_DTYPE_F32;
    ss->pixel_size_A = src.dx_A;
    ss->dwell_time_s = 2e-6;
    ss->frame_interval_s = o->interval_s > 0 ? o->interval_s : 1e-3;
    ss->beam_energy_keV = 300;
    ss->expected_frames = src.n > 0 ? (uint64_t)src.n : 0;
    snprintf(ss->sample, sizeof ss->sample, "%s",
             o->images_dir ? o->images_dir : "synthetic lattice");
    if ((rc = send_or_fail(&c, &m, "series_start", e))) goto out;
    if (!o->quiet)
        fprintf(stderr, "stemdyn console: series %s, %lldx%lld frames every %.3g s to %s\n",
                o->series_id, (long long)src.width, (long long)src.height, o->interval_s, o->to);
    int64_t t0 = sd_clock_mono_ns();
    for (int64_t k = 0; !zsys_interrupted; k++) {
        int64_t due = t0 + (int64_t)((double)k * o->interval_s * 1e9);
        int64_t wait = (due - sd_clock_mono_ns()) / 1000000;
        drain_return(&c, wait > 0 ? (int)wait : 0);
        sd_err_t se;
        int sr = source_next(&src, k, px, &se);
        if (sr == SD_ENOTFOUND) break;
        if (sr != SD_OK) { /* an unreadable image ends the series, and says why */
            rc = sd_err_set(e, sr, "%s", se.msg);
            break;
        }
        sd_msg_init(&m, SD_MSG_FRAME);
        sd_msg_frame_t *f = &m.u.frame;
        snprintf(f->series_id, sizeof f->series_id, "%s", o->series_id);
        f->frame_index = k;
        f->seq = (uint64_t)k;
        f->t_acq_ns = f->t_send_ns = sd_clock_wall_ns();
        f->width = (int32_t)src.width;
        f->height = (int32_t)src.height;
        f->dtype = SD_DTYPE_F32;
        f->pixels = px;
        f->pixels_len = sizeof(float) * (size_t)(src.width * src.height);
        if (sd_wire_send_msg(c.push, &m, SD_WIRE_DONTWAIT, &se) == SD_OK) c.frames_sent++;
        else c.frames_dropped++;
    }
    sd_msg_init(&m, SD_MSG_SERIES_END);
    snprintf(m.u.series_end.series_id, sizeof m.u.series_end.series_id, "%s", o->series_id);
    m.u.series_end.frames_sent = (uint64_t)c.frames_sent;
    m.u.series_end.frames_dropped = (uint64_t)c.frames_dropped;
    snprintf(m.u.series_end.reason, sizeof m.u.series_end.reason, "%s",
             rc ? "source error" : zsys_interrupted ? "interrupted" : "complete");
    sd_err_t ee;
    int erc = send_or_fail(&c, &m, "series_end", &ee);
    if (erc && !rc) rc = sd_err_set(e, erc, "%s", ee.msg);
    drain_return(&c, (int)(o->wait_s * 1000));
out:
    if (res) {
        res->frames_sent = c.frames_sent;
        res->frames_dropped = c.frames_dropped;
        res->stats_seen = c.stats_seen;
        res->errors_seen = c.errors_seen;
    }
    zsock_destroy(&c.push);
    zsock_destroy(&c.ret);
    free(px);
    source_free(&src);
    return rc;
}

/* ---- --model-series: frames rendered by `stemdyn stem-sim` -------------------- */

/* Model files of dir (.xyz .extxyz .data .lmp), sorted by name. */
static int list_models(const char *dir, char ***out, int *n, sd_err_t *e)
{
    DIR *d = opendir(dir);
    if (!d) return sd_err_set(e, SD_ENOTFOUND, "%s: %s", dir, strerror(errno));
    char **v = NULL;
    int cnt = 0, cap = 0, rc = SD_OK;
    struct dirent *de;
    while ((de = readdir(d)) && rc == SD_OK) {
        const char *dot = strrchr(de->d_name, '.');
        if (de->d_name[0] == '.' || !dot ||
            (strcasecmp(dot, ".xyz") && strcasecmp(dot, ".extxyz") && strcasecmp(dot, ".data") &&
             strcasecmp(dot, ".lmp")))
            continue;
        if (cnt == cap) {
            cap = cap ? 2 * cap : 64;
            char **nv = realloc(v, sizeof *nv * (size_t)cap);
            if (!nv) {
                rc = sd_err_set(e, SD_ENOMEM, "out of memory");
                break;
            }
            v = nv;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (!(v[cnt] = strdup(path))) rc = sd_err_set(e, SD_ENOMEM, "out of memory");
        else cnt++;
    }
    closedir(d);
    if (rc == SD_OK && cnt == 0)
        rc = sd_err_set(e, SD_ENOTFOUND, "%s holds no models (.xyz .extxyz .data .lmp)", dir);
    if (rc) {
        for (int i = 0; i < cnt; i++) free(v[i]);
        free(v);
        return rc;
    }
    qsort(v, (size_t)cnt, sizeof *v, cmp_str);
    *out = v;
    *n = cnt;
    return SD_OK;
}

/* Renders every model of dir into out_dir/frame_NNNNNN.tif with the stem-sim
 * command of this same binary (a separate process: ingest does not link the
 * recon stage). */
static int render_models(const char *dir, const char *out_dir, int64_t size, double dx_A,
                         const char *zone, uint64_t seed, sd_err_t *e)
{
    char **models = NULL;
    int n = 0;
    int rc = list_models(dir, &models, &n, e);
    if (rc) return rc;
    char self[4096];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k <= 0) rc = sd_err_set(e, SD_EIO, "cannot find the stemdyn binary (/proc/self/exe)");
    else self[k] = '\0';
    fprintf(stderr, "stemdyn console: rendering %d model(s) of %s with stem-sim\n", n, dir);
    for (int i = 0; i < n && rc == SD_OK && !zsys_interrupted; i++) {
        char out[4200], sz[32], dxs[64], sd[32];
        snprintf(out, sizeof out, "%s/frame_%06d.tif", out_dir, i);
        snprintf(sz, sizeof sz, "%lld", (long long)size);
        snprintf(dxs, sizeof dxs, "%.17g", dx_A);
        snprintf(sd, sizeof sd, "%llu", (unsigned long long)(seed + (uint64_t)i));
        char *argv[] = {self, "stem-sim", models[i], "-o", out, "--size", sz, "--dx", dxs,
                        "--seed", sd, "--zone", (char *)zone, NULL};
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            execv(self, argv);
            _exit(127);
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            rc = sd_err_set(e, SD_EIO, "stem-sim failed on %s (see its message above)",
                            models[i]);
    }
    for (int i = 0; i < n; i++) free(models[i]);
    free(models);
    return rc;
}

/* Removes the rendered frames (and any stem-sim sidecars) and the directory. */
static void remove_rendered(const char *tmpdir)
{
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    if (rmdir(tmpdir) != 0) fprintf(stderr, "stemdyn console: cannot remove %s\n", tmpdir);
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: stemdyn console [--synthetic N | --images DIR] [options]\n"
        "A reference acquisition console: streams one series to ingest (PUSH) and prints\n"
        "the statistics and errors pushed back on its return channel.\n\n"
        "  --synthetic N         N frames of a synthetic Gaussian-column lattice (default 10)\n"
        "  --images DIR          every image of DIR (.tif .tiff .mrc .npy, raw + .json; by\n"
        "                        name, every frame of multi-frame files) as one series\n"
        "  --model-series DIR    one frame per atomic model of DIR (.xyz .extxyz .data .lmp,\n"
        "                        by name), rendered first by `stemdyn stem-sim`\n"
        "  --zone Z              stem-sim zone axis for --model-series: 110, 100 or z (110)\n"
        "  --interval S          seconds between frames (0.6)\n"
        "  --to EP               ingest's console endpoint (tcp://127.0.0.1:5555)\n"
        "  --return EP           bind the return channel here (tcp://127.0.0.1:5556)\n"
        "  --no-return           do not listen for statistics/errors\n"
        "  --series-id ID        series identifier (console-<unix time>)\n"
        "  --size WxH            synthetic frame size; --model-series: square N x N (256x256)\n"
        "  --pixel-size A        Å per pixel when the images do not say (0.2)\n"
        "  --seed N              synthetic noise seed (1)\n"
        "  --wait S              keep printing returns S seconds after series_end (2)\n"
        "  --linger S            wait at most S seconds at exit for delivery (10)\n"
        "  --client-cert FILE    CURVE: this console's certificate (stemdyn keygen)\n"
        "  --server-public FILE  CURVE: ingest's public certificate\n"
        "  --config FILE         endpoints and certificates from a configuration\n"
        "Frames that cannot be queued at once are dropped and counted (series_end says how\n"
        "many; exit status 1): the console never waits for the pipeline.\n");
}

/* A bind address of the configuration (a "*" host) as a local connect one. */
static void connect_form(char *dst, size_t cap, const char *ep)
{
    snprintf(dst, cap, "%s", ep);
    char *star = strstr(dst, "://*:");
    if (star) {
        char rest[SD_CONFIG_STRLEN];
        snprintf(rest, sizeof rest, "%s", star + 4);
        snprintf(star, cap - (size_t)(star - dst), "://127.0.0.1%s", rest);
    }
}

int ingest_console_main(int argc, char **argv)
{
    const char *cmd = "console";
    static const struct option lo[] = {
        {"synthetic", 1, 0, 'n'},     {"images", 1, 0, 'I'},   {"interval", 1, 0, 'i'},
        {"to", 1, 0, 't'},            {"return", 1, 0, 'r'},   {"no-return", 0, 0, 'R'},
        {"series-id", 1, 0, 'S'},     {"size", 1, 0, 'z'},     {"pixel-size", 1, 0, 'p'},
        {"seed", 1, 0, 's'},          {"wait", 1, 0, 'w'},     {"client-cert", 1, 0, 'c'},
        {"server-public", 1, 0, 'P'}, {"config", 1, 0, 'C'},   {"linger", 1, 0, 'L'},
        {"model-series", 1, 0, 'M'},  {"zone", 1, 0, 'Z'},     {"help", 0, 0, 'h'},
        {0, 0, 0, 0}};
    ingest_console_opts_t o;
    ingest_console_opts_default(&o);
    const char *to = NULL, *ret = NULL, *config = NULL, *models = NULL, *zone = "110";
    int no_return = 0, have_syn = 0;
    int64_t iv;
    sd_err_t e;
    optind = 0;
    for (int c; (c = getopt_long(argc, argv, "", lo, NULL)) != -1;) {
        switch (c) {
        case 'n':
            if (sd_cli_parse_i64(optarg, "--synthetic", 1, 100000000, &o.n_synthetic, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            have_syn = 1;
            break;
        case 'I': o.images_dir = optarg; break;
        case 'M': models = optarg; break;
        case 'Z':
            if (strcmp(optarg, "110") && strcmp(optarg, "100") && strcmp(optarg, "z"))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "--zone: '%s' is not 110, 100 or z",
                                   optarg);
            zone = optarg;
            break;
        case 'i':
            if (sd_cli_parse_double(optarg, "--interval", 0, 3600, &o.interval_s, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 't': to = optarg; break;
        case 'r': ret = optarg; break;
        case 'R': no_return = 1; break;
        case 'S': o.series_id = optarg; break;
        case 'z': {
            char *x = strchr(optarg, 'x');
            if (!x) return sd_cli_fail(cmd, SD_EXIT_USAGE, "--size: '%s' is not WxH", optarg);
            *x = '\0';
            int bad = sd_cli_parse_i64(optarg, "--size width", 8, 16384, &o.width, &e) ||
                      sd_cli_parse_i64(x + 1, "--size height", 8, 16384, &o.height, &e);
            *x = 'x';
            if (bad) return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        }
        case 'p':
            if (sd_cli_parse_double(optarg, "--pixel-size", 1e-3, 1e4, &o.dx_A, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 's':
            if (sd_cli_parse_i64(optarg, "--seed", 0, INT64_MAX, &iv, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            o.seed = (uint64_t)iv;
            break;
        case 'w':
            if (sd_cli_parse_double(optarg, "--wait", 0, 1e6, &o.wait_s, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'L':
            if (sd_cli_parse_double(optarg, "--linger", 0, 1e6, &o.linger_s, &e))
                return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
            break;
        case 'c': o.client_cert = optarg; break;
        case 'P': o.server_public = optarg; break;
        case 'C': config = optarg; break;
        case 'h': usage(stdout); return SD_EXIT_OK;
        default: return sd_cli_fail(cmd, SD_EXIT_USAGE, "bad option (see --help)");
        }
    }
    if (optind < argc)
        return sd_cli_fail(cmd, SD_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
    if ((o.images_dir != NULL) + have_syn + (models != NULL) > 1)
        return sd_cli_fail(cmd, SD_EXIT_USAGE, "give one of --synthetic, --images, "
                           "--model-series");
    if (models && o.width != o.height)
        return sd_cli_fail(cmd, SD_EXIT_USAGE, "--model-series renders square frames: give "
                           "--size NxN");
    char sidbuf[SD_MSG_ID_MAX + 1];
    if (!o.series_id) {
        snprintf(sidbuf, sizeof sidbuf, "console-%lld",
                 (long long)(sd_clock_wall_ns() / 1000000000));
        o.series_id = sidbuf;
    } else if (!ingest_series_id_ok(o.series_id)) {
        return sd_cli_fail(cmd, SD_EXIT_USAGE, "--series-id: '%s' must be 1..%d of "
                           "[A-Za-z0-9._-]", o.series_id, SD_MSG_ID_MAX);
    }
    sd_config_t cfg;
    sd_config_defaults(&cfg);
    if (config && sd_config_load(config, &cfg, &e) != SD_OK)
        return sd_cli_fail(cmd, SD_EXIT_USAGE, "%s", e.msg);
    char tobuf[SD_CONFIG_STRLEN];
    connect_form(tobuf, sizeof tobuf, to ? to : cfg.ep.console_in);
    o.to = tobuf;
    o.return_ep = no_return ? NULL : ret ? ret : cfg.ep.console_return;
    if (!o.client_cert && cfg.security.client_cert[0]) o.client_cert = cfg.security.client_cert;
    if (!o.server_public && cfg.security.server_public[0])
        o.server_public = cfg.security.server_public;
    char tmpdir[] = "/tmp/stemdyn-console-XXXXXX";
    int rendered = 0;
    if (models) {
        if (!mkdtemp(tmpdir))
            return sd_cli_fail(cmd, SD_EXIT_FAIL, "cannot make a temporary directory: %s",
                               strerror(errno));
        rendered = 1;
        if (render_models(models, tmpdir, o.width, o.dx_A, zone, o.seed, &e) != SD_OK) {
            remove_rendered(tmpdir);
            return sd_cli_fail(cmd, SD_EXIT_FAIL, "%s", e.msg);
        }
        o.images_dir = tmpdir;
    }
    ingest_console_result_t res;
    int rc = ingest_console_stream(&o, &res, &e);
    if (rendered) remove_rendered(tmpdir);
    fprintf(stderr, "stemdyn console: sent %lld frame(s), dropped %lld; %lld stats and %lld "
            "error message(s) received\n", (long long)res.frames_sent,
            (long long)res.frames_dropped, (long long)res.stats_seen, (long long)res.errors_seen);
    if (rc != SD_OK)
        return sd_cli_fail(cmd, rc == SD_EINVAL ? SD_EXIT_USAGE : SD_EXIT_FAIL, "%s", e.msg);
    return res.frames_dropped ? SD_EXIT_FAIL : SD_EXIT_OK;
}

int ingest_series_id_ok(const char *id)
{
    size_t n = strlen(id);
    return n >= 1 && n <= SD_MSG_ID_MAX &&
           strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}
