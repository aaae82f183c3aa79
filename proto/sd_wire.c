#include "sd_wire.h"

#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef struct recv_priv {
    int n;
    zmq_msg_t msg[SD_PARTS_CAP];
} recv_priv_t;

static void recv_priv_free(void *p)
{
    recv_priv_t *rp = p;
    for (int i = 0; i < rp->n; i++)
        zmq_msg_close(&rp->msg[i]);
    free(rp);
}

static int zerr(sd_err_t *e, const char *what)
{
    int en = zmq_errno();
    if (en == EAGAIN)
        return sd_err_set(e, SD_EAGAIN, "%s: would block (try again)", what);
    return sd_err_set(e, SD_EIO, "%s: %s", what, zmq_strerror(en));
}

static int send_parts(void *z, const void *id, size_t idlen, int has_id, const sd_parts_t *p,
                      int flags, sd_err_t *e)
{
    if (!p || p->n < 1 || p->n > SD_PARTS_CAP)
        return sd_err_set(e, SD_EINVAL, "sd_wire_send: %d parts (must be 1..%d)", p ? p->n : 0,
                          SD_PARTS_CAP);
    int first = (flags & SD_WIRE_DONTWAIT) ? ZMQ_DONTWAIT : 0;
    if (has_id) {
        if (zmq_send(z, id, idlen, ZMQ_SNDMORE | first) < 0)
            return zerr(e, "sending the routing identity");
        first = 0;
    }
    for (int i = 0; i < p->n; i++) {
        /* Once the first part is queued ZeroMQ delivers all or nothing, so
         * only the first part may be non-blocking. */
        int f = (i + 1 < p->n ? ZMQ_SNDMORE : 0) | (i == 0 ? first : 0);
        if (zmq_send(z, p->data[i], p->len[i], f) < 0) {
            int rc = zerr(e, "sending a message part");
            if (i > 0 || has_id)
                rc = sd_err_set(e, SD_EIO, "sending part %d failed after earlier parts: %s", i,
                                zmq_strerror(zmq_errno()));
            return rc;
        }
    }
    return SD_OK;
}

int sd_wire_send(void *sock, const sd_parts_t *parts, int flags, sd_err_t *e)
{
    void *z = zsock_resolve(sock);
    if (!z)
        return sd_err_set(e, SD_EINVAL, "sd_wire_send: not a socket");
    return send_parts(z, NULL, 0, 0, parts, flags, e);
}

int sd_wire_send_routed(void *sock, const void *id, size_t idlen, const sd_parts_t *parts,
                        int flags, sd_err_t *e)
{
    void *z = zsock_resolve(sock);
    if (!z)
        return sd_err_set(e, SD_EINVAL, "sd_wire_send_routed: not a socket");
    return send_parts(z, id, idlen, 1, parts, flags, e);
}

int sd_wire_recv(void *sock, sd_parts_t *out, const sd_wire_limits_t *lim, int flags,
                 sd_err_t *e)
{
    memset(out, 0, sizeof *out);
    void *z = zsock_resolve(sock);
    if (!z)
        return sd_err_set(e, SD_EINVAL, "sd_wire_recv: not a socket");
    size_t max_part = lim && lim->max_part_bytes ? lim->max_part_bytes : SD_WIRE_DEFAULT_MAX_PART;
    size_t max_total =
        lim && lim->max_total_bytes ? lim->max_total_bytes : SD_WIRE_DEFAULT_MAX_TOTAL;
    int max_parts = lim && lim->max_parts > 0 && lim->max_parts < SD_PARTS_CAP ? lim->max_parts
                                                                               : SD_PARTS_CAP;
    recv_priv_t *rp = calloc(1, sizeof *rp);
    if (!rp)
        return sd_err_set(e, SD_ENOMEM, "sd_wire_recv: out of memory");

    int rc = SD_OK;
    size_t total = 0;
    int nparts = 0, more = 1;
    while (more) {
        zmq_msg_t tmp;
        zmq_msg_init(&tmp);
        int f = (nparts == 0 && (flags & SD_WIRE_DONTWAIT)) ? ZMQ_DONTWAIT : 0;
        if (zmq_msg_recv(&tmp, z, f) < 0) {
            zmq_msg_close(&tmp);
            if (nparts == 0) {
                rc = zerr(e, "receiving");
            } else if (rc == SD_OK) {
                rc = sd_err_set(e, SD_EIO, "receiving part %d failed: %s", nparts,
                                zmq_strerror(zmq_errno()));
            }
            break;
        }
        more = zmq_msg_more(&tmp);
        size_t sz = zmq_msg_size(&tmp);
        nparts++;
        total += sz;
        /* Over a limit: keep draining the message so the next recv starts
         * at a message boundary, but keep nothing. */
        if (rc == SD_OK && nparts > max_parts)
            rc = sd_err_set(e, SD_EFORMAT, "too many parts: more than %d in one message",
                            max_parts);
        else if (rc == SD_OK && sz > max_part)
            rc = sd_err_set(e, SD_ENOMEM, "part %d is %zu bytes, over the limit of %zu",
                            nparts - 1, sz, max_part);
        else if (rc == SD_OK && total > max_total)
            rc = sd_err_set(e, SD_ENOMEM, "message is over the limit of %zu bytes", max_total);
        if (rc == SD_OK) {
            zmq_msg_init(&rp->msg[rp->n]);
            zmq_msg_move(&rp->msg[rp->n], &tmp); /* zmq_msg_t must not be memcpy'd */
            rp->n++;
        }
        zmq_msg_close(&tmp);
    }
    if (rc != SD_OK) {
        recv_priv_free(rp);
        return rc;
    }
    out->n = rp->n;
    for (int i = 0; i < rp->n; i++) {
        out->data[i] = zmq_msg_data(&rp->msg[i]);
        out->len[i] = zmq_msg_size(&rp->msg[i]);
    }
    out->priv_ = rp;
    out->free_ = recv_priv_free;
    return SD_OK;
}

int sd_wire_limit_socket(void *sock, int64_t max_bytes, sd_err_t *e)
{
    void *z = zsock_resolve(sock);
    if (!z)
        return sd_err_set(e, SD_EINVAL, "sd_wire_limit_socket: not a socket");
    if (zmq_setsockopt(z, ZMQ_MAXMSGSIZE, &max_bytes, sizeof max_bytes) != 0)
        return zerr(e, "setting ZMQ_MAXMSGSIZE");
    return SD_OK;
}

int sd_wire_send_msg(void *sock, const sd_msg_t *m, int flags, sd_err_t *e)
{
    sd_parts_t p;
    int rc = sd_msg_encode(m, &p, e);
    if (rc != SD_OK)
        return rc;
    rc = sd_wire_send(sock, &p, flags, e);
    sd_parts_free(&p);
    return rc;
}

int sd_wire_recv_msg(void *sock, sd_msg_t *m, const sd_wire_limits_t *lim, int flags,
                     sd_err_t *e)
{
    memset(m, 0, sizeof *m);
    sd_parts_t p;
    int rc = sd_wire_recv(sock, &p, lim, flags, e);
    if (rc != SD_OK)
        return rc;
    rc = sd_msg_decode(&p, m, 0, e);
    sd_parts_free(&p);
    return rc;
}
