/* auth.c -- the token verifier. */
#include "net/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum wait_kind { WAIT_JWKS, WAIT_INTRO };

typedef struct intro_req intro_req;

struct auth_wait {
  list_node link;
  enum wait_kind kind;
  auth_verifier *v;
  intro_req *ir; /* WAIT_INTRO: the request it waits on */
  auth_done_fn cb;
  void *arg;
  uint8_t digest[32];
  char *audience; /* owned copy */
  size_t len;
  char tok[]; /* a copy of the token, NUL-terminated */
};

/* One introspection in flight, shared by every request with that token. */
struct intro_req {
  char digest[32]; /* the map's key */
  auth_verifier *v;
  http_client_req *req;
  list_node waiters;
  char *audience; /* owned */
  char *tok;      /* owned */
};

#define JWKS_MAX_BYTES (1u << 20)

static int digest2(auth_verifier *v, const char *a, size_t alen, const char *b, size_t blen,
                   uint8_t out[32]) {
  EVP_MD_CTX *ctx = v->md;
  unsigned len = 0;
  int ok = EVP_DigestInit_ex(ctx, v->sha256, NULL) == 1 &&
           (alen == 0 || EVP_DigestUpdate(ctx, a, alen) == 1) &&
           EVP_DigestUpdate(ctx, "", 1) == 1 && EVP_DigestUpdate(ctx, b, blen) == 1 &&
           EVP_DigestFinal_ex(ctx, out, &len) == 1;
  return ok ? 0 : -ENOMEM;
}

static int64_t now_s(void) {
  return (int64_t)time(NULL);
}

/* ---- principals ------------------------------------------------------------ */

static principal *from_claims(auth_verifier *v, enum principal_kind kind, json_t *claims) {
  principal_init in;
  const char *sub = json_string_value(json_object_get(claims, "sub"));
  const char *cid = json_string_value(json_object_get(claims, "client_id"));
  const json_t *exp = json_object_get(claims, "exp");
  char *scope;
  principal *p;
  if (cid == NULL)
    cid = json_string_value(json_object_get(claims, "azp"));
  if (sub == NULL && kind == PRINCIPAL_INTROSPECTION)
    sub = json_string_value(json_object_get(claims, "username"));
  if (sub == NULL)
    sub = cid; /* a client-credentials token names only its client */
  scope = principal_scopes_of(claims, kind == PRINCIPAL_JWT && v->cfg->scope_claim_scp);
  memset(&in, 0, sizeof(in));
  in.kind = kind;
  in.subject = sub;
  in.client_id = cid;
  in.issuer = json_string_value(json_object_get(claims, "iss"));
  in.scope = scope;
  in.claims = claims; /* stolen */
  in.expires_at = json_is_number(exp) ? (int64_t)json_number_value(exp) : 0;
  p = scope != NULL ? principal_new(&in) : (json_decref(claims), NULL);
  free(scope);
  return p;
}

static void cache_put(auth_verifier *v, const uint8_t digest[32], principal *p, int64_t until) {
  if (until > now_s())
    auth_cache_put(&v->cache, digest, p, until);
}

/* ---- JWT ----------------------------------------------------------------- */

static int looks_like_jwt(const char *tok, size_t len) {
  const char *dot = memchr(tok, '.', len), *dot2;
  if (dot == NULL)
    return 0;
  dot2 = memchr(dot + 1, '.', len - (size_t)(dot + 1 - tok));
  return dot2 != NULL && memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - tok)) == NULL;
}

/* Verifies a JWT with the keys there are. Returns 0 with *out, an AUTH_R_*
 * code, or AUTH_PENDING when the kid is unknown (the caller decides whether
 * to fetch). */
