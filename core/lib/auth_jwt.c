/* auth_jwt.c -- verifying JWTs against a JWKS with cjose. We decide
 * everything that is policy before cjose sees a byte: the header is decoded
 * and checked here (strict base64url, duplicate keys refused), the algorithm
 * must be allowed and must fit the key's type and curve, and the segments
 * must be canonical base64url of the right signature length. cjose then only
 * imports the public half of each key, and checks one signature with one
 * key. */
#include "lib/auth_jwt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjose/cjose.h>
#include <openssl/err.h>

#define KEYSET_MAX   64   /* keys kept per set; real sets hold a handful */
#define TOKEN_MAX    8192 /* bytes of a compact token */
#define HEADER_MAX   1024 /* decoded bytes of a protected header */
#define KID_MAX      256
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 16384 /* OpenSSL's own limit; bounds the cost of a verify */
#define PUB_JWK_MAX  4096  /* the public members of one key, re-serialised */
#define ALG_RSA                                                                                    \
  (AUTH_ALG_RS256 | AUTH_ALG_RS384 | AUTH_ALG_RS512 | AUTH_ALG_PS256 | AUTH_ALG_PS384 |            \
   AUTH_ALG_PS512)

struct key {
  cjose_jwk_t *jwk;
  char *kid; /* NULL when the key has none */
  size_t kid_len;
  unsigned algs;
  size_t sig_len; /* RSA: modulus bytes; EC: 2 * coordinate bytes */
};

struct auth_keyset {
  size_t n;
  struct key keys[KEYSET_MAX];
};

static const struct {
  const char *name;
  unsigned bit;
} algs[] = {
    {"RS256", AUTH_ALG_RS256}, {"RS384", AUTH_ALG_RS384}, {"RS512", AUTH_ALG_RS512},
    {"PS256", AUTH_ALG_PS256}, {"PS384", AUTH_ALG_PS384}, {"PS512", AUTH_ALG_PS512},
    {"ES256", AUTH_ALG_ES256}, {"ES384", AUTH_ALG_ES384}, {"ES512", AUTH_ALG_ES512},
};

unsigned auth_jwt_alg_bit(const char *name) {
  size_t i;
  if (name == NULL)
    return 0;
  for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
    if (strcmp(name, algs[i].name) == 0) /* case matters (RFC 7515 4.1.1) */
      return algs[i].bit;
  return 0;
}

const char *auth_jwt_alg_name(unsigned bit) {
  size_t i;
  for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
    if (bit == algs[i].bit)
      return algs[i].name;
  return "?";
}

/* ---- base64url ------------------------------------------------------------ */

