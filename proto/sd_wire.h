/* sd_wire — sending and receiving stemdyn messages as ZeroMQ multipart
 * messages ([topic][header][payload…], see sd_msg.h and PROTOCOL.md).
 *
 * `sock` is either a libzmq socket (void *) or a czmq zsock_t * / zactor_t *
 * (resolved with zsock_resolve).  The functions own no socket and keep no
 * state; a socket must not be used from two threads at once (ZeroMQ rule). */
#ifndef SD_WIRE_H
#define SD_WIRE_H

#include "sd_err.h"
#include "sd_msg.h"

#include <stddef.h>
#include <stdint.h>

/* Receive limits; a zero field means its default. */
typedef struct sd_wire_limits {
    size_t max_part_bytes;  /* default SD_WIRE_DEFAULT_MAX_PART */
    size_t max_total_bytes; /* default SD_WIRE_DEFAULT_MAX_TOTAL */
    int max_parts;          /* default and cap SD_PARTS_CAP */
} sd_wire_limits_t;

#define SD_WIRE_DEFAULT_MAX_PART ((size_t)1 << 32)  /* 4 GiB: a 32768² f32 frame fits */
#define SD_WIRE_DEFAULT_MAX_TOTAL ((size_t)1 << 33)

enum { SD_WIRE_DONTWAIT = 1 };

/* Sends parts[0..n) as one multipart message (payload bytes are copied into
 * ZeroMQ messages, so *parts may be freed when this returns).  With
 * SD_WIRE_DONTWAIT: SD_EAGAIN when the message cannot be queued now (nothing
 * was sent).  A socket timeout (ZMQ_SNDTIMEO) also gives SD_EAGAIN.  Other
 * failures: SD_EIO with zmq_strerror's text. */
int sd_wire_send(void *sock, const sd_parts_t *parts, int flags, sd_err_t *e);

/* As sd_wire_send, with a routing envelope part first (ROUTER sockets: the
 * peer identity, id[0..idlen)). */
int sd_wire_send_routed(void *sock, const void *id, size_t idlen, const sd_parts_t *parts,
                        int flags, sd_err_t *e);

/* Receives one multipart message into *out (which then owns the ZeroMQ
 * messages; release with sd_parts_free).  lim may be NULL (defaults).
 * SD_EAGAIN: nothing arrived (SD_WIRE_DONTWAIT or ZMQ_RCVTIMEO).  A message
 * with too many parts or a part/total over the limits is received completely,
 * discarded and reported (SD_EFORMAT / SD_ENOMEM), so the socket stays in sync. */
int sd_wire_recv(void *sock, sd_parts_t *out, const sd_wire_limits_t *lim, int flags,
                 sd_err_t *e);

/* Sets ZMQ_MAXMSGSIZE on sock (before bind/connect): libzmq then drops a
 * peer that sends a single part over max_bytes before allocating it, which
 * sd_wire_recv's limits (applied after receipt) cannot do.  Use on sockets
 * that face untrusted peers. */
int sd_wire_limit_socket(void *sock, int64_t max_bytes, sd_err_t *e);

/* Encode + send (see sd_msg_encode for validation). */
int sd_wire_send_msg(void *sock, const sd_msg_t *m, int flags, sd_err_t *e);

/* Receive + strict decode; *m owns everything (sd_msg_free).  `parts` gets
 * nothing to free.  Decode errors are returned as by sd_msg_decode. */
int sd_wire_recv_msg(void *sock, sd_msg_t *m, const sd_wire_limits_t *lim, int flags,
                     sd_err_t *e);

#endif