static int verify_jwt(auth_verifier *v, const char *tok, size_t len, const char *audience,
                      const uint8_t digest[32], int may_wait, principal **out) {
  auth_jwt_policy pol;
  auth_jwt_header h;
  json_t *claims = NULL;
  principal *p;
  int r = auth_jwt_peek(tok, len, &h);
  if (r < 0)
    return r;
  if ((h.alg & v->cfg->alg_mask) == 0)
    return AUTH_R_ALG;
  if (v->keys == NULL || (h.has_kid && !auth_keyset_has_kid(v->keys, h.kid, strlen(h.kid))))
    return may_wait ? AUTH_PENDING : v->keys == NULL ? AUTH_R_UNAVAILABLE : AUTH_R_UNKNOWN_KID;
  pol.alg_mask = v->cfg->alg_mask;
  pol.issuer = v->cfg->jwt_issuer;
  pol.audience = v->cfg->jwt_audience ? v->cfg->jwt_audience : audience;
  pol.leeway_s = v->cfg->leeway_s;
  r = auth_jwt_verify(v->keys, &pol, tok, len, now_s(), &claims);
  if (r < 0)
    return r == -ENOMEM ? AUTH_R_BUSY : r;
  p = from_claims(v, PRINCIPAL_JWT, claims);
  if (p == NULL)
    return AUTH_R_CLAIMS;
  cache_put(v, digest, p, p->expires_at);
  *out = p;
  return 0;
}

/* ---- waits ----------------------------------------------------------------- */

static auth_wait *wait_new(auth_verifier *v, enum wait_kind kind, const char *tok, size_t len,
                           const char *audience, const uint8_t digest[32], auth_done_fn cb,
                           void *arg) {
  auth_wait *w;
  if (v->n_waiters >= AUTH_MAX_WAITERS || (w = calloc(1, sizeof(*w) + len + 1)) == NULL)
    return NULL;
  if ((w->audience = strdup(audience ? audience : "")) == NULL) {
    free(w);
    return NULL;
  }
  w->kind = kind;
  w->v = v;
  w->cb = cb;
  w->arg = arg;
  w->len = len;
  memcpy(w->tok, tok, len);
  memcpy(w->digest, digest, 32);
  v->n_waiters++;
  return w;
}

static void wait_free(auth_wait *w) {
  w->v->n_waiters--;
  free(w->audience);
  free(w);
}

static void wait_end(auth_wait *w, int reason, principal *p) {
  auth_done_fn cb = w->cb;
  void *arg = w->arg;
  auth_verifier *v = w->v;
  list_remove(&w->link);
  wait_free(w);
  if (reason == 0)
    v->stats.ok++;
  else if (reason == AUTH_R_UNAVAILABLE || reason == AUTH_R_BUSY)
    v->stats.unavailable++;
  else
    v->stats.refused++;
  cb(arg, reason, p);
}

void auth_cancel(auth_wait *w) {
  list_remove(&w->link);
  wait_free(w);
}

/* ---- the key set ------------------------------------------------------------ */

static void jwks_schedule(auth_verifier *v, unsigned s);

static void jwks_done(void *arg, int err, const char *why, const http_client_resp *resp) {
  auth_verifier *v = arg;
  auth_keyset *ks = NULL;
  list_node list;
  char msg[256];
  size_t skipped = 0;
  int ok = 0;

  v->jwks_req = NULL;
  if (v->closing || v->cfg == NULL)
    return;
  if (err == 0 && resp->status == 200 &&
      auth_keyset_parse(resp->body, resp->body_len, v->cfg->alg_mask, &ks, &skipped, msg,
                        sizeof(msg)) == 0) {
    ok = 1;
  } else if (err == 0) {
    if (resp->status != 200)
      snprintf(msg, sizeof(msg), "HTTP status %d", resp->status);
  } else {
    snprintf(msg, sizeof(msg), "%s", why ? why : "the request failed");
  }
  if (ok) {
    char desc[200];
    auth_keyset_free(v->keys);
    v->keys = ks;
    v->jwks_backoff_s = 0;
    auth_keyset_describe(ks, desc, sizeof(desc));
    log_msg(v->log, LOGLVL_INFO, "auth_jwks_loaded", "keys=%zu skipped=%zu kids=\"%s\"",
            auth_keyset_count(ks), skipped, desc);
    jwks_schedule(v, v->cfg->jwks_refresh_s);
  } else {
    char esc[600];
    v->stats.jwks_failures++;
    log_msg(v->log, LOGLVL_WARN, "auth_jwks_failed", "url=%s reason=%s", v->cfg->jwks_url,
            log_escape(msg, esc, sizeof(esc)));
    /* Keep the old set; try again soon, less often while it keeps failing. */
    v->jwks_backoff_s = v->jwks_backoff_s ? v->jwks_backoff_s * 2 : 1;
    if (v->jwks_backoff_s > 30)
      v->jwks_backoff_s = 30;
    jwks_schedule(v, v->jwks_backoff_s);
  }
  /* The waiters: each token is checked again with the new set, or refused
   * as unavailable (never as a bad token: the IdP may just be down). */
  list_init(&list);
  if (!list_empty(&v->jwks_waiters)) {
    list = v->jwks_waiters;
    list.next->prev = &list;
    list.prev->next = &list;
    list_init(&v->jwks_waiters);
  }
  while (!list_empty(&list)) {
    auth_wait *w = list_entry(list.next, auth_wait, link);
    principal *p = NULL;
    int r = ok ? verify_jwt(v, w->tok, w->len, w->audience, w->digest, 0, &p) : AUTH_R_UNAVAILABLE;
    wait_end(w, r, p);
    principal_unref(p);
  }
}

