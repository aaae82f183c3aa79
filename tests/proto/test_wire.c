/* sd_wire: real ZeroMQ round trips (inproc:// and tcp://127.0.0.1 on an
 * ephemeral port, libzmq and czmq sockets), limits, non-blocking receive,
 * and ROUTER routing envelopes. */
#include "sd_crc32c.h"
#include "sd_wire.h"
#include "sdtest.h"

#include <czmq.h>
#include <zmq.h>

enum { W = 64, H = 48 };
static uint16_t g_pix[W * H];

static void make_frame(sd_msg_t *m, int64_t idx)
{
    sd_msg_init(m, SD_MSG_FRAME);
    for (int i = 0; i < W * H; i++)
        g_pix[i] = (uint16_t)(i * 31 + idx);
    sd_msg_frame_t *f = &m->u.frame;
    strcpy(f->series_id, "wire-test");
    f->frame_index = idx;
    f->seq = (uint64_t)idx + 1000;
    f->t_acq_ns = 1;
    f->t_send_ns = 2;
    f->width = W;
    f->height = H;
    f->dtype = SD_DTYPE_U16;
    f->pixels = g_pix;
    f->pixels_len = sizeof g_pix;
}

static void make_heartbeat(sd_msg_t *m, const char *sender)
{
    sd_msg_init(m, SD_MSG_HEARTBEAT);
    strcpy(m->u.heartbeat.sender, sender);
    strcpy(m->u.heartbeat.role, "worker");
    strcpy(m->u.heartbeat.state, "idle");
    m->u.heartbeat.t_ns = 5;
    m->u.heartbeat.load = 0;
}

/* Sends three frames PUSH -> PULL and checks they arrive intact, in order. */
static void push_pull(sdt_t *t, void *push, void *pull)
{
    sd_err_t e;
    for (int i = 0; i < 3; i++) {
        sd_msg_t m;
        make_frame(&m, i);
        int rc = sd_wire_send_msg(push, &m, 0, &e);
        CHECK_MSG(t, rc == SD_OK, "send: %s", e.msg);
    }
    for (int i = 0; i < 3; i++) {
        sd_msg_t d;
        int rc = sd_wire_recv_msg(pull, &d, NULL, 0, &e);
        CHECK_MSG(t, rc == SD_OK, "recv: %s", e.msg);
        if (rc != SD_OK)
            return;
        CHECK_EQ_INT(t, d.type, SD_MSG_FRAME);
        CHECK_EQ_INT(t, d.u.frame.frame_index, i);
        CHECK_EQ_INT(t, d.u.frame.seq, 1000 + i);
        make_frame(&(sd_msg_t){0}, i); /* regenerate the expected pixels */
        CHECK(t, d.u.frame.pixels_len == sizeof g_pix &&
                     !memcmp(d.u.frame.pixels, g_pix, sizeof g_pix));
        CHECK_EQ_INT(t, d.u.frame.crc32c, sd_crc32c(0, g_pix, sizeof g_pix));
        sd_msg_free(&d);
    }
}

