/* auth_gate.c -- bearer tokens on the HTTP routes. */
#include "transport/auth_gate.h"

#include "lib/json_write.h"
#include "mcp/authz.h"
#include "mcp/jsonrpc.h"
#include "net/http_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WELL_KNOWN "/.well-known/oauth-protected-resource"

/* A request waiting for its token. */
typedef struct gate_wait {
  auth_gate *g;
  auth_wait *w;
  auth_gate_resume_fn resume;
  void *arg;
  char extra[512];
} gate_wait;

/* Failed authentications an address may make: a burst, then a few a
 * second. Guessing and made-up tokens (each may cost a signature check or
 * an introspection) get 429 beyond it. */
#define FAIL_RATE  20
#define FAIL_BURST 40

/* ---- addresses and URLs --------------------------------------------------- */

static int peer_sockaddr(const http_req *req, struct sockaddr_storage *ss) {
  char peer[80], *colon;
  memset(ss, 0, sizeof(*ss));
  http_req_peer(req, peer, sizeof(peer));
  colon = strrchr(peer, ':');
  if (colon == NULL || peer[0] == '?')
    return -1;
  *colon = '\0';
  if (inet_pton(AF_INET, peer, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
    ss->ss_family = AF_INET;
    return 0;
  }
  if (inet_pton(AF_INET6, peer, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
    ss->ss_family = AF_INET6;
    return 0;
  }
  return -1;
}

static int trusted_peer(const auth_gate *g, const http_req *req) {
  struct sockaddr_storage ss;
  size_t i;
  if (g->n_proxies == 0 || peer_sockaddr(req, &ss) < 0)
    return 0;
  for (i = 0; i < g->n_proxies; i++) {
    if (cidr_match(&g->proxies[i], (const struct sockaddr *)&ss))
      return 1;
  }
  return 0;
}

/* A header a proxy sets, only as one value: a list means something was
 * added on the way. */
static const char *single_header(const http_req *req, const char *name, size_t *len) {
  const char *v = http_req_header(req, name, len);
  if (v == NULL || *len == 0 || memchr(v, ',', *len) != NULL)
    return NULL;
  return v;
}

/* "scheme://host[:port]" of req, lower case, without a default port. */
static int req_origin(const auth_gate *g, const http_req *req, char *out, size_t n) {
  const char *scheme = g->tls ? "https" : "http", *host = NULL, *name;
  size_t host_len = 0, name_len, i, o;
  int trusted = trusted_peer(g, req);
  if (trusted) {
    size_t pl;
    const char *proto = single_header(req, "x-forwarded-proto", &pl);
    if (proto != NULL && http_util_ieq(proto, pl, "https"))
      scheme = "https";
    else if (proto != NULL && http_util_ieq(proto, pl, "http"))
      scheme = "http";
    host = single_header(req, "x-forwarded-host", &host_len);
  }
  if (host == NULL)
    host = http_req_header(req, "host", &host_len);
  if (host == NULL && req->target_host != NULL) {
    host = req->target_host;
    host_len = req->target_host_len;
  }
  if (host == NULL || host_len == 0 || host_len > 255 ||
      http_util_split_host(host, host_len, &name, &name_len) < 0 ||
      strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-:[]") <
          host_len)
    return -EINVAL;
  o = (size_t)snprintf(out, n, "%s://", scheme);
  if (o + host_len + 1 > n)
    return -EINVAL;
  for (i = 0; i < host_len; i++) {
    char c = host[i];
    out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  out[o] = '\0';
  /* The default port is left out: clients compare the resource exactly. */
  if (strcmp(scheme, "https") == 0 && o > 4 && strcmp(out + o - 4, ":443") == 0)
    out[o - 4] = '\0';
  else if (strcmp(scheme, "http") == 0 && o > 3 && strcmp(out + o - 3, ":80") == 0)
    out[o - 3] = '\0';
  return 0;
}

int auth_gate_resource(auth_gate *g, const http_req *req, char *out, size_t n) {
  const auth_config *a = g->cfg->auth;
  if (a != NULL && a->resource != NULL)
    return snprintf(out, n, "%s", a->resource) < (int)n ? 0 : -EINVAL;
  if (g->cfg->public_url != NULL)
    return snprintf(out, n, "%s/mcp", g->cfg->public_url) < (int)n ? 0 : -EINVAL;
  if (req_origin(g, req, out, n > 4 ? n - 4 : 0) < 0)
    return -EINVAL;
  strcat(out, "/mcp");
  return 0;
}

int auth_gate_base_url(auth_gate *g, const http_req *req, char *out, size_t n) {
  if (g->cfg->public_url != NULL)
    return snprintf(out, n, "%s", g->cfg->public_url) < (int)n ? 0 : -ENOENT;
  if (!trusted_peer(g, req) || req_origin(g, req, out, n) < 0)
    return -ENOENT;
  return 0;
}

/* RFC 9728 3.1: the well-known path goes between the host and the
 * resource's path. */
static int metadata_url(auth_gate *g, const http_req *req, char *out, size_t n) {
  char res[512];
  const char *path;
  if (auth_gate_resource(g, req, res, sizeof(res)) < 0)
    return -EINVAL;
  path = strchr(strstr(res, "://") + 3, '/');
  if (path == NULL)
    path = res + strlen(res);
  return snprintf(out, n, "%.*s" WELL_KNOWN "%s", (int)(path - res), res, path) < (int)n ? 0
                                                                                         : -EINVAL;
}

/* ---- answers ---------------------------------------------------------------- */

static int oauth(const auth_gate *g) {
  return auth_config_oauth(g->cfg->auth);
}

/* The WWW-Authenticate value (RFC 6750 3): error, error_description,
 * resource_metadata, scope. None of them can hold '"' or '\\': errors and
 * descriptions are fixed strings, scopes are checked scope-tokens, the URL
 * is built from a checked host. */
static void challenge(auth_gate *g, const http_req *req, char *out, size_t n, const char *error,
                      const char *desc, const char *scope) {
  char url[600];
  size_t o = 0;
  const char *sep = "";
#define PUT(...) (o += (size_t)snprintf(out + o, o < n ? n - o : 0, __VA_ARGS__))
  PUT("Bearer ");
  if (!oauth(g)) {
    PUT("realm=\"mcp\"");
    sep = ", ";
  }
  if (error != NULL) {
    PUT("%serror=\"%s\"", sep, error);
    sep = ", ";
  }
  if (desc != NULL && oauth(g)) {
    PUT("%serror_description=\"%s\"", sep, desc);
    sep = ", ";
  }
  if (oauth(g) && metadata_url(g, req, url, sizeof(url)) == 0) {
    PUT("%sresource_metadata=\"%s\"", sep, url);
    sep = ", ";
  }
  if (scope != NULL && scope[0] != '\0')
    PUT("%sscope=\"%s\"", sep, scope);
#undef PUT
  if (o >= n)
    out[n - 1] = '\0';
}

static void answer(http_req *req, int status, const char *www, unsigned retry_after,
                   const char *extra, const char *error, const char *desc) {
  char headers[1800], body[400];
  size_t hl;
  int bl;
  hl = (size_t)snprintf(headers, sizeof(headers),
                        "Content-Type: application/json\r\nCache-Control: no-store\r\n");
  if (www != NULL)
    hl += (size_t)snprintf(headers + hl, sizeof(headers) - hl, "WWW-Authenticate: %s\r\n", www);
  if (retry_after > 0 && hl < sizeof(headers))
    hl += (size_t)snprintf(headers + hl, sizeof(headers) - hl, "Retry-After: %u\r\n", retry_after);
  if (extra != NULL && hl < sizeof(headers))
    snprintf(headers + hl, sizeof(headers) - hl, "%s", extra);
  bl = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"error_description\":\"%s\"}\n", error,
                desc);
  http_respond(req, status, headers, body, (size_t)bl);
}

static void log_refusal(auth_gate *g, const http_req *req, int status, const char *reason) {
  char addr[64];
  uint64_t now = uv_now(g->loop);
  if (now < g->log_next_ms) {
    g->log_quiet++;
    return;
  }
  g->log_next_ms = now + 1000;
  if (http_req_client_addr(req, addr, sizeof(addr)) < 0)
    strcpy(addr, "?");
  log_msg(g->log, LOGLVL_WARN, "auth_refused", "status=%d reason=%s client=%s refused_unlogged=%u",
          status, reason, addr, g->log_quiet);
  g->log_quiet = 0;
}

static void fail_count(auth_gate *g, const http_req *req) {
  char addr[64];
  uint64_t retry;
  if (http_req_client_addr(req, addr, sizeof(addr)) == 0)
    ratelimit_take(&g->fails, addr, strlen(addr), uv_now(g->loop), &retry);
}

static void bad_request(auth_gate *g, http_req *req, const char *extra, const char *desc) {
  char www[900];
  g->stats.bad_requests++;
  challenge(g, req, www, sizeof(www), "invalid_request", desc, NULL);
  log_refusal(g, req, 400, "invalid_request");
  answer(req, 400, www, 0, extra, "invalid_request", desc);
}

/* A token that did not verify: 401, or 503 when the authorization server
 * could not say (never 401 then: clients throw a 401's token away). */
static void refuse(auth_gate *g, http_req *req, const char *extra, int reason) {
  char www[900];
  const char *scope = g->cfg->auth ? g->cfg->auth->scopes_required : NULL;
  if (reason == AUTH_R_UNAVAILABLE || reason == AUTH_R_BUSY) {
    g->stats.unavailable++;
    log_refusal(g, req, 503, auth_reason_name(reason));
    answer(req, 503, NULL, reason == AUTH_R_BUSY ? 1 : 5, extra, "temporarily_unavailable",
           auth_reason_str(reason));
    return;
  }
  g->stats.unauthorized++;
  fail_count(g, req);
  challenge(g, req, www, sizeof(www), "invalid_token", auth_reason_str(reason), scope);
  log_refusal(g, req, 401, auth_reason_name(reason));
  answer(req, 401, www, 0, extra, "invalid_token", auth_reason_str(reason));
}

void auth_gate_forbid(auth_gate *g, http_req *req, const char *extra, const char *need,
                      const char *what, int jsonrpc, const json_t *jsonrpc_id) {
  char www[1200], desc[300], headers[1800];
  buf out;
  const char *req_scopes = g->cfg->auth ? g->cfg->auth->scopes_required : "";
  const char *own = need;
  size_t rl = strlen(req_scopes);
  g->stats.forbidden++;
  /* need is what a new token must hold (the scopes every request needs,
   * then the entry's); the sentence names the entry's own. */
  if (rl > 0 && strncmp(need, req_scopes, rl) == 0 && need[rl] == ' ')
    own = need + rl + 1;
  snprintf(desc, sizeof(desc), "%s needs %s", what, own);
  challenge(g, req, www, sizeof(www), "insufficient_scope", desc, need);
  log_refusal(g, req, 403, "insufficient_scope");
  if (!jsonrpc) {
    answer(req, 403, www, 0, extra, "insufficient_scope", desc);
    return;
  }
  {
    char msg[400];
    json_t *err;
    snprintf(msg, sizeof(msg), "Forbidden: %s needs scope %s", what, own);
    err = jsonrpc_error(jsonrpc_id, MCP_ERROR_FORBIDDEN, msg, NULL);
    memset(&out, 0, sizeof(out));
    if (err == NULL || json_write(&out, err) < 0) {
      json_decref(err);
      buf_free(&out);
      answer(req, 403, www, 0, extra, "insufficient_scope", desc);
      return;
    }
    json_decref(err);
  }
  snprintf(headers, sizeof(headers),
           "Content-Type: application/json\r\nCache-Control: no-store\r\nWWW-Authenticate: "
           "%s\r\n%s",
           www, extra ? extra : "");
  http_respond(req, 403, headers, out.data, out.len);
  buf_free(&out);
}

/* ---- checking ------------------------------------------------------------------ */

static int rate_limited(auth_gate *g, http_req *req, const char *extra, const char *key,
                        size_t len) {
  uint64_t retry = 0;
  if (g->rate.rate == 0 || ratelimit_take(&g->rate, key, len, uv_now(g->loop), &retry) == 0)
    return 0;
  g->stats.rate_limited++;
  log_refusal(g, req, 429, "rate");
  answer(req, 429, NULL, (unsigned)((retry + 999) / 1000), extra, "rate_limited",
         "too many requests; slow down");
  return 1;
}

/* After a good token: the scopes every request needs, the rate, the tags. */
static int admit(auth_gate *g, http_req *req, const char *extra, principal *p) {
  const char *req_scopes = g->cfg->auth->scopes_required;
  if (!principal_has_all(p, req_scopes)) {
    auth_gate_forbid(g, req, extra, req_scopes, "this server", 0, NULL);
    return AUTH_GATE_ANSWERED;
  }
  if (rate_limited(g, req, extra, p->client_key, strlen(p->client_key)))
    return AUTH_GATE_ANSWERED;
  http_req_tag(req->tag_principal, sizeof(req->tag_principal), p->subject, strlen(p->subject));
  req->tag_auth = principal_kind_name(p->kind);
  return AUTH_GATE_OK;
}

static void wait_abort(http_req *req) {
  gate_wait *gw = req->user;
  auth_cancel(gw->w);
  free(gw);
}

static void wait_done(void *arg, int reason, principal *p) {
  http_req *req = arg;
  gate_wait *gw = req->user;
  auth_gate *g = gw->g;
  req->user = NULL;
  req->on_abort = NULL;
  if (reason != 0)
    refuse(g, req, gw->extra, reason);
  else if (admit(g, req, gw->extra, p) == AUTH_GATE_OK)
    gw->resume(gw->arg, req, p);
  free(gw);
}

/* The token of "Authorization: Bearer <token68>": 0 with *tok, 1 when the
 * scheme is another (or the header absent: a plain 401), -1 when it is
 * Bearer without a proper token (400). */
static int bearer(const char *v, size_t len, const char **tok, size_t *tok_len) {
  size_t i = 6;
  if (v == NULL)
    return 1;
  if (len < 6 || strncasecmp(v, "Bearer", 6) != 0 || (len > 6 && v[6] != ' '))
    return 1;
  while (i < len && v[i] == ' ')
    i++;
  while (len > i && (v[len - 1] == ' ' || v[len - 1] == '\t'))
    len--;
  if (i == len || memchr(v + i, ' ', len - i) != NULL)
    return -1;
  *tok = v + i;
  *tok_len = len - i;
  return 0;
}

int auth_gate_check(auth_gate *g, http_req *req, const char *extra, auth_gate_resume_fn resume,
                    void *arg, principal **out) {
  const auth_config *a = g->cfg->auth;
  const char *value = NULL, *tok = NULL;
  size_t value_len = 0, tok_len = 0, i;
  unsigned n_auth = 0;
  char audience[512], addr[64], www[900];
  auth_wait *w = NULL;
  principal *p = NULL;
  uint64_t retry;
  int r;

  *out = NULL;
  if (a == NULL) {
    /* No auth: the caller is whoever its certificate names, if anyone. */
    const char *subject = http_req_peer_subject(req);
    if (g->rate.rate != 0 && http_req_client_addr(req, addr, sizeof(addr)) == 0 &&
        rate_limited(g, req, extra, addr, strlen(addr)))
      return AUTH_GATE_ANSWERED;
    if (subject != NULL) {
      principal_init in;
      memset(&in, 0, sizeof(in));
      in.kind = PRINCIPAL_MTLS;
      in.subject = subject;
      *out = principal_new(&in);
    }
    return AUTH_GATE_OK;
  }
  /* A token in a URL ends up in logs and histories (RFC 6750 5.3). */
  if (req->query != NULL) {
    char dummy[2];
    if (http_util_query_param(req->query, req->query_len, "access_token", dummy, sizeof(dummy)) !=
        -ENOENT) {
      bad_request(g, req, extra,
                  "send the access token in the Authorization header, never in the query string");
      return AUTH_GATE_ANSWERED;
    }
  }
  for (i = 0; i < req->n_headers; i++) {
    if (http_util_ieq(req->headers[i].name, req->headers[i].name_len, "authorization")) {
      n_auth++;
      value = req->headers[i].value;
      value_len = req->headers[i].value_len;
    }
  }
  if (n_auth > 1) {
    bad_request(g, req, extra, "send one Authorization header");
    return AUTH_GATE_ANSWERED;
  }
  r = bearer(value, value_len, &tok, &tok_len);
  if (r < 0) {
    bad_request(g, req, extra, "the Authorization header must be Bearer and one token");
    return AUTH_GATE_ANSWERED;
  }
  if (r > 0) {
    g->stats.unauthorized++;
    challenge(g, req, www, sizeof(www), NULL, NULL, a->scopes_required);
    answer(req, 401, www, 0, extra, "unauthorized", "an access token is required");
    return AUTH_GATE_ANSWERED;
  }
  if (g->fails.count > 0 && http_req_client_addr(req, addr, sizeof(addr)) == 0 &&
      ratelimit_peek(&g->fails, addr, strlen(addr), uv_now(g->loop), &retry) < 0) {
    g->stats.rate_limited++;
    log_refusal(g, req, 429, "failed_authentications");
    answer(req, 429, NULL, (unsigned)((retry + 999) / 1000), extra, "rate_limited",
           "too many failed authentications; try again later");
    return AUTH_GATE_ANSWERED;
  }
  if (auth_gate_resource(g, req, audience, sizeof(audience)) < 0) {
    bad_request(g, req, extra, "the request names no usable host");
    return AUTH_GATE_ANSWERED;
  }
  r = auth_verify(g->verifier, tok, tok_len, audience, &p, wait_done, req, &w);
  if (r == AUTH_PENDING) {
    gate_wait *gw = calloc(1, sizeof(*gw));
    if (gw == NULL || http_req_keep(req) < 0) {
      free(gw);
      auth_cancel(w);
      refuse(g, req, extra, AUTH_R_BUSY);
      return AUTH_GATE_ANSWERED;
    }
    g->stats.waited++;
    gw->g = g;
    gw->w = w;
    gw->resume = resume;
    gw->arg = arg;
    snprintf(gw->extra, sizeof(gw->extra), "%s", extra ? extra : "");
    req->user = gw;
    req->on_abort = wait_abort;
    return AUTH_GATE_PENDING;
  }
  if (r != 0) {
    refuse(g, req, extra, r);
    return AUTH_GATE_ANSWERED;
  }
  if (admit(g, req, extra, p) != AUTH_GATE_OK) {
    principal_unref(p);
    return AUTH_GATE_ANSWERED;
  }
  *out = p;
  return AUTH_GATE_OK;
}

/* ---- metadata ---------------------------------------------------------------- */

int auth_gate_is_metadata(const http_req *req) {
  return req->path_len >= sizeof(WELL_KNOWN) - 1 &&
         memcmp(req->path, WELL_KNOWN, sizeof(WELL_KNOWN) - 1) == 0 &&
         (req->path[sizeof(WELL_KNOWN) - 1] == '\0' || req->path[sizeof(WELL_KNOWN) - 1] == '/');
}

void auth_gate_metadata(auth_gate *g, http_req *req) {
  const auth_config *a = g->cfg->auth;
  static const char cors[] = "Access-Control-Allow-Origin: *\r\n";
  char res[512], headers[300];
  json_t *doc, *servers;
  buf out;
  size_t i;

  if (!oauth(g)) {
    static const char body[] = "404 Not Found: this server publishes no OAuth metadata\n";
    http_respond(req, 404, "Content-Type: text/plain; charset=utf-8\r\n", body, sizeof(body) - 1);
    return;
  }
  if (req->method == HTTP_OPTIONS) {
    http_respond(req, 204,
                 "Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Methods: GET, "
                 "OPTIONS\r\nAccess-Control-Allow-Headers: MCP-Protocol-Version\r\n"
                 "Access-Control-Max-Age: 86400\r\n",
                 "", 0);
    return;
  }
  if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
    static const char body[] = "405 Method Not Allowed: GET the metadata\n";
    http_respond(req, 405, "Allow: GET, HEAD, OPTIONS\r\nContent-Type: text/plain\r\n", body,
                 sizeof(body) - 1);
    return;
  }
  if (auth_gate_resource(g, req, res, sizeof(res)) < 0) {
    static const char body[] = "400 Bad Request: the request names no usable host\n";
    http_respond(req, 400, "Content-Type: text/plain\r\n", body, sizeof(body) - 1);
    return;
  }
  servers = json_array();
  for (i = 0; servers != NULL && i < a->n_as; i++)
    json_array_append_new(servers, json_string(a->authorization_servers[i]));
  doc = json_pack("{s:s, s:o, s:o, s:[s], s:s}", "resource", res, "authorization_servers",
                  servers ? servers : json_array(), "scopes_supported",
                  authz_scopes_supported(a, g->reg), "bearer_methods_supported", "header",
                  "resource_name", a->resource_name ? a->resource_name : "mcpd");
  memset(&out, 0, sizeof(out));
  if (doc == NULL || json_write(&out, doc) < 0) {
    json_decref(doc);
    buf_free(&out);
    http_respond(req, 500, "Content-Type: text/plain\r\n", "out of memory\n", 14);
    return;
  }
  json_decref(doc);
  snprintf(headers, sizeof(headers),
           "Content-Type: application/json\r\nCache-Control: max-age=300\r\n%s", cors);
  http_respond(req, 200, headers, out.data, out.len);
  buf_free(&out);
}

/* ---- life ------------------------------------------------------------------------ */

int auth_gate_apply(auth_gate *g, const config *cfg) {
  cidr *proxies = NULL;
  size_t i;
  if (cfg->n_trusted_proxies > 0) {
    proxies = calloc(cfg->n_trusted_proxies, sizeof(*proxies));
    if (proxies == NULL)
      return -ENOMEM;
    for (i = 0; i < cfg->n_trusted_proxies; i++)
      cidr_parse(cfg->trusted_proxies[i], &proxies[i]); /* checked by config */
  }
  free(g->proxies);
  g->proxies = proxies;
  g->n_proxies = cfg->n_trusted_proxies;
  g->cfg = cfg;
  ratelimit_set(&g->rate, cfg->principal_rate_per_s, cfg->principal_burst);
  return 0;
}

int auth_gate_init(auth_gate *g, uv_loop_t *loop, const config *cfg, auth_verifier *v,
                   const registry *reg, const logger *lg, int tls, int host_checked) {
  memset(g, 0, sizeof(*g));
  g->loop = loop;
  g->verifier = v;
  g->reg = reg;
  g->log = lg;
  g->tls = tls;
  g->host_checked = host_checked;
  ratelimit_init(&g->rate, 0, 0, 100000);
  ratelimit_init(&g->fails, FAIL_RATE, FAIL_BURST, 100000);
  return auth_gate_apply(g, cfg);
}

void auth_gate_free(auth_gate *g) {
  free(g->proxies);
  g->proxies = NULL;
  ratelimit_free(&g->rate);
  ratelimit_free(&g->fails);
}
