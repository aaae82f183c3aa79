/* sd_secure: CURVE server + ZAP handler in a service's own libzmq context;
 * allowed, foreign and keyless clients; configuration errors. */
#include "sd_secure.h"
#include "sdtest.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

typedef struct keys {
    char dir[64];
    sd_config_security_t srv, good, rogue;
} keys_t;

/* A key pair at path (+ path_secret) and, when allowed is given, its public
 * half there (a client certificate directory holds public files only). */
static void mkcert(const char *path, const char *allowed)
{
    zcert_t *c = zcert_new();
    zcert_save(c, path);
    if (allowed)
        zcert_save_public(c, allowed);
    zcert_destroy(&c);
}

static void make_keys(keys_t *k)
{
    snprintf(k->dir, sizeof k->dir, "/tmp/sd_test_secure_%d", (int)getpid());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s/allowed", k->dir, k->dir);
    if (system(cmd) != 0)
        SDT_SKIP("cannot create %s", k->dir);
    char p[512], a[512];
    snprintf(p, sizeof p, "%s/server", k->dir);
    mkcert(p, NULL);
    snprintf(p, sizeof p, "%s/good", k->dir);
    snprintf(a, sizeof a, "%s/allowed/good", k->dir);
    mkcert(p, a);
    snprintf(p, sizeof p, "%s/rogue", k->dir);
    mkcert(p, NULL);
    memset(&k->srv, 0, sizeof k->srv);
    snprintf(k->srv.server_cert, SD_CONFIG_STRLEN, "%s/server", k->dir);
    snprintf(k->srv.client_certs, SD_CONFIG_STRLEN, "%s/allowed", k->dir);
    k->good = k->rogue = (sd_config_security_t){0};
    snprintf(k->good.client_cert, SD_CONFIG_STRLEN, "%s/good", k->dir);
    snprintf(k->good.server_public, SD_CONFIG_STRLEN, "%s/server", k->dir);
    snprintf(k->rogue.client_cert, SD_CONFIG_STRLEN, "%s/rogue", k->dir);
    snprintf(k->rogue.server_public, SD_CONFIG_STRLEN, "%s/server", k->dir);
}

static void drop_keys(const keys_t *k)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", k->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", k->dir);
}

/* A DEALER (client context of its own) sends "hello"; returns 1 when the
 * server's ROUTER got it within timeout_ms. */
static int try_client(void *router, const sd_config_security_t *sec, const char *ep,
                      int timeout_ms)
{
    void *cctx = zmq_ctx_new();
    void *d = zmq_socket(cctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    sd_err_t e;
    int got = 0;
    if (sd_secure_client(d, sec, &e) == SD_OK && zmq_connect(d, ep) == 0) {
        zmq_send(d, "hello", 5, ZMQ_DONTWAIT);
        zmq_pollitem_t it = {router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, timeout_ms) > 0) {
            char id[256], msg[16];
            zmq_recv(router, id, sizeof id, 0);
            int n = zmq_recv(router, msg, sizeof msg, 0);
            got = n == 5 && !memcmp(msg, "hello", 5);
        }
    }
    zmq_close(d);
    zmq_ctx_term(cctx);
    return got;
}