static void test_inproc_libzmq(sdt_t *t)
{
    void *ctx = zmq_ctx_new();
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    CHECK_EQ_INT(t, zmq_bind(pull, "inproc://sd-wire-test"), 0);
    CHECK_EQ_INT(t, zmq_connect(push, "inproc://sd-wire-test"), 0);
    push_pull(t, push, pull);

    /* Non-blocking receive on an empty socket. */
    sd_parts_t p;
    sd_err_t e;
    CHECK_EQ_INT(t, sd_wire_recv(pull, &p, NULL, SD_WIRE_DONTWAIT, &e), SD_EAGAIN);
    CHECK_EQ_INT(t, p.n, 0);

    /* A part over the limit is drained and refused; the next message is intact. */
    sd_msg_t m;
    make_frame(&m, 9);
    CHECK_EQ_INT(t, sd_wire_send_msg(push, &m, 0, &e), SD_OK);
    make_heartbeat(&m, "hb-1");
    CHECK_EQ_INT(t, sd_wire_send_msg(push, &m, 0, &e), SD_OK);
    sd_wire_limits_t lim = {.max_part_bytes = 1024};
    CHECK_EQ_INT(t, sd_wire_recv(pull, &p, &lim, 0, &e), SD_ENOMEM);
    CHECK_STR_CONTAINS(t, e.msg, "part 2 is 6144 bytes, over the limit of 1024");
    sd_msg_t d;
    CHECK_EQ_INT(t, sd_wire_recv_msg(pull, &d, &lim, 0, &e), SD_OK);
    CHECK(t, d.type == SD_MSG_HEARTBEAT && !strcmp(d.u.heartbeat.sender, "hb-1"));
    sd_msg_free(&d);

    /* Too many parts: drained and refused; a total over the limit likewise. */
    sd_parts_t many = {0};
    many.n = SD_PARTS_CAP;
    for (int i = 0; i < many.n; i++) {
        many.data[i] = (const uint8_t *)"part";
        many.len[i] = 4;
    }
    CHECK_EQ_INT(t, sd_wire_send(push, &many, 0, &e), SD_OK);
    sd_wire_limits_t lim3 = {.max_parts = 3};
    CHECK_EQ_INT(t, sd_wire_recv(pull, &p, &lim3, 0, &e), SD_EFORMAT);
    CHECK_STR_CONTAINS(t, e.msg, "too many parts: more than 3");
    CHECK_EQ_INT(t, sd_wire_send(push, &many, 0, &e), SD_OK);
    sd_wire_limits_t limt = {.max_total_bytes = 40};
    CHECK_EQ_INT(t, sd_wire_recv(pull, &p, &limt, 0, &e), SD_ENOMEM);
    CHECK_STR_CONTAINS(t, e.msg, "over the limit of 40 bytes");
    /* A garbage multipart message arrives but does not decode. */
    many.n = 3;
    CHECK_EQ_INT(t, sd_wire_send(push, &many, 0, &e), SD_OK);
    CHECK_EQ_INT(t, sd_wire_recv_msg(pull, &d, NULL, 0, &e), SD_EFORMAT);
    CHECK_EQ_INT(t, sd_wire_recv(pull, &p, NULL, SD_WIRE_DONTWAIT, &e), SD_EAGAIN);

    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

static void test_tcp_czmq(sdt_t *t)
{
    zsock_t *pull = zsock_new(ZMQ_PULL);
    int port = zsock_bind(pull, "tcp://127.0.0.1:*[50000-]");
    CHECK_MSG(t, port > 0, "bind to an ephemeral port failed");
    if (port <= 0) {
        zsock_destroy(&pull);
        return;
    }
    zsock_t *push = zsock_new_push(NULL);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    CHECK_EQ_INT(t, zsock_connect(push, "%s", ep), 0);
    zsock_set_rcvtimeo(pull, 5000);
    push_pull(t, push, pull);

    /* Receive timeout reads as SD_EAGAIN. */
    zsock_set_rcvtimeo(pull, 50);
    sd_parts_t p;
    sd_err_t e;
    CHECK_EQ_INT(t, sd_wire_recv(pull, &p, NULL, 0, &e), SD_EAGAIN);
    zsock_destroy(&push);
    zsock_destroy(&pull);

    /* ZMQ_MAXMSGSIZE: libzmq drops a peer whose part is over the limit, so
     * the 6 KiB frame never arrives (nothing is allocated for it). */
    pull = zsock_new(ZMQ_PULL);
    CHECK_EQ_INT(t, sd_wire_limit_socket(pull, 1000, &e), SD_OK);
    port = zsock_bind(pull, "tcp://127.0.0.1:*[50000-]");
    CHECK(t, port > 0);
    push = zsock_new(ZMQ_PUSH);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    CHECK_EQ_INT(t, zsock_connect(push, "%s", ep), 0);
    sd_msg_t m;
    make_frame(&m, 1);
    CHECK_EQ_INT(t, sd_wire_send_msg(push, &m, 0, &e), SD_OK);
    zsock_set_rcvtimeo(pull, 300);
    CHECK_EQ_INT(t, sd_wire_recv(pull, &p, NULL, 0, &e), SD_EAGAIN);
    zsock_destroy(&push);
    zsock_destroy(&pull);
}

static void test_router_dealer(sdt_t *t)
{
    zsock_t *router = zsock_new_router("inproc://sd-wire-router");
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    zsock_set_identity(dealer, "worker-1");
    CHECK_EQ_INT(t, zsock_connect(dealer, "inproc://sd-wire-router"), 0);
    zsock_set_rcvtimeo(router, 5000);
    zsock_set_rcvtimeo(dealer, 5000);
    sd_err_t e;
    sd_msg_t m, d;
    make_heartbeat(&m, "worker-1");
    CHECK_EQ_INT(t, sd_wire_send_msg(dealer, &m, 0, &e), SD_OK);

    /* The broker sees [identity][topic][header]: view past the identity. */
    sd_parts_t p, v;
    CHECK_EQ_INT(t, sd_wire_recv(router, &p, NULL, 0, &e), SD_OK);
    CHECK_EQ_INT(t, p.n, 3);
    CHECK(t, p.len[0] == 8 && !memcmp(p.data[0], "worker-1", 8));
    CHECK_EQ_INT(t, sd_parts_view(&p, 1, &v, &e), SD_OK);
    CHECK_EQ_INT(t, sd_msg_decode(&v, &d, 0, &e), SD_OK);
    CHECK(t, d.type == SD_MSG_HEARTBEAT && !strcmp(d.u.heartbeat.sender, "worker-1"));
    sd_msg_free(&d);
    CHECK_EQ_INT(t, sd_parts_view(&p, 4, &v, &e), SD_EINVAL);

    /* Reply routed back to that identity. */
    make_frame(&m, 5);
    sd_parts_t enc;
    CHECK_EQ_INT(t, sd_msg_encode(&m, &enc, &e), SD_OK);
    CHECK_EQ_INT(t, sd_wire_send_routed(router, p.data[0], p.len[0], &enc, 0, &e), SD_OK);
    sd_parts_free(&enc);
    sd_parts_free(&p);
    CHECK_EQ_INT(t, sd_wire_recv_msg(dealer, &d, NULL, 0, &e), SD_OK);
    CHECK(t, d.type == SD_MSG_FRAME && d.u.frame.frame_index == 5);
    sd_msg_free(&d);

    /* Sending to a socket that cannot take a message now, non-blocking. */
    zsock_t *lonely = zsock_new(ZMQ_PUSH);
    make_heartbeat(&m, "x");
    CHECK_EQ_INT(t, sd_wire_send_msg(lonely, &m, SD_WIRE_DONTWAIT, &e), SD_EAGAIN);
    zsock_destroy(&lonely);
    zsock_destroy(&dealer);
    zsock_destroy(&router);
}

static void test_pub_sub_topic_filter(sdt_t *t)
{
    /* Topic = type[.suffix] so SUB prefix filtering selects message kinds. */
    zsock_t *pub = zsock_new_pub("inproc://sd-wire-pub");
    zsock_t *sub = zsock_new_sub("inproc://sd-wire-pub", "heartbeat");
    zsock_set_rcvtimeo(sub, 2000);
    sd_err_t e;
    sd_msg_t m, d;
    int got = 0;
    /* PUB/SUB joins are asynchronous: publish until the first one arrives. */
    for (int tries = 0; tries < 200 && !got; tries++) {
        make_frame(&m, 1);
        sd_wire_send_msg(pub, &m, 0, &e);
        make_heartbeat(&m, "pub-1");
        sd_wire_send_msg(pub, &m, 0, &e);
        zsock_set_rcvtimeo(sub, 10);
        if (sd_wire_recv_msg(sub, &d, NULL, 0, &e) == SD_OK) {
            got = 1;
            CHECK_EQ_INT(t, d.type, SD_MSG_HEARTBEAT);
            sd_msg_free(&d);
        }
    }
    CHECK(t, got);
    zsock_destroy(&sub);
    zsock_destroy(&pub);
}

SDT_MAIN(SDT_CASE(test_inproc_libzmq), SDT_CASE(test_tcp_czmq), SDT_CASE(test_router_dealer),
         SDT_CASE(test_pub_sub_topic_filter))
