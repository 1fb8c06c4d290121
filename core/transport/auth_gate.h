/* auth_gate.h -- the HTTP side of authentication, for every route that
 * needs it (/mcp, /sse, /messages, and /metrics when protected): takes the
 * bearer token from the Authorization header (never from the query),
 * has the verifier check it, and answers what RFC 6750, RFC 9728 and the
 * MCP authorization spec say: 400, 401 and 403 with WWW-Authenticate
 * (resource_metadata, scope), 429 with Retry-After, 503 when the
 * authorization server cannot be reached. It also publishes the protected
 * resource metadata, works out this server's resource URI (the audience a
 * token must name) and its absolute URLs, and applies the request rate per
 * principal (per address when auth is off). Loop thread only. */
#ifndef MCPD_AUTH_GATE_H
#define MCPD_AUTH_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/cidr.h"
#include "lib/config.h"
#include "lib/principal.h"
#include "lib/ratelimit.h"
#include "mcp/registry.h"
#include "net/auth.h"
#include "net/http_server.h"

/* Resumes a request that waited for its token to be verified: p is the
 * principal (borrowed; principal_ref() to keep it). The request's fields
 * were kept (http_req_keep()), so they can all still be read. */
typedef void (*auth_gate_resume_fn)(void *arg, http_req *req, principal *p);

enum { AUTH_GATE_OK = 0, AUTH_GATE_ANSWERED = 1, AUTH_GATE_PENDING = 2 };

typedef struct auth_gate_stats {
  uint64_t unauthorized, forbidden, bad_requests, rate_limited, unavailable, waited;
} auth_gate_stats;

typedef struct auth_gate {
  const config *cfg;       /* borrowed: the configuration in service */
  auth_verifier *verifier; /* borrowed */
  const registry *reg;     /* borrowed: for scopes_supported */
  const logger *log;
  uv_loop_t *loop;
  int tls;          /* the listener serves HTTPS */
  int host_checked; /* Host is checked (a loopback listener, or allowed_hosts) */
  cidr *proxies;    /* owned: trusted_proxies, parsed */
  size_t n_proxies;
  ratelimit rate;       /* requests per principal (per address when auth is off) */
  ratelimit fails;      /* failed authentications per address */
  uint64_t log_next_ms; /* refusals are logged at most once a second */
  unsigned log_quiet;
  auth_gate_stats stats;
} auth_gate;

/* Sets g up; everything is borrowed. Returns 0 or -ENOMEM. */
int auth_gate_init(auth_gate *g, uv_loop_t *loop, const config *cfg, auth_verifier *v,
                   const registry *reg, const logger *lg, int tls, int host_checked);

/* Takes the settings of cfg (borrowed; the one now in service) after a
 * reload. Returns 0 or -ENOMEM. */
int auth_gate_apply(auth_gate *g, const config *cfg);

/* Authenticates req. extra: response headers every answer carries (CORS;
 * borrowed, copied if the request waits). AUTH_GATE_OK with *out (a new
 * reference, or NULL when auth is off and no client certificate names the
 * caller); AUTH_GATE_ANSWERED when req was answered (400, 401, 403, 429,
 * 503); AUTH_GATE_PENDING when the token is being verified over the
 * network: resume(arg, req, p) follows, unless the answer is a refusal the
 * gate sends itself, or the client goes away first. */
int auth_gate_check(auth_gate *g, http_req *req, const char *extra, auth_gate_resume_fn resume,
                    void *arg, principal **out);

/* Answers 403 insufficient_scope: need (the scopes that would do), what
 * ("tools/call delete_item"). With jsonrpc_id (borrowed; may be NULL) the
 * body is a JSON-RPC error (for /mcp), else plain text. */
void auth_gate_forbid(auth_gate *g, http_req *req, const char *extra, const char *need,
                      const char *what, int jsonrpc, const json_t *jsonrpc_id);

/* This server's resource URI for req ("https://mcp.example.com/mcp"): the
 * configured one, else from public_url, else from the request's Host (and
 * X-Forwarded-Proto/-Host from a trusted proxy). Returns 0, or -EINVAL when
 * the request names no usable host. */
int auth_gate_resource(auth_gate *g, const http_req *req, char *out, size_t n);

/* The base of the absolute URLs mcpd sends ("https://mcp.example.com",
 * maybe with a path prefix): public_url, or what a trusted proxy says.
 * Returns 0, or -ENOENT when neither is known (send relative URLs). */
int auth_gate_base_url(auth_gate *g, const http_req *req, char *out, size_t n);

/* Whether req's path is a protected resource metadata path. */
int auth_gate_is_metadata(const http_req *req);

/* Answers a request for the protected resource metadata (RFC 9728): 200
 * with the document while OAuth (jwt or introspection) is on, else 404. */
void auth_gate_metadata(auth_gate *g, http_req *req);

/* Frees what g owns. */
void auth_gate_free(auth_gate *g);

#endif
