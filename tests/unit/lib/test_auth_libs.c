/* test_auth_libs.c -- the small pieces under authentication: principals
 * (scopes, keys, references), the cache of verified tokens (expiry, LRU,
 * negative entries, references released), the token-bucket rate limiter,
 * and CIDR blocks. */
#include "lib/auth_cache.h"
#include "lib/b64url.h"
#include "lib/auth_reason.h"
#include "lib/cidr.h"
#include "lib/principal.h"
#include "lib/ratelimit.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

static principal *mk(enum principal_kind kind, const char *issuer, const char *subject,
                     const char *scope) {
  principal_init in;
  memset(&in, 0, sizeof(in));
  in.kind = kind;
  in.issuer = issuer;
  in.subject = subject;
  in.scope = scope;
  return principal_new(&in);
}

static unsigned refs(const principal *p) {
  return atomic_load(&((principal *)p)->refs);
}

/* ---- principal ----------------------------------------------------------------- */

static void test_principal_new(void) {
  principal_init in;
  principal *p;
  json_t *claims;

  memset(&in, 0, sizeof(in));
  in.kind = PRINCIPAL_JWT;
  in.subject = "alice";
  in.client_id = "app-1";
  in.issuer = "https://idp.example";
  /* Unsorted, repeated, extra spaces, and two that are not scope-tokens. */
  in.scope = "  write read  bad\"q read admin\ttab write x\\y   ";
  in.expires_at = 1800000000;
  p = principal_new(&in);
  CHECK(p != NULL);
  if (p == NULL)
    return;
  CHECK_EQ_INT(refs(p), 1);
  CHECK_EQ_INT(p->kind, PRINCIPAL_JWT);
  CHECK_EQ_STR(p->subject, "alice");
  CHECK_EQ_STR(p->client_id, "app-1");
  CHECK_EQ_STR(p->issuer, "https://idp.example");
  CHECK(p->subject != in.subject && p->issuer != in.issuer); /* copies */
  CHECK_EQ_INT(p->n_scopes, 2);
  CHECK_EQ_STR(p->scopes[0], "read");
  CHECK_EQ_STR(p->scopes[1], "write");
  CHECK(p->scopes[2] == NULL);
  CHECK_EQ_INT(p->expires_at, 1800000000);
  /* claims NULL: {"sub", "scope"} made from the input. */
  claims = p->claims;
  CHECK(json_is_object(claims));
  CHECK_EQ_INT(json_object_size(claims), 2);
  CHECK_EQ_STR(json_string_value(json_object_get(claims, "sub")), "alice");
  CHECK_EQ_STR(json_string_value(json_object_get(claims, "scope")), in.scope);
  /* The plugins' view points into the principal. */
  CHECK_EQ_INT(p->view.struct_size, sizeof(p->view));
  CHECK_EQ_STR(p->view.kind, "jwt");
  CHECK(p->view.subject == p->subject);
  CHECK(p->view.client_id == p->client_id);
  CHECK(p->view.issuer == p->issuer);
  CHECK_EQ_INT(p->view.n_scopes, 2);
  CHECK(p->view.scopes == (const char *const *)p->scopes);
  CHECK(p->view.claims == p->claims);
  CHECK_EQ_INT(p->view.expires_at, 1800000000);
  principal_unref(p);

  /* No scope: none, and "scope": "" in the made-up claims. */
  p = mk(PRINCIPAL_TOKEN, NULL, "ci", NULL);
  CHECK(p != NULL);
  if (p != NULL) {
    CHECK_EQ_INT(p->n_scopes, 0);
    CHECK(p->scopes != NULL && p->scopes[0] == NULL);
    CHECK(p->issuer == NULL && p->client_id == NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(p->claims, "scope")), "");
    CHECK_EQ_STR(p->view.kind, "token");
  }
  principal_unref(p);
  p = mk(PRINCIPAL_TOKEN, NULL, "ci", "   ");
  CHECK(p != NULL && p->n_scopes == 0);
  principal_unref(p);

  /* Claims given are stolen as they are. */
  claims = json_pack("{s:s, s:i}", "sub", "bob", "custom", 7);
  json_incref(claims); /* to watch the count */
  memset(&in, 0, sizeof(in));
  in.kind = PRINCIPAL_INTROSPECTION;
  in.subject = "bob";
  in.scope = "a";
  in.claims = claims;
  p = principal_new(&in);
  CHECK(p != NULL && p->claims == claims);
  CHECK_EQ_INT(claims->refcount, 2);
  principal_unref(p);
  CHECK_EQ_INT(claims->refcount, 1);

  /* No subject: NULL, and the claims are released all the same. */
  in.subject = NULL;
  json_incref(claims);
  CHECK(principal_new(&in) == NULL);
  CHECK_EQ_INT(claims->refcount, 1);
  in.subject = "";
  json_incref(claims);
  CHECK(principal_new(&in) == NULL);
  CHECK_EQ_INT(claims->refcount, 1);
  json_decref(claims);
}

static void test_principal_refs(void) {
  principal *p = mk(PRINCIPAL_MTLS, NULL, "CN=client", "a");
  CHECK(p != NULL);
  if (p == NULL)
    return;
  CHECK(principal_ref(p) == p);
  CHECK_EQ_INT(refs(p), 2);
  CHECK(principal_ref(p) == p);
  CHECK_EQ_INT(refs(p), 3);
  principal_unref(p);
  principal_unref(p);
  CHECK_EQ_INT(refs(p), 1);
  CHECK_EQ_STR(p->subject, "CN=client"); /* still alive */
  principal_unref(p);                    /* freed: ASan/valgrind see any misuse or leak */
  CHECK(principal_ref(NULL) == NULL);
  principal_unref(NULL);
}

