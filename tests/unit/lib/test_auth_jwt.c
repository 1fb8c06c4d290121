/* test_auth_jwt.c -- JWT verification against a JWKS: good tokens of every
 * key type, the classic attacks (alg none, HS256 keyed with the public key,
 * an algorithm on the wrong key type), the time claims at the edge of the
 * leeway, the header rules, key set parsing, and sharing a key set between
 * threads. Keys are generated at start; tokens are signed with cjose. */
#include "lib/auth_jwt.h"
#include "test.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjose/cjose.h>
#include <openssl/err.h>

#define NOW     1800000000LL
#define ISSUER  "https://issuer.example"
#define ALG_ALL 0x1ffu

static cjose_jwk_t *rs1, *rs2, *rs_small, *es1, *es3, *es5;

static char sentinel; /* an address that is not NULL */
static const auth_jwt_policy policy = {AUTH_ALG_DEFAULT, ISSUER, "mcpd", 60};
static const auth_jwt_policy policy_all = {ALG_ALL, ISSUER, "mcpd", 60};

/* ---- helpers ------------------------------------------------------------------ */

/* The public JWK of k as a JSON object, with kid and alg when not NULL. */
static json_t *pub_jwk(const cjose_jwk_t *k, const char *kid, const char *alg) {
  char *s = cjose_jwk_to_json(k, false, NULL);
  json_t *j = json_loads(s, 0, NULL);
  cjose_get_dealloc()(s);
  json_object_del(j, "kid");
  if (kid != NULL)
    json_object_set_new(j, "kid", json_string(kid));
  if (alg != NULL)
    json_object_set_new(j, "alg", json_string(alg));
  return j;
}

/* Parses {"keys": [the JWKs given, NULL-terminated, stolen]} with mask. */
static auth_keyset *keyset(unsigned mask, size_t *skipped, ...) {
  json_t *doc = json_object(), *keys = json_array(), *k;
  auth_keyset *ks = NULL;
  char err[200] = "", *text;
  va_list ap;
  va_start(ap, skipped);
  while ((k = va_arg(ap, json_t *)) != NULL)
    json_array_append_new(keys, k);
  va_end(ap);
  json_object_set_new(doc, "keys", keys);
  text = json_dumps(doc, JSON_COMPACT);
  CHECK_EQ_INT(auth_keyset_parse(text, strlen(text), mask, &ks, skipped, err, sizeof(err)), 0);
  CHECK_EQ_STR(err, "");
  CHECK_EQ_INT(ERR_peek_error(), 0); /* rejected keys leave nothing behind */
  free(text);
  json_decref(doc);
  return ks;
}

/* A compact JWS of payload under header hdr (borrowed), signed with k. */
static char *sign_hdr(const cjose_jwk_t *k, json_t *hdr, const char *payload) {
  const char *ser = NULL;
  char *out = NULL;
  cjose_jws_t *jws = cjose_jws_sign(k, hdr, (const uint8_t *)payload, strlen(payload), NULL);
  CHECK(jws != NULL);
  if (jws != NULL && cjose_jws_export(jws, &ser, NULL))
    out = strdup(ser);
  cjose_jws_release(jws);
  return out;
}

static char *sign(const cjose_jwk_t *k, const char *alg, const char *kid, const char *typ,
                  const char *payload) {
  json_t *hdr = json_object();
  char *out;
  json_object_set_new(hdr, "alg", json_string(alg));
  if (kid != NULL)
    json_object_set_new(hdr, "kid", json_string(kid));
  if (typ != NULL)
    json_object_set_new(hdr, "typ", json_string(typ));
  out = sign_hdr(k, hdr, payload);
  json_decref(hdr);
  return out;
}

/* Claims with this iss, aud and sub, exp an hour on, and extra members
 * (",\"nbf\":1" or ""). */
static const char *claims_x(const char *extra) {
  static char buf[9000];
  snprintf(buf, sizeof(buf),
           "{\"iss\":\"" ISSUER "\",\"aud\":\"mcpd\",\"sub\":\"alice\",\"exp\":%lld%s}", NOW + 3600,
           extra);
  return buf;
}

/* Claims of our own making, for the time and audience cases. */
static const char *claims_f(const char *fmt, ...) {
  static char buf[1000];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return buf;
}

/* base64url of len bytes, malloc'd. */
static char *b64u(const void *data, size_t len) {
  static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const unsigned char *d = data;
  char *out = malloc(len / 3 * 4 + 5), *o = out;
  size_t i;
  for (i = 0; i + 2 < len; i += 3) {
    *o++ = abc[d[i] >> 2];
    *o++ = abc[((d[i] & 3) << 4) | (d[i + 1] >> 4)];
    *o++ = abc[((d[i + 1] & 15) << 2) | (d[i + 2] >> 6)];
    *o++ = abc[d[i + 2] & 63];
  }
  if (len - i == 1) {
    *o++ = abc[d[i] >> 2];
    *o++ = abc[(d[i] & 3) << 4];
  } else if (len - i == 2) {
    *o++ = abc[d[i] >> 2];
    *o++ = abc[((d[i] & 3) << 4) | (d[i + 1] >> 4)];
    *o++ = abc[(d[i + 1] & 15) << 2];
  }
  *o = '\0';
  return out;
}

/* A token put together by hand: header and payload JSON, signature text. */
static char *raw_token(const char *hdr, const char *payload, const char *sig) {
  char *h = b64u(hdr, strlen(hdr)), *p = b64u(payload, strlen(payload));
  char *out = malloc(strlen(h) + strlen(p) + strlen(sig) + 3);
  sprintf(out, "%s.%s.%s", h, p, sig);
  free(h);
  free(p);
  return out;
}

/* The token with its segment i (0, 1, 2) replaced by seg. */
static char *with_segment(const char *tok, int i, const char *seg) {
  const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
  char *out = malloc(strlen(tok) + strlen(seg) + 1);
  if (i == 0)
    sprintf(out, "%s%s", seg, d1);
  else if (i == 1)
    sprintf(out, "%.*s.%s%s", (int)(d1 - tok), tok, seg, d2);
  else
    sprintf(out, "%.*s.%s", (int)(d2 - tok), tok, seg);
  return out;
}

/* Verifies tok: claims must be set exactly on success, and no OpenSSL error
 * may be left behind for the thread's next TLS call. */
static int ver_at(const auth_keyset *ks, const auth_jwt_policy *pol, const char *tok, int64_t now) {
  json_t *c = (json_t *)&sentinel; /* not NULL: the call must clear it */
  int r = auth_jwt_verify(ks, pol, tok, tok ? strlen(tok) : 0, now, &c);
  CHECK(r == 0 ? c != NULL : c == NULL);
  if (r == 0)
    CHECK_EQ_STR(json_string_value(json_object_get(c, "sub")), "alice");
  CHECK_EQ_INT(ERR_peek_error(), 0);
  json_decref(c);
  return r;
}

static int ver(const auth_keyset *ks, const auth_jwt_policy *pol, const char *tok) {
  return ver_at(ks, pol, tok, NOW);
}