static int b64u_val(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

/* Whether s is canonical unpadded base64url, and its decoded length. Strict
 * because cjose's decoder is not: it stops at '=' and asserts on some
 * padded inputs ("A==="), and it ignores non-zero trailing bits, which
 * would let one signature be spelled several ways. */
static int b64u_check(const char *s, size_t len, size_t *out_len) {
  size_t i;
  int v = 0;
  if (len % 4 == 1)
    return 0;
  for (i = 0; i < len; i++)
    if ((v = b64u_val((unsigned char)s[i])) < 0)
      return 0;
  if ((len % 4 == 2 && (v & 0x0f) != 0) || (len % 4 == 3 && (v & 0x03) != 0))
    return 0;
  *out_len = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
  return 1;
}

/* Decodes canonical base64url s into out (cap bytes). Returns 0 or -1. */
static int b64u_decode(const char *s, size_t len, unsigned char *out, size_t cap, size_t *out_len) {
  size_t i, o = 0, dlen;
  uint32_t acc = 0;
  int bits = 0;
  if (!b64u_check(s, len, &dlen) || dlen > cap)
    return -1;
  for (i = 0; i < len; i++) {
    acc = (acc << 6) | (uint32_t)b64u_val((unsigned char)s[i]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  *out_len = o;
  return 0;
}

/* ---- key sets --------------------------------------------------------------- */

/* jansson quotes the document near a syntax error, and the document is
 * remote: control bytes become '?' before the sentence reaches a log. */
static void set_err(char *err, size_t n, const char *fmt, ...) {
  va_list ap;
  char *c;
  if (err == NULL || n == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(err, n, fmt, ap);
  va_end(ap);
  for (c = err; *c != '\0'; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f)
      *c = '?';
}

/* The decoded bytes of member name of o, leading zero bytes dropped (an
 * integer, RFC 7518 6.3.1). Returns the length, or 0 when absent or bad. */
static size_t b64u_member(const json_t *o, const char *name, unsigned char *buf, size_t cap,
                          const unsigned char **start) {
  const json_t *v = json_object_get(o, name);
  size_t len, i = 0;
  if (!json_is_string(v) ||
      b64u_decode(json_string_value(v), json_string_length(v), buf, cap, &len) != 0)
    return 0;
  while (i < len && buf[i] == 0)
    i++;
  *start = buf + i;
  return len - i;
}

/* Copies a string member into pub, unchanged. */
static int copy_member(json_t *pub, const json_t *k, const char *name) {
  return json_object_set(pub, name, json_object_get(k, name)) == 0 ? 0 : -ENOMEM;
}

/* Checks an RSA key's n and e and fills pub with them. Returns 1 usable,
 * 0 not, -ENOMEM. */
static int rsa_public(const json_t *k, json_t *pub, struct key *key) {
  unsigned char buf[RSA_MAX_BITS / 8];
  const unsigned char *p;
  size_t len, bits;
  unsigned c;
  len = b64u_member(k, "n", buf, sizeof(buf), &p);
  if (len == 0)
    return 0;
  /* The size from n itself, not from the deprecated RSA* cjose holds. */
  bits = (len - 1) * 8;
  for (c = p[0]; c != 0; c >>= 1)
    bits++;
  if (bits < RSA_MIN_BITS)
    return 0;
  key->sig_len = len;
  /* e: odd and at least 3 (e = 1 makes every "signature" the message). */
  len = b64u_member(k, "e", buf, 8, &p);
  if (len == 0 || (p[len - 1] & 1) == 0 || (len == 1 && p[0] < 3))
    return 0;
  if (copy_member(pub, k, "n") < 0 || copy_member(pub, k, "e") < 0)
    return -ENOMEM;
  key->algs = ALG_RSA;
  return 1;
}

/* Checks an EC key's curve and point encoding and fills pub. Same returns. */
static int ec_public(const json_t *k, json_t *pub, struct key *key, cjose_jwk_ec_curve *crv) {
  static const struct {
    const char *name;
    cjose_jwk_ec_curve crv;
    size_t size;
    unsigned alg;
  } curves[] = {
      {"P-256", CJOSE_JWK_EC_P_256, 32, AUTH_ALG_ES256},
      {"P-384", CJOSE_JWK_EC_P_384, 48, AUTH_ALG_ES384},
      {"P-521", CJOSE_JWK_EC_P_521, 66, AUTH_ALG_ES512},
  };
  const char *name = json_string_value(json_object_get(k, "crv"));
  const json_t *x = json_object_get(k, "x"), *y = json_object_get(k, "y");
  size_t i, xl, yl;
  if (name == NULL || !json_is_string(x) || !json_is_string(y))
    return 0;
  for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
    if (strcmp(name, curves[i].name) == 0)
      break;
  if (i == sizeof(curves) / sizeof(curves[0]))
    return 0;
  /* Coordinates are fixed-length (RFC 7518 6.2.1.2); cjose checks that
   * the point is on the curve. */
  if (!b64u_check(json_string_value(x), json_string_length(x), &xl) ||
      !b64u_check(json_string_value(y), json_string_length(y), &yl) || xl != curves[i].size ||
      yl != curves[i].size)
    return 0;
  if (copy_member(pub, k, "crv") < 0 || copy_member(pub, k, "x") < 0 ||
      copy_member(pub, k, "y") < 0)
    return -ENOMEM;
  key->algs = curves[i].alg;
  key->sig_len = 2 * curves[i].size;
  *crv = curves[i].crv;
  return 1;
}

/* Whether key_ops, when present, allows verifying. */
static int ops_allow_verify(const json_t *ops) {
  size_t i;
  const json_t *v;
  if (ops == NULL)
    return 1;
  json_array_foreach(ops, i, v) {
    if (json_is_string(v) && strcmp(json_string_value(v), "verify") == 0)
      return 1;
  }
  return 0;
}

/* Parses one JWK into *key. Returns 1 kept, 0 skipped, -ENOMEM. */
static int key_parse(const json_t *k, unsigned alg_mask, struct key *key) {
  const char *kty = json_string_value(json_object_get(k, "kty"));
  const json_t *use = json_object_get(k, "use"), *kid = json_object_get(k, "kid");
  const json_t *alg = json_object_get(k, "alg");
  cjose_jwk_ec_curve crv = CJOSE_JWK_EC_INVALID;
  cjose_jwk_kty_t want;
  unsigned own = 0;
  char text[PUB_JWK_MAX];
  size_t tlen;
  json_t *pub;
  int r;

  memset(key, 0, sizeof(*key));
  if (!json_is_object(k) || kty == NULL)
    return 0;
  if (use != NULL && !(json_is_string(use) && strcmp(json_string_value(use), "sig") == 0))
    return 0;
  if (!ops_allow_verify(json_object_get(k, "key_ops")))
    return 0;
  if (kid != NULL && !json_is_string(kid))
    return 0;
  if (alg != NULL && ((own = auth_jwt_alg_bit(json_string_value(alg))) & alg_mask) == 0)
    return 0;

  /* Only the public members reach cjose: no private-key parsing of
   * whatever else an endpoint publishes. */
  if ((pub = json_object()) == NULL || json_object_set_new(pub, "kty", json_string(kty)) != 0) {
    json_decref(pub);
    return -ENOMEM;
  }
  if (strcmp(kty, "RSA") == 0) {
    want = CJOSE_JWK_KTY_RSA;
    r = rsa_public(k, pub, key);
  } else if (strcmp(kty, "EC") == 0) {
    want = CJOSE_JWK_KTY_EC;
    r = ec_public(k, pub, key, &crv);
  } else {
    want = CJOSE_JWK_KTY_OCT;
    r = 0;
  }
  if (r == 1) {
    key->algs &= alg_mask & (own ? own : ~0u);
    if (key->algs == 0)
      r = 0;
  }
  if (r == 1) {
    tlen = json_dumpb(pub, text, sizeof(text), JSON_COMPACT);
    if (tlen == 0 || tlen > sizeof(text))
      r = 0;
  }
  json_decref(pub);
  if (r != 1)
    return r;

  /* No -ENOMEM here: cjose says CJOSE_ERR_NO_MEMORY for a point that is
   * not on the curve too, so a key lost to a real shortage is just skipped.
   * No cjose_err either (see auth_jwt_verify()). */
  key->jwk = cjose_jwk_import(text, tlen, NULL);
  if (key->jwk == NULL)
    return 0;
  if (cjose_jwk_get_kty(key->jwk, NULL) != want ||
      (want == CJOSE_JWK_KTY_EC && cjose_jwk_EC_get_curve(key->jwk, NULL) != crv)) {
    cjose_jwk_release(key->jwk);
    key->jwk = NULL;
    return 0;
  }
  if (kid != NULL) {
    key->kid_len = json_string_length(kid);
    if ((key->kid = malloc(key->kid_len + 1)) == NULL) {
      cjose_jwk_release(key->jwk);
      key->jwk = NULL;
      return -ENOMEM;
    }
    memcpy(key->kid, json_string_value(kid), key->kid_len + 1);
  }
  return 1;
}

int auth_keyset_parse(const char *json, size_t len, unsigned alg_mask, auth_keyset **out,
                      size_t *skipped, char *err, size_t n) {
  json_error_t je;
  json_t *root, *keys, *k;
  auth_keyset *ks;
  size_t i, nskip = 0;
  int r;

  *out = NULL;
  if (skipped != NULL)
    *skipped = 0;
  if (json == NULL) {
    set_err(err, n, "the key set is empty");
    return -EINVAL;
  }
  root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
  if (root == NULL) {
    set_err(err, n, "the key set is not JSON (line %d: %s)", je.line, je.text);
    return -EINVAL;
  }
  keys = json_object_get(root, "keys");
  if (!json_is_object(root) || !json_is_array(keys)) {
    json_decref(root);
    set_err(err, n, "the key set is not a JWKS (an object with a \"keys\" array)");
    return -EINVAL;
  }
  if ((ks = calloc(1, sizeof(*ks))) == NULL) {
    json_decref(root);
    return -ENOMEM;
  }
  json_array_foreach(keys, i, k) {
    if (ks->n == KEYSET_MAX) {
      nskip++;
      continue;
    }
    r = key_parse(k, alg_mask, &ks->keys[ks->n]);
    if (r < 0) {
      json_decref(root);
      auth_keyset_free(ks);
      ERR_clear_error();
      return r;
    }
    if (r == 1)
      ks->n++;
    else
      nskip++;
  }
  json_decref(root);
  /* cjose leaves OpenSSL errors for rejected keys on this thread's queue,
   * where a later SSL_get_error() would find them. */
  ERR_clear_error();
  if (skipped != NULL)
    *skipped = nskip;
  *out = ks;
  return 0;
}

void auth_keyset_free(auth_keyset *ks) {
  size_t i;
  if (ks == NULL)
    return;
  for (i = 0; i < ks->n; i++) {
    cjose_jwk_release(ks->keys[i].jwk);
    free(ks->keys[i].kid);
  }
  free(ks);
}

size_t auth_keyset_count(const auth_keyset *ks) {
  return ks ? ks->n : 0;
}

int auth_keyset_has_kid(const auth_keyset *ks, const char *kid, size_t len) {
  size_t i;
  if (ks == NULL || kid == NULL)
    return 0;
  for (i = 0; i < ks->n; i++)
    if (ks->keys[i].kid != NULL && ks->keys[i].kid_len == len &&
        memcmp(ks->keys[i].kid, kid, len) == 0)
      return 1;
  return 0;
}

/* Appends s (len bytes) to out, cut to fit; kids come from a remote
 * document and go to logs, so anything but printable ASCII becomes '?'. */
static void put(char *out, size_t n, size_t *at, const char *s, size_t len) {
  size_t i;
  for (i = 0; i < len && *at + 1 < n; i++) {
    unsigned char c = (unsigned char)s[i];
    out[(*at)++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
  }
  out[*at] = '\0';
}

void auth_keyset_describe(const auth_keyset *ks, char *out, size_t n) {
  size_t i, j, at = 0;
  int first;
  if (out == NULL || n == 0)
    return;
  out[0] = '\0';
  for (i = 0; ks != NULL && i < ks->n; i++) {
    const struct key *k = &ks->keys[i];
    if (i > 0)
      put(out, n, &at, ", ", 2);
    if (k->kid != NULL)
      put(out, n, &at, k->kid, k->kid_len);
    else
      put(out, n, &at, "-", 1);
    first = 1;
    for (j = 0; j < sizeof(algs) / sizeof(algs[0]); j++) {
      if ((k->algs & algs[j].bit) == 0)
        continue;
      put(out, n, &at, first ? " " : "/", 1);
      put(out, n, &at, algs[j].name, strlen(algs[j].name));
      first = 0;
    }
  }
}

/* ---- tokens ------------------------------------------------------------------ */

static int typ_ok(const json_t *typ) {
  const char *s;
  if (typ == NULL)
    return 1;
  if (!json_is_string(typ))
    return 0;
  s = json_string_value(typ);
  /* Media types compare without case (RFC 7515 4.1.9, RFC 9068 2.1). */
  return strcasecmp(s, "JWT") == 0 || strcasecmp(s, "at+jwt") == 0 ||
         strcasecmp(s, "application/at+jwt") == 0;
}

int auth_jwt_peek(const char *tok, size_t len, auth_jwt_header *h) {
  unsigned char buf[HEADER_MAX];
  const char *dot1, *dot2;
  const json_t *alg, *kid;
  json_t *hdr;
  size_t blen;
  int r = 0;

  memset(h, 0, sizeof(*h));
  if (tok == NULL || len == 0)
    return AUTH_R_MALFORMED;
  dot1 = memchr(tok, '.', len);
  if (dot1 == NULL || dot1 == tok)
    return AUTH_R_MALFORMED;
  dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - tok));
  if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - tok)) != NULL)
    return AUTH_R_MALFORMED;
  if (b64u_decode(tok, (size_t)(dot1 - tok), buf, sizeof(buf), &blen) != 0)
    return AUTH_R_MALFORMED;
  hdr = json_loadb((const char *)buf, blen, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(hdr)) {
    json_decref(hdr);
    return AUTH_R_MALFORMED;
  }
  alg = json_object_get(hdr, "alg");
  kid = json_object_get(hdr, "kid");
  /* crit names extensions we would have to understand (e.g. b64:false). */
  if (!json_is_string(alg) || json_object_get(hdr, "crit") != NULL ||
      !typ_ok(json_object_get(hdr, "typ")))
    r = AUTH_R_MALFORMED;
  else if (kid != NULL && (!json_is_string(kid) || json_string_length(kid) > KID_MAX))
    r = AUTH_R_MALFORMED;
  if (r == 0) {
    h->alg = auth_jwt_alg_bit(json_string_value(alg));
    if (kid != NULL) {
      memcpy(h->kid, json_string_value(kid), json_string_length(kid) + 1);
      h->has_kid = 1;
    }
    if (h->alg == 0)
      r = AUTH_R_ALG;
  }
  json_decref(hdr);
  return r;
}