static void test_principal_has_all(void) {
  principal *p = mk(PRINCIPAL_TOKEN, NULL, "s", "read read:all write b a");
  char many[800] = "";
  size_t i;
  CHECK(p != NULL);
  if (p == NULL)
    return;
  CHECK_EQ_INT(principal_has_all(p, NULL), 1);
  CHECK_EQ_INT(principal_has_all(p, ""), 1);
  CHECK_EQ_INT(principal_has_all(p, "   "), 1);
  CHECK_EQ_INT(principal_has_all(p, "read"), 1);
  CHECK_EQ_INT(principal_has_all(p, "read:all"), 1);
  CHECK_EQ_INT(principal_has_all(p, "a b read write"), 1);
  CHECK_EQ_INT(principal_has_all(p, "  write   a "), 1);
  CHECK_EQ_INT(principal_has_all(p, "read admin"), 0);
  CHECK_EQ_INT(principal_has_all(p, "admin"), 0);
  CHECK_EQ_INT(principal_has_all(p, "rea"), 0);       /* a prefix of a held scope */
  CHECK_EQ_INT(principal_has_all(p, "read:al"), 0);   /* likewise */
  CHECK_EQ_INT(principal_has_all(p, "read:all2"), 0); /* a held scope is a prefix of it */
  CHECK_EQ_INT(principal_has_all(p, "readx"), 0);
  CHECK_EQ_INT(principal_has_all(p, "READ"), 0); /* scopes are case-sensitive */
  CHECK_EQ_INT(principal_has_all(p, "0"), 0);
  CHECK_EQ_INT(principal_has_all(p, "~"), 0);
  principal_unref(p);

  /* Enough scopes that the search takes several steps. */
  for (i = 0; i < 60; i++)
    snprintf(many + strlen(many), sizeof(many) - strlen(many), "s%02zu ", 59 - i);
  p = mk(PRINCIPAL_TOKEN, NULL, "s", many);
  CHECK(p != NULL && p->n_scopes == 60);
  if (p == NULL)
    return;
  CHECK_EQ_STR(p->scopes[0], "s00");
  CHECK_EQ_STR(p->scopes[59], "s59");
  for (i = 0; i < 60; i++) {
    char one[8];
    snprintf(one, sizeof(one), "s%02zu", i);
    CHECK_EQ_INT(principal_has_all(p, one), 1);
  }
  CHECK_EQ_INT(principal_has_all(p, many), 1);
  CHECK_EQ_INT(principal_has_all(p, "s60"), 0);
  CHECK_EQ_INT(principal_has_all(p, "s"), 0);
  CHECK_EQ_INT(principal_has_all(p, "s0"), 0);
  CHECK_EQ_INT(principal_has_all(p, "r99"), 0);
  CHECK_EQ_INT(principal_has_all(p, "t00"), 0);
  CHECK_EQ_INT(principal_has_all(p, "s00 s59 s60"), 0);
  principal_unref(p);

  /* Without scopes, only the empty set. */
  p = mk(PRINCIPAL_TOKEN, NULL, "s", NULL);
  CHECK(p != NULL);
  if (p != NULL) {
    CHECK_EQ_INT(principal_has_all(p, ""), 1);
    CHECK_EQ_INT(principal_has_all(p, "a"), 0);
  }
  principal_unref(p);
}

static void test_principal_scope_valid(void) {
  CHECK_EQ_INT(principal_scope_valid("a", 1), 1);
  CHECK_EQ_INT(principal_scope_valid("repo:read", 9), 1);
  CHECK_EQ_INT(principal_scope_valid("!#[]^~", 6), 1); /* the edges of the ranges */
  CHECK_EQ_INT(principal_scope_valid("https://x.example/s", 19), 1);
  CHECK_EQ_INT(principal_scope_valid("", 0), 0);
  CHECK_EQ_INT(principal_scope_valid("a b", 3), 0);
  CHECK_EQ_INT(principal_scope_valid("a b", 1), 1); /* only len bytes */
  CHECK_EQ_INT(principal_scope_valid("a\"b", 3), 0);
  CHECK_EQ_INT(principal_scope_valid("a\\b", 3), 0);
  CHECK_EQ_INT(principal_scope_valid("a\tb", 3), 0);
  CHECK_EQ_INT(principal_scope_valid("a\x7f", 2), 0);
  CHECK_EQ_INT(principal_scope_valid("caf\xc3\xa9", 5), 0);
  CHECK_EQ_INT(principal_scope_valid("a\0b", 3), 0);
}

