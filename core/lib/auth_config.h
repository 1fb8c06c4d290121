/* auth_config.h -- the "auth" section of the configuration: who may call
 * mcpd (static tokens, JWTs, introspected tokens) and which scopes each
 * tool, resource and prompt needs. Parsed and checked here; nothing is
 * fetched (no I/O in this layer: the key set and the introspection
 * endpoint are the daemon's business). Secrets are hashed or kept only as
 * long as needed, and never written into an error message. Pure. */
#ifndef MCPD_AUTH_CONFIG_H
#define MCPD_AUTH_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define AUTH_DIGEST_LEN 32 /* SHA-256 */

/* A named static token: only its SHA-256 is kept. */
typedef struct auth_token_cfg {
  char name[65];
  uint8_t digest[AUTH_DIGEST_LEN];
  char *scope; /* owned; space-separated */
} auth_token_cfg;

enum auth_rule_kind { AUTH_RULE_TOOLS, AUTH_RULE_RESOURCES, AUTH_RULE_PROMPTS };

/* Entries whose name (or URI) matches pattern (fnmatch) need scope. */
typedef struct auth_rule {
  enum auth_rule_kind kind;
  char *pattern; /* owned */
  char *scope;   /* owned; space-separated, all needed; "" = any valid token */
} auth_rule;

typedef struct auth_config {
  char *resource;               /* owned; NULL: derived (public_url + "/mcp", or per request) */
  char *resource_name;          /* owned; NULL: "mcpd" */
  char **authorization_servers; /* owned; n_as; default: [jwt.issuer] */
  size_t n_as;

  auth_token_cfg *tokens; /* owned */
  size_t n_tokens;

  int jwt;            /* the "jwt" tier is on */
  char *jwt_issuer;   /* owned; required with jwt */
  char *jwt_audience; /* owned; NULL: the resource URI */
  char *jwks_url;     /* owned; exactly one of jwks_url and jwks_file */
  char *jwks_file;    /* owned */
  char *jwt_ca_file;  /* owned; NULL: the system's CAs */
  unsigned jwt_timeout_ms;
  unsigned alg_mask; /* AUTH_ALG_* bits */
  unsigned leeway_s;
  int scope_claim_scp; /* 1: "scp", 0: "scope" */
  unsigned jwks_cooldown_s;
  unsigned jwks_refresh_s;

  int introspection;         /* the "introspection" tier is on */
  char *intro_endpoint;      /* owned */
  char *intro_client_id;     /* owned */
  char *intro_client_secret; /* owned (a secret: never logged) */
  int intro_post;            /* 1: client_secret_post, 0: client_secret_basic */
  unsigned intro_cache_s;
  unsigned intro_negative_cache_s;
  unsigned intro_max_in_flight;
  int intro_require_audience;
  char *intro_ca_file; /* owned */
  unsigned intro_timeout_ms;

  char *scopes_required;   /* owned; space-separated; "" none: needed for any request */
  char *scopes_default;    /* owned; for entries no rule and no plugin names; "" any */
  char **scopes_supported; /* owned; NULL: computed (required, rules, plugins) */
  size_t n_supported;
  auth_rule *rules; /* owned, in order: the first match wins */
  size_t n_rules;

  int protect_metrics; /* /metrics needs a valid token */
  char *metrics_scope; /* owned; NULL: any valid token */
  unsigned cache_max;  /* verified tokens kept; 0: none */
} auth_config;

/* Parses the "auth" object v (borrowed) into a new *out (the caller frees
 * it with auth_config_free()). ${NAME} in a token or a client secret reads
 * environment variable NAME. Returns 0, or -EINVAL with a sentence naming
 * the key in err (size n; never a secret), or -ENOMEM. */
int auth_config_parse(const json_t *v, auth_config **out, char *err, size_t n);

/* Frees c (NULL is fine). */
void auth_config_free(auth_config *c);

/* Whether the tiers that need discovery (jwt, introspection) are on: then
 * the protected resource metadata is published and challenges point to it;
 * with static tokens alone, neither. */
int auth_config_oauth(const auth_config *c);

/* Whether s is an absolute http(s) URL to a loopback address (where
 * http:// is acceptable). len bytes. */
int auth_config_url_loopback(const char *s);

#endif
