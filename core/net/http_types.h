/* http_types.h -- what the HTTP client (http_client) and its two engines
 * (http_plain: plain http:// on the loop; http_curl: libcurl for https://
 * and proxies) share: what a request is, what a response is, the limits,
 * and the per-label statistics for /metrics. */
#ifndef MCPD_HTTP_TYPES_H
#define MCPD_HTTP_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "lib/strmap.h"

/* A request in flight. Each engine's record starts with this. */
typedef struct http_client_req {
  int engine; /* HTTP_ENGINE_* */
} http_client_req;

enum { HTTP_ENGINE_PLAIN = 1, HTTP_ENGINE_CURL = 2 };

/* A response, borrowed by the callback: valid during it only. */
typedef struct http_client_resp {
  int status;
  const char *const *headers; /* "name: value", names in lower case */
  size_t n_headers;
  const char *body; /* NUL-terminated after body_len bytes */
  size_t body_len;
} http_client_resp;

/* err is 0 with resp, or a negative error with resp NULL: -ETIMEDOUT,
 * -ECONNREFUSED, -ECONNRESET (closed before a whole response), -EPROTO (not
 * HTTP, or not TLS on an https:// URL), -EKEYREJECTED (the server's
 * certificate was not accepted), -ECONNABORTED (the server refused the TLS
 * handshake: e.g. no or a foreign client certificate), -E2BIG (over
 * max_response_bytes), -EAGAIN (the wait queue is full), -ECANCELED,
 * -ESHUTDOWN, -EHOSTUNREACH (the name did not resolve), -EINVAL (a CA,
 * certificate or key file that cannot be used). why (borrowed, valid during
 * the callback; NULL on success) says in words what went wrong. */
typedef void (*http_client_cb)(void *arg, int err, const char *why, const http_client_resp *resp);

/* What to send. Everything is copied by http_client_request(). */
typedef struct http_client_params {
  const char *method;         /* "GET" */
  const char *url;            /* "http[s]://host[:port]/path?query", percent-encoded:
                                 spaces, controls and non-ASCII bytes are refused */
  const char *const *headers; /* "Name: value" lines; Host, Content-Length,
                                 Connection and Transfer-Encoding are the
                                 client's own and are skipped */
  size_t n_headers;
  const void *body;
  size_t body_len;
  unsigned timeout_ms;         /* the whole exchange; 0 = the client's default */
  unsigned connect_timeout_ms; /* 0 = the client's default */
  size_t max_response_bytes;   /* the body; 0 = the client's default */
  const char *label;           /* for metrics and logs ("shop"); NULL = host:port */
  void *owner;                 /* for http_client_drop_owner() */
  /* TLS and proxy; NULL: the defaults (the system's CA store, no client
   * certificate, HTTPS_PROXY/http_proxy/NO_PROXY from the environment). */
  const char *ca_file;          /* PEM CA certificates to verify the server with */
  const char *client_cert_file; /* PEM client certificate (mTLS) */
  const char *client_key_file;  /* its PEM key (NULL: in client_cert_file) */
  const char *proxy;            /* "http://proxy:3128"; "": none, whatever the environment */
  int insecure_skip_verify;     /* accept any server certificate (development only) */
} http_client_params;

typedef struct http_client_limits {
  unsigned max_conns_per_host; /* open connections to one origin */
  unsigned max_waiting;        /* requests queued for a connection, per origin */
  unsigned idle_ms;            /* an idle keep-alive connection is closed (plain) or not
                                  reused (curl) after this (default 4 s: under the 5 s
                                  of common servers, so the client, not the server,
                                  ends it) */
  unsigned timeout_ms, connect_timeout_ms;
  size_t max_response_bytes, max_header_bytes;
} http_client_limits;

/* Counters per label, for /metrics. */
typedef struct http_client_label_stats {
  char *label;
  uint64_t by_class[6]; /* 1xx..5xx responses (index 1-5), [0] = failures */
  uint64_t timeouts;
  double seconds; /* sum of durations of finished requests */
  uint64_t finished;
} http_client_label_stats;

/* A URL as http_types_check() split it. */
typedef struct http_url {
  int https;
  char host[256];     /* without the brackets of an IPv6 address */
  int port;           /* 80 or 443 when the URL has none */
  const char *target; /* into the URL: the path and query, maybe "" */
} http_url;

/* What both engines check before anything is sent: a method that is an
 * upper-case token, an http:// or https:// URL with no byte that would go
 * verbatim on the wire (spaces, controls, non-ASCII), no credentials, a
 * sane host and port; header lines "Name: value" with a token for a name
 * and no control byte in the value; no body_len without a body. Splits the
 * URL into *u (u->target points into p->url). Returns 0, -EINVAL or
 * -EPROTONOSUPPORT with a message in err (size n). Any thread. */
int http_types_check(const http_client_params *p, http_url *u, char *err, size_t n);

/* Whether a plugin's header line is one the client writes itself (Host,
 * Content-Length, Connection, Transfer-Encoding): those are skipped. */
int http_types_header_is_ours(const char *line, size_t name_len);

/* The statistics of every label, shared by the engines. */
typedef struct http_label_table {
  strmap map; /* label -> http_client_label_stats */
  http_client_label_stats **all;
  size_t n, cap;
} http_label_table;

/* The record of label (borrowed; created on first use), or NULL when out
 * of memory. Loop thread. */
http_client_label_stats *http_types_label(http_label_table *t, const char *label);

/* Counts one finished request of label: err 0 with its status, or a
 * failure. Loop thread. */
void http_types_count(http_label_table *t, const char *label, int err, int status, double seconds);

void http_types_free(http_label_table *t);

#endif
