/* auth.h -- the token verifier: turns a bearer token into a principal, by
 * the tiers the "auth" section turns on, in order: the cache of tokens
 * verified recently, the static tokens, JWTs (keys from a JWKS file or
 * URL), and RFC 7662 introspection. It knows nothing of HTTP requests or
 * MCP: the transport's gate asks it and answers the client.
 *
 * A JWT signed with a key not in the set makes it fetch the set again, at
 * most once per jwks_cooldown_s whatever the tokens say; an opaque token
 * is introspected once however many requests carry it at the same time.
 * Those two wait on the network: the caller gets AUTH_PENDING and a
 * callback later. An authorization server that cannot be reached is never
 * reported as a bad token (AUTH_R_UNAVAILABLE: the client should retry,
 * not throw its token away). Loop thread only. */
#ifndef MCPD_AUTH_H
#define MCPD_AUTH_H

#include <stdint.h>
#include <uv.h>

#include "lib/auth_cache.h"
#include "lib/auth_config.h"
#include "lib/auth_jwt.h"
#include "lib/list.h"
#include "lib/log.h"
#include "lib/principal.h"
#include "lib/strmap.h"
#include "net/http_client.h"

#define AUTH_PENDING     1
#define AUTH_MAX_WAITERS 1024
#define AUTH_MAX_TOKEN   8192

/* A verification's end: reason 0 and p (borrowed: principal_ref() to keep
 * it), or an AUTH_R_* code and p NULL. Runs on the loop, never inside
 * auth_verify(), once, unless auth_cancel() came first. */
typedef void (*auth_done_fn)(void *arg, int reason, principal *p);

typedef struct auth_wait auth_wait;

typedef struct auth_stats {
  uint64_t ok, refused, unavailable, cache_hits;
  uint64_t jwks_fetches, jwks_failures;
  uint64_t introspections, introspection_failures;
} auth_stats;

typedef struct auth_verifier {
  uv_loop_t *loop;
  struct evp_md_st *sha256; /* fetched once: an implicit fetch per digest costs as much as
                               the digest of a short token */
  struct evp_md_ctx_st *md; /* reused for every token's digest */
  http_client *http;        /* borrowed */
  const logger *log;
  const auth_config *cfg; /* borrowed, from the config in service; NULL: off */
  auth_cache cache;
  auth_stats stats;
  /* The key set (jwt): replaced whole by each successful fetch. */
  auth_keyset *keys;
  char *keys_source;         /* owned: the jwks_url or jwks_file they came from */
  http_client_req *jwks_req; /* a fetch in flight */
  uint64_t jwks_started_ms;  /* the last fetch began (the cool-down counts from it) */
  unsigned jwks_backoff_s;
  uv_timer_t jwks_timer;  /* the periodic refresh */
  list_node jwks_waiters; /* auth_wait.link: tokens with an unknown kid */
  unsigned n_waiters;
  /* Introspection: requests in flight, by the token's digest. */
  strmap intro;
  unsigned n_intro;
  int closing;
  int timer_open;
} auth_verifier;

/* Sets v up, off until auth_verifier_apply(). Everything is borrowed and
 * must outlive v. Returns 0 or a negative error. */
int auth_verifier_init(auth_verifier *v, uv_loop_t *loop, http_client *http, const logger *lg);

/* Puts cfg (borrowed: it must stay valid until the next apply, or the
 * close) in service; NULL turns auth off. The cache is emptied. A
 * jwks_file is read now: an error then returns -EINVAL with a sentence in
 * err (size n), and v keeps its previous settings. A jwks_url is fetched
 * now unless the set came from the same URL; pending waits whose source
 * changed end with AUTH_R_UNAVAILABLE. */
int auth_verifier_apply(auth_verifier *v, const auth_config *cfg, char *err, size_t n);

/* Verifies tok (len bytes, borrowed) for a request to resource audience
 * (borrowed; the "aud" a JWT or an introspected token must hold). Returns
 * 0 and *out (a new reference); AUTH_PENDING and *wait (valid until cb
 * starts), cb(arg, ...) following later; or an AUTH_R_* code. */
int auth_verify(auth_verifier *v, const char *tok, size_t len, const char *audience,
                principal **out, auth_done_fn cb, void *arg, auth_wait **wait);

/* Forgets a pending verification: its cb never runs. */
void auth_cancel(auth_wait *w);

/* Reads a JWKS file into a key set for --check: 0 and *out (the caller
 * frees it), or -EINVAL with a sentence in err. */
int auth_jwks_load_file(const char *path, unsigned alg_mask, auth_keyset **out, char *err,
                        size_t n);

/* Ends every pending verification with AUTH_R_UNAVAILABLE, stops the
 * fetches and the timer. The loop must run afterwards to close the timer;
 * then nothing of v is in use. */
void auth_verifier_close(auth_verifier *v);

#endif
