#include "sd_secure.h"

#include "sd_clock.h"
#include "sd_log.h"

#include <czmq.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "stemdyn"
#define MAX_SERVED 16
#define LOG_EVERY_NS 5000000000LL

struct sd_secure {
    void *zctx;
    char component[32];
    char client_dir[SD_CONFIG_STRLEN];
    uint8_t secret[32];
    void *zap;                       /* REP on ZAP_ENDPOINT; the thread's once started */
    zcertstore_t *certs;             /* the thread's once started */
    pthread_t thread;
    int started;
    atomic_int stop;
    atomic_ullong refused;
    pthread_mutex_t mu;              /* guards the hand-over of monitor sockets */
    int nmon;
    void *mon[MAX_SERVED];           /* PAIR sockets receiving handshake failures */
    char mon_what[MAX_SERVED][64];
    /* thread-only: log rate limit per source (ZAP, then each served socket)
     * and kind of refusal, so one flooding peer cannot hide another */
    int64_t last_log_ns[1 + MAX_SERVED][3];
    uint64_t unlogged[1 + MAX_SERVED][3];
};

enum { WHY_NOKEYS, WHY_KEY, WHY_OTHER };

int sd_secure_server_wanted(const sd_config_security_t *sec)
{
    return sec && (sec->server_cert[0] || sec->client_certs[0]);
}

static int is_zero(const uint8_t *k)
{
    for (int i = 0; i < 32; i++)
        if (k[i])
            return 0;
    return 1;
}

/* Logs a refusal, at most once per LOG_EVERY_NS per source and kind (a
 * refused client reconnects every few hundred ms and would flood the log). */
static void refusal(sd_secure_t *s, int src, int why, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void refusal(sd_secure_t *s, int src, int why, const char *fmt, ...)
{
    atomic_fetch_add(&s->refused, 1);
    int64_t now = sd_clock_mono_ns();
    int64_t *last = &s->last_log_ns[src][why];
    uint64_t *unlogged = &s->unlogged[src][why];
    if (*last && now - *last < LOG_EVERY_NS) {
        (*unlogged)++;
        return;
    }
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (*unlogged)
        sd_log(SD_LOG_WARN, s->component, "%s (and %llu more like it since the last report)",
               line, (unsigned long long)*unlogged);
    else
        sd_log(SD_LOG_WARN, s->component, "%s", line);
    *unlogged = 0;
    *last = now;
}

/* Receives one multipart message into at most `cap` frames of ≤ 255 bytes
 * (longer frames are truncated: ZAP frames we read are short); returns the
 * frame count or -1. */
static int recv_frames(void *sock, char frames[][256], size_t *lens, int cap)
{
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            return -1;
        }
        if (n < cap) {
            size_t L = zmq_msg_size(&m);
            if (L > 255)
                L = 255;
            memcpy(frames[n], zmq_msg_data(&m), L);
            frames[n][L] = '\0';
            lens[n] = L;
            n++;
        }
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
    return n;
}

