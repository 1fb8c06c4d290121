/* fuzz_auth.c -- fuzzes the authentication pieces of core/lib with one
 * input, used four ways:
 *  - as a compact JWT: auth_jwt_peek() and auth_jwt_verify() against a
 *    fixed key set (an RSA and a P-256 public key, embedded below; the
 *    private halves were thrown away when the seeds were signed). A token
 *    that verifies must no longer verify once one byte of its signing input
 *    changes; no OpenSSL error may be left behind;
 *  - as the payload of a token this target signs itself (ES256, with a key
 *    made at start and never stored), so that the claim checks see every
 *    payload: the verdict must be exactly the one the rules of
 *    lib/auth_jwt.h give, computed here independently;
 *  - as a JWKS document for auth_keyset_parse();
 *  - when it is a JSON object, as the "auth" section for auth_config_parse():
 *    the result's invariants hold, the message fits any buffer, and it is
 *    the same when every secret is replaced by another of the same shape
 *    (so no secret is ever in it). */
#include "lib/auth_config.h"
#include "lib/auth_jwt.h"

#include "fuzz.h"

#include <cjose/cjose.h>
#include <errno.h>
#include <openssl/err.h>
#include <strings.h>

#define NOW     1800000000LL
#define ISSUER  "https://issuer.example"
#define LEEWAY  60
#define ALG_ALL 0x1ffu

/* The public keys the seeds in fuzz/corpus/fuzz_auth/ are signed for. */
static const char fixed_jwks[] =
    "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"rs1\",\"n\":\"4Pfux0jwKMGGhraly6x-RN4j9DokUmCNTHGz"
    "3nvBgsbwtTccaQfrIPodz-Ro61dtOjY9XGZS461_dDPiOZRRiCTgJYtjK33biP2pEWeaKbiO0R_-qhkxDjrNvXaa"
    "qEVanipThQHSLS3BtrTEehCM8CSmtiaK65BOA-SEzYldlWvo4RePtcw6m9kOerjsL3dIIkOZcoqUcmhzvQqvxHRO"
    "E6Qk0WN2X-8gnVNAln7aoc5E132VazeT7sRjlMHd0ujW81i6DceBwt8-U1nkIkGFIDS1jW8CPDDi5iaSajzHmPMa"
    "pCa45jN9DLg2lS_30tXGzOPDgc7DfwiG21cMG-G6QQ\",\"e\":\"AQAB\"},{\"kty\":\"EC\",\"kid\":\"e"
    "s1\",\"crv\":\"P-256\",\"x\":\"OkwGNw03OxHF4R4AY78rRDh7MchivAQaDnR_-1b-Jgk\",\"y\":\"4vk"
    "MWX4bC9oC9wPj24sPBWnAepjZWabP7zRcjFUhH1M\"}]}";

static const auth_jwt_policy policy = {ALG_ALL, ISSUER, "mcpd", LEEWAY};
static auth_keyset *fixed_ks, *own_ks;
static cjose_jwk_t *own_key;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  char err[256] = "", *pub;
  json_t *jwk, *doc;
  cjose_err cerr;
  (void)argc, (void)argv;
  FUZZ_CHECK(auth_keyset_parse(fixed_jwks, sizeof(fixed_jwks) - 1, ALG_ALL, &fixed_ks, NULL, err,
                               sizeof(err)) == 0);
  FUZZ_CHECK(auth_keyset_count(fixed_ks) == 2);
  own_key = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &cerr);
  FUZZ_CHECK(own_key != NULL);
  pub = cjose_jwk_to_json(own_key, false, &cerr);
  FUZZ_CHECK(pub != NULL);
  jwk = json_loads(pub, 0, NULL);
  cjose_get_dealloc()(pub);
  FUZZ_CHECK(jwk != NULL);
  json_object_set_new(jwk, "kid", json_string("own"));
  doc = json_pack("{s:[o]}", "keys", jwk);
  pub = json_dumps(doc, JSON_COMPACT);
  FUZZ_CHECK(pub != NULL);
  FUZZ_CHECK(auth_keyset_parse(pub, strlen(pub), ALG_ALL, &own_ks, NULL, err, sizeof(err)) == 0);
  FUZZ_CHECK(auth_keyset_count(own_ks) == 1);
  free(pub);
  json_decref(doc);
  return 0;
}

