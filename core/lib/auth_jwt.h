/* auth_jwt.h -- verifying JSON Web Tokens (RFC 7519, RFC 9068 access
 * tokens) against a JSON Web Key Set, with cjose. Pure: no I/O, no clock
 * (the time is passed in). Only asymmetric algorithms exist here: "none"
 * and HS* are refused before any key is looked at, so a public key can
 * never be used as an HMAC secret. Any thread, on distinct objects; a key
 * set is immutable once parsed and may be shared by readers. */
#ifndef MCPD_AUTH_JWT_H
#define MCPD_AUTH_JWT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "lib/auth_reason.h"

/* Algorithms, as bits of an allow-list. */
enum {
  AUTH_ALG_RS256 = 1u << 0,
  AUTH_ALG_RS384 = 1u << 1,
  AUTH_ALG_RS512 = 1u << 2,
  AUTH_ALG_PS256 = 1u << 3,
  AUTH_ALG_PS384 = 1u << 4,
  AUTH_ALG_PS512 = 1u << 5,
  AUTH_ALG_ES256 = 1u << 6,
  AUTH_ALG_ES384 = 1u << 7,
  AUTH_ALG_ES512 = 1u << 8,
  AUTH_ALG_DEFAULT = AUTH_ALG_RS256 | AUTH_ALG_PS256 | AUTH_ALG_ES256,
};

/* The bit of algorithm name ("RS256"), or 0 for anything else ("none",
 * "HS256", "EdDSA", NULL). */
unsigned auth_jwt_alg_bit(const char *name);

/* The name of one algorithm bit ("RS256"), or "?". Static. */
const char *auth_jwt_alg_name(unsigned bit);

typedef struct auth_keyset auth_keyset;

/* Parses a JWKS document ({"keys": [...]}, len bytes, not NUL-terminated)
 * into *out (owned by the caller: auth_keyset_free()). Keeps the keys that
 * can verify one of the algorithms in alg_mask: "use" absent or "sig";
 * RSA of at least 2048 bits for RS and PS; EC P-256/384/521 for
 * ES256/384/512; a key's own "alg", when given, must be allowed and is then
 * its only algorithm. Other keys ("oct", too small, unknown kty) are
 * skipped, and counted in *skipped (may be NULL). A document with no
 * usable key is not an error (0 keys). Returns 0; -EINVAL with a sentence
 * in err (size n) when the document is not a JWKS; -ENOMEM. */
int auth_keyset_parse(const char *json, size_t len, unsigned alg_mask, auth_keyset **out,
                      size_t *skipped, char *err, size_t n);

/* Frees ks (NULL is fine). */
void auth_keyset_free(auth_keyset *ks);

/* How many keys ks holds. */
size_t auth_keyset_count(const auth_keyset *ks);

/* Whether ks holds a key with this kid (len bytes). */
int auth_keyset_has_kid(const auth_keyset *ks, const char *kid, size_t len);

/* Writes "rs1 RS256, es1 ES256" (each key's kid, or "-", and its
 * algorithms) into out (size n), cut to fit. For --check and logs. */
void auth_keyset_describe(const auth_keyset *ks, char *out, size_t n);

/* A JWT's protected header, read without verifying anything. */
typedef struct auth_jwt_header {
  unsigned alg;  /* its bit, or 0 when not one of the algorithms above */
  char kid[257]; /* "" when absent */
  int has_kid;
} auth_jwt_header;

/* Decodes the header of the compact JWT tok (len bytes; three base64url
 * segments). Returns 0; AUTH_R_MALFORMED (not three segments, header not a
 * JSON object of at most 1 KiB, duplicate keys, kid over 256 bytes or not a
 * string, "crit" present, "typ" other than JWT, at+jwt or
 * application/at+jwt); AUTH_R_ALG when alg is not an asymmetric algorithm
 * above ("none", "HS256": h->alg is then 0). */
int auth_jwt_peek(const char *tok, size_t len, auth_jwt_header *h);

/* What a token must satisfy. Borrowed strings. */
typedef struct auth_jwt_policy {
  unsigned alg_mask;    /* allowed algorithms */
  const char *issuer;   /* "iss" must equal it byte for byte */
  const char *audience; /* "aud" (a string, or an array) must contain it */
  unsigned leeway_s;    /* clock skew allowed on exp, nbf and iat */
} auth_jwt_policy;

/* Verifies tok (len bytes, at most 8 KiB) with the keys of ks at time
 * now_s (Unix seconds). The key: the one with the header's kid; without a
 * kid, the only key that can verify alg (two or more: AUTH_R_UNKNOWN_KID).
 * Then the signature, then the claims: iss; aud; exp required, now_s <= exp
 * + leeway; nbf and iat, when present, <= now_s + leeway; claims parsed
 * with duplicate keys refused. On success returns 0 and *claims (a new
 * reference to the claims object; the caller owns it). Else an AUTH_R_*
 * code (MALFORMED, ALG, UNKNOWN_KID, SIGNATURE, EXPIRED, NOT_YET_VALID,
 * AUDIENCE, ISSUER, CLAIMS) or -ENOMEM, and *claims is NULL. */
int auth_jwt_verify(const auth_keyset *ks, const auth_jwt_policy *pol, const char *tok, size_t len,
                    int64_t now_s, json_t **claims);

#endif