/* The key for h: by kid, or the only key that can verify h->alg. No key
 * set (not fetched yet) is an empty one. */
static int pick_key(const auth_keyset *ks, const auth_jwt_header *h, const struct key **out) {
  const struct key *found = NULL;
  size_t i, nfit = 0, kid_len = strlen(h->kid);
  int kid_seen = 0;
  for (i = 0; ks != NULL && i < ks->n; i++) {
    const struct key *k = &ks->keys[i];
    if (h->has_kid) {
      if (k->kid == NULL || k->kid_len != kid_len || memcmp(k->kid, h->kid, kid_len) != 0)
        continue;
      kid_seen = 1;
    }
    if ((k->algs & h->alg) == 0)
      continue;
    nfit++;
    found = k;
  }
  if (nfit == 1) {
    *out = found;
    return 0;
  }
  /* A kid shared by two fitting keys is as ambiguous as no kid. */
  return nfit == 0 && kid_seen ? AUTH_R_ALG : AUTH_R_UNKNOWN_KID;
}

/* Whether the type of the chosen key fits alg: its mask already says so,
 * but cjose picks its code from the header, so check what cjose holds. */
static int key_fits(const struct key *k, unsigned alg) {
  cjose_jwk_kty_t kty = cjose_jwk_get_kty(k->jwk, NULL);
  cjose_jwk_ec_curve crv;
  if (alg & ALG_RSA)
    return kty == CJOSE_JWK_KTY_RSA;
  if (kty != CJOSE_JWK_KTY_EC)
    return 0;
  crv = cjose_jwk_EC_get_curve(k->jwk, NULL);
  return (alg == AUTH_ALG_ES256 && crv == CJOSE_JWK_EC_P_256) ||
         (alg == AUTH_ALG_ES384 && crv == CJOSE_JWK_EC_P_384) ||
         (alg == AUTH_ALG_ES512 && crv == CJOSE_JWK_EC_P_521);
}

