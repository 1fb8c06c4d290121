/* http_plain.h -- the HTTP client's engine for plain http:// without a
 * proxy: HTTP/1.1 written and parsed here (llhttp), one keep-alive
 * connection pool per host:port with a size limit and a bounded wait queue,
 * DNS with uv_getaddrinfo, every resolved address tried in turn, a connect
 * timeout and one for the whole exchange, a response size cap. It skips
 * the two poll() calls libcurl makes per transfer (measured: 5.7 system
 * calls per proxied request here against 7.5 through curl), so plain HTTP
 * backends keep their speed. Used through http_client. Loop thread
 * only. */
#ifndef MCPD_HTTP_PLAIN_H
#define MCPD_HTTP_PLAIN_H

#include <uv.h>

#include "lib/list.h"
#include "lib/log.h"
#include "lib/strmap.h"
#include "net/http_types.h"

typedef struct http_plain {
  uv_loop_t *loop;
  const logger *log;
  http_client_limits limits;
  strmap origins;        /* "host:port" -> origin */
  list_node origin_list; /* all origins */
  list_node done;        /* requests to complete on the next turn */
  list_node live;        /* every request not yet delivered */
  list_node conns;       /* every open connection */
  uv_idle_t done_idle;
  http_label_table *stats; /* borrowed from http_client */
  unsigned *n_live;        /* borrowed: requests not yet completed, of both engines */
  unsigned in_request;     /* inside http_client_request(): completions wait a turn */
  int closed;
} http_plain;

/* Sets the engine up with lim (copied, defaults already filled in); stats
 * and n_live (borrowed) belong to the http_client and must outlive it.
 * Returns 0. */
int http_plain_init(http_plain *c, uv_loop_t *loop, const logger *lg, const http_client_limits *lim,
                    http_label_table *stats, unsigned *n_live);

/* As http_client_request(), for http:// URLs; *out is the request's head. */
int http_plain_request(http_plain *c, const http_client_params *p, http_client_cb cb, void *arg,
                       http_client_req **out, char *err, size_t n);

/* As http_client_cancel(), for a request of this engine. */
void http_plain_cancel(http_client_req *r);

unsigned http_plain_drop_owner(http_plain *c, void *owner);

/* Ends every request with -ESHUTDOWN and closes every connection; the loop
 * must run afterwards to close the handles, then http_plain_free(). */
void http_plain_close(http_plain *c);

void http_plain_free(http_plain *c);

#endif