/* ---- the input as a token ------------------------------------------------- */

static int is_reason_or_nomem(int r) {
  return AUTH_IS_REASON(r) || r == -ENOMEM;
}

static void fuzz_token(const char *tok, size_t len) {
  auth_jwt_header h;
  json_t *claims = (json_t *)&claims;
  int pr, vr;

  memset(&h, 0x5a, sizeof(h));
  pr = auth_jwt_peek(tok, len, &h);
  FUZZ_CHECK(pr == 0 || pr == AUTH_R_MALFORMED || pr == AUTH_R_ALG);
  if (pr == 0) {
    FUZZ_CHECK(h.alg != 0 && (h.alg & (h.alg - 1)) == 0 && (h.alg & ~ALG_ALL) == 0);
    FUZZ_CHECK(memchr(h.kid, '\0', sizeof(h.kid)) != NULL);
    FUZZ_CHECK(h.has_kid || h.kid[0] == '\0');
  }
  if (pr == AUTH_R_ALG)
    FUZZ_CHECK(h.alg == 0);

  vr = auth_jwt_verify(fixed_ks, &policy, tok, len, NOW, &claims);
  FUZZ_CHECK(vr == 0 || is_reason_or_nomem(vr));
  FUZZ_CHECK(vr == 0 ? json_is_object(claims) : claims == NULL);
  FUZZ_CHECK(ERR_peek_error() == 0);
  if (pr != 0)
    FUZZ_CHECK(vr != 0); /* nothing verifies with a header peek refuses */
  if (vr == 0) {
    /* The signature covers the exact text of header and payload: any
     * change to it must fail, whatever base64 would decode it to. */
    char *copy = malloc(len);
    const char *dot = memchr(tok, '.', len);
    json_t *again = NULL;
    size_t at;
    FUZZ_CHECK(copy != NULL && dot != NULL);
    for (at = 0; at < 2; at++) {
      size_t i = at == 0 ? 0 : (size_t)(dot - tok) + 1;
      memcpy(copy, tok, len);
      copy[i] = copy[i] == 'A' ? 'B' : 'A';
      FUZZ_CHECK(auth_jwt_verify(fixed_ks, &policy, copy, len, NOW, &again) != 0);
      FUZZ_CHECK(again == NULL);
    }
    free(copy);
    FUZZ_CHECK(json_is_string(json_object_get(claims, "iss")) &&
               strcmp(json_string_value(json_object_get(claims, "iss")), ISSUER) == 0);
    FUZZ_CHECK(json_is_number(json_object_get(claims, "exp")));
  }
  json_decref(claims);
  claims = (json_t *)&claims;
  FUZZ_CHECK(auth_jwt_verify(fixed_ks, NULL, tok, len, NOW, &claims) == -EINVAL);
  FUZZ_CHECK(claims == NULL);
}

/* ---- the input as the claims of a token signed here ------------------------ */

/* The verdict lib/auth_jwt.h promises for claims c, in its order. */
static int expected_verdict(const json_t *c) {
  const json_t *iss = json_object_get(c, "iss"), *aud = json_object_get(c, "aud");
  const json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
  const json_t *iat = json_object_get(c, "iat"), *times[2];
  size_t i;
  int aud_found = 0;
  if (!json_is_string(iss) || json_string_length(iss) != strlen(ISSUER) ||
      memcmp(json_string_value(iss), ISSUER, strlen(ISSUER)) != 0)
    return AUTH_R_ISSUER;
  if (json_is_string(aud)) {
    aud_found = json_string_length(aud) == 4 && memcmp(json_string_value(aud), "mcpd", 4) == 0;
  } else if (json_is_array(aud)) {
    for (i = 0; i < json_array_size(aud); i++) {
      const json_t *a = json_array_get(aud, i);
      if (!json_is_string(a)) {
        aud_found = 0;
        break;
      }
      if (json_string_length(a) == 4 && memcmp(json_string_value(a), "mcpd", 4) == 0)
        aud_found = 1;
    }
  }
  if (!aud_found)
    return AUTH_R_AUDIENCE;
  if (!json_is_number(exp) || (nbf != NULL && !json_is_number(nbf)) ||
      (iat != NULL && !json_is_number(iat)))
    return AUTH_R_CLAIMS;
  /* Expired: now > exp + leeway. Integers in 128 bits, so no overflow. */
  if (json_is_integer(exp) ? (__int128)NOW > (__int128)json_integer_value(exp) + LEEWAY
                           : (double)NOW > json_real_value(exp) + (double)LEEWAY)
    return AUTH_R_EXPIRED;
  times[0] = nbf;
  times[1] = iat;
  for (i = 0; i < 2; i++) {
    const json_t *t = times[i];
    if (t != NULL && (json_is_integer(t) ? (__int128)json_integer_value(t) > (__int128)NOW + LEEWAY
                                         : json_real_value(t) > (double)NOW + (double)LEEWAY))
      return AUTH_R_NOT_YET_VALID;
  }
  return 0;
}