/* Signs claims with k (alg, kid) and verifies them with ks and pol. */
static int sv(const auth_keyset *ks, const auth_jwt_policy *pol, const cjose_jwk_t *k,
              const char *alg, const char *kid, const char *payload) {
  char *tok = sign(k, alg, kid, NULL, payload);
  int r = ver(ks, pol, tok);
  free(tok);
  return r;
}

/* The usual set: rs1 (RSA), es1 (P-256), es3 (P-384), es5 (P-521). */
static auth_keyset *main_set(unsigned mask) {
  return keyset(mask, NULL, pub_jwk(rs1, "rs1", NULL), pub_jwk(es1, "es1", NULL),
                pub_jwk(es3, "es3", NULL), pub_jwk(es5, "es5", NULL), NULL);
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_alg_names(void) {
  static const char *names[] = {"RS256", "RS384", "RS512", "PS256", "PS384",
                                "PS512", "ES256", "ES384", "ES512"};
  size_t i;
  for (i = 0; i < 9; i++) {
    CHECK_EQ_INT(auth_jwt_alg_bit(names[i]), 1u << i);
    CHECK_EQ_STR(auth_jwt_alg_name(1u << i), names[i]);
  }
  CHECK_EQ_INT(auth_jwt_alg_bit("none"), 0);
  CHECK_EQ_INT(auth_jwt_alg_bit("None"), 0);
  CHECK_EQ_INT(auth_jwt_alg_bit("HS256"), 0);
  CHECK_EQ_INT(auth_jwt_alg_bit("HS512"), 0);
  CHECK_EQ_INT(auth_jwt_alg_bit("EdDSA"), 0);
  CHECK_EQ_INT(auth_jwt_alg_bit("rs256"), 0);
  CHECK_EQ_INT(auth_jwt_alg_bit("RS256 "), 0);
  CHECK_EQ_INT(auth_jwt_alg_bit(""), 0);
  CHECK_EQ_INT(auth_jwt_alg_bit(NULL), 0);
  CHECK_EQ_STR(auth_jwt_alg_name(0), "?");
  CHECK_EQ_STR(auth_jwt_alg_name(AUTH_ALG_RS256 | AUTH_ALG_PS256), "?");
  CHECK_EQ_STR(auth_jwt_alg_name(1u << 9), "?");
}

static void test_keyset_parse(void) {
  json_t *oct_j, *bad;
  cjose_jwk_t *oct = cjose_jwk_create_oct_random(256, NULL);
  char *s = cjose_jwk_to_json(oct, true, NULL);
  char d[200];
  size_t skipped = 99;
  auth_keyset *ks;

  oct_j = json_loads(s, 0, NULL);
  cjose_get_dealloc()(s);
  json_object_set_new(oct_j, "kid", json_string("oct"));
  bad = pub_jwk(rs2, "enc", NULL);
  json_object_set_new(bad, "use", json_string("enc"));
  ks =
      keyset(AUTH_ALG_DEFAULT, &skipped, pub_jwk(rs1, "rs1", NULL), oct_j,
             pub_jwk(rs_small, "small", NULL), bad, pub_jwk(rs2, "rs384", "RS384"),
             pub_jwk(rs2, "hs", "HS256"), pub_jwk(rs2, "none", "none"),
             pub_jwk(es1, "es-as-rs", "RS256"), pub_jwk(es3, "p384", NULL),
             json_pack("{s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519", "x", "AAAA"),
             json_integer(42), json_pack("{s:s}", "kid", "nokty"), pub_jwk(es1, "es1", NULL), NULL);
  CHECK_EQ_INT(auth_keyset_count(ks), 2);
  CHECK_EQ_INT(skipped, 11);
  auth_keyset_describe(ks, d, sizeof(d));
  CHECK_EQ_STR(d, "rs1 RS256/PS256, es1 ES256");
  CHECK(auth_keyset_has_kid(ks, "rs1", 3));
  CHECK(auth_keyset_has_kid(ks, "es1", 3));
  CHECK(!auth_keyset_has_kid(ks, "rs", 2));
  CHECK(!auth_keyset_has_kid(ks, "rs1x", 4));
  CHECK(!auth_keyset_has_kid(ks, "small", 5));
  CHECK(!auth_keyset_has_kid(ks, "oct", 3));
  CHECK(!auth_keyset_has_kid(ks, "enc", 3));
  /* cut to fit, always terminated */
  auth_keyset_describe(ks, d, 8);
  CHECK_EQ_STR(d, "rs1 RS2");
  auth_keyset_describe(ks, d, 1);
  CHECK_EQ_STR(d, "");
  auth_keyset_free(ks);

  /* A key's own alg is its only one, when allowed. */
  ks = keyset(ALG_ALL, &skipped, pub_jwk(rs2, "r", "RS384"), pub_jwk(rs1, NULL, NULL),
              pub_jwk(es3, "e\n3", NULL), NULL);
  CHECK_EQ_INT(skipped, 0);
  auth_keyset_describe(ks, d, sizeof(d));
  CHECK_EQ_STR(d, "r RS384, - RS256/RS384/RS512/PS256/PS384/PS512, e?3 ES384");
  auth_keyset_free(ks);

  /* a published private key is used for its public half only */
  s = cjose_jwk_to_json(rs1, true, NULL);
  oct_j = json_loads(s, 0, NULL);
  cjose_get_dealloc()(s);
  CHECK(json_object_get(oct_j, "d") != NULL);
  ks = keyset(AUTH_ALG_DEFAULT, &skipped, oct_j, NULL);
  CHECK_EQ_INT(auth_keyset_count(ks), 1);
  CHECK_EQ_INT(sv(ks, &policy, rs1, "RS256", NULL, claims_x("")), 0);
  auth_keyset_free(ks);

  ks = keyset(AUTH_ALG_DEFAULT, &skipped, NULL);
  CHECK_EQ_INT(auth_keyset_count(ks), 0);
  CHECK_EQ_INT(skipped, 0);
  auth_keyset_describe(ks, d, sizeof(d));
  CHECK_EQ_STR(d, "");
  auth_keyset_free(ks);
  auth_keyset_free(NULL);
  CHECK_EQ_INT(auth_keyset_count(NULL), 0);
  CHECK(!auth_keyset_has_kid(NULL, "a", 1));
  cjose_jwk_release(oct);
}

static void test_keyset_bad_keys(void) {
  json_t *e_one = pub_jwk(rs1, "e1", NULL), *e_even = pub_jwk(rs1, "e2", NULL);
  json_t *n_pad = pub_jwk(rs1, "npad", NULL), *x_short = pub_jwk(es1, "xs", NULL);
  json_t *off_curve = pub_jwk(es1, "off", NULL), *ops_enc = pub_jwk(es1, "ops", NULL);
  json_t *ops_ok = pub_jwk(es1, "opsok", NULL), *crv_bad = pub_jwk(es1, "crv", NULL);
  json_t *kid_num = pub_jwk(es1, NULL, NULL), *use_num = pub_jwk(es1, "use", NULL);
  char buf[1000];
  const char *x;
  size_t skipped = 0;
  auth_keyset *ks;

  json_object_set_new(e_one, "e", json_string("AQ"));
  json_object_set_new(e_even, "e", json_string("AQAA"));
  snprintf(buf, sizeof(buf), "%s=", json_string_value(json_object_get(n_pad, "n")));
  json_object_set_new(n_pad, "n", json_string(buf));
  x = json_string_value(json_object_get(x_short, "x"));
  snprintf(buf, sizeof(buf), "%.40s", x);
  json_object_set_new(x_short, "x", json_string(buf));
  json_object_set(off_curve, "x", json_object_get(off_curve, "y")); /* (y, y): not on it */
  json_object_set_new(ops_enc, "key_ops", json_pack("[s]", "encrypt"));
  json_object_set_new(ops_ok, "key_ops", json_pack("[s]", "verify"));
  json_object_set_new(crv_bad, "crv", json_string("P-256K"));
  json_object_set_new(kid_num, "kid", json_integer(7));
  json_object_set_new(use_num, "use", json_integer(1));
  ks = keyset(AUTH_ALG_DEFAULT, &skipped, e_one, e_even, n_pad, x_short, off_curve, ops_enc, ops_ok,
              crv_bad, kid_num, use_num, NULL);
  CHECK_EQ_INT(auth_keyset_count(ks), 1);
  CHECK_EQ_INT(skipped, 9);
  CHECK(auth_keyset_has_kid(ks, "opsok", 5));
  auth_keyset_free(ks);
}

static void test_keyset_limit(void) {
  json_t *doc = json_object(), *keys = json_array();
  auth_keyset *ks = NULL;
  char *text, kid[16];
  size_t skipped = 0;
  int i;
  for (i = 0; i < 70; i++) {
    snprintf(kid, sizeof(kid), "k%d", i);
    json_array_append_new(keys, pub_jwk(es1, kid, NULL));
  }
  json_object_set_new(doc, "keys", keys);
  text = json_dumps(doc, 0);
  CHECK_EQ_INT(auth_keyset_parse(text, strlen(text), AUTH_ALG_DEFAULT, &ks, &skipped, NULL, 0), 0);
  CHECK_EQ_INT(auth_keyset_count(ks), 64);
  CHECK_EQ_INT(skipped, 6);
  CHECK(auth_keyset_has_kid(ks, "k63", 3));
  CHECK(!auth_keyset_has_kid(ks, "k64", 3));
  auth_keyset_free(ks);
  free(text);
  json_decref(doc);
}

static void test_keyset_not_jwks(void) {
  static const char *docs[] = {
      "",
      "nope",
      "[]",
      "{}",
      "{\"keys\":{}}",
      "{\"keys\":null}",
      "{\"keys\":[],\"keys\":[]}",
      "\"x\"",
      "{\"keys\":[]} trailing",
  };
  size_t i, skipped;
  for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
    auth_keyset *ks = (auth_keyset *)&sentinel;
    char err[200] = "";
    CHECK_EQ_INT(auth_keyset_parse(docs[i], strlen(docs[i]), AUTH_ALG_DEFAULT, &ks, &skipped, err,
                                   sizeof(err)),
                 -EINVAL);
    CHECK(ks == NULL);
    CHECK(err[0] != '\0');
  }
  /* the error quotes the document, never its control bytes */
  {
    auth_keyset *ks = NULL;
    char err[200] = "";
    const char *doc = "{\"keys\":[\x01\x1b[31m]}";
    CHECK_EQ_INT(auth_keyset_parse(doc, strlen(doc), AUTH_ALG_DEFAULT, &ks, NULL, err, sizeof(err)),
                 -EINVAL);
    CHECK(strpbrk(err, "\x01\x1b") == NULL);
    CHECK(err[0] != '\0');
  }
  /* len is honoured: the NUL-free prefix is a JWKS, the whole is not */
  {
    auth_keyset *ks = NULL;
    const char *doc = "{\"keys\":[]}garbage";
    CHECK_EQ_INT(auth_keyset_parse(doc, 11, AUTH_ALG_DEFAULT, &ks, NULL, NULL, 0), 0);
    CHECK(ks != NULL);
    auth_keyset_free(ks);
  }
}

