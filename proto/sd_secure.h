/* sd_secure — CURVE authentication and encryption of stemdyn's ZeroMQ links.
 *
 * With keys in the configuration (section `security`, certificates made with
 * `stemdyn keygen`), every socket a service binds is a CURVE server and every
 * socket that connects to one is a CURVE client:
 *
 *   server side  security.server_cert   the server's certificate (NAME; the
 *                                       secret half is read from NAME_secret)
 *                security.client_certs  directory of the public certificates of
 *                                       the clients that may connect
 *   client side  security.client_cert   the client's certificate (NAME + NAME_secret)
 *                security.server_public the server's public certificate
 *
 * A client whose key is not in client_certs, a client without keys (NULL
 * mechanism) and one that does not know the server's key are refused during
 * the handshake: they can neither send nor receive a single message.  Each
 * refusal is counted and logged (at most one line per 5 s per service, with
 * the number of further refusals).
 *
 * The authenticator is a ZAP handler (ZeroMQ RFC 27) on its own thread in the
 * service's libzmq context, so services keep their own contexts (czmq's zauth
 * only lives in czmq's global context, one per process).  The allowed
 * certificates are re-read when the directory changes: removing a client's
 * file revokes it for new connections. */
#ifndef SD_SECURE_H
#define SD_SECURE_H

#include "sd_config.h"
#include "sd_err.h"

#include <stdint.h>

typedef struct sd_secure sd_secure_t;

/* 1 when the configuration makes this process's bound sockets CURVE servers
 * (server_cert or client_certs set; sd_secure_new checks that both are). */
int sd_secure_server_wanted(const sd_config_security_t *sec);

/* Starts the authenticator for the libzmq context zctx (at most one per
 * context: ZAP's endpoint is per context).  `component` names the service in
 * log lines.  Loads and checks the server certificate and the client
 * directory.  NULL on failure (message in e).  The caller keeps zctx; call
 * sd_secure_destroy before zmq_ctx_term(zctx). */
sd_secure_t *sd_secure_new(void *zctx, const sd_config_security_t *sec, const char *component,
                           sd_err_t *e);

/* Stops the authenticator and closes its sockets (sockets served by it refuse
 * new handshakes from then on).  NULL-safe; NULLs *s. */
void sd_secure_destroy(sd_secure_t **s);

/* Makes the libzmq socket `sock` (of s's context) a CURVE server with this
 * deployment's key and watches its failed handshakes.  Call before
 * zmq_bind.  `what` names the endpoint in log lines.  s == NULL: nothing to
 * do (no keys configured), SD_OK.  The socket stays the caller's. */
int sd_secure_serve(sd_secure_t *s, void *sock, const char *what, sd_err_t *e);

/* Makes the libzmq socket `sock` a CURVE client (client_cert + server_public
 * from sec).  Call before zmq_connect.  Neither set: nothing to do, SD_OK;
 * one alone: SD_EINVAL; unreadable certificate: SD_ENOTFOUND. */
int sd_secure_client(void *sock, const sd_config_security_t *sec, sd_err_t *e);

/* Handshakes refused so far (ZAP denials and failed handshakes). */
uint64_t sd_secure_refused(const sd_secure_t *s);

#endif
