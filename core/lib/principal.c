/* principal.c -- authenticated callers. */
#include "lib/principal.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

const char *principal_kind_name(enum principal_kind kind) {
  static const char *const names[] = {"token", "jwt", "introspection", "mtls"};
  return (unsigned)kind < 4 ? names[kind] : "?";
}

int principal_scope_valid(const char *s, size_t len) {
  size_t i;
  if (len == 0)
    return 0;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e)
      return 0;
  }
  return 1;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits a space-separated list into a sorted, de-duplicated, NULL-
 * terminated array of copies. */
static int split_scopes(const char *scope, char ***out, size_t *n_out) {
  size_t cap = 1, n = 0, i;
  const char *p;
  char **v;
  for (p = scope ? scope : ""; *p; p++)
    cap += *p == ' ';
  v = calloc(cap + 1, sizeof(*v));
  if (v == NULL)
    return -ENOMEM;
  for (p = scope ? scope : ""; *p;) {
    size_t len = strcspn(p, " ");
    if (principal_scope_valid(p, len)) {
      if ((v[n] = strndup(p, len)) == NULL)
        goto fail;
      n++;
    }
    p += len;
    p += strspn(p, " ");
  }
  qsort(v, n, sizeof(*v), cmp_str);
  for (i = 1; i < n;) {
    if (strcmp(v[i - 1], v[i]) == 0) {
      free(v[i]);
      memmove(v + i, v + i + 1, (n - i) * sizeof(*v));
      n--;
    } else {
      i++;
    }
  }
  v[n] = NULL;
  *out = v;
  *n_out = n;
  return 0;
fail:
  for (i = 0; i < n; i++)
    free(v[i]);
  free(v);
  return -ENOMEM;
}

char *principal_scopes_of(const json_t *claims, int use_scp) {
  const json_t *v = json_object_get(claims, use_scp ? "scp" : "scope");
  size_t i, len = 0;
  char *out;
  if (json_is_string(v))
    return strdup(json_string_value(v));
  if (!json_is_array(v))
    return strdup("");
  for (i = 0; i < json_array_size(v); i++) {
    const json_t *s = json_array_get(v, i);
    if (json_is_string(s))
      len += json_string_length(s) + 1;
  }
  out = malloc(len + 1);
  if (out == NULL)
    return NULL;
  out[0] = '\0';
  len = 0;
  for (i = 0; i < json_array_size(v); i++) {
    const json_t *s = json_array_get(v, i);
    size_t sl;
    if (!json_is_string(s) || !principal_scope_valid(json_string_value(s), json_string_length(s)))
      continue;
    sl = json_string_length(s);
    if (len > 0)
      out[len++] = ' ';
    memcpy(out + len, json_string_value(s), sl);
    len += sl;
    out[len] = '\0';
  }
  return out;
}

static void make_key(principal *p) {
  static const char hex[] = "0123456789abcdef";
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  unsigned char k = (unsigned char)p->kind;
  unsigned len = 0;
  size_t i;
  /* kind \0 issuer \0 subject: no two principals of different issuers or
   * kinds share a key, whatever their subjects say. */
  if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
      EVP_DigestUpdate(md, &k, 1) != 1 ||
      EVP_DigestUpdate(md, p->issuer ? p->issuer : "", p->issuer ? strlen(p->issuer) + 1 : 1) !=
          1 ||
      EVP_DigestUpdate(md, p->subject, strlen(p->subject)) != 1 ||
      EVP_DigestFinal_ex(md, p->key, &len) != 1) {
    /* Never two principals with the zero key: fall back to the subject. */
    size_t sl = strlen(p->subject);
    memset(p->key, 0, sizeof(p->key));
    memcpy(p->key, p->subject, sl < sizeof(p->key) ? sl : sizeof(p->key));
    p->key[0] ^= (uint8_t)(0x80 | k);
  }
  EVP_MD_CTX_free(md);
  memcpy(p->client_key, "p:", 2);
  for (i = 0; i < 16; i++) {
    p->client_key[2 + 2 * i] = hex[p->key[i] >> 4];
    p->client_key[3 + 2 * i] = hex[p->key[i] & 15];
  }
  p->client_key[34] = '\0';
}

principal *principal_new(const principal_init *in) {
  principal *p;
  if (in->subject == NULL || in->subject[0] == '\0' || (p = calloc(1, sizeof(*p))) == NULL) {
    json_decref(in->claims);
    return NULL;
  }
  atomic_init(&p->refs, 1);
  p->kind = in->kind;
  p->expires_at = in->expires_at;
  p->subject = strdup(in->subject);
  p->client_id = in->client_id ? strdup(in->client_id) : NULL;
  p->issuer = in->issuer ? strdup(in->issuer) : NULL;
  p->claims = in->claims;
  if (p->claims == NULL)
    p->claims = json_pack("{s:s, s:s}", "sub", in->subject, "scope", in->scope ? in->scope : "");
  if (p->subject == NULL || (in->client_id && p->client_id == NULL) ||
      (in->issuer && p->issuer == NULL) || p->claims == NULL ||
      split_scopes(in->scope, &p->scopes, &p->n_scopes) < 0) {
    principal_unref(p);
    return NULL;
  }
  make_key(p);
  p->view.struct_size = sizeof(p->view);
  p->view.kind = principal_kind_name(p->kind);
  p->view.subject = p->subject;
  p->view.client_id = p->client_id;
  p->view.issuer = p->issuer;
  p->view.scopes = (const char *const *)p->scopes;
  p->view.n_scopes = p->n_scopes;
  p->view.claims = p->claims;
  p->view.expires_at = p->expires_at;
  return p;
}

principal *principal_ref(principal *p) {
  if (p != NULL)
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
  return p;
}

void principal_unref(principal *p) {
  size_t i;
  if (p == NULL || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
    return;
  free(p->subject);
  free(p->client_id);
  free(p->issuer);
  for (i = 0; p->scopes != NULL && p->scopes[i] != NULL; i++)
    free(p->scopes[i]);
  free(p->scopes);
  json_decref(p->claims);
  free(p);
}

static int has_scope(const principal *p, const char *s, size_t len) {
  size_t lo = 0, hi = p->n_scopes;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strncmp(p->scopes[mid], s, len);
    if (c == 0 && p->scopes[mid][len] != '\0')
      c = 1;
    if (c == 0)
      return 1;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return 0;
}

int principal_has_all(const principal *p, const char *set) {
  const char *s = set ? set : "";
  while (*s) {
    size_t len = strcspn(s, " ");
    if (len > 0 && !has_scope(p, s, len))
      return 0;
    s += len;
    s += strspn(s, " ");
  }
  return 1;
}