static void test_valid(void) {
  auth_keyset *ks = main_set(ALG_ALL);
  const char *c = claims_x("");
  CHECK_EQ_INT(sv(ks, &policy, rs1, "RS256", "rs1", c), 0);
  CHECK_EQ_INT(sv(ks, &policy, rs1, "PS256", "rs1", c), 0);
  CHECK_EQ_INT(sv(ks, &policy, es1, "ES256", "es1", c), 0);
  CHECK_EQ_INT(sv(ks, &policy_all, rs1, "RS384", "rs1", c), 0);
  CHECK_EQ_INT(sv(ks, &policy_all, rs1, "RS512", "rs1", c), 0);
  CHECK_EQ_INT(sv(ks, &policy_all, rs1, "PS512", "rs1", c), 0);
  CHECK_EQ_INT(sv(ks, &policy_all, es3, "ES384", "es3", c), 0);
  CHECK_EQ_INT(sv(ks, &policy_all, es5, "ES512", "es5", c), 0);
  /* kid-less: the only key for the algorithm */
  CHECK_EQ_INT(sv(ks, &policy, rs1, "RS256", NULL, c), 0);
  CHECK_EQ_INT(sv(ks, &policy_all, es3, "ES384", NULL, c), 0);
  /* allowed by the key set, not by the policy */
  CHECK_EQ_INT(sv(ks, &policy, es3, "ES384", "es3", c), AUTH_R_ALG);
  CHECK_EQ_INT(sv(ks, &policy, rs1, "RS512", "rs1", c), AUTH_R_ALG);
  /* the returned claims are the token's */
  {
    char *tok = sign(es1, "ES256", "es1", "at+jwt", claims_x(",\"scope\":\"read\""));
    json_t *cl = NULL;
    CHECK_EQ_INT(auth_jwt_verify(ks, &policy, tok, strlen(tok), NOW, &cl), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(cl, "scope")), "read");
    CHECK_EQ_INT(json_integer_value(json_object_get(cl, "exp")), NOW + 3600);
    json_decref(cl);
    free(tok);
  }
  auth_keyset_free(ks);
}