/* now > t + leeway, without overflow. */
static int after(const json_t *t, int64_t now, unsigned leeway) {
  if (json_is_integer(t)) {
    json_int_t v = json_integer_value(t);
    if (v > INT64_MAX - (int64_t)leeway)
      return 0;
    return now > v + (int64_t)leeway;
  }
  return (double)now > json_real_value(t) + (double)leeway;
}

/* t > now + leeway, without overflow. */
static int before(const json_t *t, int64_t now, unsigned leeway) {
  if (json_is_integer(t)) {
    int64_t bound = now > INT64_MAX - (int64_t)leeway ? INT64_MAX : now + (int64_t)leeway;
    return json_integer_value(t) > bound;
  }
  return json_real_value(t) > (double)now + (double)leeway;
}

static int aud_ok(const json_t *aud, const char *want) {
  size_t i, wlen = strlen(want);
  const json_t *v;
  int found = 0;
  if (json_is_string(aud))
    return json_string_length(aud) == wlen && memcmp(json_string_value(aud), want, wlen) == 0;
  if (!json_is_array(aud))
    return 0;
  json_array_foreach(aud, i, v) {
    if (!json_is_string(v))
      return 0;
    if (json_string_length(v) == wlen && memcmp(json_string_value(v), want, wlen) == 0)
      found = 1;
  }
  return found;
}

