#include "webfeed.h"

#include "sd_msg.h"
#include "sd_recording.h"
#include "sjson.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LAT_RING 200 /* latency percentiles over the most recent frames */

typedef struct watched {
    char path[1100];
    off_t size;
    struct timespec mtime;
    int seen;
} watched_t;

struct webfeed {
    char dir[1024];
    watched_t state, latest;
    char *stats;           /* .stats of the newest good state.json */
    size_t stats_len;
    double dt_ns;          /* its stats.dt_ns; 0 before */
    uint64_t sent_hash[4]; /* of the parts model, lens, frame, health as last published */
    uint64_t stats_hash, stats_version;
    /* recording health */
    char rec_path[1100];
    sd_rec_reader_t *rec;
    uint64_t rec_done;     /* records already looked at */
    long long frames, gaps, dropped;
    int64_t last_key;
    int health_dirty;
    /* recon's per-frame timings (recon/latency.csv), read incrementally */
    char lat_path[1100];
    long lat_off;
    int nlat;                       /* values in the rings (<= LAT_RING) */
    double lat_e2e[LAT_RING];       /* acquisition → model sent, s */
    double lat_recon[LAT_RING];     /* received by recon → model sent, s */
};

/* 1 when the file exists and differs (size or mtime) from the last look. */
static int changed(watched_t *w)
{
    struct stat st;
    if (stat(w->path, &st) != 0)
        return 0;
    if (w->seen && st.st_size == w->size && st.st_mtim.tv_sec == w->mtime.tv_sec &&
        st.st_mtim.tv_nsec == w->mtime.tv_nsec)
        return 0;
    w->seen = 1;
    w->size = st.st_size;
    w->mtime = st.st_mtim;
    return 1;
}

static char *read_file(const char *path, size_t *len, sd_err_t *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        sd_err_set(e, SD_EIO, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        if (cap > ((size_t)256 << 20)) { /* our files are far smaller */
            free(b);
            b = NULL;
            break;
        }
        char *q = realloc(b, cap *= 2);
        if (!q) {
            free(b);
            b = NULL;
        }
        b = q;
    }
    int bad = ferror(f);
    fclose(f);
    if (!b || bad) {
        free(b);
        sd_err_set(e, SD_EIO, "cannot read %s", path);
        return NULL;
    }
    b[n] = 0;
    *len = n;
    return b;
}

static sjson_t *load_json(const char *path, sd_err_t *e)
{
    size_t len = 0;
    char *b = read_file(path, &len, e);
    if (!b)
        return NULL;
    sjson_t *j = sjson_parse(b, len, e);
    free(b);
    if (!j)
        sd_err_prefix(e, "%s", path);
    return j;
}