static void fuzz_claims(const uint8_t *data, size_t size) {
  json_t *hdr = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "kid", "own", "typ", "JWT");
  json_t *want_claims, *claims = NULL;
  cjose_jws_t *jws;
  const char *tok = NULL;
  cjose_err cerr;
  int r;

  FUZZ_CHECK(hdr != NULL);
  jws = cjose_jws_sign(own_key, hdr, data, size, &cerr);
  json_decref(hdr);
  FUZZ_CHECK(jws != NULL);
  FUZZ_CHECK(cjose_jws_export(jws, &tok, &cerr));
  r = auth_jwt_verify(own_ks, &policy, tok, strlen(tok), NOW, &claims);
  FUZZ_CHECK(ERR_peek_error() == 0);
  want_claims = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(want_claims)) {
    FUZZ_CHECK(r == AUTH_R_MALFORMED);
  } else {
    int want = expected_verdict(want_claims);
    if (r != want)
      fprintf(stderr, "verdict %d, expected %d\n", r, want);
    FUZZ_CHECK(r == want);
    FUZZ_CHECK(r == 0 ? json_equal(claims, want_claims) : claims == NULL);
  }
  json_decref(want_claims);
  json_decref(claims);
  cjose_jws_release(jws);
}

/* ---- the input as a key set --------------------------------------------------- */

static void fuzz_keyset(const char *text, size_t len) {
  auth_keyset *ks = (auth_keyset *)&ks;
  size_t skipped = 0;
  char err[128], desc[24];
  int r = auth_keyset_parse(text, len, ALG_ALL, &ks, &skipped, err, sizeof(err));
  FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
  FUZZ_CHECK(ERR_peek_error() == 0);
  if (r == 0) {
    FUZZ_CHECK(ks != NULL);
    auth_keyset_describe(ks, desc, sizeof(desc));
    FUZZ_CHECK(memchr(desc, '\0', sizeof(desc)) != NULL);
    auth_keyset_free(ks);
  } else if (r == -EINVAL) {
    FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
  }
}

/* ---- the input as the "auth" section ------------------------------------------- */

/* Replaces the letters and digits of a secret (keeping its length, and so
 * whether it is valid); "${NAME}" is left alone. */
static void disguise(json_t *s) {
  const char *v = json_string_value(s);
  size_t i, len = json_string_length(s);
  char *buf;
  if (v == NULL || (len >= 2 && v[0] == '$' && v[1] == '{'))
    return;
  buf = malloc(len + 1);
  FUZZ_CHECK(buf != NULL);
  for (i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)v[i];
    buf[i] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ? (ch == 'Q' ? 'R' : 'Q')
             : ch >= '0' && ch <= '9'                             ? (ch == '7' ? '8' : '7')
                                                                  : (char)ch;
  }
  FUZZ_CHECK(json_string_setn(s, buf, len) == 0);
  free(buf);
}

/* Parses v with an err buffer of exactly n bytes (none when n is 0). */
static int parse(const json_t *v, size_t n, auth_config **out, char **err_out) {
  char *err = n ? malloc(n) : NULL;
  int r;
  if (n) {
    FUZZ_CHECK(err != NULL);
    memset(err, 'x', n);
  }
  r = auth_config_parse(v, out, err, n);
  FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
  FUZZ_CHECK(r == 0 ? *out != NULL : *out == NULL);
  if (n && r != 0) {
    FUZZ_CHECK(memchr(err, '\0', n) != NULL);
    FUZZ_CHECK(n == 1 || err[0] != '\0');
  }
  if (err_out != NULL)
    *err_out = err;
  else
    free(err);
  return r;
}