static void test_principal_scopes_of(void) {
  static const struct {
    const char *claims;
    int scp;
    const char *want;
  } cases[] = {
      {"{\"scope\":\"a b\"}", 0, "a b"},
      {"{\"scope\":\"a b\"}", 1, ""}, /* scp asked for: scope ignored */
      {"{\"scp\":[\"a\",\"b\"]}", 0, ""},
      {"{\"scp\":[\"a\",\"b c\",1,\"\",null,\"x\",\"q\\\"\"]}", 1, "a x"},
      {"{\"scp\":[]}", 1, ""},
      {"{\"scp\":[1,2]}", 1, ""},
      {"{\"scp\":\"a b\"}", 1, "a b"},
      {"{\"scope\":5}", 0, ""},
      {"{\"scope\":{}}", 0, ""},
      {"{}", 0, ""},
      {"[]", 0, ""},
  };
  size_t i;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    json_t *c = json_loads(cases[i].claims, 0, NULL);
    char *s = principal_scopes_of(c, cases[i].scp);
    CHECK(c != NULL);
    CHECK_EQ_STR(s, cases[i].want);
    if (s == NULL || strcmp(s, cases[i].want) != 0)
      fprintf(stderr, "  (case %zu: %s)\n", i, cases[i].claims);
    free(s);
    json_decref(c);
  }
  {
    char *s = principal_scopes_of(NULL, 0);
    CHECK_EQ_STR(s, "");
    free(s);
  }
  {
    /* A "scope" string comes back as it is (entries that are not scope-
     * tokens included, unlike "scp" arrays); principal_new() leaves them
     * out, so the principal holds only the valid ones. */
    json_t *c = json_pack("{s:s}", "scope", "b  \"q\" a\\z a");
    char *s = principal_scopes_of(c, 0);
    principal *p;
    CHECK_EQ_STR(s, "b  \"q\" a\\z a");
    p = mk(PRINCIPAL_JWT, "i", "alice", s);
    CHECK(p != NULL && p->n_scopes == 2);
    if (p != NULL && p->n_scopes == 2) {
      CHECK_EQ_STR(p->scopes[0], "a");
      CHECK_EQ_STR(p->scopes[1], "b");
    }
    principal_unref(p);
    free(s);
    json_decref(c);
  }
}

static int hexdigits(const char *s, size_t n) {
  return strspn(s, "0123456789abcdef") == n;
}

static void test_principal_key(void) {
  principal *a = mk(PRINCIPAL_JWT, "https://idp.example", "alice", "a");
  principal *a2 = mk(PRINCIPAL_JWT, "https://idp.example", "alice", "b c");
  principal *b = mk(PRINCIPAL_JWT, "https://idp.example", "bob", "a");
  principal *other_iss = mk(PRINCIPAL_JWT, "https://other.example", "alice", "a");
  principal *intro = mk(PRINCIPAL_INTROSPECTION, "https://idp.example", "alice", "a");
  principal *tok = mk(PRINCIPAL_TOKEN, NULL, "alice", "a");
  principal *mtls = mk(PRINCIPAL_MTLS, NULL, "alice", "a");
  /* Where issuer ends and subject begins must not be ambiguous. */
  principal *split1 = mk(PRINCIPAL_JWT, "https://ab", "c", NULL);
  principal *split2 = mk(PRINCIPAL_JWT, "https://a", "bc", NULL);
  principal_init in;
  principal *cid;
  char hex[40];
  size_t i;

  CHECK(a && a2 && b && other_iss && intro && tok && mtls && split1 && split2);
  if (!(a && a2 && b && other_iss && intro && tok && mtls && split1 && split2))
    return;
  /* Same kind, issuer and subject: same key, whatever the scopes or client. */
  CHECK(memcmp(a->key, a2->key, PRINCIPAL_KEY_LEN) == 0);
  CHECK_EQ_STR(a->client_key, a2->client_key);
  memset(&in, 0, sizeof(in));
  in.kind = PRINCIPAL_JWT;
  in.issuer = "https://idp.example";
  in.subject = "alice";
  in.client_id = "another-app";
  cid = principal_new(&in);
  CHECK(cid != NULL && memcmp(a->key, cid->key, PRINCIPAL_KEY_LEN) == 0);
  principal_unref(cid);
  /* Differs by subject, issuer, kind. */
  CHECK(memcmp(a->key, b->key, PRINCIPAL_KEY_LEN) != 0);
  CHECK(memcmp(a->key, other_iss->key, PRINCIPAL_KEY_LEN) != 0);
  CHECK(memcmp(a->key, intro->key, PRINCIPAL_KEY_LEN) != 0);
  CHECK(memcmp(tok->key, mtls->key, PRINCIPAL_KEY_LEN) != 0);
  CHECK(memcmp(split1->key, split2->key, PRINCIPAL_KEY_LEN) != 0);
  CHECK(strcmp(a->client_key, b->client_key) != 0);
  CHECK(strcmp(a->client_key, other_iss->client_key) != 0);
  CHECK(strcmp(a->client_key, intro->client_key) != 0);
  CHECK(strcmp(tok->client_key, mtls->client_key) != 0);
  /* "p:" and the first 16 bytes of the key in lower-case hex. */
  CHECK_EQ_INT(strlen(a->client_key), 34);
  CHECK(strncmp(a->client_key, "p:", 2) == 0);
  CHECK(hexdigits(a->client_key + 2, 32));
  memcpy(hex, "p:", 2);
  for (i = 0; i < 16; i++)
    snprintf(hex + 2 + 2 * i, 3, "%02x", a->key[i]);
  CHECK_EQ_STR(a->client_key, hex);
  CHECK_EQ_STR(principal_kind_name(PRINCIPAL_TOKEN), "token");
  CHECK_EQ_STR(principal_kind_name(PRINCIPAL_JWT), "jwt");
  CHECK_EQ_STR(principal_kind_name(PRINCIPAL_INTROSPECTION), "introspection");
  CHECK_EQ_STR(principal_kind_name(PRINCIPAL_MTLS), "mtls");
  CHECK_EQ_STR(principal_kind_name((enum principal_kind)7), "?");
  principal_unref(a);
  principal_unref(a2);
  principal_unref(b);
  principal_unref(other_iss);
  principal_unref(intro);
  principal_unref(tok);
  principal_unref(mtls);
  principal_unref(split1);
  principal_unref(split2);
}

/* ---- auth_cache ------------------------------------------------------------------ */

static void digest(uint8_t d[32], int n) {
  memset(d, 0, 32);
  d[0] = (uint8_t)n;
  d[31] = (uint8_t)(n * 7); /* the whole digest is the key, not a prefix */
}