static void test_kid_choice(void) {
  const char *c = claims_x("");
  auth_keyset *one = keyset(AUTH_ALG_DEFAULT, NULL, pub_jwk(rs1, "rs1", NULL), NULL);
  auth_keyset *two = keyset(AUTH_ALG_DEFAULT, NULL, pub_jwk(rs1, "rs1", NULL),
                            pub_jwk(rs2, "rs2", NULL), pub_jwk(es1, NULL, NULL), NULL);
  auth_keyset *dup = keyset(AUTH_ALG_DEFAULT, NULL, pub_jwk(rs1, "same", NULL),
                            pub_jwk(rs2, "same", NULL), pub_jwk(es1, "same", NULL), NULL);
  CHECK_EQ_INT(sv(one, &policy, rs1, "RS256", NULL, c), 0);
  CHECK_EQ_INT(sv(one, &policy, rs1, "RS256", "rs1", c), 0);
  CHECK_EQ_INT(sv(one, &policy, rs1, "RS256", "nope", c), AUTH_R_UNKNOWN_KID);
  CHECK_EQ_INT(sv(one, &policy, rs1, "RS256", "", c), AUTH_R_UNKNOWN_KID);
  CHECK_EQ_INT(sv(one, &policy, rs1, "RS256", "RS1", c), AUTH_R_UNKNOWN_KID);
  CHECK_EQ_INT(sv(one, &policy, es1, "ES256", NULL, c), AUTH_R_UNKNOWN_KID);
  /* no key set yet: no key, but the header rules still come first */
  CHECK_EQ_INT(sv(NULL, &policy, rs1, "RS256", "rs1", c), AUTH_R_UNKNOWN_KID);
  CHECK_EQ_INT(sv(NULL, &policy, rs1, "RS384", "rs1", c), AUTH_R_ALG);
  {
    json_t *cl = NULL;
    char *tok = sign(rs1, "RS256", "rs1", NULL, c);
    CHECK_EQ_INT(auth_jwt_verify(one, NULL, tok, strlen(tok), NOW, &cl), -EINVAL);
    CHECK(cl == NULL);
    free(tok);
  }
  /* two RSA keys: a kid-less RSA token is ambiguous, EC is not */
  CHECK_EQ_INT(sv(two, &policy, rs1, "RS256", NULL, c), AUTH_R_UNKNOWN_KID);
  CHECK_EQ_INT(sv(two, &policy, rs2, "PS256", NULL, c), AUTH_R_UNKNOWN_KID);
  CHECK_EQ_INT(sv(two, &policy, rs2, "RS256", "rs2", c), 0);
  CHECK_EQ_INT(sv(two, &policy, rs1, "RS256", "rs1", c), 0);
  CHECK_EQ_INT(sv(two, &policy, es1, "ES256", NULL, c), 0);
  /* the kid names the key: signed by the other one, it does not verify */
  CHECK_EQ_INT(sv(two, &policy, rs2, "RS256", "rs1", c), AUTH_R_SIGNATURE);
  /* a kid-less key is not found by kid */
  CHECK_EQ_INT(sv(two, &policy, es1, "ES256", "es1", c), AUTH_R_UNKNOWN_KID);
  /* a kid shared by two RSA keys: ambiguous; by one EC key: fine */
  CHECK_EQ_INT(sv(dup, &policy, rs1, "RS256", "same", c), AUTH_R_UNKNOWN_KID);
  CHECK_EQ_INT(sv(dup, &policy, es1, "ES256", "same", c), 0);
  auth_keyset_free(one);
  auth_keyset_free(two);
  auth_keyset_free(dup);
}

static void test_alg_attacks(void) {
  auth_keyset *ks = main_set(ALG_ALL);
  auth_keyset *rs_only = keyset(ALG_ALL, NULL, pub_jwk(rs1, "rs1", "RS256"), NULL);
  const char *c = claims_x("");
  char *pubtext = cjose_jwk_to_json(rs1, false, NULL), *tok;
  cjose_jwk_t *hmac;
  auth_jwt_header h;
  static const char *nones[] = {"{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"alg\":\"none\"}",
                                "{\"alg\":\"None\",\"kid\":\"rs1\"}", "{\"alg\":\"NONE\"}",
                                "{\"alg\":\"\"}"};
  size_t i;

  /* alg none, empty signature, with every policy */
  for (i = 0; i < sizeof(nones) / sizeof(nones[0]); i++) {
    tok = raw_token(nones[i], c, "");
    CHECK_EQ_INT(ver(ks, &policy, tok), AUTH_R_ALG);
    CHECK_EQ_INT(ver(ks, &policy_all, tok), AUTH_R_ALG);
    CHECK_EQ_INT(auth_jwt_peek(tok, strlen(tok), &h), AUTH_R_ALG);
    CHECK_EQ_INT(h.alg, 0);
    free(tok);
  }
  /* HS256 keyed with the RSA public key, as JWK text and as the modulus */
  hmac = cjose_jwk_create_oct_spec((const uint8_t *)pubtext, strlen(pubtext), NULL);
  tok = sign(hmac, "HS256", "rs1", "JWT", c);
  CHECK_EQ_INT(ver(ks, &policy_all, tok), AUTH_R_ALG);
  CHECK_EQ_INT(ver(rs_only, &policy_all, tok), AUTH_R_ALG);
  free(tok);
  tok = sign(hmac, "HS256", NULL, NULL, c);
  CHECK_EQ_INT(ver(rs_only, &policy_all, tok), AUTH_R_ALG);
  free(tok);
  cjose_jwk_release(hmac);
  {
    json_t *j = json_loads(pubtext, 0, NULL);
    uint8_t *n = NULL;
    size_t nlen = 0;
    const char *n64 = json_string_value(json_object_get(j, "n"));
    CHECK(cjose_base64url_decode(n64, strlen(n64), &n, &nlen, NULL));
    hmac = cjose_jwk_create_oct_spec(n, nlen, NULL);
    tok = sign(hmac, "HS512", "rs1", NULL, c);
    CHECK_EQ_INT(ver(rs_only, &policy_all, tok), AUTH_R_ALG);
    free(tok);
    cjose_jwk_release(hmac);
    cjose_get_dealloc()(n);
    json_decref(j);
  }
  cjose_get_dealloc()(pubtext);

  /* an RSA algorithm on an EC key, by kid; and the other way round */
  CHECK_EQ_INT(sv(ks, &policy_all, rs1, "RS256", "es1", c), AUTH_R_ALG);
  CHECK_EQ_INT(sv(ks, &policy_all, rs1, "PS256", "es1", c), AUTH_R_ALG);
  CHECK_EQ_INT(sv(ks, &policy_all, es1, "ES256", "rs1", c), AUTH_R_ALG);
  /* ES384 by a P-384 key, naming the P-256 key; ES256 naming P-384 */
  CHECK_EQ_INT(sv(ks, &policy_all, es3, "ES384", "es1", c), AUTH_R_ALG);
  CHECK_EQ_INT(sv(ks, &policy_all, es1, "ES256", "es3", c), AUTH_R_ALG);
  /* a key limited to RS256 by its own alg */
  CHECK_EQ_INT(sv(rs_only, &policy_all, rs1, "PS256", "rs1", c), AUTH_R_ALG);
  CHECK_EQ_INT(sv(rs_only, &policy_all, rs1, "RS256", "rs1", c), 0);
  /* alg of the wrong type, or missing */
  tok = raw_token("{\"alg\":256,\"kid\":\"rs1\"}", c, "AAAA");
  CHECK_EQ_INT(ver(ks, &policy, tok), AUTH_R_MALFORMED);
  free(tok);
  tok = raw_token("{\"kid\":\"rs1\"}", c, "AAAA");
  CHECK_EQ_INT(ver(ks, &policy, tok), AUTH_R_MALFORMED);
  free(tok);
  auth_keyset_free(ks);
  auth_keyset_free(rs_only);
}

