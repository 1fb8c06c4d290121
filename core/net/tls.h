/* tls.h -- the HTTPS listener's TLS, on OpenSSL 3 with memory BIOs: the
 * connection code moves ciphertext between the socket and a tls_conn, and
 * plaintext between the tls_conn and its parser, so TLS rides the same
 * libuv reads and writes (and the same limits) as plain HTTP.
 *
 * A tls_ctx is one certificate, key and optional client CA, checked when
 * built. Every tls_conn holds its own reference to the context it was made
 * from (OpenSSL counts them), so a new context (a reload) serves new
 * connections while open ones keep theirs.
 *
 * Policy: TLS 1.2 or 1.3; for 1.2 only ECDHE key exchange with AEAD
 * ciphers, for 1.3 OpenSSL's defaults; ALPN http/1.1 only (a client that
 * offers ALPN without it is refused); no renegotiation, no compression;
 * session tickets on. Loop thread only. */
#ifndef MCPD_TLS_H
#define MCPD_TLS_H

#include <stddef.h>

typedef struct tls_ctx tls_ctx;
typedef struct tls_conn tls_conn;

/* Builds a context from PEM files: cert_file (the certificate, then any
 * intermediates), key_file (its unencrypted private key), client_ca_file
 * (NULL: no client certificates; else every client must present one that
 * chains to a CA in it). Strings are borrowed. Returns 0 with *out (owned:
 * tls_ctx_free()), or -ENOENT/-EACCES (a file cannot be read), -EINVAL (not
 * PEM, key does not match) or -ENOMEM, with a sentence naming the setting
 * and the file in err (size n). */
int tls_ctx_new(const char *cert_file, const char *key_file, const char *client_ca_file,
                tls_ctx **out, char *err, size_t n);

/* What the context serves, for a log line: the certificate's subject and
 * expiry, e.g. `subject="CN=mcp.example" not_after=2027-01-31T12:00:00Z`
 * (escaped for the log). Writes into out (size n). ctx is borrowed. */
void tls_ctx_describe(const tls_ctx *ctx, char *out, size_t n);

/* Drops the caller's reference (NULL is a no-op); connections made from it
 * keep theirs. */
void tls_ctx_free(tls_ctx *ctx);

/* A server-side connection of ctx (borrowed; the connection takes its own
 * reference). Returns it (owned: tls_conn_free()) or NULL when out of
 * memory. */
tls_conn *tls_conn_new(tls_ctx *ctx);

void tls_conn_free(tls_conn *t);

/* Hands ciphertext read from the socket (borrowed, copied) to t. Returns 0
 * or -ENOMEM. */
int tls_conn_feed(tls_conn *t, const char *data, size_t len);

/* Advances the handshake on what has been fed. Returns 1 when it is
 * complete, 0 when it needs more input, or -EPROTO when it failed (see
 * tls_conn_error()). Either way, output may wait (tls_conn_output()). */
int tls_conn_handshake(tls_conn *t);

/* Decrypts into out (size n). Returns the bytes written (> 0), 0 when a
 * whole record has not arrived yet, -ECONNRESET when the client sent
 * close_notify, or -EPROTO on an error. */
int tls_conn_read(tls_conn *t, char *out, size_t n);

/* Encrypts len bytes (borrowed) into the output. Returns 0, -ENOMEM or
 * -EPROTO. */
int tls_conn_write(tls_conn *t, const char *data, size_t len);

/* Queues close_notify into the output (after a complete handshake). */
void tls_conn_shutdown(tls_conn *t);

/* The ciphertext waiting to be sent: sets *data (borrowed, valid until the
 * next call on t) and returns its length. */
size_t tls_conn_output(tls_conn *t, const char **data);

/* Forgets the output, once it has been sent or copied. */
void tls_conn_output_done(tls_conn *t);

/* Why the handshake or a read failed, in words ("" when it did not). The
 * string is borrowed from t. */
const char *tls_conn_error(const tls_conn *t);

/* Whether the failure was plain HTTP sent to the TLS port. */
int tls_conn_plain_http(const tls_conn *t);

/* The subject of the client's verified certificate as an RFC 2253 string
 * ("CN=alice,O=Example"), borrowed from t; NULL when the client presented
 * none (client certificates off) or before the handshake completed. */
const char *tls_conn_peer_subject(const tls_conn *t);

#endif