static void test_cache_basic(void) {
  auth_cache c;
  uint8_t d1[32], d2[32];
  principal *p = mk(PRINCIPAL_JWT, "i", "alice", "a"), *q = mk(PRINCIPAL_JWT, "i", "bob", "b");
  int reason = 99;

  digest(d1, 1);
  digest(d2, 2);
  auth_cache_init(&c, 10);
  CHECK(auth_cache_get(&c, d1, 100, &reason) == NULL);
  CHECK_EQ_INT(reason, 0);
  CHECK_EQ_INT(c.misses, 1);

  CHECK_EQ_INT(auth_cache_put(&c, d1, p, 200), 0);
  CHECK_EQ_INT(refs(p), 2);
  CHECK_EQ_INT(c.count, 1);
  reason = 99;
  CHECK(auth_cache_get(&c, d1, 100, &reason) == p);
  CHECK_EQ_INT(reason, 0);
  CHECK(auth_cache_get(&c, d1, 199, &reason) == p);
  CHECK_EQ_INT(c.hits, 2);
  CHECK_EQ_INT(refs(p), 2); /* a hit is borrowed */
  CHECK(auth_cache_get(&c, d2, 100, &reason) == NULL);
  CHECK_EQ_INT(reason, 0);

  /* At its expiry it is gone, and its reference dropped. */
  CHECK(auth_cache_get(&c, d1, 200, &reason) == NULL);
  CHECK_EQ_INT(reason, 0);
  CHECK_EQ_INT(c.count, 0);
  CHECK_EQ_INT(refs(p), 1);

  /* Replacing an entry releases the old principal. */
  CHECK_EQ_INT(auth_cache_put(&c, d1, p, 500), 0);
  CHECK_EQ_INT(auth_cache_put(&c, d1, q, 600), 0);
  CHECK_EQ_INT(c.count, 1);
  CHECK_EQ_INT(refs(p), 1);
  CHECK_EQ_INT(refs(q), 2);
  CHECK(auth_cache_get(&c, d1, 550, &reason) == q);
  CHECK(auth_cache_get(&c, d1, 599, &reason) == q); /* the new expiry counts */

  /* Remove, and remove of what is not there. */
  auth_cache_remove(&c, d2);
  CHECK_EQ_INT(c.count, 1);
  auth_cache_remove(&c, d1);
  CHECK_EQ_INT(c.count, 0);
  CHECK_EQ_INT(refs(q), 1);
  CHECK(auth_cache_get(&c, d1, 100, &reason) == NULL);

  /* Clear and free release every reference. */
  CHECK_EQ_INT(auth_cache_put(&c, d1, p, 500), 0);
  CHECK_EQ_INT(auth_cache_put(&c, d2, q, 500), 0);
  CHECK_EQ_INT(refs(p), 2);
  auth_cache_clear(&c);
  CHECK_EQ_INT(c.count, 0);
  CHECK_EQ_INT(refs(p), 1);
  CHECK_EQ_INT(refs(q), 1);
  CHECK(auth_cache_get(&c, d2, 100, &reason) == NULL);
  CHECK_EQ_INT(auth_cache_put(&c, d1, p, 500), 0);
  CHECK_EQ_INT(auth_cache_put(&c, d2, p, 500), 0);
  CHECK_EQ_INT(refs(p), 3);
  auth_cache_free(&c);
  CHECK_EQ_INT(refs(p), 1);
  principal_unref(p);
  principal_unref(q);
}

static void test_cache_negative(void) {
  auth_cache c;
  uint8_t d1[32], d2[32];
  principal *p = mk(PRINCIPAL_INTROSPECTION, "i", "alice", "a");
  int reason = 99;
  digest(d1, 1);
  digest(d2, 2);
  auth_cache_init(&c, 4);
  CHECK_EQ_INT(auth_cache_put_negative(&c, d1, AUTH_R_INACTIVE, 105), 0);
  CHECK(auth_cache_get(&c, d1, 100, &reason) == NULL);
  CHECK_EQ_INT(reason, AUTH_R_INACTIVE);
  CHECK_EQ_INT(c.hits, 1);
  CHECK(auth_cache_get(&c, d1, 105, &reason) == NULL);
  CHECK_EQ_INT(reason, 0); /* expired: a plain miss */
  CHECK_EQ_INT(c.count, 0);
  /* A positive entry replaces a negative one and the other way round. */
  CHECK_EQ_INT(auth_cache_put_negative(&c, d2, AUTH_R_UNKNOWN_TOKEN, 200), 0);
  CHECK_EQ_INT(auth_cache_put(&c, d2, p, 300), 0);
  CHECK(auth_cache_get(&c, d2, 250, &reason) == p);
  CHECK_EQ_INT(reason, 0);
  CHECK_EQ_INT(auth_cache_put_negative(&c, d2, AUTH_R_EXPIRED, 300), 0);
  CHECK_EQ_INT(refs(p), 1);
  CHECK(auth_cache_get(&c, d2, 250, &reason) == NULL);
  CHECK_EQ_INT(reason, AUTH_R_EXPIRED);
  CHECK_EQ_INT(c.count, 1);
  auth_cache_free(&c);
  principal_unref(p);
}

