/* oa_ctx.c -- the conversion context's helpers that every piece of the
 * converter uses: allocation-failure tracking (see openapi.c), warnings,
 * errors, the method tables and a few small JSON helpers. Pure. */
#define _POSIX_C_SOURCE 200809L

#include "openapi_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const OA_METHODS[N_METHODS] = {"get",     "put",  "post",  "delete",
                                           "options", "head", "patch", "trace"};
const char *const OA_METHODS_UP[N_METHODS] = {"GET",     "PUT",  "POST",  "DELETE",
                                              "OPTIONS", "HEAD", "PATCH", "TRACE"};

/* Keeps the allocation-failure flag for a jansson constructor's result. */
json_t *oa_chk(ctx *c, json_t *j) {
  if (j == NULL)
    c->oom = 1;
  return j;
}

/* o[k] = v, stealing v. A NULL v or o (an earlier allocation failure) only
 * records the failure: jansson releases v when it cannot be set. */
void oa_oset(ctx *c, json_t *o, const char *k, json_t *v) {
  if (json_object_set_new(o, k, v) != 0)
    c->oom = 1;
}

/* Appends v to a, stealing v; as oa_oset(). */
void oa_apush(ctx *c, json_t *a, json_t *v) {
  if (json_array_append_new(a, v) != 0)
    c->oom = 1;
}

/* strdup() that records an allocation failure; NULL for NULL. */
char *oa_xstrdup(ctx *c, const char *s) {
  char *p;
  if (s == NULL)
    return NULL;
  p = strdup(s);
  if (p == NULL)
    c->oom = 1;
  return p;
}

void oa_set_where(ctx *c, int m, const char *path) {
  snprintf(c->where, sizeof(c->where), "%s %.150s", OA_METHODS_UP[m], path);
}

/* Adds a warning line "<where>: <message>"; control characters (from names in
 * the document) become '?', so a warning is always one line. */
void oa_warn(ctx *c, const char *fmt, ...) {
  sbuf b = {0};
  va_list ap;
  char *s, **nw;
  size_t i;
  if (c->out->n_warnings >= MAX_WARNINGS) {
    c->dropped_warnings++;
    return;
  }
  if (c->where[0] != '\0')
    sb_printf(&b, "%s: ", c->where);
  va_start(ap, fmt);
  sb_vprintf(&b, fmt, ap);
  va_end(ap);
  s = sb_take(&b);
  if (s == NULL) {
    c->oom = 1;
    return;
  }
  for (i = 0; s[i]; i++) {
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
      s[i] = '?';
  }
  if (c->out->n_warnings == c->cap_warnings) {
    size_t cap = c->cap_warnings ? c->cap_warnings * 2 : 16;
    nw = realloc(c->out->warnings, cap * sizeof(*nw));
    if (nw == NULL) {
      free(s);
      c->oom = 1;
      return;
    }
    c->out->warnings = nw;
    c->cap_warnings = cap;
  }
  c->out->warnings[c->out->n_warnings++] = s;
}

/* The message in err (size n), and -EINVAL. */
int oa_fail(char *err, size_t n, const char *fmt, ...) {
  va_list ap;
  if (err != NULL && n > 0) {
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
  }
  return -EINVAL;
}

/* "an object", "a string"...: for messages. */
const char *oa_type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return "an object";
  case JSON_ARRAY:
    return "an array";
  case JSON_STRING:
    return "a string";
  case JSON_INTEGER:
  case JSON_REAL:
    return "a number";
  case JSON_TRUE:
  case JSON_FALSE:
    return "a boolean";
  default:
    return "null";
  }
}

int oa_has_key(const json_t *o, const char *k) {
  return json_object_get(o, k) != NULL;
}

/* Whether the array list holds the string s. */
int oa_str_in(const json_t *list, const char *s) {
  size_t i;
  json_t *v;
  if (s == NULL)
    return 0;
  json_array_foreach(list, i, v) {
    if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
      return 1;
  }
  return 0;
}