static void test_allowed_foreign_keyless(sdt_t *t)
{
    keys_t k;
    make_keys(&k);
    sd_err_t e;
    void *ctx = zmq_ctx_new();
    sd_secure_t *s = sd_secure_new(ctx, &k.srv, "test", &e);
    CHECK_MSG(t, s != NULL, "sd_secure_new: %s", e.msg);
    void *r = zmq_socket(ctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(r, ZMQ_LINGER, &linger, sizeof linger);
    CHECK_EQ_INT(t, sd_secure_serve(s, r, "test endpoint", &e), SD_OK);
    CHECK_EQ_INT(t, zmq_bind(r, "tcp://127.0.0.1:*"), 0);
    char ep[256];
    size_t len = sizeof ep;
    zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, ep, &len);

    CHECK_MSG(t, try_client(r, &k.good, ep, 3000), "allowed client did not get through");
    CHECK(t, sd_secure_refused(s) == 0);
    CHECK_MSG(t, !try_client(r, &k.rogue, ep, 700), "foreign key got through");
    CHECK(t, sd_secure_refused(s) >= 1);
    uint64_t before = sd_secure_refused(s);
    sd_config_security_t none = {0};
    CHECK_MSG(t, !try_client(r, &none, ep, 700), "keyless client got through");
    for (int i = 0; i < 20 && sd_secure_refused(s) == before; i++)
        usleep(50000); /* the monitor event may trail the connection */
    CHECK_MSG(t, sd_secure_refused(s) > before, "keyless client not counted as refused");
    /* a client that does not know the server's key */
    sd_config_security_t wrong = k.good;
    snprintf(wrong.server_public, SD_CONFIG_STRLEN, "%s/rogue", k.dir);
    CHECK_MSG(t, !try_client(r, &wrong, ep, 700), "client with a wrong server key got through");
    /* revoking: remove the allowed file, the next handshake is refused */
    char p[512];
    snprintf(p, sizeof p, "%s/allowed/good", k.dir);
    remove(p);
    sleep(1); /* zcertstore notices a directory change by its modification time */
    before = sd_secure_refused(s);
    CHECK_MSG(t, !try_client(r, &k.good, ep, 700), "revoked client got through");
    CHECK_MSG(t, sd_secure_refused(s) > before, "revoked client not refused by the ZAP handler");
    zmq_close(r);
    sd_secure_destroy(&s);
    CHECK(t, s == NULL);
    zmq_ctx_term(ctx);
    drop_keys(&k);
}

static void test_config_errors(sdt_t *t)
{
    keys_t k;
    make_keys(&k);
    sd_err_t e;
    void *ctx = zmq_ctx_new();
    sd_config_security_t half = {0};
    snprintf(half.server_cert, SD_CONFIG_STRLEN, "%s", k.srv.server_cert);
    CHECK(t, sd_secure_server_wanted(&half));
    CHECK(t, sd_secure_new(ctx, &half, "test", &e) == NULL);
    CHECK_STR_CONTAINS(t, e.msg, "client_certs");
    sd_config_security_t pub_only = k.srv;
    snprintf(pub_only.server_cert, SD_CONFIG_STRLEN, "%s/allowed/good", k.dir);
    CHECK(t, sd_secure_new(ctx, &pub_only, "test", &e) == NULL);
    CHECK_STR_CONTAINS(t, e.msg, "secret");
    sd_config_security_t nodir = k.srv;
    snprintf(nodir.client_certs, SD_CONFIG_STRLEN, "%s/missing", k.dir);
    CHECK(t, sd_secure_new(ctx, &nodir, "test", &e) == NULL);
    CHECK_STR_CONTAINS(t, e.msg, "not a directory");
    /* one ZAP handler per context */
    sd_secure_t *a = sd_secure_new(ctx, &k.srv, "a", &e);
    CHECK(t, a != NULL);
    CHECK(t, sd_secure_new(ctx, &k.srv, "b", &e) == NULL);
    sd_secure_destroy(&a);
    /* clients: both or neither */
    void *d = zmq_socket(ctx, ZMQ_DEALER);
    sd_config_security_t c1 = {0};
    CHECK_EQ_INT(t, sd_secure_client(d, &c1, &e), SD_OK);
    snprintf(c1.client_cert, SD_CONFIG_STRLEN, "%s", k.good.client_cert);
    CHECK_EQ_INT(t, sd_secure_client(d, &c1, &e), SD_EINVAL);
    sd_config_security_t c2 = k.good;
    snprintf(c2.client_cert, SD_CONFIG_STRLEN, "%s/server", k.dir); /* fine: has a secret */
    CHECK_EQ_INT(t, sd_secure_client(d, &c2, &e), SD_OK);
    snprintf(c2.client_cert, SD_CONFIG_STRLEN, "%s/nothing", k.dir);
    CHECK_EQ_INT(t, sd_secure_client(d, &c2, &e), SD_ENOTFOUND);
    CHECK_EQ_INT(t, sd_secure_serve(NULL, d, "x", &e), SD_OK); /* no keys: nothing to do */
    CHECK(t, !sd_secure_server_wanted(&c1));
    zmq_close(d);
    zmq_ctx_term(ctx);
    drop_keys(&k);
}

SDT_MAIN(SDT_CASE(test_allowed_foreign_keyless), SDT_CASE(test_config_errors))