static void test_signature(void) {
  auth_keyset *ks = main_set(AUTH_ALG_DEFAULT);
  char *good = sign(rs1, "RS256", "rs1", NULL, claims_x(""));
  char *ec = sign(es1, "ES256", "es1", NULL, claims_x(""));
  char *other = sign(rs1, "RS256", "rs1", NULL, claims_x(",\"admin\":true"));
  char *t, *p64, *sig;
  size_t slen;
  const char *d;

  CHECK_EQ_INT(ver(ks, &policy, good), 0);
  CHECK_EQ_INT(ver(ks, &policy, ec), 0);
  /* another payload under the good signature */
  d = strchr(other, '.') + 1;
  p64 = strndup(d, (size_t)(strchr(d, '.') - d));
  t = with_segment(good, 1, p64);
  CHECK_EQ_INT(ver(ks, &policy, t), AUTH_R_SIGNATURE);
  free(t);
  free(p64);
  /* one signature character changed */
  t = strdup(good);
  sig = strrchr(t, '.') + 1;
  sig[10] = sig[10] == 'A' ? 'B' : 'A';
  CHECK_EQ_INT(ver(ks, &policy, t), AUTH_R_SIGNATURE);
  free(t);
  /* a bad signature is reported before anything about the claims */
  p64 = b64u("{\"iss\":\"evil\",\"exp\":1}", 22);
  t = with_segment(good, 1, p64);
  CHECK_EQ_INT(ver(ks, &policy, t), AUTH_R_SIGNATURE);
  free(t);
  free(p64);
  /* signed by another key of the same kind */
  t = sign(rs2, "RS256", "rs1", NULL, claims_x(""));
  CHECK_EQ_INT(ver(ks, &policy, t), AUTH_R_SIGNATURE);
  free(t);
  t = sign(es1, "ES256", "es1", NULL, claims_x(""));
  CHECK_EQ_INT(ver(ks, &policy, t), 0);
  free(t);
  /* ES256 signature of the wrong length: cjose would halve it */
  t = malloc(strlen(ec) + 8);
  sprintf(t, "%sAAAA", ec);
  CHECK_EQ_INT(ver(ks, &policy, t), AUTH_R_SIGNATURE);
  free(t);
  t = with_segment(ec, 2, "");
  CHECK_EQ_INT(ver(ks, &policy, t), AUTH_R_SIGNATURE);
  free(t);
  /* R and S each with a leading zero byte: the same numbers, so cjose's
   * ES code (which halves the length) accepts it; the length is wrong */
  {
    uint8_t *raw = NULL, wide[66] = {0};
    size_t rawlen = 0;
    char *w64;
    sig = strrchr(ec, '.') + 1;
    CHECK(cjose_base64url_decode(sig, strlen(sig), &raw, &rawlen, NULL));
    CHECK_EQ_INT(rawlen, 64);
    memcpy(wide + 1, raw, 32);
    memcpy(wide + 34, raw + 32, 32);
    w64 = b64u(wide, sizeof(wide));
    t = with_segment(ec, 2, w64);
    CHECK_EQ_INT(ver(ks, &policy, t), AUTH_R_SIGNATURE);
    free(t);
    free(w64);
    cjose_get_dealloc()(raw);
  }
  /* PSS signed by another key: OpenSSL queues an error, which must not stay */
  t = sign(rs2, "PS256", "rs1", NULL, claims_x(""));
  CHECK_EQ_INT(ver(ks, &policy, t), AUTH_R_SIGNATURE);
  free(t);
  /* RSA signature one byte short */
  sig = strrchr(good, '.') + 1;
  slen = strlen(sig);
  t = strndup(good, strlen(good) - slen + 340);
  CHECK_EQ_INT(ver(ks, &policy, t), AUTH_R_SIGNATURE);
  free(t);
  /* the same signature bytes spelled with non-zero trailing bits: cjose
   * would accept it; one token has one spelling (86 chars: 4 spare bits) */
  t = strdup(ec);
  sig = strrchr(t, '.') + 1;
  CHECK_EQ_INT(strlen(sig), 86);
  sig[85] = sig[85] == 'A' ? 'B' : (char)(sig[85] + 1);
  CHECK_EQ_INT(ver(ks, &policy, t), AUTH_R_MALFORMED);
  free(t);
  /* padding, and the input that trips an assert in cjose's decoder */
  t = malloc(strlen(ec) + 4);
  sprintf(t, "%s==", ec);
  CHECK_EQ_INT(ver(ks, &policy, t), AUTH_R_MALFORMED);
  free(t);
  t = with_segment(ec, 1, "A===");
  CHECK_EQ_INT(ver(ks, &policy, t), AUTH_R_MALFORMED);
  free(t);
  t = with_segment(ec, 1, "AAAAA=");
  CHECK_EQ_INT(ver(ks, &policy, t), AUTH_R_MALFORMED);
  free(t);
  t = with_segment(ec, 1, "");
  CHECK_EQ_INT(ver(ks, &policy, t), AUTH_R_MALFORMED);
  free(t);
  t = with_segment(ec, 1, "e30+");
  CHECK_EQ_INT(ver(ks, &policy, t), AUTH_R_MALFORMED);
  free(t);
  /* a NUL inside the token (len covers it) */
  {
    json_t *cl = NULL;
    t = strdup(ec);
    sig = strrchr(t, '.') + 1;
    sig[5] = '\0';
    CHECK_EQ_INT(auth_jwt_verify(ks, &policy, t, strlen(ec), NOW, &cl), AUTH_R_MALFORMED);
    CHECK(cl == NULL);
    free(t);
  }
  free(good);
  free(ec);
  free(other);
  auth_keyset_free(ks);
}