static int jwks_fetch(auth_verifier *v) {
  http_client_params hp;
  char err[256];
  static const char *const headers[] = {"Accept: application/json, application/jwk-set+json"};
  int r;
  if (v->jwks_req != NULL)
    return 0;
  memset(&hp, 0, sizeof(hp));
  hp.method = "GET";
  hp.url = v->cfg->jwks_url;
  hp.headers = headers;
  hp.n_headers = 1;
  hp.timeout_ms = v->cfg->jwt_timeout_ms;
  hp.max_response_bytes = JWKS_MAX_BYTES;
  hp.label = "auth_jwks";
  hp.owner = v;
  hp.ca_file = v->cfg->jwt_ca_file;
  v->jwks_started_ms = uv_now(v->loop);
  v->stats.jwks_fetches++;
  r = http_client_request(v->http, &hp, jwks_done, v, &v->jwks_req, err, sizeof(err));
  if (r < 0) {
    v->jwks_req = NULL;
    log_msg(v->log, LOGLVL_WARN, "auth_jwks_failed", "url=%s reason=%s", v->cfg->jwks_url, err);
  }
  return r;
}

static void jwks_timer_cb(uv_timer_t *t) {
  auth_verifier *v = t->data;
  if (v->cfg != NULL && v->cfg->jwt && v->cfg->jwks_url != NULL)
    jwks_fetch(v);
}

static void jwks_schedule(auth_verifier *v, unsigned s) {
  if (v->timer_open && !v->closing)
    uv_timer_start(&v->jwks_timer, jwks_timer_cb, (uint64_t)s * 1000, 0);
}

int auth_jwks_load_file(const char *path, unsigned alg_mask, auth_keyset **out, char *err,
                        size_t n) {
  char why[200];
  struct stat st;
  char *data;
  ssize_t got;
  int fd = open(path, O_RDONLY | O_CLOEXEC), r;
  if (fd < 0 || fstat(fd, &st) < 0 || st.st_size > (off_t)JWKS_MAX_BYTES) {
    snprintf(err, n, "auth.jwt.jwks_file %s: %s", path,
             fd < 0 ? strerror(errno) : "larger than 1 MiB");
    if (fd >= 0)
      close(fd);
    return -EINVAL;
  }
  data = malloc((size_t)st.st_size + 1);
  got = data ? read(fd, data, (size_t)st.st_size) : -1;
  close(fd);
  if (got != (ssize_t)st.st_size) {
    snprintf(err, n, "auth.jwt.jwks_file %s: cannot read it", path);
    free(data);
    return -EINVAL;
  }
  r = auth_keyset_parse(data, (size_t)got, alg_mask, out, NULL, why, sizeof(why));
  free(data);
  if (r < 0) {
    snprintf(err, n, "auth.jwt.jwks_file %s: %s", path, why);
    return -EINVAL;
  }
  return 0;
}

/* ---- introspection ------------------------------------------------------------ */

static int has_audience(const json_t *aud, const char *audience) {
  size_t i;
  if (json_is_string(aud))
    return strcmp(json_string_value(aud), audience) == 0;
  for (i = 0; i < json_array_size(aud); i++) {
    if (json_is_string(json_array_get(aud, i)) &&
        strcmp(json_string_value(json_array_get(aud, i)), audience) == 0)
      return 1;
  }
  return 0;
}

