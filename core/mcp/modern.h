/* modern.h -- the 2026-07-28 era's request envelope: every request carries
 * its protocol version and the client's capabilities in params._meta (no
 * initialize, no session), and over HTTP repeats the version, the method
 * and the name in headers. This module decides whether a message claims
 * the modern era, checks its envelope and headers in the order the
 * reference SDKs do (the first failure answers), and puts on every modern
 * result what the era requires (resultType, the server's identity, cache
 * hints). Pure; any thread. */
#ifndef MCPD_MODERN_H
#define MCPD_MODERN_H

#include <stddef.h>
#include <jansson.h>

#include "mcp/jsonrpc.h"

#define MODERN_META_VERSION      "io.modelcontextprotocol/protocolVersion"
#define MODERN_META_CAPABILITIES "io.modelcontextprotocol/clientCapabilities"
#define MODERN_META_CLIENT_INFO  "io.modelcontextprotocol/clientInfo"
#define MODERN_META_LOG_LEVEL    "io.modelcontextprotocol/logLevel"
#define MODERN_META_SERVER_INFO  "io.modelcontextprotocol/serverInfo"

#define MODERN_ERROR_HEADER_MISMATCH     (-32020)
#define MODERN_ERROR_MISSING_CAPABILITY  (-32021)
#define MODERN_ERROR_UNSUPPORTED_VERSION (-32022)

/* The request headers that repeat the envelope (HTTP). Each borrowed, not
 * NUL-terminated, NULL when absent. */
typedef struct modern_headers {
  const char *version;
  size_t version_len;
  const char *method;
  size_t method_len;
  const char *name;
  size_t name_len;
} modern_headers;

/* What a checked envelope says. Borrowed from the message. */
typedef struct modern_req {
  int version;                /* enum protocol_version */
  const json_t *capabilities; /* object */
  const json_t *client_info;  /* object or NULL */
  const char *log_level;      /* NULL: not given */
} modern_req;

/* A refusal: the HTTP status, the JSON-RPC error and its data (owned). */
typedef struct modern_err {
  int status;
  int code;
  char message[256];
  json_t *data;
} modern_err;

/* Whether m (or its HTTP version header, len bytes, NULL when absent)
 * claims the modern era: a header naming a revision that is not a legacy
 * one, or a request whose params._meta names a protocol version. */
int modern_claimed(const jsonrpc_msg *m, const char *hdr_version, size_t len);

/* Checks m's envelope, and with h (NULL on stdio, where there are no
 * headers) the HTTP headers. Returns 0 and fills *out; or -1 with *err
 * (free err->data with json_decref). */
int modern_check(const jsonrpc_msg *m, const modern_headers *h, modern_req *out, modern_err *err);

/* Checks the Mcp-Param-<Name> headers of a tools/call: each argument whose
 * property in input_schema (borrowed) has "x-mcp-header": "Name" must come
 * with that header, equal to it (strings as they are, numbers numerically,
 * booleans as true/false; "=?base64?...?=" decoded, strictly). get(ctx,
 * lower-case name, &len) returns a header's value or NULL. 0, or -1 with
 * *err. */
int modern_check_param_headers(const json_t *input_schema, const json_t *args,
                               const char *(*get)(void *ctx, const char *name, size_t *len),
                               void *ctx, modern_err *err);

/* The JSON-RPC error response for err, for m (whose id it carries; null
 * when m has none). New ref. */
json_t *modern_error_response(const jsonrpc_msg *m, const modern_err *err);

/* Whether method exists in the modern era (ping, initialize,
 * logging/setLevel and resources/subscribe do not; server/discover,
 * subscriptions/listen and the tasks extension's tasks/get, tasks/update
 * and tasks/cancel exist only there). */
int modern_method_known(const char *method, int modern);

/* Values every modern response carries, made once: the server's identity
 * ({"name", "version"}), a _meta holding it, "complete", 0, "public",
 * "private". Shared by every response, so never changed. */
typedef struct modern_consts {
  json_t *server_info, *meta, *complete, *zero, *public_scope, *private_scope;
} modern_consts;

/* Makes c for server_version (copied). 0, or -1 without memory. */
int modern_consts_init(modern_consts *c, const char *server_version);

/* Releases c. */
void modern_consts_free(modern_consts *c);

/* Completes a modern result response in place (resp: {"id", "result"}):
 * resultType "complete" unless the result says otherwise, the server's
 * identity in _meta, and on listings, reads and discovery the cache hints
 * (ttlMs, cacheScope: "private" when callers may see different lists).
 * Errors are left as they are. The values come from c (borrowed; the
 * response takes references: a _meta the result did not have is c's own,
 * shared, not to be changed). */
void modern_decorate(json_t *resp, const char *method, const modern_consts *c, int private_scope);

/* ---- requestState: what a call needs to resume, carried by the client --- */

#define MODERN_STATE_KEY_LEN 32
#define MODERN_STATE_TTL_S   600

/* A requestState for a call of method on name (a tool or prompt name, a
 * URI), for the principal with key principal (32 bytes; NULL: none),
 * holding answers (borrowed; the client's answers so far), valid until
 * now_s + MODERN_STATE_TTL_S: base64url(JSON) "." base64url(HMAC-SHA256
 * with key). The client cannot forge or alter it; any instance with the
 * same key can read it. New string (free()), or NULL without memory. */
char *modern_state_make(const unsigned char key[MODERN_STATE_KEY_LEN], const char *method,
                        const char *name, const unsigned char *principal, const json_t *answers,
                        long long now_s);

/* Opens a requestState made for the same method, name and principal, not
 * yet expired: 0 and *answers (a new ref); -EBADMSG (not one of ours, or
 * altered), -ETIMEDOUT (expired), -EPERM (another call's or caller's). */
int modern_state_open(const unsigned char key[MODERN_STATE_KEY_LEN], const char *state,
                      const char *method, const char *name, const unsigned char *principal,
                      long long now_s, json_t **answers);

#endif