static void test_cache_lru(void) {
  auth_cache c;
  uint8_t d[6][32];
  principal *p[6];
  int reason, i;
  for (i = 0; i < 6; i++) {
    char sub[8];
    snprintf(sub, sizeof(sub), "u%d", i);
    digest(d[i], i + 1);
    p[i] = mk(PRINCIPAL_JWT, "i", sub, NULL);
  }
  auth_cache_init(&c, 3);
  for (i = 0; i < 3; i++)
    CHECK_EQ_INT(auth_cache_put(&c, d[i], p[i], 1000), 0);
  CHECK(auth_cache_get(&c, d[0], 1, &reason) == p[0]);   /* 0 is now the most recent */
  CHECK_EQ_INT(auth_cache_put(&c, d[3], p[3], 1000), 0); /* 1 goes */
  CHECK_EQ_INT(c.count, 3);
  CHECK_EQ_INT(refs(p[1]), 1);
  CHECK(auth_cache_get(&c, d[1], 1, &reason) == NULL);
  CHECK(auth_cache_get(&c, d[0], 1, &reason) == p[0]);
  CHECK(auth_cache_get(&c, d[2], 1, &reason) == p[2]);
  CHECK(auth_cache_get(&c, d[3], 1, &reason) == p[3]);
  /* Order now 0, 2, 3: a negative entry evicts 0. */
  CHECK_EQ_INT(auth_cache_put_negative(&c, d[4], AUTH_R_INACTIVE, 1000), 0);
  CHECK_EQ_INT(refs(p[0]), 1);
  CHECK(auth_cache_get(&c, d[0], 1, &reason) == NULL);
  CHECK_EQ_INT(c.count, 3);
  /* Replacing an entry does not evict another. */
  CHECK_EQ_INT(auth_cache_put(&c, d[2], p[5], 1000), 0);
  CHECK_EQ_INT(c.count, 3);
  CHECK(auth_cache_get(&c, d[3], 1, &reason) == p[3]);
  CHECK(auth_cache_get(&c, d[4], 1, &reason) == NULL && reason == AUTH_R_INACTIVE);
  CHECK(auth_cache_get(&c, d[2], 1, &reason) == p[5]);

  /* set_max: down to 1 keeps the most recent (2), releasing the others. */
  auth_cache_set_max(&c, 1);
  CHECK_EQ_INT(c.count, 1);
  CHECK_EQ_INT(refs(p[3]), 1);
  CHECK_EQ_INT(refs(p[5]), 2);
  CHECK(auth_cache_get(&c, d[2], 1, &reason) == p[5]);
  CHECK(auth_cache_get(&c, d[3], 1, &reason) == NULL);
  CHECK(auth_cache_get(&c, d[4], 1, &reason) == NULL && reason == 0);
  CHECK_EQ_INT(auth_cache_put(&c, d[0], p[0], 1000), 0);
  CHECK_EQ_INT(c.count, 1);
  CHECK_EQ_INT(refs(p[5]), 1);
  /* Up again: room for more. */
  auth_cache_set_max(&c, 5);
  CHECK_EQ_INT(auth_cache_put(&c, d[1], p[1], 1000), 0);
  CHECK_EQ_INT(c.count, 2);
  /* 0: stores nothing (and drops what it held). */
  auth_cache_set_max(&c, 0);
  CHECK_EQ_INT(c.count, 0);
  CHECK_EQ_INT(refs(p[0]), 1);
  CHECK_EQ_INT(refs(p[1]), 1);
  CHECK_EQ_INT(auth_cache_put(&c, d[1], p[1], 1000), 0);
  CHECK_EQ_INT(auth_cache_put_negative(&c, d[2], AUTH_R_INACTIVE, 1000), 0);
  CHECK_EQ_INT(c.count, 0);
  CHECK_EQ_INT(refs(p[1]), 1);
  CHECK(auth_cache_get(&c, d[1], 1, &reason) == NULL && reason == 0);
  auth_cache_free(&c);
  for (i = 0; i < 6; i++) {
    CHECK_EQ_INT(refs(p[i]), 1);
    principal_unref(p[i]);
  }
}

static void test_cache_max0(void) {
  auth_cache c;
  uint8_t d1[32];
  principal *p = mk(PRINCIPAL_TOKEN, NULL, "ci", NULL);
  int reason = 5;
  digest(d1, 1);
  auth_cache_init(&c, 0);
  CHECK_EQ_INT(auth_cache_put(&c, d1, p, 1000), 0);
  CHECK_EQ_INT(c.count, 0);
  CHECK_EQ_INT(refs(p), 1);
  CHECK(auth_cache_get(&c, d1, 1, &reason) == NULL);
  CHECK_EQ_INT(reason, 0);
  auth_cache_free(&c);
  principal_unref(p);
}

/* ---- ratelimit ------------------------------------------------------------------- */