/* The answer of an introspection: 0 and *out, or why it is refused. */
static int intro_result(auth_verifier *v, const intro_req *ir, const http_client_resp *resp,
                        principal **out) {
  const auth_config *c = v->cfg;
  json_t *j = json_loadb(resp->body, resp->body_len, JSON_REJECT_DUPLICATES, NULL);
  const json_t *exp, *aud, *iss, *tt;
  int64_t now = now_s();
  if (!json_is_object(j)) {
    json_decref(j);
    return AUTH_R_UNAVAILABLE;
  }
  exp = json_object_get(j, "exp");
  aud = json_object_get(j, "aud");
  iss = json_object_get(j, "iss");
  tt = json_object_get(j, "token_type");
  if (!json_is_true(json_object_get(j, "active")) ||
      (exp != NULL && (!json_is_number(exp) || json_number_value(exp) <= (double)now)) ||
      (json_is_string(tt) && strcmp(json_string_value(tt), "refresh_token") == 0)) {
    json_decref(j);
    return AUTH_R_INACTIVE;
  }
  if ((aud != NULL || c->intro_require_audience) && !has_audience(aud, ir->audience)) {
    json_decref(j);
    return AUTH_R_AUDIENCE;
  }
  if (c->jwt_issuer != NULL && iss != NULL &&
      (!json_is_string(iss) || strcmp(json_string_value(iss), c->jwt_issuer) != 0)) {
    json_decref(j);
    return AUTH_R_ISSUER;
  }
  *out = from_claims(v, PRINCIPAL_INTROSPECTION, j);
  return *out ? 0 : AUTH_R_CLAIMS;
}

static void intro_free(intro_req *ir) {
  free(ir->audience);
  if (ir->tok != NULL) {
    OPENSSL_cleanse(ir->tok, strlen(ir->tok));
    free(ir->tok);
  }
  free(ir);
}

static void intro_done(void *arg, int err, const char *why, const http_client_resp *resp) {
  intro_req *ir = arg;
  auth_verifier *v = ir->v;
  principal *p = NULL;
  int r;

  strmap_remove(&v->intro, ir->digest, sizeof(ir->digest));
  if (--v->n_intro == 0 && v->closing)
    strmap_free(&v->intro);
  if (v->closing || v->cfg == NULL || !v->cfg->introspection) {
    r = AUTH_R_UNAVAILABLE;
  } else if (err < 0 || resp->status != 200) {
    char esc[300];
    v->stats.introspection_failures++;
    log_msg(v->log, LOGLVL_WARN, "auth_introspection_failed", "reason=%s",
            err < 0 ? log_escape(why ? why : "failed", esc, sizeof(esc)) : "http_status");
    r = AUTH_R_UNAVAILABLE;
  } else {
    int64_t now = now_s();
    r = intro_result(v, ir, resp, &p);
    if (r == 0) {
      int64_t until = now + v->cfg->intro_cache_s;
      if (p->expires_at > 0 && p->expires_at < until)
        until = p->expires_at;
      cache_put(v, (const uint8_t *)ir->digest, p, until);
    } else if (r != AUTH_R_UNAVAILABLE && v->cfg->intro_negative_cache_s > 0) {
      auth_cache_put_negative(&v->cache, (const uint8_t *)ir->digest, r,
                              now + v->cfg->intro_negative_cache_s);
    }
  }
  while (!list_empty(&ir->waiters))
    wait_end(list_entry(ir->waiters.next, auth_wait, link), r, p);
  principal_unref(p);
  intro_free(ir);
}

/* application/x-www-form-urlencoded */
static void form_encode(const char *s, char *out, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (; *s && o + 4 < n; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out[o++] = (char)c;
    } else {
      out[o++] = '%';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    }
  }
  out[o] = '\0';
}