static void test_time_claims(void) {
  auth_keyset *ks = main_set(AUTH_ALG_DEFAULT);
  const char *base = "{\"iss\":\"" ISSUER "\",\"aud\":\"mcpd\",\"sub\":\"alice\"";
#define TC(fmt, ...)                                                                               \
  sv(ks, &policy, es1, "ES256", "es1", claims_f("%s," fmt "}", base, __VA_ARGS__))
  CHECK_EQ_INT(TC("\"exp\":%lld", NOW), 0);
  CHECK_EQ_INT(TC("\"exp\":%lld", NOW - 60), 0);
  CHECK_EQ_INT(TC("\"exp\":%lld", NOW - 61), AUTH_R_EXPIRED);
  CHECK_EQ_INT(TC("\"exp\":%lld", 0LL), AUTH_R_EXPIRED);
  CHECK_EQ_INT(TC("\"exp\":%lld.5", NOW - 61), AUTH_R_EXPIRED);
  CHECK_EQ_INT(TC("\"exp\":%lld.5", NOW - 61 + 1), 0);
  CHECK_EQ_INT(TC("\"exp\":%lld.0", NOW - 60), 0);
  CHECK_EQ_INT(TC("\"exp\":%lld,\"nbf\":%lld.0", NOW + 100, NOW + 60), 0);
  CHECK_EQ_INT(TC("\"exp\":%s", "9223372036854775807"), 0);
  CHECK_EQ_INT(TC("\"exp\":%s", "-9223372036854775808"), AUTH_R_EXPIRED);
  CHECK_EQ_INT(TC("\"exp\":%s", "1e300"), 0);
  CHECK_EQ_INT(TC("\"exp\":%lld,\"nbf\":%lld", NOW + 100, NOW + 60), 0);
  CHECK_EQ_INT(TC("\"exp\":%lld,\"nbf\":%lld", NOW + 100, NOW + 61), AUTH_R_NOT_YET_VALID);
  CHECK_EQ_INT(TC("\"exp\":%lld,\"iat\":%lld", NOW + 100, NOW + 60), 0);
  CHECK_EQ_INT(TC("\"exp\":%lld,\"iat\":%lld", NOW + 100, NOW + 61), AUTH_R_NOT_YET_VALID);
  CHECK_EQ_INT(TC("\"exp\":%lld,\"iat\":%lld.5", NOW + 100, NOW + 60), AUTH_R_NOT_YET_VALID);
  CHECK_EQ_INT(TC("\"exp\":%lld,\"nbf\":%s", NOW + 100, "-9223372036854775808"), 0);
  CHECK_EQ_INT(TC("\"exp\":%lld,\"nbf\":%s", NOW + 100, "9223372036854775807"),
               AUTH_R_NOT_YET_VALID);
  /* expired is reported before not-yet-valid */
  CHECK_EQ_INT(TC("\"exp\":%lld,\"nbf\":%lld", NOW - 100, NOW + 100), AUTH_R_EXPIRED);
  /* missing or mistyped */
  CHECK_EQ_INT(TC("\"nbf\":%lld", NOW), AUTH_R_CLAIMS);
  CHECK_EQ_INT(TC("\"exp\":\"%lld\"", NOW + 100), AUTH_R_CLAIMS);
  CHECK_EQ_INT(TC("\"exp\":%s", "null"), AUTH_R_CLAIMS);
  CHECK_EQ_INT(TC("\"exp\":%s", "[1]"), AUTH_R_CLAIMS);
  CHECK_EQ_INT(TC("\"exp\":%lld,\"nbf\":\"%s\"", NOW + 100, "0"), AUTH_R_CLAIMS);
  CHECK_EQ_INT(TC("\"exp\":%lld,\"iat\":%s", NOW + 100, "true"), AUTH_R_CLAIMS);
  CHECK_EQ_INT(TC("\"exp\":%lld,\"iat\":%s", NOW + 100, "null"), AUTH_R_CLAIMS);
#undef TC
  /* at the ends of the clock: no overflow (UBSan watches) */
  {
    char *tok = sign(es1, "ES256", "es1", NULL,
                     claims_f("%s,\"exp\":9223372036854775807,\"nbf\":9223372036854775807}", base));
    CHECK_EQ_INT(ver_at(ks, &policy, tok, INT64_MAX), 0);
    CHECK_EQ_INT(ver_at(ks, &policy, tok, INT64_MIN), AUTH_R_NOT_YET_VALID);
    free(tok);
    tok = sign(es1, "ES256", "es1", NULL,
               claims_f("%s,\"exp\":-9223372036854775808,\"iat\":-9223372036854775808}", base));
    CHECK_EQ_INT(ver_at(ks, &policy, tok, INT64_MIN), 0);
    CHECK_EQ_INT(ver_at(ks, &policy, tok, INT64_MIN + 61), AUTH_R_EXPIRED);
    free(tok);
  }
  auth_keyset_free(ks);
}

static void test_iss_aud(void) {
  auth_keyset *ks = main_set(AUTH_ALG_DEFAULT);
  auth_jwt_policy any = policy;
  const char *exp = "\"sub\":\"alice\",\"exp\":1800003600";
#define IA(pol, fmt, ...)                                                                          \
  sv(ks, pol, es1, "ES256", "es1", claims_f("{%s," fmt "}", exp, __VA_ARGS__))
  CHECK_EQ_INT(IA(&policy, "\"iss\":\"%s\",\"aud\":\"mcpd\"", ISSUER), 0);
  CHECK_EQ_INT(IA(&policy, "\"iss\":\"%s\",\"aud\":[\"x\",\"mcpd\"]", ISSUER), 0);
  CHECK_EQ_INT(IA(&policy, "\"iss\":\"%s\",\"aud\":[\"mcpd\"]", ISSUER), 0);
  CHECK_EQ_INT(IA(&policy, "\"iss\":\"%s\",\"aud\":\"mcpdx\"", ISSUER), AUTH_R_AUDIENCE);
  CHECK_EQ_INT(IA(&policy, "\"iss\":\"%s\",\"aud\":\"mcp\"", ISSUER), AUTH_R_AUDIENCE);
  CHECK_EQ_INT(IA(&policy, "\"iss\":\"%s\",\"aud\":\"MCPD\"", ISSUER), AUTH_R_AUDIENCE);
  CHECK_EQ_INT(IA(&policy, "\"iss\":\"%s\",\"aud\":[\"x\",\"y\"]", ISSUER), AUTH_R_AUDIENCE);
  CHECK_EQ_INT(IA(&policy, "\"iss\":\"%s\",\"aud\":[]", ISSUER), AUTH_R_AUDIENCE);
  CHECK_EQ_INT(IA(&policy, "\"iss\":\"%s\",\"aud\":[\"mcpd\",1]", ISSUER), AUTH_R_AUDIENCE);
  CHECK_EQ_INT(IA(&policy, "\"iss\":\"%s\",\"aud\":{\"mcpd\":1}", ISSUER), AUTH_R_AUDIENCE);
  CHECK_EQ_INT(IA(&policy, "\"iss\":\"%s\"", ISSUER), AUTH_R_AUDIENCE);
  CHECK_EQ_INT(IA(&policy, "\"iss\":\"%s\",\"aud\":\"mcpd\\u0000x\"", ISSUER), AUTH_R_MALFORMED);
  CHECK_EQ_INT(IA(&policy, "\"iss\":\"%s/\",\"aud\":\"mcpd\"", ISSUER), AUTH_R_ISSUER);
  CHECK_EQ_INT(IA(&policy, "\"iss\":\"%s\",\"aud\":\"mcpd\"", "https://issuer.exampl"),
               AUTH_R_ISSUER);
  CHECK_EQ_INT(IA(&policy, "\"iss\":[\"%s\"],\"aud\":\"mcpd\"", ISSUER), AUTH_R_ISSUER);
  CHECK_EQ_INT(IA(&policy, "\"aud\":\"%s\"", "mcpd"), AUTH_R_ISSUER);
  /* iss is checked before aud, and both before the time */
  CHECK_EQ_INT(IA(&policy, "\"iss\":\"%s\",\"aud\":\"x\"", "evil"), AUTH_R_ISSUER);
  /* no issuer, no audience configured: not checked */
  any.issuer = NULL;
  any.audience = NULL;
  CHECK_EQ_INT(IA(&any, "\"iss\":%d", 5), 0);
  any.audience = "mcpd";
  CHECK_EQ_INT(IA(&any, "\"iss\":\"%s\",\"aud\":\"mcpd\"", "evil"), 0);
  CHECK_EQ_INT(IA(&any, "\"iss\":\"%s\",\"aud\":\"x\"", "evil"), AUTH_R_AUDIENCE);
#undef IA
  CHECK_EQ_INT(sv(ks, &policy, es1, "ES256", "es1",
                  "{\"iss\":\"evil\",\"aud\":\"x\",\"sub\":\"alice\",\"exp\":1}"),
               AUTH_R_ISSUER);
  auth_keyset_free(ks);
}

