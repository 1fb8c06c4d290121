/* oauth_cc.h -- a backend's own access token, from its authorization server by
 * the OAuth 2.0 client credentials grant (RFC 6749 §4.4): the token is kept
 * until shortly before it expires, and callers that need one while it is being
 * fetched wait for that one request (single flight). The token request goes
 * through the host's HTTP client, with the backend's TLS and proxy settings.
 *
 * Loop thread only. Neither the secret nor a token is ever logged or put in
 * a message. */
#ifndef HTTP_BACKEND_OAUTH_CC_H
#define HTTP_BACKEND_OAUTH_CC_H

#include <mcpd/plugin.h>

#define OAUTH_CC_PENDING 1 /* oauth_cc_get(): the callback follows */

typedef struct oauth_cc oauth_cc;
typedef struct oauth_cc_wait oauth_cc_wait;

/* Fills the transport fields of a token request (TLS files, proxy, flags) and
 * points its error buffer at why (why_n bytes, valid until the callback). */
typedef void (*oauth_cc_prepare_fn)(void *arg, mcpd_http_request *hr, char *why, size_t why_n);

/* The end of a wait. err 0: token (borrowed: valid during the callback) is the
 * access token. Otherwise token is NULL and why (borrowed) says what went wrong,
 * without secrets: "HTTP 401 invalid_client", "the connection was refused", ...
 * Runs once, on the loop, never inside oauth_cc_get(). */
typedef void (*oauth_cc_fn)(void *arg, int err, const char *token, const char *why);

typedef struct oauth_cc_settings {
  const char *label;         /* the backend's name, for logs and the host's metrics */
  const char *token_url;     /* http:// or https:// */
  const char *client_id;     /* required */
  const char *client_secret; /* required (already expanded from ${ENV}) */
  const char *scope;         /* NULL, or the scopes to ask for, space-separated */
  const char *resource;      /* NULL, or the RFC 8707 resource indicator */
  int post;                  /* 1: client_secret_post; 0: client_secret_basic */
  unsigned timeout_ms, connect_timeout_ms;
  oauth_cc_prepare_fn prepare; /* required */
  void *prepare_arg;           /* must live as long as the oauth_cc */
} oauth_cc_settings;

/* A new token source (owned: free with oauth_cc_free()), or NULL when out of
 * memory. host and ctx are borrowed and must outlive it; the strings of s are
 * copied. Makes no request yet. */
oauth_cc *oauth_cc_new(const mcpd_host *host, mcpd_ctx *ctx, const oauth_cc_settings *s);

/* Frees cc and its waits (their callbacks never run). Only when no token
 * request is in flight: the host runs every callback before shutdown(). */
void oauth_cc_free(oauth_cc *cc);

/* A current token. Returns 0 and sets *token (borrowed: valid until the next
 * oauth_cc_*() call or the end of this loop turn) when one is kept and not
 * about to expire. Else joins or starts the token request and returns
 * OAUTH_CC_PENDING: cb(arg, ...) runs once later, unless oauth_cc_cancel(*wait)
 * comes first (*wait is valid until cb starts). Returns -ENOMEM, or the
 * host's error when the request cannot be sent (a sentence in why, why_n
 * bytes). */
int oauth_cc_get(oauth_cc *cc, const char **token, oauth_cc_fn cb, void *arg, oauth_cc_wait **wait,
                 char *why, size_t why_n);

/* Leaves the wait list: the callback never runs (a cancelled call). The token
 * request goes on for the others (and the next caller). */
void oauth_cc_cancel(oauth_cc_wait *wait);

/* The backend refused token (borrowed; answered 401): forget it, if it is still
 * the one kept, so that the next oauth_cc_get() fetches a new one. A token
 * fetched meanwhile by another call is kept. */
void oauth_cc_invalidate(oauth_cc *cc, const char *token);

/* Token requests made so far (for logs and tests). */
unsigned oauth_cc_requests(const oauth_cc *cc);

#endif
