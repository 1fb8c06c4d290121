/* http_curl.h -- the HTTP client's engine for https:// and for requests
 * through a proxy: libcurl's multi interface driven by the libuv loop
 * (curl's multi-socket pattern). TLS 1.2 and 1.3 with SNI, the system's CA
 * store unless a CA file is given, client certificates, HTTP/2 where the
 * server offers it, proxies (one per request, or HTTPS_PROXY, http_proxy
 * and NO_PROXY from the environment), curl's connection cache with a limit
 * per origin, a bounded wait, the connect and whole-exchange timeouts, a
 * response size cap, and failures put in words. Used through http_client.
 * Loop thread only. */
#ifndef MCPD_HTTP_CURL_H
#define MCPD_HTTP_CURL_H

#include <uv.h>

#include "lib/list.h"
#include "lib/log.h"
#include "lib/strmap.h"
#include "net/http_types.h"

#define HTTP_CURL_SPARE 64 /* easy handles kept for reuse */

typedef struct http_curl {
  uv_loop_t *loop;
  const logger *log;
  http_client_limits limits;
  http_label_table *stats; /* borrowed from http_client */
  unsigned *n_live;        /* borrowed: requests not yet completed, of both engines */
  void *multi;             /* libcurl's CURLM, kept out of this header */
  uv_timer_t timer;        /* curl's own timeouts */
  strmap origins;          /* "scheme://host:port" -> origin: requests in flight */
  list_node origin_list;
  list_node done;      /* requests to complete on the next turn */
  list_node live;      /* every request not yet delivered */
  list_node socks;     /* every socket curl opened and has not closed */
  struct sock **by_fd; /* the same, by descriptor */
  size_t n_by_fd;
  void *spare[HTTP_CURL_SPARE]; /* curl easy handles to reuse */
  unsigned n_spare;
  uv_idle_t done_idle;
  unsigned in_request; /* inside http_curl_request(): completions wait a turn */
  unsigned in_curl;    /* inside curl_multi_socket_action() */
  int started;         /* libcurl is set up (at the first request) */
  int closed;
} http_curl;

/* Sets the engine up with lim (copied, defaults already filled in); stats
 * and n_live (borrowed) belong to the http_client and must outlive it.
 * Returns 0 or -ENOMEM. */
int http_curl_init(http_curl *c, uv_loop_t *loop, const logger *lg, const http_client_limits *lim,
                   http_label_table *stats, unsigned *n_live);

/* As http_client_request(); *out is the request's head. */
int http_curl_request(http_curl *c, const http_client_params *p, http_client_cb cb, void *arg,
                      http_client_req **out, char *err, size_t n);

/* As http_client_cancel(), for a request of this engine. */
void http_curl_cancel(http_client_req *r);

unsigned http_curl_drop_owner(http_curl *c, void *owner);

/* Ends every request with -ESHUTDOWN and closes every connection; the loop
 * must run afterwards to close the handles, then http_curl_free(). */
void http_curl_close(http_curl *c);

void http_curl_free(http_curl *c);

#endif