static void check_config(const auth_config *c) {
  size_t i, j;
  FUZZ_CHECK(c->n_tokens > 0 || c->jwt || c->introspection);
  FUZZ_CHECK(c->scopes_required != NULL && c->scopes_default != NULL);
  for (i = 0; i < c->n_tokens; i++) {
    FUZZ_CHECK(c->tokens[i].name[0] != '\0' && c->tokens[i].scope != NULL);
    for (j = 0; j < i; j++)
      FUZZ_CHECK(strcmp(c->tokens[i].name, c->tokens[j].name) != 0);
  }
  if (c->jwt) {
    FUZZ_CHECK(c->jwt_issuer != NULL && (c->jwks_url == NULL) != (c->jwks_file == NULL));
    FUZZ_CHECK(c->alg_mask != 0 && (c->alg_mask & ~ALG_ALL) == 0);
    if (c->jwks_url != NULL)
      FUZZ_CHECK(strncasecmp(c->jwks_url, "https://", 8) == 0 ||
                 auth_config_url_loopback(c->jwks_url));
  }
  if (c->introspection) {
    FUZZ_CHECK(c->intro_endpoint && c->intro_client_id && c->intro_client_secret);
    FUZZ_CHECK(strncasecmp(c->intro_endpoint, "https://", 8) == 0 ||
               auth_config_url_loopback(c->intro_endpoint));
  }
  if (auth_config_oauth(c))
    FUZZ_CHECK(c->n_as >= 1);
  for (i = 0; i < c->n_as; i++)
    FUZZ_CHECK(c->authorization_servers[i] != NULL);
  for (i = 0; i < c->n_rules; i++)
    FUZZ_CHECK(c->rules[i].pattern != NULL && c->rules[i].scope != NULL);
  if (c->resource != NULL) {
    size_t len = strlen(c->resource);
    FUZZ_CHECK(len > 0 && c->resource[len - 1] != '/' && strpbrk(c->resource, "?# ") == NULL);
  }
  if (c->metrics_scope != NULL)
    FUZZ_CHECK(c->protect_metrics);
}

static void fuzz_config(const json_t *v) {
  auth_config *c = NULL, *c2 = NULL;
  char *err = NULL, *err2 = NULL;
  json_t *masked, *tokens, *intro;
  size_t i;
  int r = parse(v, 300, &c, &err), r2;
  if (r == 0)
    check_config(c);
  auth_config_free(c);
  /* The same verdict with a 1-byte buffer, and with none. */
  c = NULL;
  FUZZ_CHECK(parse(v, 1, &c, NULL) == r);
  auth_config_free(c);
  c = NULL;
  FUZZ_CHECK(parse(v, 0, &c, NULL) == r);
  auth_config_free(c);

  /* The same message with every secret disguised. */
  masked = json_deep_copy(v);
  FUZZ_CHECK(masked != NULL);
  tokens = json_object_get(masked, "tokens");
  for (i = 0; i < json_array_size(tokens); i++)
    disguise(json_object_get(json_array_get(tokens, i), "token"));
  intro = json_object_get(masked, "introspection");
  disguise(json_object_get(intro, "client_secret"));
  c2 = NULL;
  r2 = parse(masked, 300, &c2, &err2);
  if (r != r2 || (r != 0 && strcmp(err, err2) != 0))
    fprintf(stderr, "with the secrets: %d \"%s\"\ndisguised:         %d \"%s\"\n", r, err, r2,
            err2);
  FUZZ_CHECK(r == r2);
  if (r != 0) /* on success err is not written */
    FUZZ_CHECK(strcmp(err, err2) == 0);
  auth_config_free(c2);
  json_decref(masked);
  free(err);
  free(err2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *v;
  fuzz_token((const char *)data, size);
  if (size > 0 && size <= 4096)
    fuzz_claims(data, size);
  fuzz_keyset((const char *)data, size);
  v = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
  if (json_is_object(v))
    fuzz_config(v);
  json_decref(v);
  return 0;
}