static void zap_reply(void *sock, const char *req_id, size_t req_len, const char *code,
                      const char *text, const char *user)
{
    zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(sock, req_id, req_len, ZMQ_SNDMORE);
    zmq_send(sock, code, strlen(code), ZMQ_SNDMORE);
    zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(sock, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(sock, "", 0, 0);
}

/* One ZAP request (RFC 27): version, request id, domain, address, routing
 * id, mechanism, credentials. */
static void on_zap(sd_secure_t *s)
{
    char f[8][256];
    size_t len[8];
    int n = recv_frames(s->zap, f, len, 8);
    if (n < 0)
        return;
    if (n < 6 || strcmp(f[0], "1.0")) {
        zap_reply(s->zap, n > 1 ? f[1] : "", n > 1 ? len[1] : 0, "500", "bad ZAP request", "");
        return;
    }
    if (strcmp(f[2], ZAP_DOMAIN)) {
        /* not one of our served sockets: libzmq's behaviour without a handler */
        zap_reply(s->zap, f[1], len[1], "200", "OK", "");
        return;
    }
    if (strcmp(f[5], "CURVE") || n < 7 || len[6] != 32) {
        refusal(s, 0, WHY_NOKEYS, "refused a client from %s: mechanism %s instead of CURVE",
                f[3], f[5]);
        zap_reply(s->zap, f[1], len[1], "400", "CURVE required", "");
        return;
    }
    char key[41];
    zmq_z85_encode(key, (const uint8_t *)f[6], 32);
    if (zcertstore_lookup(s->certs, key)) {
        sd_log(SD_LOG_DEBUG, s->component, "client %s from %s allowed", key, f[3]);
        zap_reply(s->zap, f[1], len[1], "200", "OK", key);
    } else {
        refusal(s, 0, WHY_KEY, "refused a client from %s: its CURVE key %s is not among the allowed "
                "certificates in %s", f[3], key, s->client_dir);
        zap_reply(s->zap, f[1], len[1], "400", "unknown client key", "");
    }
}

/* A failed-handshake event of a served socket (sd_secure_serve). */
static void on_monitor(sd_secure_t *s, int src, void *mon, const char *what)
{
    char f[2][256];
    size_t len[2];
    int n = recv_frames(mon, f, len, 2);
    if (n < 1 || len[0] < 6)
        return;
    uint16_t ev;
    uint32_t val;
    memcpy(&ev, f[0], 2);
    memcpy(&val, f[0] + 2, 4);
    if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        return; /* denied by on_zap, already counted and logged there */
    /* a keyless peer shows as a mechanism mismatch, or as a connection closed
     * during the handshake when the peer noticed the mismatch first */
    int nokeys = val == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH;
    const char *why = nokeys ? "it offered no CURVE keys (security mechanism mismatch)"
                      : ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                          ? "its CURVE handshake is invalid (wrong server key?)"
                          : "it left during the security handshake (no keys or a wrong "
                            "server key?)";
    refusal(s, src, nokeys ? WHY_NOKEYS : WHY_OTHER,
            "refused a peer on %s: %s (event 0x%x, code 0x%x)", what, why, (unsigned)ev,
            (unsigned)val);
}

static void *thread_main(void *arg)
{
    sd_secure_t *s = arg;
    zmq_pollitem_t it[1 + MAX_SERVED];
    void *mon[MAX_SERVED];
    char what[MAX_SERVED][64];
    while (!atomic_load(&s->stop)) {
        pthread_mutex_lock(&s->mu);
        int nm = s->nmon;
        memcpy(mon, s->mon, sizeof mon);
        memcpy(what, s->mon_what, sizeof what);
        pthread_mutex_unlock(&s->mu);
        it[0] = (zmq_pollitem_t){s->zap, 0, ZMQ_POLLIN, 0};
        for (int i = 0; i < nm; i++)
            it[1 + i] = (zmq_pollitem_t){mon[i], 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(it, 1 + nm, 100);
        if (rc < 0)
            continue; /* EINTR; ETERM cannot happen: destroy stops us first */
        if (it[0].revents & ZMQ_POLLIN)
            on_zap(s);
        for (int i = 0; i < nm; i++)
            if (it[1 + i].revents & ZMQ_POLLIN)
                on_monitor(s, 1 + i, mon[i], what[i]);
    }
    return NULL;
}

sd_secure_t *sd_secure_new(void *zctx, const sd_config_security_t *sec, const char *component,
                           sd_err_t *e)
{
    if (!zctx || !sec) {
        sd_err_set(e, SD_EINVAL, "sd_secure_new: NULL argument");
        return NULL;
    }
    if (!sec->server_cert[0] || !sec->client_certs[0]) {
        sd_err_set(e, SD_EINVAL, "security: CURVE needs both server_cert and client_certs "
                   "(make certificates with `stemdyn keygen`)");
        return NULL;
    }
    if (!zsys_has_curve()) {
        sd_err_set(e, SD_EINVAL, "this libzmq was built without CURVE support");
        return NULL;
    }
    struct stat st;
    if (stat(sec->client_certs, &st) != 0 || !S_ISDIR(st.st_mode)) {
        sd_err_set(e, SD_ENOTFOUND, "security.client_certs: %s is not a directory",
                   sec->client_certs);
        return NULL;
    }
    zcert_t *cert = zcert_load(sec->server_cert);
    if (!cert || is_zero(zcert_secret_key(cert))) {
        zcert_destroy(&cert);
        sd_err_set(e, SD_ENOTFOUND, "security.server_cert: cannot load the secret key of %s "
                   "(%s_secret; make one with `stemdyn keygen`)", sec->server_cert,
                   sec->server_cert);
        return NULL;
    }
    sd_secure_t *s = calloc(1, sizeof *s);
    if (!s) {
        zcert_destroy(&cert);
        sd_err_set(e, SD_ENOMEM, "out of memory");
        return NULL;
    }
    memcpy(s->secret, zcert_secret_key(cert), 32);
    zcert_destroy(&cert);
    s->zctx = zctx;
    snprintf(s->component, sizeof s->component, "%s", component ? component : "secure");
    snprintf(s->client_dir, sizeof s->client_dir, "%s", sec->client_certs);
    pthread_mutex_init(&s->mu, NULL);
    s->certs = zcertstore_new(sec->client_certs);
    s->zap = zmq_socket(zctx, ZMQ_REP);
    int linger = 0;
    if (s->zap)
        zmq_setsockopt(s->zap, ZMQ_LINGER, &linger, sizeof linger);
    if (!s->certs || !s->zap || zmq_bind(s->zap, ZAP_ENDPOINT) != 0) {
        sd_err_set(e, SD_EIO, "cannot start the CURVE authenticator: %s",
                   s->zap ? zmq_strerror(zmq_errno()) : "out of memory");
        sd_secure_destroy(&s);
        return NULL;
    }
    if (pthread_create(&s->thread, NULL, thread_main, s) != 0) {
        sd_err_set(e, SD_EIO, "cannot start the CURVE authenticator thread");
        sd_secure_destroy(&s);
        return NULL;
    }
    s->started = 1;
    sd_log(SD_LOG_INFO, s->component, "CURVE on: clients must hold a certificate in %s",
           s->client_dir);
    return s;
}

void sd_secure_destroy(sd_secure_t **ps)
{
    if (!ps || !*ps)
        return;
    sd_secure_t *s = *ps;
    if (s->started) {
        atomic_store(&s->stop, 1);
        pthread_join(s->thread, NULL);
    }
    for (int i = 0; i < s->nmon; i++)
        zmq_close(s->mon[i]);
    if (s->zap)
        zmq_close(s->zap);
    zcertstore_destroy(&s->certs);
    pthread_mutex_destroy(&s->mu);
    memset(s->secret, 0, sizeof s->secret);
    free(s);
    *ps = NULL;
}

int sd_secure_serve(sd_secure_t *s, void *sock, const char *what, sd_err_t *e)
{
    if (!s)
        return SD_OK;
    if (!sock)
        return sd_err_set(e, SD_EINVAL, "sd_secure_serve: NULL socket");
    int one = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, s->secret, 32) ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)))
        return sd_err_set(e, SD_EIO, "%s: cannot make it a CURVE server: %s", what,
                          zmq_strerror(zmq_errno()));
    pthread_mutex_lock(&s->mu);
    int rc = SD_OK;
    if (s->nmon >= MAX_SERVED) {
        rc = sd_err_set(e, SD_ENOMEM, "sd_secure_serve: more than %d sockets", MAX_SERVED);
        goto out;
    }
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://sd-secure-monitor-%p", sock);
    void *mon = NULL;
    if (zmq_socket_monitor(sock, ep, ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                         ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                         ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
        !(mon = zmq_socket(s->zctx, ZMQ_PAIR)) || zmq_connect(mon, ep) != 0) {
        /* authentication still holds; only the logging of keyless peers is lost */
        sd_log(SD_LOG_WARN, s->component, "%s: cannot watch failed handshakes: %s", what,
               zmq_strerror(zmq_errno()));
        if (mon)
            zmq_close(mon);
        goto out;
    }
    int linger = 0;
    zmq_setsockopt(mon, ZMQ_LINGER, &linger, sizeof linger);
    s->mon[s->nmon] = mon;
    snprintf(s->mon_what[s->nmon], sizeof s->mon_what[0], "%s", what ? what : "?");
    s->nmon++;
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int sd_secure_client(void *sock, const sd_config_security_t *sec, sd_err_t *e)
{
    int has_c = sec && sec->client_cert[0], has_s = sec && sec->server_public[0];
    if (!has_c && !has_s)
        return SD_OK;
    if (!has_c || !has_s)
        return sd_err_set(e, SD_EINVAL, "security: CURVE clients need both client_cert and "
                          "server_public");
    if (!zsys_has_curve())
        return sd_err_set(e, SD_EINVAL, "this libzmq was built without CURVE support");
    zcert_t *c = zcert_load(sec->client_cert);
    if (!c || is_zero(zcert_secret_key(c))) {
        zcert_destroy(&c);
        return sd_err_set(e, SD_ENOTFOUND, "security.client_cert: cannot load the secret key "
                          "of %s (%s_secret; make one with `stemdyn keygen`)", sec->client_cert,
                          sec->client_cert);
    }
    zcert_t *srv = zcert_load(sec->server_public);
    if (!srv) {
        zcert_destroy(&c);
        return sd_err_set(e, SD_ENOTFOUND, "security.server_public: cannot load %s",
                          sec->server_public);
    }
    int rc = SD_OK;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, zcert_public_key(srv), 32) ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, zcert_public_key(c), 32) ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, zcert_secret_key(c), 32))
        rc = sd_err_set(e, SD_EIO, "cannot make the socket a CURVE client: %s",
                        zmq_strerror(zmq_errno()));
    zcert_destroy(&c);
    zcert_destroy(&srv);
    return rc;
}

uint64_t sd_secure_refused(const sd_secure_t *s)
{
    return s ? atomic_load(&((sd_secure_t *)s)->refused) : 0;
}
