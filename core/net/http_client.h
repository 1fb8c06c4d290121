/* http_client.h -- the asynchronous HTTP client on the loop, for plugins
 * (through the host table) that call HTTP services without blocking. Two
 * engines behind one interface: plain http:// goes through http_plain (a
 * small HTTP/1.1 client written for this loop: it keeps plain backends as
 * fast as before), and https://, or anything through a proxy, through
 * http_curl (libcurl's multi interface on the loop: TLS, client
 * certificates, proxies, HTTP/2). Both keep keep-alive pools per origin
 * with a size limit and a bounded wait, a connect timeout and one for the
 * whole exchange, a response size cap, and per-label statistics.
 * Loop thread only. */
#ifndef MCPD_HTTP_CLIENT_H
#define MCPD_HTTP_CLIENT_H

#include <uv.h>

#include "lib/log.h"
#include "net/http_curl.h"
#include "net/http_plain.h"
#include "net/http_types.h"

typedef struct http_client {
  http_client_limits limits;
  http_label_table stats;
  http_plain plain;
  http_curl curl;
  unsigned n_live; /* requests not yet completed, of both engines */
  int env_proxy;   /* http_proxy or ALL_PROXY is set: plain http:// goes through curl too */
  int curl_ok;     /* http_curl_init() succeeded */
  int closed;
} http_client;

/* Sets the client up with lim (copied; zero fields take defaults; NULL:
 * all defaults). Returns 0 or a negative error. lg is borrowed and must
 * outlive the client. */
int http_client_init(http_client *c, uv_loop_t *loop, const logger *lg,
                     const http_client_limits *lim);

/* Starts a request: p (borrowed, copied). cb runs exactly once, on the
 * loop, never from inside this function. Returns 0 and sets *out (may be
 * NULL; valid until cb starts) for http_client_cancel(); or -EINVAL (a bad
 * URL or header, with a message in err, size n), -EPROTONOSUPPORT (a scheme
 * other than http:// and https://), -ESHUTDOWN, -ENOMEM: then cb never
 * runs. */
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
