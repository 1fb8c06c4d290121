/* auth_reason.h -- why a bearer token was refused: codes shared by the
 * token verifiers (lib/auth_jwt, net/auth) and the HTTP gate, with the
 * sentence a client sees (RFC 6750 error_description) and the OAuth error
 * code it belongs to. Pure. */
#ifndef MCPD_AUTH_REASON_H
#define MCPD_AUTH_REASON_H

/* Negative, and far below any errno, so that one int carries either. */
enum auth_reason {
  AUTH_R_MALFORMED = -5001, /* not a token68 string, too long, or not a JWT where one was needed */
  AUTH_R_ALG = -5002,       /* the JWT's alg is not allowed (none, HS*, or not configured) */
  AUTH_R_UNKNOWN_KID = -5003,   /* no key with the JWT's kid, even after a refetch */
  AUTH_R_SIGNATURE = -5004,     /* the signature does not verify */
  AUTH_R_EXPIRED = -5005,       /* exp is past (beyond the leeway) */
  AUTH_R_NOT_YET_VALID = -5006, /* nbf or iat is in the future (beyond the leeway) */
  AUTH_R_AUDIENCE = -5007,      /* aud does not name this server */
  AUTH_R_ISSUER = -5008,        /* iss is not the configured issuer */
  AUTH_R_CLAIMS = -5009,        /* a claim is missing or of the wrong type (exp, sub...) */
  AUTH_R_INACTIVE = -5010,      /* introspection said active: false (revoked, expired) */
  AUTH_R_UNKNOWN_TOKEN = -5011, /* no tier knows the token */
  AUTH_R_UNAVAILABLE = -5012,   /* the key set or the introspection endpoint cannot be reached */
  AUTH_R_BUSY = -5013,          /* too many verifications waiting: try again shortly */
  AUTH_R_FIRST = AUTH_R_BUSY,
  AUTH_R_LAST = AUTH_R_MALFORMED,
};

/* Whether r is one of the codes above. */
#define AUTH_IS_REASON(r) ((r) >= AUTH_R_FIRST && (r) <= AUTH_R_LAST)

/* The sentence for r, for error_description and logs (static; never holds
 * '"' or '\\'). "unknown reason" for anything else. */
const char *auth_reason_str(int r);

/* A short name for r, for logs and metrics labels: "expired", "audience"... */
const char *auth_reason_name(int r);

#endif