static int check_claims(const json_t *c, const auth_jwt_policy *pol, int64_t now) {
  const json_t *iss = json_object_get(c, "iss"), *exp = json_object_get(c, "exp");
  const json_t *nbf = json_object_get(c, "nbf"), *iat = json_object_get(c, "iat");
  if (pol->issuer != NULL &&
      !(json_is_string(iss) && json_string_length(iss) == strlen(pol->issuer) &&
        memcmp(json_string_value(iss), pol->issuer, json_string_length(iss)) == 0))
    return AUTH_R_ISSUER;
  if (pol->audience != NULL && !aud_ok(json_object_get(c, "aud"), pol->audience))
    return AUTH_R_AUDIENCE;
  if (!json_is_number(exp) || (nbf != NULL && !json_is_number(nbf)) ||
      (iat != NULL && !json_is_number(iat)))
    return AUTH_R_CLAIMS;
  if (after(exp, now, pol->leeway_s))
    return AUTH_R_EXPIRED;
  if ((nbf != NULL && before(nbf, now, pol->leeway_s)) ||
      (iat != NULL && before(iat, now, pol->leeway_s)))
    return AUTH_R_NOT_YET_VALID;
  return 0;
}

/* The checks on the payload and signature segments, before cjose (which
 * peek did not look at). */
