/* tls.c -- TLS for the listener: SSL_CTX from PEM files, and per-connection
 * SSL objects on memory BIOs. */
#include "net/tls.h"

#include "lib/log.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* An output BIO that grew past this (a large response) is replaced rather
 * than reset: resetting a memory BIO clears its whole allocation. */
#define WBIO_KEEP_BYTES (64 * 1024)
#define SUBJECT_MAX     1024

/* TLS 1.2: ECDHE key exchange and AEAD ciphers only. */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"

struct tls_ctx {
  SSL_CTX *ssl;
};

struct tls_conn {
  SSL *ssl;
  BIO *wbio;     /* owned by ssl */
  char *subject; /* owned; the verified client certificate's subject */
  int first;     /* the first byte the client sent; -1 before any */
  int plain_http;
  char error[200];
};

/* ---- contexts --------------------------------------------------------------- */

/* Keys with a passphrase are refused: the daemon has nobody to ask, and
 * OpenSSL's default would prompt on the terminal. */
static int no_passphrase(char *out, int size, int rwflag, void *u) {
  (void)out, (void)size, (void)rwflag, (void)u;
  return -1;
}

/* ALPN: http/1.1 or nothing. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg) {
  static const unsigned char h11[] = "http/1.1";
  unsigned i = 0;
  (void)ssl, (void)arg;
  while (i < inlen) {
    unsigned len = in[i];
    if (len > inlen - i - 1)
      break;
    if (len == sizeof(h11) - 1 && memcmp(in + i + 1, h11, len) == 0) {
      *out = h11;
      *outlen = (unsigned char)len;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL; /* RFC 7301: no_application_protocol */
}

/* The oldest OpenSSL reason in the queue (the root cause), in words. */
static const char *ssl_reason(void) {
  const char *r = ERR_reason_error_string(ERR_peek_error());
  return r != NULL ? r : "unknown error";
}

/* Whether the error queue holds this library's reason (OpenSSL wraps a
 * cause in errors of its own, such as "PEM lib", so the newest says
 * little). */
static int err_has(int lib, int reason) {
  unsigned long e;
  int flags, line, i = 0;
  const char *file, *data;
  while ((e = ERR_peek_error_all(&file, &line, NULL, &data, &flags)) != 0 && i++ < 32) {
    if (ERR_GET_LIB(e) == lib && ERR_GET_REASON(e) == reason)
      return 1;
    ERR_get_error(); /* the next one; the caller clears the rest anyway */
  }
  return 0;
}

/* Whether `path` can be opened: else a sentence about it in err. */
static int check_readable(const char *setting, const char *path, char *err, size_t n) {
  FILE *f = fopen(path, "r");
  int e = errno;
  if (f != NULL) {
    fclose(f);
    return 0;
  }
  snprintf(err, n, "tls.%s \"%s\": %s", setting, path, strerror(e));
  return e == EACCES ? -EACCES : -ENOENT;
}

static int load_cert(SSL_CTX *ssl, const char *file, char *err, size_t n) {
  const char *why;
  if (SSL_CTX_use_certificate_chain_file(ssl, file) == 1)
    return 0;
  why = ssl_reason();
  if (err_has(ERR_LIB_PEM, PEM_R_NO_START_LINE))
    snprintf(err, n, "tls.cert_file \"%s\": not a PEM certificate (no BEGIN CERTIFICATE line)",
             file);
  else
    snprintf(err, n, "tls.cert_file \"%s\": the certificate does not load: %s", file, why);
  return -EINVAL;
}

static int load_key(SSL_CTX *ssl, const char *key_file, const char *cert_file, char *err,
                    size_t n) {
  static const char mismatch[] =
      "tls.key_file \"%s\" does not match the certificate in tls.cert_file \"%s\"";
  const char *why;
  if (SSL_CTX_use_PrivateKey_file(ssl, key_file, SSL_FILETYPE_PEM) == 1) {
    if (SSL_CTX_check_private_key(ssl) == 1)
      return 0;
    snprintf(err, n, mismatch, key_file, cert_file);
    return -EINVAL;
  }
  why = ssl_reason();
  if (err_has(ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH))
    snprintf(err, n, mismatch, key_file, cert_file);
  else if (strstr(why, "bad decrypt") != NULL || strstr(why, "password") != NULL ||
           strstr(why, "interrupted") != NULL) /* no_passphrase() said no */
    snprintf(err, n,
             "tls.key_file \"%s\": the key is encrypted; mcpd needs it without a passphrase",
             key_file);
  else if (strstr(why, "no start line") != NULL || strstr(why, "unsupported") != NULL ||
           strstr(why, "decoder") != NULL)
    snprintf(err, n, "tls.key_file \"%s\": not a PEM private key (no BEGIN PRIVATE KEY line)",
             key_file);
  else
    snprintf(err, n, "tls.key_file \"%s\": the private key does not load: %s", key_file, why);
  return -EINVAL;
}

