#include "webgw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct web_asset {
    const char *name;
    const unsigned char *data;
    size_t len;
};
extern const struct web_asset web_assets[]; /* generated from analyze/web/ */

struct webgw {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *json;        /* newest state, NUL-terminated */
    size_t json_len;
    uint64_t version;  /* bumps on each publish (state or part) */
    uint64_t json_version;
    int nparts;
    struct part {
        char name[WEBGW_PART_NAME_MAX + 1];
        char *json;
        size_t len;
        uint64_t version;
    } parts[WEBGW_MAX_PARTS];
    int stopping;
    double min_interval_s;
    int port;
};

/* One SSE connection: the message being sent and how far it got. */
typedef struct sse_client {
    webgw_t *g;
    uint64_t sent_version;  /* newest version of anything sent */
    struct timespec last_sent;
    char *buf;
    size_t len, off;
} sse_client_t;

static const struct web_asset *asset(const char *name)
{
    for (const struct web_asset *a = web_assets; a->name; a++)
        if (!strcmp(a->name, name))
            return a;
    return NULL;
}

static double since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + 1e-9 * (double)(now.tv_nsec - t0->tv_nsec);
}

static void abs_deadline(struct timespec *ts, double s)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)s;
    ts->tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Builds the next SSE message: the newest state once it is newer than what
 * the client has and the rate cap allows, or a keep-alive comment after 15 s
 * of silence (so a closed browser is noticed).  Returns 0 on shutdown. */
static int next_message(sse_client_t *c)
{
    webgw_t *g = c->g;
    pthread_mutex_lock(&g->mu);
    for (;;) {
        if (g->stopping) {
            pthread_mutex_unlock(&g->mu);
            return 0;
        }
        double wait_rate = g->min_interval_s - since(&c->last_sent);
        if (g->version > c->sent_version && wait_rate <= 0) {
            /* everything newer than what this client has, in one burst: the
             * base state and each changed part as its own event */
            size_t need = 1;
            if (g->json && g->json_version > c->sent_version)
                need += g->json_len + 32;
            for (int i = 0; i < g->nparts; i++)
                if (g->parts[i].version > c->sent_version)
                    need += g->parts[i].len + WEBGW_PART_NAME_MAX + 40;
            char *b = realloc(c->buf, need);
            if (!b) {
                pthread_mutex_unlock(&g->mu);
                return 0;
            }
            c->buf = b;
            c->len = 0;
            if (g->json && g->json_version > c->sent_version)
                c->len += (size_t)snprintf(b, need, "event: state\ndata: %s\n\n", g->json);
            for (int i = 0; i < g->nparts; i++)
                if (g->parts[i].version > c->sent_version)
                    c->len += (size_t)snprintf(b + c->len, need - c->len,
                                               "event: state\ndata: {\"%s\":%s}\n\n",
                                               g->parts[i].name, g->parts[i].json);
            c->sent_version = g->version;
            if (c->len == 0)
                continue;
            break;
        }
        if (since(&c->last_sent) > 15.0) {
            char *b = realloc(c->buf, 16);
            if (!b) {
                pthread_mutex_unlock(&g->mu);
                return 0;
            }
            c->buf = b;
            c->len = (size_t)snprintf(b, 16, ": ping\n\n");
            break;
        }
        struct timespec ts;
        abs_deadline(&ts, wait_rate > 0 ? wait_rate : 1.0);
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    }
    pthread_mutex_unlock(&g->mu);
    clock_gettime(CLOCK_MONOTONIC, &c->last_sent);
    c->off = 0;
    return 1;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    sse_client_t *c = cls;
    if (c->off >= c->len && !next_message(c))
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t k = c->len - c->off;
    if (k > max)
        k = max;
    memcpy(out, c->buf + c->off, k);
    c->off += k;
    return (ssize_t)k;
}

static void sse_free(void *cls)
{
    sse_client_t *c = cls;
    free(c->buf);
    free(c);
}

/* The base state with every part as a top-level member ("null" when there
 * is nothing yet).  Caller holds g->mu and frees the result. */
