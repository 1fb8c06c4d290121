/* http_client.h -- an asynchronous HTTP/1.1 client on the loop, for plugins
 * (through the host table) that call HTTP services without blocking: one
 * keep-alive connection pool per host:port with a size limit and a bounded
 * wait queue, DNS with uv_getaddrinfo, a connect timeout and a timeout for
 * the whole exchange, responses parsed with llhttp (Content-Length, chunked
 * or close-delimited) up to a size cap. http:// only. Loop thread only. */
#ifndef MCPD_HTTP_CLIENT_H
#define MCPD_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "lib/list.h"
#include "lib/log.h"
#include "lib/strmap.h"

typedef struct http_client http_client;
typedef struct http_client_req http_client_req;

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
 * HTTP), -E2BIG (over max_response_bytes), -EAGAIN (the wait queue is
 * full), -ECANCELED, -ESHUTDOWN, a DNS failure (-EHOSTUNREACH). */
typedef void (*http_client_cb)(void *arg, int err, const http_client_resp *resp);

/* What to send. Everything is copied by http_client_request(). */
typedef struct http_client_params {
  const char *method;         /* "GET" */
  const char *url;            /* "http://host[:port]/path?query", percent-encoded:
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
} http_client_params;

typedef struct http_client_limits {
  unsigned max_conns_per_host; /* open connections to one host:port */
  unsigned max_waiting;        /* requests queued for a connection, per host:port */
  unsigned idle_ms;            /* an idle keep-alive connection is closed after this
                                  (default 4 s: under the 5 s of common servers, so
                                  the client, not the server, ends it) */
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

struct http_client {
  uv_loop_t *loop;
  const logger *log;
  http_client_limits limits;
  strmap origins;        /* "host:port" -> origin */
  list_node origin_list; /* all origins */
  list_node done;        /* requests to complete on the next turn */
  list_node live;        /* every request not yet delivered */
  list_node conns;       /* every open connection */
  uv_idle_t done_idle;
  strmap label_map; /* label -> http_client_label_stats */
  http_client_label_stats **labels;
  size_t n_labels, cap_labels;
  unsigned n_live;     /* requests not yet completed */
  unsigned in_request; /* inside http_client_request(): completions wait a turn */
  int closed;
};

/* Sets the client up with lim (copied; zero fields take defaults). Returns
 * 0 or a negative error. lg is borrowed and must outlive the client. */
int http_client_init(http_client *c, uv_loop_t *loop, const logger *lg,
                     const http_client_limits *lim);

/* Starts a request: p (borrowed, copied). cb runs exactly once, on the
 * loop, never from inside this function. Returns 0 and sets *out (may be
 * NULL; valid until cb starts) for http_client_cancel(); or -EINVAL (a bad
 * URL or header, with a message in err, size n), -EPROTONOSUPPORT (https://
 * or another scheme), -ESHUTDOWN, -ENOMEM: then cb never runs. */
int http_client_request(http_client *c, const http_client_params *p, http_client_cb cb, void *arg,
                        http_client_req **out, char *err, size_t n);

/* Aborts a request whose cb has not run: cb runs with -ECANCELED on the
 * next loop turn. Its connection, if it had one, is closed. */
void http_client_cancel(http_client_req *r);

/* Forgets every request of owner without calling its cb (the owner is
 * going away and can no longer take callbacks). Returns how many. */
unsigned http_client_drop_owner(http_client *c, void *owner);

/* Completes every request with -ESHUTDOWN (callbacks run before it
 * returns) and closes all connections. The loop must run afterwards to
 * finish closing them; then http_client_free(). */
void http_client_close(http_client *c);

/* Frees what is left once the loop has closed the handles. */
void http_client_free(http_client *c);

/* Returns the label statistics (borrowed; n in *n). */
http_client_label_stats *const *http_client_stats(const http_client *c, size_t *n);

#endif