static void test_ratelimit_burst_refill(void) {
  ratelimit rl;
  uint64_t retry = 0;
  int i;
  ratelimit_init(&rl, 2, 3, 100); /* 2 a second, 3 at once */
  for (i = 0; i < 3; i++)
    CHECK_EQ_INT(ratelimit_take(&rl, "alice", 5, 1000, &retry), 0);
  CHECK_EQ_INT(ratelimit_take(&rl, "alice", 5, 1000, &retry), -EAGAIN);
  CHECK_EQ_INT(retry, 501); /* one token at 2/s: 500 ms, rounded up */
  CHECK_EQ_INT(rl.limited_total, 1);
  /* Another key has its own bucket. */
  CHECK_EQ_INT(ratelimit_take(&rl, "bob", 3, 1000, &retry), 0);
  /* Half a token after 250 ms: still no. */
  retry = 0;
  CHECK_EQ_INT(ratelimit_take(&rl, "alice", 5, 1250, &retry), -EAGAIN);
  CHECK_EQ_INT(retry, 251);
  CHECK_EQ_INT(rl.limited_total, 2);
  /* A whole one after 500 ms. */
  CHECK_EQ_INT(ratelimit_take(&rl, "alice", 5, 1500, &retry), 0);
  CHECK_EQ_INT(ratelimit_take(&rl, "alice", 5, 1500, &retry), -EAGAIN);
  /* Refill stops at the burst. */
  for (i = 0; i < 3; i++)
    CHECK_EQ_INT(ratelimit_take(&rl, "alice", 5, 100000, &retry), 0);
  CHECK_EQ_INT(ratelimit_take(&rl, "alice", 5, 100000, &retry), -EAGAIN);
  /* The key is len bytes. */
  CHECK_EQ_INT(ratelimit_take(&rl, "alice-x", 5, 100000, &retry), -EAGAIN);
  CHECK_EQ_INT(ratelimit_take(&rl, "alice-x", 7, 100000, &retry), 0);
  ratelimit_free(&rl);

  /* burst 0: twice the rate. */
  ratelimit_init(&rl, 5, 0, 100);
  CHECK_EQ_INT(rl.burst, 10);
  for (i = 0; i < 10; i++)
    CHECK_EQ_INT(ratelimit_take(&rl, "k", 1, 0, &retry), 0);
  CHECK_EQ_INT(ratelimit_take(&rl, "k", 1, 0, &retry), -EAGAIN);
  CHECK_EQ_INT(retry, 201);
  /* A reload keeps the buckets. */
  ratelimit_set(&rl, 1000, 1);
  CHECK_EQ_INT(rl.count, 1);
  CHECK_EQ_INT(ratelimit_take(&rl, "k", 1, 0, &retry), -EAGAIN);
  CHECK_EQ_INT(retry, 2);
  CHECK_EQ_INT(ratelimit_take(&rl, "k", 1, 1, &retry), 0);
  ratelimit_free(&rl);
}

static void test_ratelimit_peek_off(void) {
  ratelimit rl;
  uint64_t retry = 0;
  int i;
  ratelimit_init(&rl, 1, 2, 10);
  /* Nothing known: not limited, and nothing is created. */
  CHECK_EQ_INT(ratelimit_peek(&rl, "a", 1, 0, &retry), 0);
  CHECK_EQ_INT(rl.count, 0);
  CHECK_EQ_INT(ratelimit_take(&rl, "a", 1, 0, &retry), 0);
  /* One token left: peeking (twice) takes none of it. */
  CHECK_EQ_INT(ratelimit_peek(&rl, "a", 1, 0, &retry), 0);
  CHECK_EQ_INT(ratelimit_peek(&rl, "a", 1, 0, &retry), 0);
  CHECK_EQ_INT(ratelimit_take(&rl, "a", 1, 0, &retry), 0);
  retry = 0;
  CHECK_EQ_INT(ratelimit_peek(&rl, "a", 1, 0, &retry), -EAGAIN);
  CHECK_EQ_INT(retry, 1001);
  CHECK_EQ_INT(rl.limited_total, 0); /* a peek is not a refusal */
  CHECK_EQ_INT(ratelimit_peek(&rl, "a", 1, 400, &retry), -EAGAIN);
  CHECK_EQ_INT(retry, 601);
  CHECK_EQ_INT(ratelimit_peek(&rl, "a", 1, 1000, &retry), 0);
  CHECK_EQ_INT(ratelimit_take(&rl, "a", 1, 1000, &retry), 0);
  CHECK_EQ_INT(ratelimit_take(&rl, "a", 1, 1000, &retry), -EAGAIN);
  ratelimit_free(&rl);

  /* Rate 0: off. Nothing is kept. */
  ratelimit_init(&rl, 0, 0, 10);
  for (i = 0; i < 1000; i++)
    CHECK_EQ_INT(ratelimit_take(&rl, "a", 1, 0, &retry), 0);
  CHECK_EQ_INT(ratelimit_peek(&rl, "a", 1, 0, &retry), 0);
  CHECK_EQ_INT(rl.count, 0);
  CHECK_EQ_INT(rl.limited_total, 0);
  ratelimit_free(&rl);
}

static void test_ratelimit_bounded(void) {
  ratelimit rl;
  uint64_t retry = 0;
  char key[16];
  int i;
  ratelimit_init(&rl, 1, 1, 2);
  CHECK_EQ_INT(ratelimit_take(&rl, "a", 1, 0, &retry), 0);
  CHECK_EQ_INT(ratelimit_take(&rl, "b", 1, 0, &retry), 0);
  CHECK_EQ_INT(ratelimit_take(&rl, "a", 1, 0, &retry), -EAGAIN); /* a: most recent */
  CHECK_EQ_INT(ratelimit_take(&rl, "c", 1, 0, &retry), 0);       /* b goes */
  CHECK_EQ_INT(rl.count, 2);
  CHECK_EQ_INT(ratelimit_take(&rl, "a", 1, 0, &retry), -EAGAIN); /* a was kept */
  CHECK_EQ_INT(ratelimit_take(&rl, "b", 1, 0, &retry), 0);       /* b starts afresh; c goes */
  CHECK_EQ_INT(rl.count, 2);
  CHECK_EQ_INT(ratelimit_peek(&rl, "c", 1, 0, &retry), 0);
  ratelimit_free(&rl);

  /* Many keys: never more than max buckets. */
  ratelimit_init(&rl, 10, 10, 50);
  for (i = 0; i < 1000; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    CHECK_EQ_INT(ratelimit_take(&rl, key, strlen(key), (uint64_t)i, &retry), 0);
    CHECK(rl.count <= 50);
  }
  CHECK_EQ_INT(rl.count, 50);
  ratelimit_free(&rl);
  CHECK_EQ_INT(rl.count, 0);

  /* max 0 is taken as 1. */
  ratelimit_init(&rl, 1, 1, 0);
  CHECK_EQ_INT(ratelimit_take(&rl, "a", 1, 0, &retry), 0);
  CHECK_EQ_INT(ratelimit_take(&rl, "b", 1, 0, &retry), 0);
  CHECK_EQ_INT(rl.count, 1);
  ratelimit_free(&rl);
}