static int load_client_ca(SSL_CTX *ssl, const char *file, char *err, size_t n) {
  STACK_OF(X509_NAME) * names;
  if (SSL_CTX_load_verify_file(ssl, file) != 1) {
    snprintf(err, n, "tls.client_ca_file \"%s\": no PEM certificate in it (%s)", file,
             ssl_reason());
    return -EINVAL;
  }
  /* Told to the client, so it picks a certificate these CAs issued. */
  names = SSL_load_client_CA_file(file);
  if (names == NULL) {
    snprintf(err, n, "tls.client_ca_file \"%s\": no PEM certificate in it", file);
    return -EINVAL;
  }
  SSL_CTX_set_client_CA_list(ssl, names);
  SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  return 0;
}

int tls_ctx_new(const char *cert_file, const char *key_file, const char *client_ca_file,
                tls_ctx **out, char *err, size_t n) {
  static const unsigned char sid_ctx[] = "mcpd";
  tls_ctx *ctx;
  SSL_CTX *ssl;
  int r;

  *out = NULL;
  if ((r = check_readable("cert_file", cert_file, err, n)) < 0 ||
      (r = check_readable("key_file", key_file, err, n)) < 0 ||
      (client_ca_file != NULL &&
       (r = check_readable("client_ca_file", client_ca_file, err, n)) < 0))
    return r;
  ctx = calloc(1, sizeof(*ctx));
  ssl = SSL_CTX_new(TLS_server_method());
  if (ctx == NULL || ssl == NULL) {
    free(ctx);
    SSL_CTX_free(ssl);
    snprintf(err, n, "tls: out of memory");
    return -ENOMEM;
  }
  ERR_clear_error();
  SSL_CTX_set_default_passwd_cb(ssl, no_passphrase);
  SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
  SSL_CTX_set_options(ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  /* Idle connections keep no record buffers (about 34 KiB each). */
  SSL_CTX_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
  /* One ticket is all a client resumes with. */
  SSL_CTX_set_num_tickets(ssl, 1);
  /* Resumption with client certificates needs a session id context. */
  SSL_CTX_set_session_id_context(ssl, sid_ctx, sizeof(sid_ctx) - 1);
  SSL_CTX_set_alpn_select_cb(ssl, alpn_select, NULL);
  if (SSL_CTX_set_cipher_list(ssl, TLS12_CIPHERS) != 1) {
    snprintf(err, n, "tls: the cipher list is refused: %s", ssl_reason());
    r = -EINVAL;
  } else if ((r = load_cert(ssl, cert_file, err, n)) == 0 &&
             (r = load_key(ssl, key_file, cert_file, err, n)) == 0 && client_ca_file != NULL) {
    r = load_client_ca(ssl, client_ca_file, err, n);
  }
  ERR_clear_error();
  if (r < 0) {
    SSL_CTX_free(ssl);
    free(ctx);
    return r;
  }
  ctx->ssl = ssl;
  *out = ctx;
  return 0;
}

/* The RFC 2253 form of name into a new string (owned), or NULL. */
static char *name_string(const X509_NAME *name) {
  BIO *b = BIO_new(BIO_s_mem());
  char *data, *s = NULL;
  long len;
  if (b == NULL)
    return NULL;
  if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
    len = BIO_get_mem_data(b, &data);
    if (len > SUBJECT_MAX)
      len = SUBJECT_MAX;
    s = strndup(data != NULL ? data : "", len > 0 ? (size_t)len : 0);
  }
  BIO_free(b);
  return s;
}