static int intro_start(auth_verifier *v, intro_req *ir) {
  const auth_config *c = v->cfg;
  http_client_params hp;
  size_t cap = strlen(ir->tok) * 3 + 1024;
  char *body = malloc(cap), *basic = NULL, id[400], secret[800], err[256];
  const char *headers[3];
  int r;
  if (body == NULL)
    return -ENOMEM;
  form_encode(ir->tok, body + 6, cap - 600);
  memcpy(body, "token=", 6);
  strcat(body, "&token_type_hint=access_token");
  form_encode(c->intro_client_id, id, sizeof(id));
  form_encode(c->intro_client_secret, secret, sizeof(secret));
  headers[0] = "Content-Type: application/x-www-form-urlencoded";
  headers[1] = "Accept: application/json";
  if (c->intro_post) {
    size_t bl = strlen(body);
    snprintf(body + bl, cap - bl, "&client_id=%s&client_secret=%s", id, secret);
  } else {
    /* RFC 6749 2.3.1: the id and secret are form-encoded, then base64. */
    char pair[1200];
    int pl = snprintf(pair, sizeof(pair), "%s:%s", id, secret);
    basic = malloc(64 + 4 * ((size_t)pl + 2) / 3);
    if (basic == NULL) {
      free(body);
      return -ENOMEM;
    }
    memcpy(basic, "Authorization: Basic ", 21);
    EVP_EncodeBlock((unsigned char *)basic + 21, (const unsigned char *)pair, pl);
    OPENSSL_cleanse(pair, sizeof(pair));
    headers[2] = basic;
  }
  OPENSSL_cleanse(secret, sizeof(secret));
  memset(&hp, 0, sizeof(hp));
  hp.method = "POST";
  hp.url = c->intro_endpoint;
  hp.headers = headers;
  hp.n_headers = c->intro_post ? 2 : 3;
  hp.body = body;
  hp.body_len = strlen(body);
  hp.timeout_ms = c->intro_timeout_ms;
  hp.max_response_bytes = 64 * 1024;
  hp.label = "auth_introspection";
  hp.owner = v;
  hp.ca_file = c->intro_ca_file;
  v->stats.introspections++;
  r = http_client_request(v->http, &hp, intro_done, ir, &ir->req, err, sizeof(err));
  OPENSSL_cleanse(body, strlen(body));
  free(body);
  if (basic != NULL) {
    OPENSSL_cleanse(basic, strlen(basic));
    free(basic);
  }
  if (r < 0)
    log_msg(v->log, LOGLVL_WARN, "auth_introspection_failed", "reason=%s", err);
  return r;
}

static int introspect(auth_verifier *v, const char *tok, size_t len, const char *audience,
                      const uint8_t digest[32], auth_done_fn cb, void *arg, auth_wait **wait) {
  intro_req *ir = strmap_get(&v->intro, (const char *)digest, 32);
  auth_wait *w;
  if (ir == NULL) {
    if (v->n_intro >= v->cfg->intro_max_in_flight)
      return AUTH_R_BUSY;
    if ((ir = calloc(1, sizeof(*ir))) == NULL)
      return AUTH_R_BUSY;
    memcpy(ir->digest, digest, 32);
    ir->v = v;
    list_init(&ir->waiters);
    ir->audience = strdup(audience);
    ir->tok = strndup(tok, len);
    if (ir->audience == NULL || ir->tok == NULL ||
        strmap_put(&v->intro, ir->digest, sizeof(ir->digest), ir) < 0) {
      intro_free(ir);
      return AUTH_R_BUSY;
    }
    v->n_intro++;
    if (intro_start(v, ir) < 0) {
      strmap_remove(&v->intro, ir->digest, sizeof(ir->digest));
      v->n_intro--;
      intro_free(ir);
      return AUTH_R_UNAVAILABLE;
    }
  }
  if ((w = wait_new(v, WAIT_INTRO, "", 0, audience, digest, cb, arg)) == NULL)
    return AUTH_R_BUSY;
  w->ir = ir;
  list_insert_tail(&ir->waiters, &w->link);
  *wait = w;
  return AUTH_PENDING;
}

/* ---- verify --------------------------------------------------------------------- */

static int token68(const char *tok, size_t len) {
  size_t i = 0;
  static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";
  while (i < len && tok[i] != '=' && tok[i] != '\0' && strchr(ok, tok[i]) != NULL)
    i++;
  if (i == 0)
    return 0;
  while (i < len && tok[i] == '=')
    i++;
  return i == len;
}