/* ---- cidr ------------------------------------------------------------------------ */

static struct sockaddr_storage sa_of(const char *addr) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  if (strchr(addr, ':') != NULL) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    CHECK_EQ_INT(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    CHECK_EQ_INT(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
  }
  return ss;
}

/* Whether address addr is inside block (which must parse). */
static int in_block(const char *block, const char *addr) {
  cidr c;
  struct sockaddr_storage ss = sa_of(addr);
  if (cidr_parse(block, &c) != 0) {
    fprintf(stderr, "  (block %s does not parse)\n", block);
    CHECK(0);
    return -1;
  }
  return cidr_match(&c, (const struct sockaddr *)&ss);
}

static void test_cidr_parse(void) {
  static const char *const bad[] = {
      "",
      "/8",
      "10.0.0.0/",
      "10.0.0.0/x",
      "10.0.0.0/8x",
      "10.0.0.0/-1",
      "10.0.0.0/+8",
      "10.0.0.0/ 8",
      "10.0.0.0/33",
      "10.0.0.0/4294967304",
      "10.0.0.0/8/9",
      "10.0.0",
      "256.0.0.1",
      "10.0.0.0 ",
      " 10.0.0.0",
      "garbage",
      "::/129",
      "::1/",
      "fe80::1%eth0",
      "1:2:3:4:5:6:7:8:9",
      "10.0.0.1/32 ",
      "0x0a000001",
      "10.0.0.0/99999999999999999999999",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
  cidr c;
  size_t i;
  CHECK_EQ_INT(cidr_parse("10.1.0.0/16", &c), 0);
  CHECK_EQ_INT(c.family, AF_INET);
  CHECK_EQ_INT(c.prefix, 16);
  CHECK(c.addr[0] == 10 && c.addr[1] == 1 && c.addr[2] == 0 && c.addr[3] == 0);
  CHECK_EQ_INT(cidr_parse("10.0.0.5", &c), 0);
  CHECK_EQ_INT(c.prefix, 32);
  CHECK_EQ_INT(cidr_parse("0.0.0.0/0", &c), 0);
  CHECK_EQ_INT(c.prefix, 0);
  CHECK_EQ_INT(cidr_parse("10.0.0.0/32", &c), 0);
  CHECK_EQ_INT(c.prefix, 32);
  CHECK_EQ_INT(cidr_parse("2001:db8::/32", &c), 0);
  CHECK_EQ_INT(c.family, AF_INET6);
  CHECK_EQ_INT(c.prefix, 32);
  CHECK(c.addr[0] == 0x20 && c.addr[1] == 0x01 && c.addr[2] == 0x0d && c.addr[3] == 0xb8);
  CHECK_EQ_INT(cidr_parse("::1", &c), 0);
  CHECK_EQ_INT(c.prefix, 128);
  CHECK_EQ_INT(cidr_parse("::/0", &c), 0);
  CHECK_EQ_INT(c.prefix, 0);
  CHECK_EQ_INT(cidr_parse("::1/128", &c), 0);
  /* An IPv4-mapped address is the IPv4 address (how peers are matched). */
  CHECK_EQ_INT(cidr_parse("::ffff:10.0.0.1", &c), 0);
  CHECK_EQ_INT(c.family, AF_INET);
  CHECK_EQ_INT(c.prefix, 32);
  CHECK_EQ_INT(cidr_parse("::ffff:10.0.0.0/104", &c), 0);
  CHECK_EQ_INT(c.family, AF_INET);
  CHECK_EQ_INT(c.prefix, 8);
  CHECK_EQ_INT(cidr_parse("::ffff:10.0.0.0/95", &c), -EINVAL);
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int r = cidr_parse(bad[i], &c);
    CHECK_EQ_INT(r, -EINVAL);
    if (r != -EINVAL)
      fprintf(stderr, "  (accepted \"%s\")\n", bad[i]);
  }
}