webfeed_t *webfeed_new(const char *dir, sd_err_t *e)
{
    webfeed_t *f = calloc(1, sizeof *f);
    if (!f) {
        sd_err_set(e, SD_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(f->dir, sizeof f->dir, "%s", dir);
    snprintf(f->state.path, sizeof f->state.path, "%s/analyze/state.json", dir);
    snprintf(f->latest.path, sizeof f->latest.path, "%s/recon/latest.json", dir);
    snprintf(f->rec_path, sizeof f->rec_path, "%s/recording.sdrec", dir);
    snprintf(f->lat_path, sizeof f->lat_path, "%s/recon/latency.csv", dir);
    f->last_key = -1;
    return f;
}

void webfeed_destroy(webfeed_t **p)
{
    if (!p || !*p)
        return;
    sd_rec_reader_destroy(&(*p)->rec);
    free((*p)->stats);
    free(*p);
    *p = NULL;
}

enum { PART_MODEL, PART_LENS, PART_FRAME, PART_HEALTH };
static const char *const part_names[] = {"model", "lens", "frame", "health"};

/* FNV-1a: analyze rewrites state.json every second whether or not the model
 * moved; an unchanged part is not sent to the browsers again. */
static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static int publish_raw(webfeed_t *f, webgw_t *g, int part, const char *raw, size_t len)
{
    uint64_t h = fnv(raw, len);
    if (h == f->sent_hash[part])
        return 0;
    if (webgw_publish_part(g, part_names[part], raw, len, NULL) != SD_OK)
        return 0;
    f->sent_hash[part] = h;
    return 1;
}

static int publish_node(webfeed_t *f, webgw_t *g, int part, const sjson_t *j, int node)
{
    size_t len = 0;
    const char *raw = sjson_raw(j, node, &len);
    return raw ? publish_raw(f, g, part, raw, len) : 0;
}

/* Counts frames, gaps and console drops in the records appended since the
 * last call. */
static void scan_recording(webfeed_t *f)
{
    if (!f->rec) {
        struct stat st;
        if (stat(f->rec_path, &st) != 0)
            return;
        f->rec = sd_rec_reader_open(f->rec_path, NULL);
        if (!f->rec)
            return;
        f->health_dirty = 1;
    } else if (sd_rec_reader_refresh(f->rec, NULL) != SD_OK) {
        return;
    }
    uint64_t n = sd_rec_reader_count(f->rec);
    for (; f->rec_done < n; f->rec_done++) {
        const sd_rec_idx_entry_t *x = sd_rec_reader_entry(f->rec, f->rec_done);
        if (!x)
            break;
        f->health_dirty = 1;
        switch (x->kind & 0xff) {
        case SD_REC_KIND_SERIES_START: f->last_key = -1; break;
        case SD_REC_KIND_FRAME:
            f->frames++;
            if (x->key > f->last_key + 1)
                f->gaps += x->key - f->last_key - 1;
            if (x->key > f->last_key)
                f->last_key = x->key;
            break;
        case SD_REC_KIND_SERIES_END: {
            sd_rec_record_t r;
            if (sd_rec_reader_read(f->rec, f->rec_done, &r, NULL) != SD_OK)
                break;
            sd_parts_t p = {.n = (int)r.n_parts};
            for (uint32_t i = 0; i < r.n_parts && i < SD_PARTS_CAP; i++) {
                p.data[i] = r.parts[i];
                p.len[i] = r.lens[i];
            }
            sd_msg_t m;
            if (r.n_parts <= SD_PARTS_CAP &&
                sd_msg_decode_as(&p, SD_MSG_SERIES_END, &m, SD_DECODE_BORROW, NULL) == SD_OK) {
                f->dropped += (long long)m.u.series_end.frames_dropped;
                sd_msg_free(&m);
            }
            break;
        }
        default: break;
        }
    }
}

/* New lines of recon/latency.csv ("series_id,frame_index,t_acq_ns,t_recv_ns,
 * t_model_ns,…"); a file that shrank (a new session) is read again. */
static void scan_latency(webfeed_t *f)
{
    FILE *in = fopen(f->lat_path, "r");
    if (!in)
        return;
    if (fseek(in, 0, SEEK_END) == 0 && ftell(in) < f->lat_off) {
        f->lat_off = 0;
        f->nlat = 0;
    }
    fseek(in, f->lat_off, SEEK_SET);
    char line[512];
    while (fgets(line, sizeof line, in)) {
        size_t n = strlen(line);
        if (n == 0 || line[n - 1] != '\n')
            break; /* a line still being written: read it next time */
        f->lat_off += (long)n;
        const char *c = strchr(line, ',');
        long long acq, recv, model;
        if (!c || !(c = strchr(c + 1, ',')) || sscanf(c + 1, "%lld,%lld,%lld", &acq, &recv, &model) != 3)
            continue; /* the header */
        if (f->nlat == LAT_RING) {
            memmove(f->lat_e2e, f->lat_e2e + 1, (LAT_RING - 1) * sizeof *f->lat_e2e);
            memmove(f->lat_recon, f->lat_recon + 1, (LAT_RING - 1) * sizeof *f->lat_recon);
            f->nlat--;
        }
        f->lat_e2e[f->nlat] = (double)(model - acq) * 1e-9;
        f->lat_recon[f->nlat] = (double)(model - recv) * 1e-9;
        f->nlat++;
        f->health_dirty = 1;
    }
    fclose(in);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* p-th percentile (nearest rank) of v [n]. */
static double percentile(const double *v, int n, double p)
{
    double s[LAT_RING];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    int i = (int)(p / 100.0 * n + 0.999999) - 1;
    return s[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static int health_json(const webfeed_t *f, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "{\"frames_received\":%lld,\"gaps\":%lld,\"frames_dropped\":%lld",
                     f->frames, f->gaps, f->dropped);
    if (f->nlat > 0)
        n += snprintf(buf + n, cap - (size_t)n,
                      ",\"latency_p50_s\":%.4g,\"latency_p99_s\":%.4g,\"recon_p50_s\":%.4g,"
                      "\"recon_p99_s\":%.4g,\"latency_frames\":%d",
                      percentile(f->lat_e2e, f->nlat, 50), percentile(f->lat_e2e, f->nlat, 99),
                      percentile(f->lat_recon, f->nlat, 50), percentile(f->lat_recon, f->nlat, 99),
                      f->nlat);
    n += snprintf(buf + n, cap - (size_t)n, "}");
    return n;
}

int webfeed_poll(webfeed_t *f, webgw_t *g, sd_err_t *e)
{
    int published = 0;
    if (changed(&f->state)) {
        sjson_t *j = load_json(f->state.path, e);
        if (j) {
            published += publish_node(f, g, PART_MODEL, j, sjson_get(j, 0, "model"));
            published += publish_node(f, g, PART_LENS, j, sjson_path(j, 0, "stats.lens"));
            double dt = sjson_num(j, sjson_path(j, 0, "stats.dt_ns"));
            if (dt > 0)
                f->dt_ns = dt;
            size_t len = 0;
            const char *raw = sjson_raw(j, sjson_get(j, 0, "stats"), &len);
            char *copy = raw && fnv(raw, len) != f->stats_hash ? malloc(len + 1) : NULL;
            if (copy) {
                f->stats_hash = fnv(raw, len);
                f->stats_version++;
                memcpy(copy, raw, len);
                copy[len] = 0;
                free(f->stats);
                f->stats = copy;
                f->stats_len = len;
            }
            sjson_destroy(&j);
        }
    }
    if (changed(&f->latest)) {
        sjson_t *j = load_json(f->latest.path, e);
        if (j && sjson_type(j, sjson_get(j, 0, "columns")) == SJSON_ARRAY)
            published += publish_node(f, g, PART_FRAME, j, 0);
        sjson_destroy(&j);
    }
    scan_recording(f);
    scan_latency(f);
    if (f->health_dirty) {
        char h[512];
        int n = health_json(f, h, sizeof h);
        published += publish_raw(f, g, PART_HEALTH, h, (size_t)n);
        f->health_dirty = 0;
    }
    return published;
}

double webfeed_dt_ns(const webfeed_t *f)
{
    return f->dt_ns;
}

const char *webfeed_stats(const webfeed_t *f, size_t *len, uint64_t *version)
{
    *len = f->stats_len;
    *version = f->stats_version;
    return f->stats;
}

int webfeed_session_json(const char *dir, char **json, size_t *len, sd_err_t *e)
{
    char path[1100];
    struct stat st;
    snprintf(path, sizeof path, "%s/analyze/state.json", dir);
    if (stat(path, &st) != 0) {
        snprintf(path, sizeof path, "%s/state.json", dir);
        if (stat(path, &st) != 0)
            return sd_err_set(e, SD_ENOTFOUND,
                              "no %s/analyze/state.json nor %s/state.json (is %s a session directory?)",
                              dir, dir, dir);
    }
    size_t slen = 0;
    char *state = read_file(path, &slen, e);
    if (!state)
        return SD_EIO;
    sjson_t *j = sjson_parse(state, slen, e);
    if (!j || sjson_type(j, sjson_get(j, 0, "stats")) != SJSON_OBJECT) {
        if (j)
            sd_err_set(e, SD_EFORMAT, "%s: not a stemdyn state file (no \"stats\" object)", path);
        else
            sd_err_prefix(e, "%s", path);
        sjson_destroy(&j);
        free(state);
        return SD_EFORMAT;
    }
    sjson_destroy(&j);
    /* optional extras: the newest frame and the recording's health */
    char *frame = NULL;
    size_t flen = 0;
    snprintf(path, sizeof path, "%s/recon/latest.json", dir);
    if (stat(path, &st) == 0 && (frame = read_file(path, &flen, NULL))) {
        sjson_t *fj = sjson_parse(frame, flen, NULL);
        if (!fj) {
            free(frame);
            frame = NULL;
        }
        sjson_destroy(&fj);
    }
    char health[512] = "";
    webfeed_t *f = webfeed_new(dir, NULL);
    if (f) {
        scan_recording(f);
        scan_latency(f);
        if (f->rec)
            health_json(f, health, sizeof health);
        webfeed_destroy(&f);
    }
    /* splice: state is one object; drop its closing brace and append */
    size_t end = slen;
    while (end > 0 && state[end - 1] != '}')
        end--;
    size_t cap = end + flen + strlen(health) + 64;
    char *out = malloc(cap);
    if (!out) {
        free(state);
        free(frame);
        return sd_err_set(e, SD_ENOMEM, "out of memory");
    }
    size_t n = end - 1;
    memcpy(out, state, n);
    if (frame) {
        while (flen > 0 && (frame[flen - 1] == '\n' || frame[flen - 1] == ' '))
            flen--;
        n += (size_t)snprintf(out + n, cap - n, ",\"frame\":%.*s", (int)flen, frame);
    }
    if (health[0])
        n += (size_t)snprintf(out + n, cap - n, ",\"health\":%s", health);
    n += (size_t)snprintf(out + n, cap - n, "}");
    free(state);
    free(frame);
    *json = out;
    *len = n;
    return SD_OK;
}
