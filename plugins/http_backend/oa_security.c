/* oa_security.c -- an operation's OpenAPI "security" as the scopes its tool
 * needs (oa_operation.required_scopes; the rules are in openapi.h). Pure. */
#define _POSIX_C_SOURCE 200809L

#include "openapi_internal.h"

#include <stdlib.h>
#include <string.h>

/* RFC 6749 §3.3 scope-token: 1*( %x21 / %x23-5B / %x5D-7E ). */
static int is_scope_token(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  if (*p == '\0')
    return 0;
  for (; *p; p++) {
    if (*p < 0x21 || *p > 0x7e || *p == '"' || *p == '\\')
      return 0;
  }
  return 1;
}

int oa_scope_prefix_ok(const char *prefix) {
  return prefix == NULL || prefix[0] == '\0' || is_scope_token(prefix);
}

/* Whether the scheme called name counts: oauth2 or openIdConnect. */
static int counts(ctx *c, const json_t *schemes, const char *name) {
  const json_t *s = json_object_get(schemes, name);
  const char *type;
  if (s == NULL) {
    oa_warn(c, "security scheme %.100s is not in components.securitySchemes; ignored", name);
    return 0;
  }
  s = oa_deref(c, s, "the security scheme");
  type = json_string_value(json_object_get(s, "type"));
  return type != NULL && (strcmp(type, "oauth2") == 0 || strcmp(type, "openIdConnect") == 0);
}

/* Appends alt (stolen) to the NULL-terminated list *v of *n. */
static void push(ctx *c, char ***v, size_t *n, char *alt) {
  char **nv;
  if (alt == NULL) {
    c->oom = 1;
    return;
  }
  nv = realloc(*v, (*n + 2) * sizeof(char *));
  if (nv == NULL) {
    free(alt);
    c->oom = 1;
    return;
  }
  nv[(*n)++] = alt;
  nv[*n] = NULL;
  *v = nv;
}

static void free_list(char **v) {
  size_t i;
  for (i = 0; v != NULL && v[i] != NULL; i++)
    free(v[i]);
  free(v);
}

int oa_security_scopes(ctx *c, const json_t *op, oa_operation *o) {
  const json_t *sec = json_object_get(op, "security"), *schemes, *req;
  const char *prefix = c->opt->scope_prefix != NULL ? c->opt->scope_prefix : "";
  char **v = NULL;
  size_t n = 0, i;

  o->required_scopes = NULL;
  if (!c->opt->security_scopes)
    return 0;
  if (sec == NULL)
    sec = json_object_get(c->doc, "security");
  if (sec == NULL)
    return 0;
  if (!json_is_array(sec)) {
    /* Fail closed: a tool that may need scopes is not published without them. */
    oa_warn(c, "\"security\" is %s, not an array; operation skipped", oa_type_name(sec));
    return -1;
  }
  schemes = json_object_get(json_object_get(c->doc, "components"), "securitySchemes");
  json_array_foreach(sec, i, req) {
    const char *name;
    const json_t *list, *scope;
    size_t k;
    int any = json_object_size(req) == 0; /* {}: no credential needed at all */
    sbuf b = {0};
    if (!json_is_object(req)) {
      oa_warn(c, "security requirement #%zu is %s, not an object; operation skipped", i + 1,
              oa_type_name(req));
      free_list(v);
      return -1;
    }
    json_object_foreach((json_t *)req, name, list) {
      if (!counts(c, schemes, name))
        continue;
      any = 1;
      if (!json_is_array(list)) {
        oa_warn(c, "the scopes of %.100s are %s, not an array; operation skipped", name,
                oa_type_name(list));
        sb_free(&b);
        free_list(v);
        return -1;
      }
      json_array_foreach(list, k, scope) {
        const char *sc = json_string_value(scope);
        if (sc == NULL || !is_scope_token(sc)) {
          oa_warn(c,
                  "scope %.100s of %.100s is not a scope (no spaces, quotes or backslashes); "
                  "operation skipped",
                  sc != NULL ? sc : oa_type_name(scope), name);
          sb_free(&b);
          free_list(v);
          return -1;
        }
        if (b.len > 0)
          sb_putc(&b, ' ');
        sb_puts(&b, prefix);
        sb_puts(&b, sc);
      }
    }
    if (any)
      push(c, &v, &n, sb_take(&b));
    else
      sb_free(&b);
  }
  o->required_scopes = v;
  return 0;
}

void oa_scopes_free(char **v) {
  free_list(v);
}