static void test_cidr_match(void) {
  cidr c;
  struct sockaddr_un un;
  /* IPv4 */
  CHECK_EQ_INT(in_block("10.0.0.0/8", "10.0.0.0"), 1);
  CHECK_EQ_INT(in_block("10.0.0.0/8", "10.255.255.255"), 1);
  CHECK_EQ_INT(in_block("10.0.0.0/8", "11.0.0.0"), 0);
  CHECK_EQ_INT(in_block("10.0.0.0/8", "9.255.255.255"), 0);
  CHECK_EQ_INT(in_block("172.16.0.0/12", "172.31.255.255"), 1);
  CHECK_EQ_INT(in_block("172.16.0.0/12", "172.32.0.0"), 0);
  CHECK_EQ_INT(in_block("172.16.0.0/12", "172.15.255.255"), 0);
  CHECK_EQ_INT(in_block("192.168.1.7", "192.168.1.7"), 1);
  CHECK_EQ_INT(in_block("192.168.1.7/32", "192.168.1.6"), 0);
  CHECK_EQ_INT(in_block("192.168.1.6/31", "192.168.1.7"), 1);
  CHECK_EQ_INT(in_block("192.168.1.6/31", "192.168.1.8"), 0);
  CHECK_EQ_INT(in_block("10.1.2.3/8", "10.200.0.1"), 1); /* host bits of the block ignored */
  CHECK_EQ_INT(in_block("0.0.0.0/0", "203.0.113.9"), 1);
  CHECK_EQ_INT(in_block("0.0.0.0/0", "2001:db8::1"), 0); /* v4 blocks hold no v6 address */
  CHECK_EQ_INT(in_block("128.0.0.0/1", "127.255.255.255"), 0);
  CHECK_EQ_INT(in_block("128.0.0.0/1", "128.0.0.0"), 1);
  /* IPv6 */
  CHECK_EQ_INT(in_block("2001:db8::/32", "2001:db8:ffff:ffff::1"), 1);
  CHECK_EQ_INT(in_block("2001:db8::/32", "2001:db9::"), 0);
  CHECK_EQ_INT(in_block("2001:db8::/33", "2001:db8:7fff::"), 1);
  CHECK_EQ_INT(in_block("2001:db8::/33", "2001:db8:8000::"), 0);
  CHECK_EQ_INT(in_block("::1", "::1"), 1);
  CHECK_EQ_INT(in_block("::1/128", "::2"), 0);
  CHECK_EQ_INT(in_block("::/127", "::1"), 1);
  CHECK_EQ_INT(in_block("::/127", "::2"), 0);
  CHECK_EQ_INT(in_block("::/0", "fe80::1"), 1);
  CHECK_EQ_INT(in_block("::/0", "10.0.0.1"), 0); /* v6 blocks hold no v4 address */
  /* An IPv4-mapped address is its IPv4 address. */
  CHECK_EQ_INT(in_block("10.0.0.0/8", "::ffff:10.1.2.3"), 1);
  CHECK_EQ_INT(in_block("10.0.0.0/8", "::ffff:11.1.2.3"), 0);
  CHECK_EQ_INT(in_block("127.0.0.1", "::ffff:127.0.0.1"), 1);
  CHECK_EQ_INT(in_block("0.0.0.0/0", "::ffff:1.2.3.4"), 1);
  CHECK_EQ_INT(in_block("::/0", "::ffff:1.2.3.4"), 0);
  /* Not an IP socket: never. */
  CHECK_EQ_INT(cidr_parse("0.0.0.0/0", &c), 0);
  memset(&un, 0, sizeof(un));
  un.sun_family = AF_UNIX;
  CHECK_EQ_INT(cidr_match(&c, (const struct sockaddr *)&un), 0);
}

/* A block written in IPv4-mapped form (as a dual-stack listener logs its
 * IPv4 clients) matches the address it names, however the peer comes. */
static void test_cidr_mapped_block(void) {
  CHECK_EQ_INT(in_block("::ffff:10.0.0.1", "::ffff:10.0.0.1"), 1);
  CHECK_EQ_INT(in_block("::ffff:10.0.0.0/104", "10.0.0.1"), 1);
}

/* base64url: the encodings of RFC 4648's test vectors, round trips of
 * every length, and strictness (alphabet, padding, unused bits, room). */
static void test_b64url(void) {
  static const char *const vectors[][2] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
  unsigned char bin[64], back[64];
  char text[100];
  size_t i, n;
  for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
    size_t len = strlen(vectors[i][0]);
    CHECK_EQ_INT(b64url_encode((const unsigned char *)vectors[i][0], len, text),
                 strlen(vectors[i][1]));
    CHECK_EQ_STR(text, vectors[i][1]);
    CHECK_EQ_INT(b64url_decode(vectors[i][1], strlen(vectors[i][1]), back, sizeof(back)),
                 (long)len);
    CHECK(memcmp(back, vectors[i][0], len) == 0);
  }
  for (n = 0; n < sizeof(bin); n++) {
    for (i = 0; i < n; i++)
      bin[i] = (unsigned char)(i * 37 + n + 0xf8);
    CHECK_EQ_INT(b64url_encode(bin, n, text), B64URL_LEN(n));
    CHECK_EQ_INT(b64url_decode(text, strlen(text), back, sizeof(back)), (long)n);
    CHECK(memcmp(back, bin, n) == 0);
  }
  CHECK_EQ_INT(b64url_encode((const unsigned char *)"\xfb\xff", 2, text), 3);
  CHECK_EQ_STR(text, "-_8");
  CHECK_EQ_INT(b64url_decode("Zm9v", 4, back, 2), -1);  /* no room */
  CHECK_EQ_INT(b64url_decode("Zm9v=", 5, back, 8), -1); /* padding */
  CHECK_EQ_INT(b64url_decode("Zm+v", 4, back, 8), -1);  /* base64, not base64url */
  CHECK_EQ_INT(b64url_decode("Z", 1, back, 8), -1);     /* a length no encoding has */
  CHECK_EQ_INT(b64url_decode("Zh", 2, back, 8), -1);    /* unused bits not zero */
  CHECK_EQ_INT(b64url_decode("Zg", 2, back, 8), 1);
}

int main(void) {
  RUN(test_b64url);
  RUN(test_principal_new);
  RUN(test_principal_refs);
  RUN(test_principal_has_all);
  RUN(test_principal_scope_valid);
  RUN(test_principal_scopes_of);
  RUN(test_principal_key);
  RUN(test_cache_basic);
  RUN(test_cache_negative);
  RUN(test_cache_lru);
  RUN(test_cache_max0);
  RUN(test_ratelimit_burst_refill);
  RUN(test_ratelimit_peek_off);
  RUN(test_ratelimit_bounded);
  RUN(test_cidr_parse);
  RUN(test_cidr_match);
  RUN(test_cidr_mapped_block);
  TEST_MAIN_END();
}
