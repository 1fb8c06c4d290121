/* oa_ref.c -- JSON pointers and "$ref" resolution in the OpenAPI document:
 * local references only (external ones are reported, not fetched). Pure. */
#define _POSIX_C_SOURCE 200809L

#include "openapi_internal.h"
#include "oa_chars.h"

#include <stdlib.h>
#include <string.h>

/* Percent-decodes s into b (a bad escape stays literal). */
static void pct_decode(sbuf *b, const char *s) {
  for (; *s; s++) {
    if (*s == '%' && oa_hexval((unsigned char)s[1]) >= 0 && oa_hexval((unsigned char)s[2]) >= 0) {
      sb_putc(b, (char)(oa_hexval((unsigned char)s[1]) * 16 + oa_hexval((unsigned char)s[2])));
      s += 2;
    } else {
      sb_putc(b, *s);
    }
  }
}

/* Undoes ~1 and ~0 in the token [s, s + n) into b; -1 on a bad escape. */
static int unescape_token(sbuf *b, const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (s[i] != '~') {
      sb_putc(b, s[i]);
    } else if (i + 1 < n && (s[i + 1] == '0' || s[i + 1] == '1')) {
      sb_putc(b, s[i + 1] == '0' ? '~' : '/');
      i++;
    } else {
      return -1;
    }
  }
  return 0;
}

/* Resolves a local reference ("#/components/schemas/A", "#/paths/~1x")
 * in doc; NULL when it is not local or not found. */
const json_t *oa_resolve_pointer(ctx *c, const char *ref) {
  sbuf frag = {0}, tok = {0};
  const json_t *node = c->doc;
  const char *p, *end, *t;
  if (ref[0] != '#')
    return NULL;
  pct_decode(&frag, ref + 1);
  if (frag.oom) {
    c->oom = 1;
    return NULL;
  }
  p = frag.p ? frag.p : "";
  if (strlen(p) != frag.len) /* a %00 */
    node = NULL;
  if (*p != '\0' && *p != '/')
    node = NULL;
  while (node != NULL && *p == '/') {
    p++;
    end = strchr(p, '/');
    if (end == NULL)
      end = p + strlen(p);
    tok.len = 0;
    if (unescape_token(&tok, p, (size_t)(end - p)) != 0 || tok.oom) {
      c->oom |= tok.oom;
      node = NULL;
      break;
    }
    t = tok.p != NULL ? tok.p : "";
    if (json_is_object(node)) {
      node = json_object_getn(node, t, tok.len);
    } else if (json_is_array(node)) {
      char *stop;
      unsigned long idx;
      if (tok.len == 0 || t[0] < '0' || t[0] > '9' || (tok.len > 1 && t[0] == '0')) {
        node = NULL;
        break;
      }
      idx = strtoul(t, &stop, 10);
      node = *stop == '\0' ? json_array_get(node, idx) : NULL;
    } else {
      node = NULL;
    }
    p = end;
  }
  sb_free(&frag);
  sb_free(&tok);
  return node;
}

/* When ref is exactly "<prefix><one pointer token>", puts the decoded token
 * into name (a C string without NUL bytes) and returns 1; else 0. */
int oa_ref_name(const char *ref, const char *prefix, sbuf *name) {
  sbuf dec = {0};
  size_t plen = strlen(prefix);
  int ok = 0;
  name->len = 0;
  if (strncmp(ref, prefix, plen) != 0 || ref[plen] == '\0')
    return 0;
  pct_decode(&dec, ref + plen);
  if (!dec.oom && strlen(dec.p) == dec.len && strchr(dec.p, '/') == NULL &&
      unescape_token(name, dec.p, dec.len) == 0 && !name->oom)
    ok = 1;
  sb_free(&dec);
  return ok;
}

/* "#/$defs/" + name as a JSON pointer in a URI fragment. */
json_t *oa_defs_ref(ctx *c, const char *name) {
  sbuf b = {0};
  const unsigned char *s;
  json_t *r;
  sb_puts(&b, "#/$defs/");
  for (s = (const unsigned char *)name; *s; s++) {
    if (*s == '~')
      sb_puts(&b, "~0");
    else if (*s == '/')
      sb_puts(&b, "~1");
    else if (oa_is_unreserved(*s) || strchr("!$&'()*+,;=:@", *s) != NULL)
      sb_putc(&b, (char)*s);
    else
      sb_printf(&b, "%%%02X", *s);
  }
  if (b.oom) {
    c->oom = 1;
    return NULL;
  }
  r = oa_chk(c, json_pack("{s:s}", "$ref", b.p));
  sb_free(&b);
  return r;
}

/* Follows $ref chains (to components/parameters, requestBodies, responses or
 * any local pointer) from v. NULL, with a warning, when a reference is not a
 * string, cannot be resolved, or the chain is too long or circular. */
const json_t *oa_deref(ctx *c, const json_t *v, const char *what) {
  const json_t *r;
  int hops;
  for (hops = 0; json_is_object(v) && (r = json_object_get(v, "$ref")) != NULL; hops++) {
    if (!json_is_string(r)) {
      oa_warn(c, "%s has a $ref that is not a string; ignored", what);
      return NULL;
    }
    if (hops == MAX_REF_HOPS) {
      oa_warn(c, "%s: the references from \"%.100s\" are circular or too deep; ignored", what,
              json_string_value(r));
      return NULL;
    }
    v = oa_resolve_pointer(c, json_string_value(r));
    if (v == NULL) {
      oa_warn(c,
              "%s: reference \"%.100s\" not found (only local references are supported); ignored",
              what, json_string_value(r));
      return NULL;
    }
  }
  return v;
}