static int static_token(auth_verifier *v, const char *tok, size_t len, principal **out) {
  const auth_config *c = v->cfg;
  uint8_t d[32];
  unsigned dl = 0;
  size_t i, found = (size_t)-1;
  principal_init in;
  if (EVP_Digest(tok, len, d, &dl, v->sha256, NULL) != 1)
    return AUTH_R_BUSY;
  /* Every entry is compared, whatever matched: the time taken says
   * nothing about which token is close. */
  for (i = 0; i < c->n_tokens; i++) {
    if (CRYPTO_memcmp(d, c->tokens[i].digest, 32) == 0)
      found = i;
  }
  if (found == (size_t)-1)
    return AUTH_R_UNKNOWN_TOKEN;
  memset(&in, 0, sizeof(in));
  in.kind = PRINCIPAL_TOKEN;
  in.subject = c->tokens[found].name;
  in.scope = c->tokens[found].scope;
  *out = principal_new(&in);
  return *out ? 0 : AUTH_R_BUSY;
}

int auth_verify(auth_verifier *v, const char *tok, size_t len, const char *audience,
                principal **out, auth_done_fn cb, void *arg, auth_wait **wait) {
  uint8_t digest[32];
  auth_jwt_header h;
  principal *p;
  int r, reason;

  *out = NULL;
  if (v->cfg == NULL)
    return AUTH_R_UNAVAILABLE;
  if (len > AUTH_MAX_TOKEN || !token68(tok, len))
    return v->stats.refused++, AUTH_R_MALFORMED;
  if (audience == NULL)
    audience = "";
  /* The cache key holds the audience: a token verified for one resource
   * URL is never taken for another without being checked again. */
  if (digest2(v, audience, strlen(audience), tok, len, digest) < 0)
    return AUTH_R_BUSY;
  p = auth_cache_get(&v->cache, digest, now_s(), &reason);
  if (p != NULL) {
    v->stats.cache_hits++;
    v->stats.ok++;
    *out = principal_ref(p);
    return 0;
  }
  if (reason != 0)
    return v->stats.refused++, reason;
  r = AUTH_R_UNKNOWN_TOKEN;
  if (v->cfg->n_tokens > 0) {
    r = static_token(v, tok, len, out);
    if (r == 0) {
      /* Static tokens never expire; the bound only keeps a reload's
       * change of scopes from waiting on a cache entry. */
      auth_cache_put(&v->cache, digest, *out, now_s() + 3600);
      v->stats.ok++;
      return 0;
    }
  }
  if (v->cfg->jwt && looks_like_jwt(tok, len) && auth_jwt_peek(tok, len, &h) != AUTH_R_MALFORMED) {
    /* A JWT is answered by the JWT tier alone: its reason is the one the
     * client should hear, and a flood of forged JWTs must not turn into a
     * flood of introspections. */
    r = verify_jwt(v, tok, len, audience, digest, 1, out);
    if (r == AUTH_PENDING) {
      uint64_t now = uv_now(v->loop);
      auth_wait *w;
      if (v->cfg->jwks_url == NULL)
        r = v->keys == NULL ? AUTH_R_UNAVAILABLE : AUTH_R_UNKNOWN_KID;
      else if (v->jwks_req == NULL &&
               v->jwks_started_ms + (uint64_t)v->cfg->jwks_cooldown_s * 1000 > now &&
               v->jwks_started_ms != 0)
        /* An unknown kid within the cool-down: no fetch, whatever the
         * tokens say (a flood of made-up kids costs one fetch). After a
         * failed fetch the key may well exist: the server is down. */
        r = v->keys == NULL || v->jwks_backoff_s > 0 ? AUTH_R_UNAVAILABLE : AUTH_R_UNKNOWN_KID;
      else if (jwks_fetch(v) < 0)
        r = AUTH_R_UNAVAILABLE;
      else if ((w = wait_new(v, WAIT_JWKS, tok, len, audience, digest, cb, arg)) == NULL)
        r = AUTH_R_BUSY;
      else {
        list_insert_tail(&v->jwks_waiters, &w->link);
        *wait = w;
        return AUTH_PENDING;
      }
    }
    if (r == 0)
      v->stats.ok++;
    else if (r == AUTH_R_UNAVAILABLE || r == AUTH_R_BUSY)
      v->stats.unavailable++;
    else
      v->stats.refused++;
    return r;
  }
  if (v->cfg->introspection)
    return introspect(v, tok, len, audience, digest, cb, arg, wait);
  v->stats.refused++;
  return r;
}