static char *merged_state(const webgw_t *g)
{
    if (!g->nparts)
        return strdup(g->json ? g->json : "null");
    size_t need = (g->json ? g->json_len : 0) + 3;
    for (int i = 0; i < g->nparts; i++)
        need += g->parts[i].len + WEBGW_PART_NAME_MAX + 4;
    char *b = malloc(need);
    if (!b)
        return NULL;
    size_t n = 0;
    const char *base = g->json;
    size_t blen = g->json_len;
    while (base && blen && (base[blen - 1] == ' ' || base[blen - 1] == '\n'))
        blen--;
    int open = 0;
    if (base && blen >= 2 && base[0] == '{' && base[blen - 1] == '}') {
        /* "{...}" without its closing brace; "{}" keeps nothing to separate */
        memcpy(b, base, blen - 1);
        n = blen - 1;
        open = blen > 2;
    } else {
        b[n++] = '{';
    }
    for (int i = 0; i < g->nparts; i++) {
        n += (size_t)snprintf(b + n, need - n, "%s\"%s\":%s", open ? "," : "", g->parts[i].name,
                              g->parts[i].json);
        open = 1;
    }
    snprintf(b + n, need - n, "}");
    return b;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *type,
                             const void *data, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result rc = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    webgw_t *g = cls;
    if (!*con_cls) { /* first call: headers only */
        *con_cls = (void *)1;
        return MHD_YES;
    }
    if (*upload_size)
        return MHD_NO;
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        static const char msg[] = "only GET\n";
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", msg, sizeof msg - 1,
                     MHD_RESPMEM_PERSISTENT);
    }
    if (!strcmp(url, "/events")) {
        sse_client_t *c = calloc(1, sizeof *c);
        if (!c)
            return MHD_NO;
        c->g = g;
        c->last_sent.tv_sec = 0; /* first state goes out at once */
        struct MHD_Response *r =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, sse_read, c, sse_free);
        if (!r) {
            free(c);
            return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        MHD_add_response_header(r, "Cache-Control", "no-store");
        enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return rc;
    }
    if (!strcmp(url, "/state")) {
        pthread_mutex_lock(&g->mu);
        char *copy = merged_state(g);
        pthread_mutex_unlock(&g->mu);
        if (!copy)
            return MHD_NO;
        return reply(conn, MHD_HTTP_OK, "application/json", copy, strlen(copy), MHD_RESPMEM_MUST_FREE);
    }
    const char *name = !strcmp(url, "/") ? "index.html" : url + 1;
    const struct web_asset *a = strchr(name, '/') ? NULL : asset(name);
    if (!a) {
        static const char msg[] = "not found\n";
        return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", msg, sizeof msg - 1,
                     MHD_RESPMEM_PERSISTENT);
    }
    const char *type = strstr(name, ".js")    ? "application/javascript"
                       : strstr(name, ".css") ? "text/css"
                                              : "text/html; charset=utf-8";
    return reply(conn, MHD_HTTP_OK, type, a->data, a->len, MHD_RESPMEM_PERSISTENT);
}

webgw_t *webgw_new(const webgw_opts_t *o, sd_err_t *e)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    if (o->port < 0 || o->port > 65535 || inet_pton(AF_INET, o->host ? o->host : "127.0.0.1",
                                                    &sa.sin_addr) != 1) {
        sd_err_set(e, SD_EINVAL, "bad listen address %s:%d (want IPv4:port)",
                   o->host ? o->host : "127.0.0.1", o->port);
        return NULL;
    }
    webgw_t *g = calloc(1, sizeof *g);
    if (!g) {
        sd_err_set(e, SD_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    g->min_interval_s = 1.0 / (o->max_rate_hz > 0 ? o->max_rate_hz : 10.0);
    unsigned limit = (unsigned)(o->max_clients > 0 ? o->max_clients : 64);
    g->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                MHD_USE_ERROR_LOG,
                            0, NULL, NULL, handle, g, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)120, MHD_OPTION_END);
    if (!g->d) {
        sd_err_set(e, SD_EIO, "cannot listen on %s:%d (address in use or not local?)",
                   o->host ? o->host : "127.0.0.1", o->port);
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
        free(g);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(g->d, MHD_DAEMON_INFO_BIND_PORT);
    g->port = info ? info->port : o->port;
    return g;
}

void webgw_destroy(webgw_t **p)
{
    if (!p || !*p)
        return;
    webgw_t *g = *p;
    pthread_mutex_lock(&g->mu);
    g->stopping = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    MHD_stop_daemon(g->d);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g->json);
    for (int i = 0; i < g->nparts; i++)
        free(g->parts[i].json);
    free(g);
    *p = NULL;
}

