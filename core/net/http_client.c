/* http_client.c -- one interface, two engines: which request goes where. */
#include "net/http_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TIMEOUT_MS  30000
#define DEFAULT_CONNECT_MS  5000
#define DEFAULT_MAX_BODY    (10u << 20)
#define DEFAULT_MAX_HEADERS (64u << 10)
#define DEFAULT_IDLE_MS     4000

/* Set and not empty. */
static int env_set(const char *name) {
  const char *v = getenv(name);
  return v != NULL && v[0] != '\0';
}

int http_client_init(http_client *c, uv_loop_t *loop, const logger *lg,
                     const http_client_limits *lim) {
  int r;
  memset(c, 0, sizeof(*c));
  if (lim != NULL)
    c->limits = *lim;
  if (c->limits.max_conns_per_host == 0)
    c->limits.max_conns_per_host = 64;
  if (c->limits.max_waiting == 0)
    c->limits.max_waiting = 4096;
  if (c->limits.timeout_ms == 0)
    c->limits.timeout_ms = DEFAULT_TIMEOUT_MS;
  if (c->limits.connect_timeout_ms == 0)
    c->limits.connect_timeout_ms = DEFAULT_CONNECT_MS;
  if (c->limits.max_response_bytes == 0)
    c->limits.max_response_bytes = DEFAULT_MAX_BODY;
  if (c->limits.max_header_bytes == 0)
    c->limits.max_header_bytes = DEFAULT_MAX_HEADERS;
  if (c->limits.idle_ms == 0)
    c->limits.idle_ms = DEFAULT_IDLE_MS;
  /* curl's rule for http:// (read once: the environment does not change
   * under a running daemon). Upper-case HTTP_PROXY is ignored for http://,
   * as curl does, because a CGI-style HTTP_PROXY can come from a request. */
  c->env_proxy = env_set("http_proxy") || env_set("ALL_PROXY") || env_set("all_proxy");
  r = http_plain_init(&c->plain, loop, lg, &c->limits, &c->stats, &c->n_live);
  if (r < 0)
    return r;
  r = http_curl_init(&c->curl, loop, lg, &c->limits, &c->stats, &c->n_live);
  c->curl_ok = r == 0;
  return r;
}

/* curl for https://, a proxy, or an environment with a proxy for http://;
 * the plain engine for the rest. */
static int wants_curl(const http_client *c, const http_client_params *p) {
  if (p->url != NULL && strncasecmp(p->url, "https://", 8) == 0)
    return 1;
  if (p->proxy != NULL)
    return p->proxy[0] != '\0';
  return c->env_proxy;
}

int http_client_request(http_client *c, const http_client_params *p, http_client_cb cb, void *arg,
                        http_client_req **out, char *err, size_t n) {
  if (out != NULL)
    *out = NULL;
  if (c->closed) {
    snprintf(err, n, "mcpd is stopping");
    return -ESHUTDOWN;
  }
  if (p == NULL || cb == NULL) {
    snprintf(err, n, "method, url and callback are required");
    return -EINVAL;
  }
  if (wants_curl(c, p))
    return http_curl_request(&c->curl, p, cb, arg, out, err, n);
  return http_plain_request(&c->plain, p, cb, arg, out, err, n);
}

void http_client_cancel(http_client_req *r) {
  if (r == NULL)
    return;
  if (r->engine == HTTP_ENGINE_CURL)
    http_curl_cancel(r);
  else
    http_plain_cancel(r);
}

unsigned http_client_drop_owner(http_client *c, void *owner) {
  return http_plain_drop_owner(&c->plain, owner) + http_curl_drop_owner(&c->curl, owner);
}

void http_client_close(http_client *c) {
  if (c->closed)
    return;
  c->closed = 1;
  http_plain_close(&c->plain);
  if (c->curl_ok)
    http_curl_close(&c->curl);
}

void http_client_free(http_client *c) {
  http_plain_free(&c->plain);
  if (c->curl_ok)
    http_curl_free(&c->curl);
  http_types_free(&c->stats);
  memset(c, 0, sizeof(*c));
}

http_client_label_stats *const *http_client_stats(const http_client *c, size_t *n) {
  *n = c->stats.n;
  return c->stats.all;
}