static void test_payload_shape(void) {
  auth_keyset *ks = main_set(AUTH_ALG_DEFAULT);
  CHECK_EQ_INT(sv(ks, &policy, es1, "ES256", "es1", "[1,2]"), AUTH_R_MALFORMED);
  CHECK_EQ_INT(sv(ks, &policy, es1, "ES256", "es1", "\"x\""), AUTH_R_MALFORMED);
  CHECK_EQ_INT(sv(ks, &policy, es1, "ES256", "es1", "not json"), AUTH_R_MALFORMED);
  CHECK_EQ_INT(sv(ks, &policy, es1, "ES256", "es1", claims_x(",\"sub\":\"bob\"")),
               AUTH_R_MALFORMED);
  CHECK_EQ_INT(sv(ks, &policy, es1, "ES256", "es1", claims_x(",\"exp\":1")), AUTH_R_MALFORMED);
  CHECK_EQ_INT(sv(ks, &policy, es1, "ES256", "es1", claims_x("} ")), AUTH_R_MALFORMED);
  auth_keyset_free(ks);
}

static void test_header(void) {
  auth_keyset *ks = main_set(AUTH_ALG_DEFAULT);
  const char *c = claims_x("");
  static const char *typ_ok[] = {
      "JWT", "jwt", "at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"};
  static const char *typ_bad[] = {"JOSE", "application/jwt", "", "JWT ", "at+jwt2", "JOSE+JSON"};
  auth_jwt_header h;
  json_t *hdr;
  char *tok, kid[300];
  size_t i;

  tok = sign(es1, "ES256", NULL, NULL, c);
  CHECK_EQ_INT(ver(ks, &policy, tok), 0);
  free(tok);
  for (i = 0; i < sizeof(typ_ok) / sizeof(typ_ok[0]); i++) {
    tok = sign(es1, "ES256", "es1", typ_ok[i], c);
    CHECK_EQ_INT(ver(ks, &policy, tok), 0);
    free(tok);
  }
  for (i = 0; i < sizeof(typ_bad) / sizeof(typ_bad[0]); i++) {
    tok = sign(es1, "ES256", "es1", typ_bad[i], c);
    CHECK_EQ_INT(ver(ks, &policy, tok), AUTH_R_MALFORMED);
    free(tok);
  }
  hdr = json_pack("{s:s, s:s, s:i}", "alg", "ES256", "kid", "es1", "typ", 1);
  tok = sign_hdr(es1, hdr, c);
  CHECK_EQ_INT(ver(ks, &policy, tok), AUTH_R_MALFORMED);
  free(tok);
  json_decref(hdr);
  /* crit, even empty or naming a registered claim */
  hdr = json_pack("{s:s, s:s, s:[s]}", "alg", "ES256", "kid", "es1", "crit", "exp");
  tok = sign_hdr(es1, hdr, c);
  CHECK_EQ_INT(ver(ks, &policy, tok), AUTH_R_MALFORMED);
  CHECK_EQ_INT(auth_jwt_peek(tok, strlen(tok), &h), AUTH_R_MALFORMED);
  free(tok);
  json_decref(hdr);
  hdr = json_pack("{s:s, s:[]}", "alg", "ES256", "crit");
  tok = sign_hdr(es1, hdr, c);
  CHECK_EQ_INT(ver(ks, &policy, tok), AUTH_R_MALFORMED);
  free(tok);
  json_decref(hdr);
  /* other members are ignored; jku and jwk never lead to a key */
  hdr = json_pack("{s:s, s:s, s:s, s:{s:s}}", "alg", "ES256", "kid", "es1", "jku",
                  "https://evil.example/jwks", "x-ext", "a", "b");
  tok = sign_hdr(es1, hdr, c);
  CHECK_EQ_INT(ver(ks, &policy, tok), 0);
  free(tok);
  json_decref(hdr);
  /* duplicate members, whatever the signature */
  tok = raw_token("{\"alg\":\"ES256\",\"alg\":\"ES256\"}", c, "AAAA");
  CHECK_EQ_INT(ver(ks, &policy, tok), AUTH_R_MALFORMED);
  CHECK_EQ_INT(auth_jwt_peek(tok, strlen(tok), &h), AUTH_R_MALFORMED);
  free(tok);
  tok = raw_token("{\"alg\":\"none\",\"kid\":\"es1\",\"alg\":\"ES256\"}", c, "AAAA");
  CHECK_EQ_INT(ver(ks, &policy, tok), AUTH_R_MALFORMED);
  free(tok);
  tok = raw_token("{\"alg\":\"ES256\",\"kid\":\"es1\",\"kid\":\"rs1\"}", c, "AAAA");
  CHECK_EQ_INT(ver(ks, &policy, tok), AUTH_R_MALFORMED);
  free(tok);
  /* kid: up to 256 bytes, a string */
  memset(kid, 'k', sizeof(kid));
  kid[256] = '\0';
  tok = sign(es1, "ES256", kid, NULL, c);
  CHECK_EQ_INT(auth_jwt_peek(tok, strlen(tok), &h), 0);
  CHECK_EQ_INT(h.has_kid, 1);
  CHECK_EQ_INT(strlen(h.kid), 256);
  CHECK_EQ_INT(ver(ks, &policy, tok), AUTH_R_UNKNOWN_KID);
  free(tok);
  kid[256] = 'k';
  kid[257] = '\0';
  tok = sign(es1, "ES256", kid, NULL, c);
  CHECK_EQ_INT(auth_jwt_peek(tok, strlen(tok), &h), AUTH_R_MALFORMED);
  CHECK_EQ_INT(ver(ks, &policy, tok), AUTH_R_MALFORMED);
  free(tok);
  hdr = json_pack("{s:s, s:i}", "alg", "ES256", "kid", 1);
  tok = sign_hdr(es1, hdr, c);
  CHECK_EQ_INT(ver(ks, &policy, tok), AUTH_R_MALFORMED);
  free(tok);
  json_decref(hdr);
  /* peek reports what it read */
  tok = sign(rs1, "PS256", "rs1", "JWT", c);
  memset(&h, 0xff, sizeof(h));
  CHECK_EQ_INT(auth_jwt_peek(tok, strlen(tok), &h), 0);
  CHECK_EQ_INT(h.alg, AUTH_ALG_PS256);
  CHECK_EQ_INT(h.has_kid, 1);
  CHECK_EQ_STR(h.kid, "rs1");
  free(tok);
  tok = sign(es1, "ES256", NULL, NULL, c);
  memset(&h, 0xff, sizeof(h));
  CHECK_EQ_INT(auth_jwt_peek(tok, strlen(tok), &h), 0);
  CHECK_EQ_INT(h.has_kid, 0);
  CHECK_EQ_STR(h.kid, "");
  free(tok);
  auth_keyset_free(ks);
}

