/* principal.h -- who made a request: an authenticated client (a static
 * token, a verified JWT, an introspected token) or a verified client
 * certificate. Immutable once made and reference-counted, so a request, its
 * calls and the token cache can share one. Any thread may read a principal
 * and take or drop a reference (the count is atomic); it is made on the
 * loop. */
#ifndef MCPD_PRINCIPAL_H
#define MCPD_PRINCIPAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "mcpd/plugin.h" /* mcpd_principal: the view plugins get */

#define PRINCIPAL_KEY_LEN 32

enum principal_kind { PRINCIPAL_TOKEN, PRINCIPAL_JWT, PRINCIPAL_INTROSPECTION, PRINCIPAL_MTLS };

typedef struct principal {
  atomic_uint refs;
  enum principal_kind kind;
  /* SHA-256 of kind, issuer and subject: who owns a session, and whose
   * limits a request counts against. Two tokens of one subject share it. */
  uint8_t key[PRINCIPAL_KEY_LEN];
  char client_key[40]; /* "p:" and the first 32 hex digits of key */
  char *subject;       /* owned; never NULL */
  char *client_id;     /* owned; NULL when unknown */
  char *issuer;        /* owned; NULL for static tokens and certificates */
  char **scopes;       /* owned, sorted, n_scopes then NULL */
  size_t n_scopes;
  json_t *claims;      /* owned; never changed after principal_new() */
  int64_t expires_at;  /* Unix seconds; 0: never */
  mcpd_principal view; /* points into the fields above */
} principal;

/* What principal_new() builds one from. Borrowed, except claims. */
typedef struct principal_init {
  enum principal_kind kind;
  const char *subject; /* required */
  const char *client_id;
  const char *issuer;
  const char *scope; /* space-separated scopes ("a b c"); NULL: none */
  json_t *claims;    /* stolen (may be NULL: then {"sub", "scope"} is made) */
  int64_t expires_at;
} principal_init;

/* A new principal with one reference, or NULL (no memory, or no subject;
 * in->claims is released either way). */
principal *principal_new(const principal_init *in);

/* Adds a reference; returns p (NULL is fine). */
principal *principal_ref(principal *p);

/* Drops a reference; the last frees p (NULL is fine). */
void principal_unref(principal *p);

/* Whether p holds every scope of set, a space-separated list ("" and NULL:
 * nothing is needed). 1 or 0. */
int principal_has_all(const principal *p, const char *set);

/* Whether s is a scope-token of RFC 6749 3.3: 1*( %x21 / %x23-5B / %x5D-7E ),
 * len bytes. */
int principal_scope_valid(const char *s, size_t len);

/* The scopes of a claims object: "scope" (a space-separated string) or,
 * with use_scp, "scp" (an array of strings, or a string). Written space-
 * separated into a new string (caller frees), "" when none; NULL without
 * memory. Array entries that are not scope-tokens are left out; a string is
 * returned as it is (principal_new() drops what is not a scope-token). */
char *principal_scopes_of(const json_t *claims, int use_scp);

const char *principal_kind_name(enum principal_kind kind);

#endif
