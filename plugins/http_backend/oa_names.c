/* oa_names.c -- tool names: from x-mcp-name, the operationId (FastAPI's
 * generated ids shortened), the summary or the method and path; sanitised,
 * prefixed, cut to 64 bytes and made unique. Pure. */
#define _POSIX_C_SOURCE 200809L

#include "openapi_internal.h"
#include "oa_chars.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NAME_MAX_LEN    64 /* tool names, prefix included */
#define HASH_SUFFIX_LEN 7  /* "_" + 6 hex digits */

/* Appends n bytes of s with characters outside [A-Za-z0-9_.-] replaced by
 * '_' and runs of '_' collapsed. */
void oa_sanitize_into(sbuf *b, const char *s, size_t n, int lowercase) {
  size_t i;
  for (i = 0; i < n && s[i]; i++) {
    int ch = (unsigned char)s[i];
    if (!oa_is_name_char(ch))
      ch = '_';
    if (lowercase)
      ch = oa_lower(ch);
    if (ch == '_' && b->len > 0 && b->p[b->len - 1] == '_')
      continue;
    sb_putc(b, (char)ch);
  }
}

/* Sanitised and trimmed of '_', '.', '-' at both ends; NULL when empty. */
static char *clean_name(ctx *c, const char *s, size_t n, int lowercase) {
  sbuf b = {0};
  size_t start = 0;
  char *r;
  oa_sanitize_into(&b, s, n, lowercase);
  while (b.len > 0 && strchr("_.-", b.p[b.len - 1]) != NULL)
    b.p[--b.len] = '\0';
  while (start < b.len && strchr("_.-", b.p[start]) != NULL)
    start++;
  if (b.oom)
    c->oom = 1;
  if (b.oom || start == b.len) {
    sb_free(&b);
    return NULL;
  }
  memmove(b.p, b.p + start, b.len - start + 1);
  b.len -= start;
  r = sb_take(&b);
  if (r == NULL)
    c->oom = 1;
  return r;
}

/* How much of a FastAPI-generated operationId is the route's name:
 * "<name><path with non-word characters as _>_<method>" gives <name>. When
 * the id ends with "_<method>" but the path does not match (a mounted
 * router), the id is cut at its first "__". Otherwise the whole id. */
static size_t fastapi_name_len(const char *id, const char *path, const char *method) {
  size_t len = strlen(id), mlen = strlen(method), plen = strlen(path), t, i;
  const char *dd;
  if (len <= mlen + 1 || id[len - mlen - 1] != '_' || strcmp(id + len - mlen, method) != 0)
    return len;
  t = len - mlen - 1;
  if (t > plen) {
    for (i = 0; i < plen; i++) {
      int ch = (unsigned char)path[i];
      if ((oa_is_alnum(ch) || ch == '_' ? ch : '_') != (unsigned char)id[t - plen + i])
        break;
    }
    if (i == plen)
      return t - plen;
  }
  dd = strstr(id, "__");
  return dd != NULL && dd > id ? (size_t)(dd - id) : len;
}

/* The name of an operation before the prefix, cut and de-duplication. */
char *oa_base_name(ctx *c, const json_t *op, const char *path, int m) {
  const char *mcp = json_string_value(json_object_get(op, "x-mcp-name"));
  const char *id = json_string_value(json_object_get(op, "operationId"));
  const char *summary = json_string_value(json_object_get(op, "summary"));
  char *r;
  sbuf b = {0};
  if (mcp != NULL) {
    r = clean_name(c, mcp, strlen(mcp), 0);
    if (r != NULL)
      return r;
    oa_warn(c, "x-mcp-name \"%.100s\" has no usable character; ignored", mcp);
  }
  if (id != NULL) {
    r = clean_name(c, id, fastapi_name_len(id, path, OA_METHODS[m]), 0);
    if (r != NULL)
      return r;
  }
  if (summary != NULL) {
    r = clean_name(c, summary, strlen(summary), 1);
    if (r != NULL)
      return r;
  }
  sb_printf(&b, "%s_%s", OA_METHODS[m], path);
  r = clean_name(c, b.p ? b.p : "", b.len, 1);
  sb_free(&b);
  if (r == NULL && !c->oom)
    r = oa_xstrdup(c, OA_METHODS[m]);
  return r;
}

static uint32_t fnv1a(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 16777619u;
  }
  return h;
}

/* At most max bytes of name, without '_', '.', '-' at the end. */
static size_t cut_len(const char *name, size_t max) {
  size_t n = strlen(name);
  if (n > max)
    n = max;
  while (n > 0 && strchr("_.-", name[n - 1]) != NULL)
    n--;
  return n;
}

/* prefix + base, cut to NAME_MAX_LEN with a hash of the whole, then made
 * unique in used (which gets the name) with "_2", "_3"... */
char *oa_final_name(ctx *c, const char *base, json_t *used) {
  sbuf full = {0};
  char first[NAME_MAX_LEN + 1], cand[NAME_MAX_LEN + 1];
  char *r;
  unsigned k;
  oa_sanitize_into(&full, c->prefix, strlen(c->prefix), 0);
  if (full.len > 0 && full.p[full.len - 1] == '_' && base[0] == '_')
    base++;
  sb_puts(&full, base);
  if (full.oom) {
    c->oom = 1;
    sb_free(&full);
    return NULL;
  }
  if (full.len > NAME_MAX_LEN) {
    uint32_t h = fnv1a(full.p);
    snprintf(first, sizeof(first), "%.*s_%06x",
             (int)cut_len(full.p, NAME_MAX_LEN - HASH_SUFFIX_LEN), full.p,
             (unsigned)((h ^ (h >> 24)) & 0xffffff));
  } else {
    snprintf(first, sizeof(first), "%s", full.p);
  }
  sb_free(&full);
  memcpy(cand, first, sizeof(cand));
  for (k = 2; oa_has_key(used, cand); k++) {
    char suffix[16];
    snprintf(suffix, sizeof(suffix), "_%u", k);
    snprintf(cand, sizeof(cand), "%.*s%s", (int)cut_len(first, NAME_MAX_LEN - strlen(suffix)),
             first, suffix);
  }
  if (strcmp(cand, first) != 0)
    oa_warn(c, "the name %s is already taken; this operation is %s", first, cand);
  r = oa_xstrdup(c, cand);
  if (r != NULL)
    oa_oset(c, used, r, json_true());
  return r;
}