static void test_shape(void) {
  static const char *bad[] = {
      "",         "abc",        "a.b",         "a.b.c.d",       ".e30.AA",
      "%%%%.a.b", "e30.e30.AA", "WzFd.e30.AA", "bnVsbA.e30.AA", "eyJhbGciOiJFUzI1NiJ9=.e30.AA"};
  auth_keyset *ks = main_set(AUTH_ALG_DEFAULT);
  auth_jwt_header h;
  char hdr[1100], *tok;
  size_t i, n;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    CHECK_EQ_INT(auth_jwt_peek(bad[i], strlen(bad[i]), &h), AUTH_R_MALFORMED);
    CHECK_EQ_INT(ver(ks, &policy, bad[i]), AUTH_R_MALFORMED);
  }
  CHECK_EQ_INT(ver(ks, &policy, NULL), AUTH_R_MALFORMED);
  /* a good header, nothing else */
  CHECK_EQ_INT(ver(ks, &policy, "eyJhbGciOiJFUzI1NiJ9.."), AUTH_R_MALFORMED);
  CHECK_EQ_INT(ver(ks, &policy, "eyJhbGciOiJFUzI1NiJ9..AAAA"), AUTH_R_MALFORMED);
  CHECK_EQ_INT(auth_jwt_peek(NULL, 0, &h), AUTH_R_MALFORMED);
  /* a good token with a fourth segment */
  tok = sign(es1, "ES256", "es1", NULL, claims_x(""));
  CHECK_EQ_INT(auth_jwt_peek(tok, strlen(tok), &h), 0);
  {
    char *four = malloc(strlen(tok) + 4);
    sprintf(four, "%s.AA", tok);
    CHECK_EQ_INT(auth_jwt_peek(four, strlen(four), &h), AUTH_R_MALFORMED);
    CHECK_EQ_INT(ver(ks, &policy, four), AUTH_R_MALFORMED);
    free(four);
  }
  free(tok);
  /* a header of exactly 1 KiB is read; one byte more is not */
  n = (size_t)snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"x\":\"");
  memset(hdr + n, 'a', 1024 - n - 2);
  memcpy(hdr + 1022, "\"}", 3);
  CHECK_EQ_INT(strlen(hdr), 1024);
  tok = raw_token(hdr, "{}", "AAAA");
  CHECK_EQ_INT(auth_jwt_peek(tok, strlen(tok), &h), 0);
  free(tok);
  memcpy(hdr + 1022, "a\"}", 4);
  tok = raw_token(hdr, "{}", "AAAA");
  CHECK_EQ_INT(auth_jwt_peek(tok, strlen(tok), &h), AUTH_R_MALFORMED);
  free(tok);
  auth_keyset_free(ks);
}

/* A signed token of exactly want bytes, padded with a claim; a header
 * member of 0 to 3 bytes moves the length by what payload padding cannot. */
static char *token_of_size(size_t want) {
  char *pad = malloc(want + 1), *extra = malloc(want + 32), *tok = NULL;
  size_t t, p, len;
  for (t = 0; t < 4 && tok == NULL; t++) {
    json_t *hdr = json_pack("{s:s, s:s, s:s#}", "alg", "ES256", "kid", "es1", "h", "hhh", t);
    for (p = 0;;) {
      memset(pad, 'p', p);
      pad[p] = '\0';
      snprintf(extra, want + 32, ",\"pad\":\"%s\"", pad);
      tok = sign_hdr(es1, hdr, claims_x(extra));
      len = strlen(tok);
      if (len == want)
        break;
      free(tok);
      tok = NULL;
      if (len > want)
        break;
      p += len + 16 < want ? (want - len) * 3 / 4 - 8 : 1;
    }
    json_decref(hdr);
  }
  free(pad);
  free(extra);
  return tok;
}

static void test_size(void) {
  auth_keyset *ks = main_set(AUTH_ALG_DEFAULT);
  char *tok = token_of_size(8192);
  CHECK(tok != NULL);
  CHECK_EQ_INT(ver(ks, &policy, tok), 0);
  free(tok);
  tok = token_of_size(8193);
  CHECK(tok != NULL);
  CHECK_EQ_INT(ver(ks, &policy, tok), AUTH_R_MALFORMED);
  free(tok);
  tok = token_of_size(9 * 1024);
  CHECK(tok != NULL);
  CHECK_EQ_INT(ver(ks, &policy, tok), AUTH_R_MALFORMED);
  free(tok);
  auth_keyset_free(ks);
}

struct worker {
  const auth_keyset *ks;
  const char *tok[3]; /* good, good, bad signature */
  int failed;
};

static void *work(void *arg) {
  struct worker *w = arg;
  int i;
  for (i = 0; i < 40; i++) {
    json_t *c = NULL;
    const char *t = w->tok[i % 3];
    if (auth_jwt_verify(w->ks, &policy, t, strlen(t), NOW, &c) !=
        (i % 3 == 2 ? AUTH_R_SIGNATURE : 0))
      w->failed++;
    json_decref(c);
  }
  return NULL;
}

/* One key set, read by two threads at once, failures included (under
 * TSan; note it cannot see into the uninstrumented libcrypto and cjose). */
static void test_threads(void) {
  auth_keyset *ks = main_set(AUTH_ALG_DEFAULT);
  char *a = sign(rs1, "RS256", "rs1", NULL, claims_x(""));
  char *b = sign(es1, "ES256", NULL, NULL, claims_x(""));
  char *bad = sign(rs2, "PS256", "rs1", NULL, claims_x(""));
  struct worker w[2] = {{ks, {a, b, bad}, 0}, {ks, {b, a, bad}, 0}};
  pthread_t th[2];
  int i;
  for (i = 0; i < 2; i++)
    CHECK_EQ_INT(pthread_create(&th[i], NULL, work, &w[i]), 0);
  for (i = 0; i < 2; i++) {
    pthread_join(th[i], NULL);
    CHECK_EQ_INT(w[i].failed, 0);
  }
  free(a);
  free(b);
  free(bad);
  auth_keyset_free(ks);
}

int main(void) {
  rs1 = cjose_jwk_create_RSA_random(2048, NULL, 0, NULL);
  rs2 = cjose_jwk_create_RSA_random(2048, NULL, 0, NULL);
  rs_small = cjose_jwk_create_RSA_random(1024, NULL, 0, NULL);
  es1 = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, NULL);
  es3 = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_384, NULL);
  es5 = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_521, NULL);
  if (!rs1 || !rs2 || !rs_small || !es1 || !es3 || !es5) {
    fprintf(stderr, "cannot generate keys\n");
    return 1;
  }
  RUN(test_alg_names);
  RUN(test_keyset_parse);
  RUN(test_keyset_bad_keys);
  RUN(test_keyset_limit);
  RUN(test_keyset_not_jwks);
  RUN(test_valid);
  RUN(test_kid_choice);
  RUN(test_alg_attacks);
  RUN(test_signature);
  RUN(test_time_claims);
  RUN(test_iss_aud);
  RUN(test_payload_shape);
  RUN(test_header);
  RUN(test_shape);
  RUN(test_size);
  RUN(test_threads);
  cjose_jwk_release(rs1);
  cjose_jwk_release(rs2);
  cjose_jwk_release(rs_small);
  cjose_jwk_release(es1);
  cjose_jwk_release(es3);
  cjose_jwk_release(es5);
  TEST_MAIN_END();
}