/* An SSE `data:` field ends at a line break, so the JSON must be one line;
 * outside strings a line break is whitespace, inside them JSON forbids it. */
static void flatten(char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n' || s[i] == '\r')
            s[i] = ' ';
}

int webgw_publish(webgw_t *g, const char *json, size_t len, sd_err_t *e)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return sd_err_set(e, SD_ENOMEM, "out of memory copying %zu bytes of state", len);
    memcpy(copy, json, len);
    copy[len] = '\0';
    flatten(copy, len);
    pthread_mutex_lock(&g->mu);
    char *old = g->json;
    g->json = copy;
    g->json_len = len;
    g->json_version = ++g->version;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    free(old);
    return SD_OK;
}

int webgw_publish_part(webgw_t *g, const char *name, const char *json, size_t len, sd_err_t *e)
{
    size_t nl = strlen(name);
    if (nl == 0 || nl > WEBGW_PART_NAME_MAX || strspn(name, "abcdefghijklmnopqrstuvwxyz_0123456789") != nl)
        return sd_err_set(e, SD_EINVAL, "bad part name '%s' (want [a-z0-9_], 1..%d)", name,
                          WEBGW_PART_NAME_MAX);
    if (len == 0)
        return sd_err_set(e, SD_EINVAL, "part %s: empty value", name);
    char *copy = malloc(len + 1);
    if (!copy)
        return sd_err_set(e, SD_ENOMEM, "out of memory copying %zu bytes of part %s", len, name);
    memcpy(copy, json, len);
    copy[len] = '\0';
    flatten(copy, len);
    pthread_mutex_lock(&g->mu);
    int i = 0;
    while (i < g->nparts && strcmp(g->parts[i].name, name))
        i++;
    if (i == WEBGW_MAX_PARTS) {
        pthread_mutex_unlock(&g->mu);
        free(copy);
        return sd_err_set(e, SD_ENOMEM, "more than %d parts", WEBGW_MAX_PARTS);
    }
    if (i == g->nparts)
        snprintf(g->parts[g->nparts++].name, sizeof g->parts[i].name, "%s", name);
    char *old = g->parts[i].json;
    g->parts[i].json = copy;
    g->parts[i].len = len;
    g->parts[i].version = ++g->version;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    free(old);
    return SD_OK;
}

int webgw_port(const webgw_t *g)
{
    return g->port;
}

/* Writes `a` with every "</" escaped so inlined text cannot close its tag. */
static void put_inline(FILE *f, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '<' && i + 1 < n && s[i + 1] == '/') {
            fputs("<\\/", f);
            i++;
        } else {
            fputc(s[i], f);
        }
    }
}

int webgw_write_report(const char *path, const char *json, size_t len, sd_err_t *e)
{
    const struct web_asset *html = asset("index.html"), *js = asset("app.js"),
                           *css = asset("style.css");
    if (!html || !js || !css)
        return sd_err_set(e, SD_ESTATE, "web assets missing from the binary");
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return sd_err_set(e, SD_EINVAL, "report path too long");
    FILE *f = fopen(tmp, "w");
    if (!f)
        return sd_err_set(e, SD_EIO, "cannot write %s: %s", tmp, strerror(errno));
    const char *h = (const char *)html->data, *end = h + html->len;
    const char *css_tag = "<link rel=\"stylesheet\" href=\"style.css\">";
    const char *state_tag = "<script id=\"initial-state\" type=\"application/json\">null</script>";
    const char *js_tag = "<script src=\"app.js\"></script>";
    while (h < end) {
        if (!strncmp(h, css_tag, strlen(css_tag))) {
            fputs("<style>\n", f);
            put_inline(f, css->data, css->len);
            fputs("</style>", f);
            h += strlen(css_tag);
        } else if (!strncmp(h, state_tag, strlen(state_tag))) {
            fputs("<script id=\"initial-state\" type=\"application/json\">", f);
            put_inline(f, (const unsigned char *)json, len);
            fputs("</script>", f);
            h += strlen(state_tag);
        } else if (!strncmp(h, js_tag, strlen(js_tag))) {
            fputs("<script>\n", f);
            put_inline(f, js->data, js->len);
            fputs("</script>", f);
            h += strlen(js_tag);
        } else {
            fputc(*h++, f);
        }
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return sd_err_set(e, SD_EIO, "cannot write %s", path);
    }
    return SD_OK;
}