void tls_ctx_describe(const tls_ctx *ctx, char *out, size_t n) {
  X509 *cert = SSL_CTX_get0_certificate(ctx->ssl);
  char *subject = cert ? name_string(X509_get_subject_name(cert)) : NULL;
  char esc[300], when[32] = "?";
  struct tm tm;

  if (cert != NULL && ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
  snprintf(out, n, "subject=%s not_after=%s client_certificates=%s",
           log_escape(subject, esc, sizeof(esc)), when,
           SSL_CTX_get_verify_mode(ctx->ssl) & SSL_VERIFY_PEER ? "required" : "off");
  free(subject);
}

void tls_ctx_free(tls_ctx *ctx) {
  if (ctx == NULL)
    return;
  SSL_CTX_free(ctx->ssl); /* connections hold their own references */
  free(ctx);
}

/* ---- connections ------------------------------------------------------------ */

tls_conn *tls_conn_new(tls_ctx *ctx) {
  tls_conn *t = calloc(1, sizeof(*t));
  BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
  if (t == NULL || rbio == NULL || wbio == NULL || (t->ssl = SSL_new(ctx->ssl)) == NULL) {
    BIO_free(rbio);
    BIO_free(wbio);
    free(t);
    return NULL;
  }
  /* An empty input is "wait for more", not the end of the stream. */
  BIO_set_mem_eof_return(rbio, -1);
  SSL_set_bio(t->ssl, rbio, wbio);
  SSL_set_accept_state(t->ssl);
  t->wbio = wbio;
  t->first = -1;
  return t;
}

void tls_conn_free(tls_conn *t) {
  if (t == NULL)
    return;
  SSL_free(t->ssl);
  free(t->subject);
  free(t);
}

int tls_conn_feed(tls_conn *t, const char *data, size_t len) {
  if (len == 0)
    return 0;
  if (t->first < 0)
    t->first = (unsigned char)data[0];
  while (len > 0) {
    int chunk = len > (1u << 30) ? 1 << 30 : (int)len;
    if (BIO_write(SSL_get_rbio(t->ssl), data, chunk) != chunk)
      return -ENOMEM;
    data += chunk;
    len -= (size_t)chunk;
  }
  return 0;
}

/* Puts why the last operation failed (its SSL_get_error() code e) into
 * t->error, and clears OpenSSL's queue. */
static void note_error(tls_conn *t, int e) {
  unsigned long code = ERR_peek_error();
  long verify = SSL_get_verify_result(t->ssl);

  /* A TLS record starts with its type (22 for a handshake); an HTTP
   * request with a capital letter. */
  if (t->first >= 'A' && t->first <= 'Z' && !SSL_is_init_finished(t->ssl)) {
    t->plain_http = 1;
    snprintf(t->error, sizeof(t->error), "plain HTTP sent to the TLS port");
  } else if (e == SSL_ERROR_SSL && code != 0) {
    const char *r = ERR_reason_error_string(code);
    if (ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED && verify != X509_V_OK)
      snprintf(t->error, sizeof(t->error), "%s: %s", r ? r : "certificate verify failed",
               X509_verify_cert_error_string(verify));
    else
      snprintf(t->error, sizeof(t->error), "%s", r ? r : "protocol error");
  } else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) {
    snprintf(t->error, sizeof(t->error), "the client closed the connection");
  } else {
    snprintf(t->error, sizeof(t->error), "TLS error %d", e);
  }
  ERR_clear_error();
}

/* The verified client certificate's subject, once the handshake is done. */
static void take_subject(tls_conn *t) {
  X509 *peer;
  if (!(SSL_get_verify_mode(t->ssl) & SSL_VERIFY_PEER) || t->subject != NULL)
    return;
  peer = SSL_get0_peer_certificate(t->ssl);
  if (peer != NULL && SSL_get_verify_result(t->ssl) == X509_V_OK)
    t->subject = name_string(X509_get_subject_name(peer));
}

int tls_conn_handshake(tls_conn *t) {
  int r, e;
  ERR_clear_error(); /* SSL_get_error() reads the thread's queue */
  r = SSL_do_handshake(t->ssl);
  if (r == 1) {
    take_subject(t);
    return 1;
  }
  e = SSL_get_error(t->ssl, r);
  if (e == SSL_ERROR_WANT_READ) {
    if (t->first >= 'A' && t->first <= 'Z') { /* fail at once, not at the timeout */
      note_error(t, e);
      return -EPROTO;
    }
    return 0;
  }
  note_error(t, e);
  return -EPROTO;
}

int tls_conn_read(tls_conn *t, char *out, size_t n) {
  int r, e;
  ERR_clear_error();
  r = SSL_read(t->ssl, out, n > INT32_MAX ? INT32_MAX : (int)n);
  if (r > 0)
    return r;
  e = SSL_get_error(t->ssl, r);
  if (e == SSL_ERROR_WANT_READ)
    return 0;
  if (e == SSL_ERROR_ZERO_RETURN)
    return -ECONNRESET;
  note_error(t, e);
  return -EPROTO;
}

int tls_conn_write(tls_conn *t, const char *data, size_t len) {
  while (len > 0) {
    int chunk = len > (1u << 30) ? 1 << 30 : (int)len, r;
    ERR_clear_error();
    r = SSL_write(t->ssl, data, chunk);
    if (r <= 0) {
      note_error(t, SSL_get_error(t->ssl, r));
      return -EPROTO;
    }
    data += r;
    len -= (size_t)r;
  }
  return 0;
}

void tls_conn_shutdown(tls_conn *t) {
  if (!SSL_is_init_finished(t->ssl))
    return;
  ERR_clear_error();
  SSL_shutdown(t->ssl);
  ERR_clear_error();
}

size_t tls_conn_output(tls_conn *t, const char **data) {
  char *p = NULL;
  long len = BIO_get_mem_data(t->wbio, &p);
  *data = p;
  return len > 0 ? (size_t)len : 0;
}

void tls_conn_output_done(tls_conn *t) {
  BUF_MEM *mem = NULL;
  BIO *fresh;
  BIO_get_mem_ptr(t->wbio, &mem);
  if (mem != NULL && mem->max > WBIO_KEEP_BYTES && (fresh = BIO_new(BIO_s_mem())) != NULL) {
    SSL_set0_wbio(t->ssl, fresh); /* frees the old one */
    t->wbio = fresh;
    return;
  }
  (void)BIO_reset(t->wbio);
}

const char *tls_conn_error(const tls_conn *t) {
  return t->error;
}

int tls_conn_plain_http(const tls_conn *t) {
  return t->plain_http;
}

const char *tls_conn_peer_subject(const tls_conn *t) {
  return t->subject;
}