/* ---- life ------------------------------------------------------------------------ */

int auth_verifier_init(auth_verifier *v, uv_loop_t *loop, http_client *http, const logger *lg) {
  memset(v, 0, sizeof(*v));
  v->loop = loop;
  v->http = http;
  v->log = lg;
  list_init(&v->jwks_waiters);
  auth_cache_init(&v->cache, 0);
  v->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  v->md = EVP_MD_CTX_new();
  if (v->sha256 == NULL || v->md == NULL || uv_timer_init(loop, &v->jwks_timer) < 0) {
    EVP_MD_free(v->sha256);
    EVP_MD_CTX_free(v->md);
    return -ENOMEM;
  }
  v->jwks_timer.data = v;
  v->timer_open = 1;
  return 0;
}

static void fail_jwks_waiters(auth_verifier *v) {
  while (!list_empty(&v->jwks_waiters))
    wait_end(list_entry(v->jwks_waiters.next, auth_wait, link), AUTH_R_UNAVAILABLE, NULL);
}

int auth_verifier_apply(auth_verifier *v, const auth_config *cfg, char *err, size_t n) {
  const char *source = cfg && cfg->jwt ? (cfg->jwks_url ? cfg->jwks_url : cfg->jwks_file) : NULL;
  auth_keyset *ks = NULL;
  int same = source != NULL && v->keys_source != NULL && strcmp(source, v->keys_source) == 0 &&
             v->cfg != NULL && v->cfg->alg_mask == cfg->alg_mask;
  if (cfg != NULL && cfg->jwt && cfg->jwks_file != NULL &&
      auth_jwks_load_file(cfg->jwks_file, cfg->alg_mask, &ks, err, n) < 0)
    return -EINVAL;
  auth_cache_clear(&v->cache);
  auth_cache_set_max(&v->cache, cfg ? cfg->cache_max : 0);
  if (!same) {
    /* Another source: the keys and the waits of the old one go. */
    if (v->jwks_req != NULL)
      http_client_cancel(v->jwks_req);
    v->cfg = cfg;
    fail_jwks_waiters(v);
    auth_keyset_free(v->keys);
    v->keys = NULL;
    free(v->keys_source);
    v->keys_source = source ? strdup(source) : NULL;
    v->jwks_started_ms = 0;
    v->jwks_backoff_s = 0;
    if (v->timer_open)
      uv_timer_stop(&v->jwks_timer);
  }
  v->cfg = cfg;
  if (ks != NULL) {
    auth_keyset_free(v->keys);
    v->keys = ks;
  } else if (!same && cfg != NULL && cfg->jwt && cfg->jwks_url != NULL) {
    jwks_fetch(v);
  }
  return 0;
}

void auth_verifier_close(auth_verifier *v) {
  size_t i;
  v->closing = 1;
  fail_jwks_waiters(v);
  if (v->jwks_req != NULL)
    http_client_cancel(v->jwks_req);
  for (i = 0; i < v->intro.cap; i++) {
    intro_req *ir = v->intro.slots[i].key ? v->intro.slots[i].value : NULL;
    if (ir == NULL)
      continue;
    while (!list_empty(&ir->waiters))
      wait_end(list_entry(ir->waiters.next, auth_wait, link), AUTH_R_UNAVAILABLE, NULL);
    http_client_cancel(ir->req);
  }
  if (v->n_intro == 0)
    strmap_free(&v->intro);
  auth_cache_free(&v->cache);
  auth_keyset_free(v->keys);
  v->keys = NULL;
  free(v->keys_source);
  v->keys_source = NULL;
  EVP_MD_free(v->sha256);
  v->sha256 = NULL;
  EVP_MD_CTX_free(v->md);
  v->md = NULL;
  if (v->timer_open) {
    v->timer_open = 0;
    uv_close((uv_handle_t *)&v->jwks_timer, NULL);
  }
}