static int check_segments(const char *tok, size_t len, const struct key *k) {
  const char *p = (const char *)memchr(tok, '.', len) + 1;
  const char *s = (const char *)memchr(p, '.', len - (size_t)(p - tok)) + 1;
  size_t plen = (size_t)(s - 1 - p), slen = len - (size_t)(s - tok), dlen;
  if (plen == 0 || !b64u_check(p, plen, &dlen) || !b64u_check(s, slen, &dlen))
    return AUTH_R_MALFORMED;
  /* RFC 7518 3.3, 3.4: exactly the modulus size, or R || S. cjose's ES
   * code halves whatever length it gets. */
  return dlen == k->sig_len ? 0 : AUTH_R_SIGNATURE;
}

int auth_jwt_verify(const auth_keyset *ks, const auth_jwt_policy *pol, const char *tok, size_t len,
                    int64_t now_s, json_t **claims) {
  auth_jwt_header h;
  const struct key *k = NULL;
  cjose_jws_t *jws = NULL;
  cjose_err cerr;
  uint8_t *pt = NULL;
  size_t ptlen = 0;
  const char *calg;
  json_t *c = NULL;
  int r;

  *claims = NULL;
  if (pol == NULL)
    return -EINVAL;
  if (tok == NULL || len > TOKEN_MAX)
    return AUTH_R_MALFORMED;
  if ((r = auth_jwt_peek(tok, len, &h)) != 0)
    return r;
  if ((h.alg & pol->alg_mask) == 0)
    return AUTH_R_ALG;
  if ((r = pick_key(ks, &h, &k)) != 0)
    return r;
  if (!key_fits(k, h.alg))
    return AUTH_R_ALG;
  if ((r = check_segments(tok, len, k)) != 0)
    return r;

  memset(&cerr, 0, sizeof(cerr));
  jws = cjose_jws_import(tok, len, &cerr);
  if (jws == NULL) {
    r = cerr.code == CJOSE_ERR_NO_MEMORY ? -ENOMEM : AUTH_R_MALFORMED;
    goto out;
  }
  /* cjose parsed the same bytes itself; make sure it saw our alg. */
  calg = cjose_header_get(cjose_jws_get_protected(jws), CJOSE_HDR_ALG, &cerr);
  if (calg == NULL || strcmp(calg, auth_jwt_alg_name(h.alg)) != 0) {
    r = AUTH_R_MALFORMED;
    goto out;
  }
  /* No cjose_err: on a crypto error cjose fills its message with
   * ERR_error_string(e, NULL), a static buffer shared by all threads. */
  if (!cjose_jws_verify(jws, k->jwk, NULL)) {
    r = AUTH_R_SIGNATURE;
    goto out;
  }
  if (!cjose_jws_get_plaintext(jws, &pt, &ptlen, &cerr)) {
    r = AUTH_R_MALFORMED;
    goto out;
  }
  c = json_loadb((const char *)pt, ptlen, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(c)) {
    r = AUTH_R_MALFORMED;
    goto out;
  }
  if ((r = check_claims(c, pol, now_s)) == 0) {
    *claims = c;
    c = NULL;
  }
out:
  json_decref(c);
  cjose_jws_release(jws);
  ERR_clear_error(); /* see auth_keyset_parse() */
  return r;
}
