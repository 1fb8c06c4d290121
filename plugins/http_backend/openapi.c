/* openapi.c -- OpenAPI 3.0/3.1 documents to MCP operations (see openapi.h).
 *
 * Outline: the document and the options are checked first (-EINVAL with a
 * message). Every operation that is not x-mcp-hidden is then named (so names
 * are stable whatever the filters say), filtered, classified by route_map,
 * and converted. Schemas are converted to JSON Schema 2020-12 on the way:
 * a "#/components/schemas/X" reference becomes "#/$defs/X", each component
 * is converted once per document (cached in the context, so a component's
 * warnings appear once) and an operation's "$defs" holds the transitive
 * closure of what its schema references, which is cycle-safe because a
 * reference is never followed during conversion, only recorded.
 *
 * Memory: allocation failures set ctx.oom and the functions carry on with
 * NULLs (jansson's setters accept NULL values and fail); openapi_convert()
 * checks the flag once at the end and returns -ENOMEM. */
#define _POSIX_C_SOURCE 200809L

#include "openapi.h"
#include "sbuf.h"

#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN     64  /* tool names, prefix included */
#define HASH_SUFFIX_LEN  7   /* "_" + 6 hex digits */
#define MAX_SCHEMA_DEPTH 64  /* nested schemas (and inlined references) */
#define MAX_INLINE       16  /* nested inlined non-component references */
#define MAX_REF_HOPS     16  /* $ref -> $ref -> ... for parameters, bodies, responses */
#define MAX_WARNINGS     500 /* more are counted, not kept */

/* ---- character helpers ------------------------------------------------------ */

static int lower(int ch) {
  return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

static int is_alnum(int ch) {
  return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static int is_name_char(int ch) {
  return is_alnum(ch) || ch == '_' || ch == '.' || ch == '-';
}

static int is_unreserved(int ch) {
  return is_alnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

/* RFC 9110 token characters (header and cookie names). */
static int is_tchar(int ch) {
  return is_alnum(ch) || (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static int is_token(const char *s) {
  if (*s == '\0')
    return 0;
  for (; *s; s++) {
    if (!is_tchar((unsigned char)*s))
      return 0;
  }
  return 1;
}

static int ieq(const char *a, const char *b) {
  for (; *a && *b; a++, b++) {
    if (lower((unsigned char)*a) != lower((unsigned char)*b))
      return 0;
  }
  return *a == *b;
}

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

static int in_list(const char *s, const char *const *list) {
  for (; *list; list++) {
    if (strcmp(s, *list) == 0)
      return 1;
  }
  return 0;
}

static int in_list_ci(const char *s, const char *const *list) {
  for (; *list; list++) {
    if (ieq(s, *list))
      return 1;
  }
  return 0;
}

static const char *type_name(const json_t *v) {
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

/* The media type of a Content-Type-like value, lower case and without
 * parameters, in buf (size n); "" when it does not fit. */
static const char *media_type(const char *ct, char *buf, size_t n) {
  size_t i = 0;
  while (*ct == ' ' || *ct == '\t')
    ct++;
  for (; *ct && *ct != ';' && *ct != ' ' && *ct != '\t'; ct++) {
    if (i + 1 >= n) {
      buf[0] = '\0';
      return buf;
    }
    buf[i++] = (char)lower((unsigned char)*ct);
  }
  buf[i] = '\0';
  return buf;
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int is_json_media(const char *mt) {
  return strcmp(mt, "application/json") == 0 || ends_with(mt, "+json");
}

/* ---- the conversion context ---------------------------------------------------- */

enum { R_TOOL, R_RESOURCE, R_TEMPLATE, R_EXCLUDE, R_NONE };

static const char *const METHODS[] = {"get",     "put",  "post",  "delete",
                                      "options", "head", "patch", "trace"};
static const char *const METHODS_UP[] = {"GET",     "PUT",  "POST",  "DELETE",
                                         "OPTIONS", "HEAD", "PATCH", "TRACE"};
#define N_METHODS 8
enum { M_GET, M_PUT, M_POST, M_DELETE, M_OPTIONS, M_HEAD, M_PATCH, M_TRACE };

static const char *const LOCATIONS[] = {"path", "query", "header", "cookie", "body", "body"};

typedef struct rule {
  unsigned methods; /* bit (1 << M_x) per method */
  int has_re;
  regex_t re;
  const json_t *tags; /* borrowed array of strings, or NULL */
  int type;           /* R_TOOL .. R_EXCLUDE */
} rule;

typedef struct ctx {
  const json_t *doc;
  const json_t *schemas; /* components.schemas, or NULL */
  const oa_options *opt;
  const char *prefix; /* the sanitised tool_prefix ("" for none) */
  int oom;
  char where[192]; /* "GET /items" or "schema Item": what warnings are about */
  oa_api *out;
  size_t cap_warnings, dropped_warnings, cap_ops;
  json_t *comp;      /* component name -> converted schema */
  json_t *comp_deps; /* component name -> object used as a set of component names */
  const char *inline_stack[MAX_INLINE];
  size_t n_inline;
  rule *rules;
  size_t n_rules;
} ctx;

/* Keeps the allocation-failure flag for a jansson constructor's result. */
static json_t *chk(ctx *c, json_t *j) {
  if (j == NULL)
    c->oom = 1;
  return j;
}

/* o[k] = v, stealing v. A NULL v or o (an earlier allocation failure) only
 * records the failure: jansson releases v when it cannot be set. */
static void oset(ctx *c, json_t *o, const char *k, json_t *v) {
  if (json_object_set_new(o, k, v) != 0)
    c->oom = 1;
}

/* Appends v to a, stealing v; as oset(). */
static void apush(ctx *c, json_t *a, json_t *v) {
  if (json_array_append_new(a, v) != 0)
    c->oom = 1;
}

static char *xstrdup(ctx *c, const char *s) {
  char *p;
  if (s == NULL)
    return NULL;
  p = strdup(s);
  if (p == NULL)
    c->oom = 1;
  return p;
}

static void set_where(ctx *c, int m, const char *path) {
  snprintf(c->where, sizeof(c->where), "%s %.150s", METHODS_UP[m], path);
}

static void warn(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Adds a warning line "<where>: <message>"; control characters (from names in
 * the document) become '?', so a warning is always one line. */
static void warn(ctx *c, const char *fmt, ...) {
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

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...) {
  va_list ap;
  if (err != NULL && n > 0) {
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
  }
  return -EINVAL;
}

/* ---- JSON pointers and references ------------------------------------------------ */

/* Percent-decodes s into b (a bad escape stays literal). */
static void pct_decode(sbuf *b, const char *s) {
  for (; *s; s++) {
    if (*s == '%' && hexval((unsigned char)s[1]) >= 0 && hexval((unsigned char)s[2]) >= 0) {
      sb_putc(b, (char)(hexval((unsigned char)s[1]) * 16 + hexval((unsigned char)s[2])));
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
static const json_t *resolve_pointer(ctx *c, const char *ref) {
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
static int ref_name(const char *ref, const char *prefix, sbuf *name) {
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
static json_t *defs_ref(ctx *c, const char *name) {
  sbuf b = {0};
  const unsigned char *s;
  json_t *r;
  sb_puts(&b, "#/$defs/");
  for (s = (const unsigned char *)name; *s; s++) {
    if (*s == '~')
      sb_puts(&b, "~0");
    else if (*s == '/')
      sb_puts(&b, "~1");
    else if (is_unreserved(*s) || strchr("!$&'()*+,;=:@", *s) != NULL)
      sb_putc(&b, (char)*s);
    else
      sb_printf(&b, "%%%02X", *s);
  }
  if (b.oom) {
    c->oom = 1;
    return NULL;
  }
  r = chk(c, json_pack("{s:s}", "$ref", b.p));
  sb_free(&b);
  return r;
}

/* Follows $ref chains (to components/parameters, requestBodies, responses or
 * any local pointer) from v. NULL, with a warning, when a reference is not a
 * string, cannot be resolved, or the chain is too long or circular. */
static const json_t *deref(ctx *c, const json_t *v, const char *what) {
  const json_t *r;
  int hops;
  for (hops = 0; json_is_object(v) && (r = json_object_get(v, "$ref")) != NULL; hops++) {
    if (!json_is_string(r)) {
      warn(c, "%s has a $ref that is not a string; ignored", what);
      return NULL;
    }
    if (hops == MAX_REF_HOPS) {
      warn(c, "%s: the references from \"%.100s\" are circular or too deep; ignored", what,
           json_string_value(r));
      return NULL;
    }
    v = resolve_pointer(c, json_string_value(r));
    if (v == NULL) {
      warn(c, "%s: reference \"%.100s\" not found (only local references are supported); ignored",
           what, json_string_value(r));
      return NULL;
    }
  }
  return v;
}

/* ---- schemas: OpenAPI -> JSON Schema ---------------------------------------------- */

/* Keywords whose value is one schema, a list of schemas, or a map of them.
 * Only these are walked: "default", "enum", "examples"... are data. */
static const char *const SCHEMA_ONE[] = {"items",
                                         "additionalProperties",
                                         "not",
                                         "if",
                                         "then",
                                         "else",
                                         "contains",
                                         "propertyNames",
                                         "additionalItems",
                                         "unevaluatedProperties",
                                         "unevaluatedItems",
                                         "contentSchema",
                                         NULL};
static const char *const SCHEMA_LIST[] = {"allOf", "anyOf", "oneOf", "prefixItems", NULL};
static const char *const SCHEMA_MAP[] = {"properties", "patternProperties", "dependentSchemas",
                                         "$defs",      "definitions",       NULL};
/* OpenAPI keywords that are not JSON Schema (nullable and example are converted). */
static const char *const OPENAPI_ONLY[] = {"discriminator", "xml",     "externalDocs",
                                           "nullable",      "example", NULL};
/* Keywords that describe but do not constrain. */
static const char *const ANNOTATIONS[] = {"title",     "description", "default",
                                          "examples",  "deprecated",  "readOnly",
                                          "writeOnly", "$comment",    NULL};

static json_t *conv_schema(ctx *c, const json_t *s, int depth);

static json_t *conv_ref(ctx *c, const char *ref, int depth) {
  sbuf name = {0};
  const json_t *target;
  json_t *r;
  size_t i;
  if (ref[0] != '#') {
    warn(c,
         "reference \"%.100s\" is not local (external references are not supported); "
         "taken as {}",
         ref);
    return chk(c, json_object());
  }
  if (ref_name(ref, "#/components/schemas/", &name)) {
    if (json_object_get(c->schemas, name.p) == NULL) {
      warn(c, "reference \"%.100s\" not found; taken as {}", ref);
      r = chk(c, json_object());
    } else {
      r = defs_ref(c, name.p);
    }
    sb_free(&name);
    return r;
  }
  c->oom |= name.oom;
  sb_free(&name);
  /* Another local pointer (into a component, a path...): inlined. */
  target = resolve_pointer(c, ref);
  if (target == NULL) {
    warn(c, "reference \"%.100s\" not found; taken as {}", ref);
    return chk(c, json_object());
  }
  for (i = 0; i < c->n_inline; i++) {
    if (strcmp(c->inline_stack[i], ref) == 0)
      break;
  }
  if (i < c->n_inline || c->n_inline == MAX_INLINE) {
    warn(c, "reference \"%.100s\" is recursive or nested too deeply; taken as {}", ref);
    return chk(c, json_object());
  }
  c->inline_stack[c->n_inline++] = ref;
  r = conv_schema(c, target, depth + 1);
  c->n_inline--;
  return r;
}

static int has_key(const json_t *o, const char *k) {
  return json_object_get(o, k) != NULL;
}

static int array_has_null(const json_t *a) {
  size_t i;
  json_t *v;
  json_array_foreach(a, i, v) {
    if (json_is_null(v))
      return 1;
  }
  return 0;
}

static int is_null_schema(const json_t *s) {
  const json_t *t = json_object_get(s, "type");
  return json_is_object(s) && json_object_size(s) == 1 && json_is_string(t) &&
         strcmp(json_string_value(t), "null") == 0;
}

/* OpenAPI 3.0 "nullable: true" on the converted schema s (stolen); returns
 * the schema that also accepts null. A "type" is never added next to an
 * "anyOf": a composite schema is wrapped instead. */
static json_t *apply_nullable(ctx *c, json_t *s) {
  json_t *type = json_object_get(s, "type"), *en = json_object_get(s, "enum"), *any, *outer, *v;
  const char *k;
  void *tmp;
  size_t i;
  int composite = has_key(s, "$ref") || has_key(s, "allOf") || has_key(s, "anyOf") ||
                  has_key(s, "oneOf") || has_key(s, "not") || has_key(s, "if") ||
                  has_key(s, "const");
  if (!composite) {
    if (json_is_string(type) && strcmp(json_string_value(type), "null") != 0) {
      oset(c, s, "type", json_pack("[ss]", json_string_value(type), "null"));
    } else if (json_is_array(type)) {
      json_array_foreach(type, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), "null") == 0)
          break;
      }
      if (i == json_array_size(type))
        apush(c, type, json_string("null"));
    }
    if (json_is_array(en) && !array_has_null(en))
      apush(c, en, json_null());
    return s;
  }
  /* {"anyOf":[...]} alone: one more branch. */
  any = json_object_get(s, "anyOf");
  if (json_is_array(any) && !has_key(s, "type")) {
    int only_any = 1;
    json_object_foreach(s, k, v) {
      if (strcmp(k, "anyOf") != 0 && !in_list(k, ANNOTATIONS))
        only_any = 0;
    }
    if (only_any) {
      json_array_foreach(any, i, v) {
        if (is_null_schema(v))
          return s;
      }
      apush(c, any, json_pack("{s:s}", "type", "null"));
      return s;
    }
  }
  /* Wrap, keeping the annotations outside. */
  outer = chk(c, json_object());
  if (outer == NULL) {
    json_decref(s);
    return NULL;
  }
  json_object_foreach_safe(s, tmp, k, v) {
    if (in_list(k, ANNOTATIONS)) {
      oset(c, outer, k, json_incref(v));
      json_object_del(s, k);
    }
  }
  oset(c, outer, "anyOf", json_pack("[o{s:s}]", s, "type", "null"));
  return outer;
}

static json_t *conv_list(ctx *c, const json_t *a, int depth) {
  json_t *out = chk(c, json_array()), *v;
  size_t i;
  json_array_foreach(a, i, v) apush(c, out, conv_schema(c, v, depth + 1));
  return out;
}

/* A converted copy of the schema s (a new reference; NULL only when out of
 * memory). Anything that is not a schema becomes {} with a warning. */
static json_t *conv_schema(ctx *c, const json_t *s, int depth) {
  json_t *out, *v, *inlined = NULL;
  const json_t *min_v = json_object_get(s, "minimum"), *max_v = json_object_get(s, "maximum");
  const char *k;
  int drop_min = 0, drop_max = 0;
  if (json_is_boolean(s))
    return chk(c, json_boolean(json_is_true(s)));
  if (!json_is_object(s)) {
    warn(c, "a schema is %s, not an object; taken as {}", type_name(s));
    return chk(c, json_object());
  }
  if (depth > MAX_SCHEMA_DEPTH) {
    warn(c, "a schema is nested more than %d levels deep; the deeper part is taken as {}",
         MAX_SCHEMA_DEPTH);
    return chk(c, json_object());
  }
  out = chk(c, json_object());
  if (out == NULL)
    return NULL;
  json_object_foreach((json_t *)s, k, v) {
    if (strcmp(k, "$ref") == 0) {
      json_t *r;
      if (!json_is_string(v)) {
        warn(c, "a $ref is %s, not a string; ignored", type_name(v));
        continue;
      }
      r = conv_ref(c, json_string_value(v), depth);
      if (r != NULL && json_is_object(r) && has_key(r, "$ref") && json_object_size(r) == 1) {
        oset(c, out, "$ref", json_incref(json_object_get(r, "$ref")));
        json_decref(r);
      } else if (r != NULL && json_is_object(r) && json_object_size(r) == 0) {
        json_decref(r);
      } else {
        inlined = r; /* merged below */
      }
    } else if (strncmp(k, "x-", 2) == 0 || in_list(k, OPENAPI_ONLY)) {
      if (strcmp(k, "example") == 0 && !has_key(s, "examples"))
        oset(c, out, "examples", json_pack("[O]", v));
    } else if (strcmp(k, "exclusiveMinimum") == 0 || strcmp(k, "exclusiveMaximum") == 0) {
      /* 3.0: a boolean that modifies minimum/maximum; JSON Schema: a number. */
      int is_min = strcmp(k, "exclusiveMinimum") == 0;
      const json_t *bound = is_min ? min_v : max_v;
      if (json_is_number(v)) {
        oset(c, out, k, json_deep_copy(v));
      } else if (json_is_true(v) && json_is_number(bound)) {
        oset(c, out, k, json_deep_copy(bound));
        if (is_min)
          drop_min = 1;
        else
          drop_max = 1;
      }
    } else if (in_list(k, SCHEMA_ONE)) {
      if (json_is_array(v) && strcmp(k, "items") == 0)
        oset(c, out, "prefixItems", conv_list(c, v, depth));
      else
        oset(c, out, k, conv_schema(c, v, depth + 1));
    } else if (in_list(k, SCHEMA_LIST)) {
      if (json_is_array(v))
        oset(c, out, k, conv_list(c, v, depth));
      else
        warn(c, "\"%s\" is %s, not an array of schemas; dropped", k, type_name(v));
    } else if (in_list(k, SCHEMA_MAP)) {
      if (json_is_object(v)) {
        json_t *m = chk(c, json_object()), *sub;
        const char *name;
        json_object_foreach(v, name, sub) oset(c, m, name, conv_schema(c, sub, depth + 1));
        oset(c, out, k, m);
      } else {
        warn(c, "\"%s\" is %s, not an object of schemas; dropped", k, type_name(v));
      }
    } else {
      oset(c, out, k, json_deep_copy(v));
    }
  }
  if (drop_min)
    json_object_del(out, "minimum");
  if (drop_max)
    json_object_del(out, "maximum");
  if (inlined != NULL) {
    /* An inlined reference next to other keywords: both apply. */
    if (json_object_size(out) == 0) {
      json_decref(out);
      out = inlined;
    } else {
      json_t *all = json_object_get(out, "allOf");
      if (json_is_array(all))
        apush(c, all, inlined);
      else
        oset(c, out, "allOf", json_pack("[o]", inlined));
    }
  }
  if (json_is_true(json_object_get(s, "nullable")) && out != NULL)
    out = apply_nullable(c, out);
  return out;
}

/* Adds to set the names of the components that the converted schema s
 * references directly ("#/$defs/X"). */
static void collect_refs(ctx *c, const json_t *s, json_t *set) {
  const char *k;
  json_t *v, *sub;
  size_t i;
  if (!json_is_object(s))
    return;
  v = json_object_get(s, "$ref");
  if (json_is_string(v)) {
    sbuf name = {0};
    if (ref_name(json_string_value(v), "#/$defs/", &name))
      oset(c, set, name.p, json_true());
    c->oom |= name.oom;
    sb_free(&name);
  }
  json_object_foreach((json_t *)s, k, v) {
    if (in_list(k, SCHEMA_ONE)) {
      collect_refs(c, v, set);
    } else if (in_list(k, SCHEMA_LIST) && json_is_array(v)) {
      json_array_foreach(v, i, sub) collect_refs(c, sub, set);
    } else if (in_list(k, SCHEMA_MAP) && json_is_object(v)) {
      const char *name;
      json_object_foreach(v, name, sub) collect_refs(c, sub, set);
    }
  }
}

/* The converted component schema name (borrowed from the cache), converted
 * on first use; NULL when the document has no such schema. */
static const json_t *component(ctx *c, const char *name) {
  const json_t *src;
  json_t *conv, *deps;
  char saved[sizeof(c->where)];
  conv = json_object_get(c->comp, name);
  if (conv != NULL)
    return conv;
  src = json_object_get(c->schemas, name);
  if (src == NULL)
    return NULL;
  memcpy(saved, c->where, sizeof(saved));
  snprintf(c->where, sizeof(c->where), "schema %.100s", name);
  conv = conv_schema(c, src, 0);
  memcpy(c->where, saved, sizeof(saved));
  deps = chk(c, json_object());
  collect_refs(c, conv, deps);
  oset(c, c->comp_deps, name, deps);
  oset(c, c->comp, name, conv);
  return conv;
}

/* The "$defs" for a schema: every component it references, transitively.
 * A new object, or NULL when there are none. Its members are the cached
 * component schemas themselves (one more reference each), not copies: a
 * large API would otherwise hold a copy of most of its schemas per
 * operation. */
static json_t *closure(ctx *c, const json_t *schema) {
  json_t *seen = chk(c, json_object()), *queue = chk(c, json_array()), *defs = NULL, *v;
  const char *k;
  size_t i;
  collect_refs(c, schema, seen);
  json_object_foreach(seen, k, v) apush(c, queue, json_string(k));
  for (i = 0; !c->oom && i < json_array_size(queue); i++) {
    const char *name = json_string_value(json_array_get(queue, i));
    const json_t *deps;
    if (component(c, name) == NULL)
      continue;
    deps = json_object_get(c->comp_deps, name);
    json_object_foreach((json_t *)deps, k, v) {
      if (!has_key(seen, k)) {
        oset(c, seen, k, json_true());
        apush(c, queue, json_string(k));
      }
    }
  }
  if (json_array_size(queue) > 0 && !c->oom) {
    defs = chk(c, json_object());
    json_array_foreach(queue, i, v) {
      const json_t *comp = component(c, json_string_value(v));
      /* Shared by every operation that uses it: converted once, read-only. */
      if (comp != NULL)
        oset(c, defs, json_string_value(v), json_incref((json_t *)comp));
    }
  }
  json_decref(seen);
  json_decref(queue);
  return defs;
}

/* Puts the schema's "$defs" (the components it uses) into it. */
static void add_defs(ctx *c, json_t *schema) {
  json_t *defs = closure(c, schema), *old;
  if (defs == NULL)
    return;
  old = json_object_get(schema, "$defs");
  if (json_is_object(old)) {
    json_object_update_missing(defs, old);
  }
  oset(c, schema, "$defs", defs);
}

/* When the converted schema s (stolen) is a reference to a component with
 * nothing but annotations beside it, returns a copy of the component's top
 * level (the annotations beside the reference win), following aliases; else
 * s itself. Used for bodies and responses, whose top level is spread into
 * arguments or must be "type":"object". */
static json_t *deref_top(ctx *c, json_t *s) {
  int hops;
  for (hops = 0; hops < MAX_REF_HOPS && json_is_object(s); hops++) {
    json_t *r = json_object_get(s, "$ref"), *copy, *v;
    const json_t *comp;
    const char *k;
    sbuf name = {0};
    int plain = 1;
    if (!json_is_string(r))
      break;
    json_object_foreach(s, k, v) {
      if (strcmp(k, "$ref") != 0 && !in_list(k, ANNOTATIONS))
        plain = 0;
    }
    if (!plain || !ref_name(json_string_value(r), "#/$defs/", &name)) {
      sb_free(&name);
      break;
    }
    comp = component(c, name.p);
    sb_free(&name);
    if (comp == NULL)
      break;
    copy = chk(c, json_deep_copy(comp));
    if (copy == NULL || !json_is_object(copy)) {
      json_decref(copy);
      break;
    }
    json_object_foreach(s, k, v) {
      if (strcmp(k, "$ref") != 0)
        oset(c, copy, k, json_incref(v));
    }
    json_decref(s);
    s = copy;
  }
  return s;
}

/* Whether a converted top-level schema describes a JSON object. */
static int is_object_schema(const json_t *s) {
  const json_t *t = json_object_get(s, "type");
  if (!json_is_object(s))
    return 0;
  if (json_is_string(t))
    return strcmp(json_string_value(t), "object") == 0;
  return t == NULL && json_is_object(json_object_get(s, "properties")) && !has_key(s, "anyOf") &&
         !has_key(s, "oneOf") && !has_key(s, "not") && !has_key(s, "allOf") && !has_key(s, "$ref");
}

/* Merges the properties and required names of the object schema s (and of
 * its allOf members) into props and req. 0 when s is not an object schema
 * that can be spread into arguments without losing anything. */
static int merge_object(ctx *c, const json_t *s, json_t *props, json_t *req, int depth) {
  static const char *const allowed[] = {"type",
                                        "properties",
                                        "required",
                                        "allOf",
                                        "title",
                                        "description",
                                        "examples",
                                        "default",
                                        "$comment",
                                        "deprecated",
                                        "additionalProperties",
                                        NULL};
  const json_t *t = json_object_get(s, "type"), *p = json_object_get(s, "properties"),
               *all = json_object_get(s, "allOf"), *ap = json_object_get(s, "additionalProperties");
  const char *k;
  json_t *v;
  size_t i;
  if (!json_is_object(s) || depth > 8)
    return 0;
  json_object_foreach((json_t *)s, k, v) {
    if (!in_list(k, allowed))
      return 0;
  }
  if (t != NULL && !(json_is_string(t) && strcmp(json_string_value(t), "object") == 0))
    return 0;
  if (ap != NULL && !json_is_false(ap))
    return 0; /* extra properties would have no argument */
  if (t == NULL && p == NULL && all == NULL)
    return 0;
  if (p != NULL && !json_is_object(p))
    return 0;
  if (all != NULL && !json_is_array(all))
    return 0;
  json_array_foreach(all, i, v) {
    json_t *m = deref_top(c, json_incref(v));
    int ok = merge_object(c, m, props, req, depth + 1);
    json_decref(m);
    if (!ok)
      return 0;
  }
  json_object_foreach((json_t *)p, k, v) {
    json_t *old = json_object_get(props, k);
    if (old != NULL)
      oset(c, props, k, json_pack("{s:[OO]}", "allOf", old, v));
    else
      oset(c, props, k, json_incref(v));
  }
  json_array_foreach(json_object_get(s, "required"), i, v) {
    size_t j;
    json_t *w;
    if (!json_is_string(v))
      continue;
    json_array_foreach(req, j, w) {
      if (json_equal(v, w))
        break;
    }
    if (j == json_array_size(req))
      apush(c, req, json_incref(v));
  }
  return 1;
}

/* ---- names ---------------------------------------------------------------------- */

/* Appends n bytes of s with characters outside [A-Za-z0-9_.-] replaced by
 * '_' and runs of '_' collapsed. */
static void sanitize_into(sbuf *b, const char *s, size_t n, int lowercase) {
  size_t i;
  for (i = 0; i < n && s[i]; i++) {
    int ch = (unsigned char)s[i];
    if (!is_name_char(ch))
      ch = '_';
    if (lowercase)
      ch = lower(ch);
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
  sanitize_into(&b, s, n, lowercase);
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
      if ((is_alnum(ch) || ch == '_' ? ch : '_') != (unsigned char)id[t - plen + i])
        break;
    }
    if (i == plen)
      return t - plen;
  }
  dd = strstr(id, "__");
  return dd != NULL && dd > id ? (size_t)(dd - id) : len;
}

/* The name of an operation before the prefix, cut and de-duplication. */
static char *base_name(ctx *c, const json_t *op, const char *path, int m) {
  const char *mcp = json_string_value(json_object_get(op, "x-mcp-name"));
  const char *id = json_string_value(json_object_get(op, "operationId"));
  const char *summary = json_string_value(json_object_get(op, "summary"));
  char *r;
  sbuf b = {0};
  if (mcp != NULL) {
    r = clean_name(c, mcp, strlen(mcp), 0);
    if (r != NULL)
      return r;
    warn(c, "x-mcp-name \"%.100s\" has no usable character; ignored", mcp);
  }
  if (id != NULL) {
    r = clean_name(c, id, fastapi_name_len(id, path, METHODS[m]), 0);
    if (r != NULL)
      return r;
  }
  if (summary != NULL) {
    r = clean_name(c, summary, strlen(summary), 1);
    if (r != NULL)
      return r;
  }
  sb_printf(&b, "%s_%s", METHODS[m], path);
  r = clean_name(c, b.p ? b.p : "", b.len, 1);
  sb_free(&b);
  if (r == NULL && !c->oom)
    r = xstrdup(c, METHODS[m]);
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
static char *final_name(ctx *c, const char *base, json_t *used) {
  sbuf full = {0};
  char first[NAME_MAX_LEN + 1], cand[NAME_MAX_LEN + 1];
  char *r;
  unsigned k;
  sanitize_into(&full, c->prefix, strlen(c->prefix), 0);
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
  for (k = 2; has_key(used, cand); k++) {
    char suffix[16];
    snprintf(suffix, sizeof(suffix), "_%u", k);
    snprintf(cand, sizeof(cand), "%.*s%s", (int)cut_len(first, NAME_MAX_LEN - strlen(suffix)),
             first, suffix);
  }
  if (strcmp(cand, first) != 0)
    warn(c, "the name %s is already taken; this operation is %s", first, cand);
  r = xstrdup(c, cand);
  if (r != NULL)
    oset(c, used, r, json_true());
  return r;
}

/* ---- options ---------------------------------------------------------------------- */

static int check_strings(const json_t *v, const char *what, char *err, size_t n) {
  size_t i;
  json_t *s;
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_array(v))
    return fail(err, n, "%s must be an array of strings, not %s", what, type_name(v));
  json_array_foreach(v, i, s) {
    if (!json_is_string(s))
      return fail(err, n, "%s[%zu] must be a string, not %s", what, i, type_name(s));
  }
  return 0;
}

static int method_index(const char *s) {
  int m;
  for (m = 0; m < N_METHODS; m++) {
    if (ieq(s, METHODS[m]))
      return m;
  }
  return -1;
}

static int compile_rules(ctx *c, char *err, size_t n) {
  static const char *const keys[] = {"methods", "pattern", "tags", "type", NULL};
  static const char *const types[] = {"tool", "resource", "resource_template", "exclude", NULL};
  const json_t *rm = c->opt->route_map, *r, *v;
  size_t i, j;
  if (rm == NULL || json_is_null(rm))
    return 0;
  if (!json_is_array(rm))
    return fail(err, n, "route_map must be an array of rules, not %s", type_name(rm));
  if (json_array_size(rm) == 0)
    return 0;
  c->rules = calloc(json_array_size(rm), sizeof(rule));
  if (c->rules == NULL)
    return -ENOMEM;
  json_array_foreach(rm, i, r) {
    rule *ru = &c->rules[i];
    const char *k, *t;
    int ti;
    if (!json_is_object(r))
      return fail(err, n, "route_map[%zu] must be an object, not %s", i, type_name(r));
    json_object_foreach((json_t *)r, k, v) {
      if (!in_list(k, keys))
        return fail(err, n,
                    "route_map[%zu]: unknown key \"%.60s\" (expected methods, pattern, tags, type)",
                    i, k);
    }
    t = json_string_value(json_object_get(r, "type"));
    for (ti = 0; t != NULL && types[ti] != NULL && strcmp(types[ti], t) != 0; ti++)
      ;
    if (t == NULL || types[ti] == NULL)
      return fail(err, n,
                  "route_map[%zu]: \"type\" must be \"tool\", \"resource\", "
                  "\"resource_template\" or \"exclude\"",
                  i);
    ru->type = ti == 0 ? R_TOOL : ti == 1 ? R_RESOURCE : ti == 2 ? R_TEMPLATE : R_EXCLUDE;
    v = json_object_get(r, "methods");
    if (v == NULL || (json_is_string(v) && strcmp(json_string_value(v), "*") == 0)) {
      ru->methods = (1u << N_METHODS) - 1;
    } else if (json_is_array(v)) {
      json_t *m;
      json_array_foreach(v, j, m) {
        int mi = json_is_string(m) ? method_index(json_string_value(m)) : -1;
        if (mi < 0)
          return fail(err, n, "route_map[%zu].methods[%zu] is not an HTTP method", i, j);
        ru->methods |= 1u << mi;
      }
    } else {
      return fail(err, n, "route_map[%zu].methods must be \"*\" or an array of methods", i);
    }
    v = json_object_get(r, "tags");
    if (v != NULL) {
      char what[48];
      snprintf(what, sizeof(what), "route_map[%zu].tags", i);
      if (check_strings(v, what, err, n) != 0)
        return -EINVAL;
      ru->tags = v;
    }
    v = json_object_get(r, "pattern");
    if (v != NULL) {
      int rc;
      if (!json_is_string(v))
        return fail(err, n, "route_map[%zu].pattern must be a string", i);
      rc = regcomp(&ru->re, json_string_value(v), REG_EXTENDED | REG_NOSUB);
      if (rc != 0) {
        char msg[128];
        regerror(rc, &ru->re, msg, sizeof(msg));
        return fail(err, n, "route_map[%zu].pattern \"%.80s\" does not compile: %s", i,
                    json_string_value(v), msg);
      }
      ru->has_re = 1;
    }
    c->n_rules = i + 1;
  }
  return 0;
}

static int check_options(ctx *c, char *err, size_t n) {
  const oa_options *o = c->opt;
  const char *s;
  if (o->backend == NULL || o->backend[0] == '\0')
    return fail(err, n, "the backend name is missing");
  for (s = o->backend; *s; s++) {
    if (!is_unreserved((unsigned char)*s))
      return fail(err, n,
                  "backend name \"%.60s\" cannot be used in a URI (letters, digits, '-', '.', "
                  "'_', '~')",
                  o->backend);
  }
  if (check_strings(o->include_operations, "include_operations", err, n) != 0 ||
      check_strings(o->exclude_operations, "exclude_operations", err, n) != 0 ||
      check_strings(o->include_tags, "include_tags", err, n) != 0 ||
      check_strings(o->exclude_tags, "exclude_tags", err, n) != 0)
    return -EINVAL;
  return compile_rules(c, err, n);
}

/* ---- pass 1: the operations of the document ---------------------------------------- */

typedef struct entry {
  const char *path;
  const json_t *item; /* the path item */
  const json_t *op;
  int m;
  char *name; /* owned; final */
} entry;

static int str_in(const json_t *list, const char *s) {
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

static int op_in(ctx *c, const json_t *list, const entry *e) {
  size_t pl = strlen(c->prefix);
  return str_in(list, json_string_value(json_object_get(e->op, "operationId"))) ||
         str_in(list, e->name) ||
         (pl > 0 && strncmp(e->name, c->prefix, pl) == 0 && str_in(list, e->name + pl));
}

/* Whether op has a tag in list (all = every tag of list). */
static int tags_match(const json_t *list, const json_t *op, int all) {
  const json_t *tags = json_object_get(op, "tags");
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v) {
    int has = json_is_array(tags) && str_in(tags, json_string_value(v));
    if (has && !all)
      return 1;
    if (!has && all)
      return 0;
  }
  return all;
}

static int nonempty(const json_t *list) {
  return json_is_array(list) && json_array_size(list) > 0;
}

static int filtered_out(ctx *c, const entry *e) {
  const oa_options *o = c->opt;
  if (op_in(c, o->exclude_operations, e) || tags_match(o->exclude_tags, e->op, 0))
    return 1;
  if (nonempty(o->include_operations) || nonempty(o->include_tags))
    return !(op_in(c, o->include_operations, e) || tags_match(o->include_tags, e->op, 0));
  return 0;
}

static int route_type(ctx *c, const entry *e) {
  size_t i;
  for (i = 0; i < c->n_rules; i++) {
    const rule *r = &c->rules[i];
    if (!(r->methods & (1u << e->m)))
      continue;
    if (r->has_re && regexec(&r->re, e->path, 0, NULL, 0) != 0)
      continue;
    if (r->tags != NULL && !tags_match(r->tags, e->op, 1))
      continue;
    return r->type;
  }
  return R_NONE;
}

/* Warns about filter entries that match nothing (a typo keeps a tool). */
static void check_filter_names(ctx *c, const entry *es, size_t n) {
  const json_t *lists[4] = {c->opt->include_operations, c->opt->exclude_operations,
                            c->opt->include_tags, c->opt->exclude_tags};
  static const char *const names[4] = {"include_operations", "exclude_operations", "include_tags",
                                       "exclude_tags"};
  int l;
  size_t i, j;
  json_t *v;
  for (l = 0; l < 4; l++) {
    json_array_foreach(lists[l], i, v) {
      json_t *one = json_pack("[O]", v);
      if (one == NULL) {
        c->oom = 1;
        return;
      }
      for (j = 0; j < n; j++) {
        if (l < 2 ? op_in(c, one, &es[j]) : tags_match(one, es[j].op, 0))
          break;
      }
      json_decref(one);
      if (j == n)
        warn(c, "%s: \"%.100s\" matches no operation", names[l], json_string_value(v));
    }
  }
}

/* ---- pass 2: one operation ------------------------------------------------------------- */

typedef struct pitem {
  const json_t *p; /* the resolved parameter object; NULL for an undeclared path variable */
  const char *name;
  enum oa_location in;
  int level; /* 0: from the path item, 1: from the operation */
  char *arg; /* owned, once named */
} pitem;

typedef struct pvec {
  pitem *v;
  size_t n, cap;
} pvec;

static void pv_free(pvec *pv) {
  size_t i;
  for (i = 0; i < pv->n; i++)
    free(pv->v[i].arg);
  free(pv->v);
  memset(pv, 0, sizeof(*pv));
}

static pitem *pv_find(pvec *pv, const char *name, enum oa_location in) {
  size_t i;
  for (i = 0; i < pv->n; i++) {
    if (pv->v[i].in == in &&
        (in == OA_HEADER ? ieq(pv->v[i].name, name) : strcmp(pv->v[i].name, name) == 0))
      return &pv->v[i];
  }
  return NULL;
}

static pitem *pv_add(ctx *c, pvec *pv) {
  if (pv->n == pv->cap) {
    size_t cap = pv->cap ? pv->cap * 2 : 8;
    pitem *nv = realloc(pv->v, cap * sizeof(*nv));
    if (nv == NULL) {
      c->oom = 1;
      return NULL;
    }
    pv->v = nv;
    pv->cap = cap;
  }
  memset(&pv->v[pv->n], 0, sizeof(pitem));
  return &pv->v[pv->n++];
}

/* Headers mcpd's HTTP client owns (framing, hop-by-hop, Cookie). */
static const char *const OWN_HEADERS[] = {"host",
                                          "content-length",
                                          "transfer-encoding",
                                          "connection",
                                          "keep-alive",
                                          "upgrade",
                                          "te",
                                          "trailer",
                                          "expect",
                                          "cookie",
                                          "proxy-authorization",
                                          "proxy-connection",
                                          NULL};

static void add_params(ctx *c, pvec *pv, const json_t *list, int level) {
  size_t i;
  json_t *raw;
  if (list == NULL)
    return;
  if (!json_is_array(list)) {
    warn(c, "%s parameters are %s, not an array; ignored", level ? "the operation's" : "the path's",
         type_name(list));
    return;
  }
  json_array_foreach(list, i, raw) {
    char what[48];
    const json_t *p, *inv;
    const char *name, *in_s;
    int in;
    pitem *it;
    snprintf(what, sizeof(what), "parameter #%zu", i + 1);
    p = deref(c, raw, what);
    if (p == NULL)
      continue;
    if (!json_is_object(p)) {
      warn(c, "parameter #%zu is %s, not an object; ignored", i + 1, type_name(p));
      continue;
    }
    name = json_string_value(json_object_get(p, "name"));
    inv = json_object_get(p, "in");
    in_s = json_string_value(inv);
    if (name == NULL || name[0] == '\0') {
      warn(c, "parameter #%zu has no name; ignored", i + 1);
      continue;
    }
    for (in = 0; in < 4 && (in_s == NULL || strcmp(in_s, LOCATIONS[in]) != 0); in++)
      ;
    if (in == 4) {
      warn(c, "parameter %.100s: \"in\" is not path, query, header or cookie; ignored", name);
      continue;
    }
    if (in == OA_HEADER &&
        (ieq(name, "accept") || ieq(name, "content-type") || ieq(name, "authorization"))) {
      warn(c,
           "header parameter %.100s ignored (OpenAPI says to ignore Accept, Content-Type "
           "and Authorization parameters)",
           name);
      continue;
    }
    if (in == OA_HEADER && in_list_ci(name, OWN_HEADERS)) {
      warn(c, "header parameter %.100s ignored: the HTTP client sets that header", name);
      continue;
    }
    if ((in == OA_HEADER || in == OA_COOKIE) && !is_token(name)) {
      warn(c, "%s parameter \"%.100s\" is not a valid %s name; ignored", LOCATIONS[in], name,
           LOCATIONS[in]);
      continue;
    }
    it = pv_find(pv, name, (enum oa_location)in);
    if (it != NULL) {
      /* The operation's parameters override the path's; a repeat within
       * one list is the document's mistake. */
      if (it->level == level)
        warn(c, "parameter %.100s (%s) is declared twice; the last one is used", name, in_s);
    } else {
      it = pv_add(c, pv);
      if (it == NULL)
        return;
    }
    it->p = p;
    it->name = name;
    it->in = (enum oa_location)in;
    it->level = level;
  }
}

/* Checks the path template against the path parameters: an undeclared
 * {var} is added as a required string, a declared one missing from the
 * template is dropped. -1 when the template is malformed. */
static int match_template(ctx *c, const char *path, pvec *pv, sbuf *names) {
  const char *p, *open = NULL;
  size_t i, j;
  /* names: the variables, each NUL-terminated, one after another. */
  for (p = path; *p; p++) {
    if (*p == '{') {
      if (open != NULL)
        return -1;
      open = p;
    } else if (*p == '}') {
      if (open == NULL || p == open + 1)
        return -1;
      sb_putn(names, open + 1, (size_t)(p - open - 1));
      sb_putc(names, '\0');
      open = NULL;
    }
  }
  if (open != NULL)
    return -1;
  if (names->oom) {
    c->oom = 1;
    return -1;
  }
  for (i = 0; i < names->len; i += strlen(names->p + i) + 1) {
    const char *v = names->p + i;
    pitem *it;
    if (pv_find(pv, v, OA_PATH) != NULL)
      continue;
    warn(c, "path parameter %.100s is not declared; taken as a required string", v);
    it = pv_add(c, pv);
    if (it == NULL)
      return -1;
    it->name = v;
    it->in = OA_PATH;
  }
  for (i = 0, j = 0; i < pv->n; i++) {
    pitem *it = &pv->v[i];
    if (it->in == OA_PATH) {
      size_t k;
      int found = 0;
      for (k = 0; k < names->len && !found; k += strlen(names->p + k) + 1)
        found = strcmp(names->p + k, it->name) == 0;
      if (!found) {
        warn(c, "path parameter %.100s is not in the path; ignored", it->name);
        free(it->arg);
        continue;
      }
    }
    pv->v[j++] = *it;
  }
  pv->n = j;
  return 0;
}

/* Makes the property schema of a parameter; sets *json for a parameter
 * described by a JSON "content". */
static json_t *param_schema(ctx *c, const pitem *it, int *json) {
  const json_t *p = it->p, *s, *content, *v;
  json_t *out;
  *json = 0;
  if (p == NULL)
    return chk(c, json_pack("{s:s}", "type", "string"));
  s = json_object_get(p, "schema");
  content = json_object_get(p, "content");
  if (s != NULL) {
    out = conv_schema(c, s, 0);
  } else if (json_is_object(content) && json_object_size(content) > 0) {
    const char *mt;
    char buf[128];
    void *iter = json_object_iter((json_t *)content);
    mt = json_object_iter_key(iter);
    v = json_object_iter_value(iter);
    *json = is_json_media(media_type(mt, buf, sizeof(buf)));
    s = json_object_get(v, "schema");
    out = s != NULL ? conv_schema(c, s, 0) : chk(c, json_object());
  } else {
    warn(c, "parameter %.100s has no schema; taken as a string", it->name);
    out = chk(c, json_pack("{s:s}", "type", "string"));
  }
  if (json_is_boolean(out)) {
    int t = json_is_true(out);
    json_decref(out);
    out = chk(c, t ? json_object() : json_pack("{s:{}}", "not"));
  }
  if (out == NULL)
    return NULL;
  v = json_object_get(p, "description");
  if (json_is_string(v))
    oset(c, out, "description", json_incref((json_t *)v));
  if (json_is_true(json_object_get(p, "deprecated")))
    oset(c, out, "deprecated", json_true());
  if (!has_key(out, "examples")) {
    v = json_object_get(p, "example");
    if (v != NULL) {
      oset(c, out, "examples", json_pack("[O]", v));
    } else if (json_is_object(v = json_object_get(p, "examples"))) {
      json_t *ex = chk(c, json_array()), *e;
      const char *k;
      json_object_foreach((json_t *)v, k, e) {
        const json_t *val = json_object_get(e, "value");
        if (val != NULL)
          apush(c, ex, json_deep_copy(val));
      }
      if (json_array_size(ex) > 0)
        oset(c, out, "examples", ex);
      else
        json_decref(ex);
    }
  }
  return out;
}

static void param_style(ctx *c, const pitem *it, oa_param *op) {
  static const char *const names[] = {"simple",     "form",  "spaceDelimited", "pipeDelimited",
                                      "deepObject", "label", "matrix",         NULL};
  const char *st = json_string_value(json_object_get(it->p, "style"));
  const json_t *ex = json_object_get(it->p, "explode");
  int s;
  op->style = it->in == OA_QUERY || it->in == OA_COOKIE ? OA_STYLE_FORM : OA_STYLE_SIMPLE;
  if (st != NULL) {
    int ok;
    for (s = 0; names[s] != NULL && strcmp(names[s], st) != 0; s++)
      ;
    switch (it->in) {
    case OA_PATH:
      ok = s == OA_STYLE_SIMPLE || s == OA_STYLE_LABEL || s == OA_STYLE_MATRIX;
      break;
    case OA_QUERY:
      ok = s == OA_STYLE_FORM || s == OA_STYLE_SPACE || s == OA_STYLE_PIPE || s == OA_STYLE_DEEP;
      break;
    case OA_HEADER:
      ok = s == OA_STYLE_SIMPLE;
      break;
    default:
      ok = s == OA_STYLE_FORM;
      break;
    }
    if (ok)
      op->style = (enum oa_style)s;
    else
      warn(c, "parameter %.100s: style \"%.40s\" is not valid in %s; the default is used", it->name,
           st, LOCATIONS[it->in]);
  }
  op->explode = json_is_boolean(ex) ? json_is_true(ex) : op->style == OA_STYLE_FORM;
}

/* The 2xx response of op with the lowest code above after ("2XX" counts as
 * 300: after the explicit codes), not resolved; NULL when there is none.
 * *code gets its code. */
static const json_t *success_response(const json_t *op, int after, int *code) {
  const json_t *rs = json_object_get(op, "responses"), *best = NULL, *v;
  const char *k;
  *code = 1000;
  if (!json_is_object(rs))
    return NULL;
  json_object_foreach((json_t *)rs, k, v) {
    int cd;
    if (k[0] == '2' && k[1] >= '0' && k[1] <= '9' && k[2] >= '0' && k[2] <= '9' && !k[3])
      cd = atoi(k);
    else if (k[0] == '2' && (k[1] == 'X' || k[1] == 'x') && (k[2] == 'X' || k[2] == 'x') && !k[3])
      cd = 300;
    else
      continue;
    if (cd > after && cd < *code) {
      *code = cd;
      best = v;
    }
  }
  return best;
}

/* The key of the JSON media type in content (application/json first), or
 * NULL. */
static const char *json_media_key(const json_t *content, const char *want_form) {
  const char *k, *found = NULL;
  json_t *v;
  char buf[128];
  json_object_foreach((json_t *)content, k, v) {
    const char *mt = media_type(k, buf, sizeof(buf));
    if (want_form != NULL) {
      if (strcmp(mt, want_form) == 0)
        return k;
    } else if (strcmp(mt, "application/json") == 0) {
      return k;
    } else if (found == NULL && ends_with(mt, "+json")) {
      found = k;
    }
  }
  return found;
}

/* Loosens an output schema (in place) the way real backends need: a
 * property that is not required may also be null. Frameworks serialise an
 * absent optional field as null while their documents do not say so
 * (FastAPI with pydantic 1: Optional[X] = None is {"$ref": X}, not
 * nullable), and strict clients reject a result that does not match the
 * tool's output schema. Inputs are left strict. */
static void loosen_output(ctx *c, json_t *s, int depth) {
  static const char *const one[] = {"items", "additionalProperties", "not", NULL};
  static const char *const list[] = {"allOf", "anyOf", "oneOf", "prefixItems", NULL};
  json_t *props, *req, *v, *sub;
  const char *k;
  size_t i, j;
  if (!json_is_object(s) || depth > MAX_SCHEMA_DEPTH)
    return;
  props = json_object_get(s, "properties");
  req = json_object_get(s, "required");
  if (json_is_object(props)) {
    json_object_foreach(props, k, v) {
      int required = 0;
      json_array_foreach(req, j, sub) {
        if (json_is_string(sub) && strcmp(json_string_value(sub), k) == 0)
          required = 1;
      }
      loosen_output(c, v, depth + 1);
      if (!required && json_is_object(v))
        json_object_set_new(props, k, apply_nullable(c, json_incref(v)));
    }
  }
  for (i = 0; one[i] != NULL; i++)
    loosen_output(c, json_object_get(s, one[i]), depth + 1);
  for (i = 0; list[i] != NULL; i++) {
    json_array_foreach(json_object_get(s, list[i]), j, sub) loosen_output(c, sub, depth + 1);
  }
  v = json_object_get(s, "$defs");
  if (json_is_object(v)) {
    json_object_foreach(v, k, sub) loosen_output(c, sub, depth + 1);
  }
}

/* The output schema: from the first 2xx response (by code) with a JSON
 * body schema, unless that response may also be something else than JSON;
 * o->mime_type from the first 2xx response's first media type. */
static void output_schema(ctx *c, const json_t *op, oa_operation *o) {
  const json_t *resp, *content, *media = NULL;
  json_t *conv, *top;
  char buf[128];
  int code = 0;
  while (media == NULL && (resp = success_response(op, code, &code)) != NULL) {
    const char *key;
    resp = deref(c, resp, "a success response");
    content = json_object_get(resp, "content");
    if (!json_is_object(content))
      continue;
    if (o->mime_type == NULL && json_object_size(content) > 0) {
      media_type(json_object_iter_key(json_object_iter((json_t *)content)), buf, sizeof(buf));
      if (buf[0] != '\0')
        o->mime_type = xstrdup(c, buf);
    }
    key = json_media_key(content, NULL);
    media = key != NULL ? json_object_get(content, key) : NULL;
    if (!json_is_object(media) || json_object_get(media, "schema") == NULL)
      media = NULL;
  }
  if (media == NULL)
    return;
  /* A response that may also be an image, text...: clients reject a result
   * without structuredContent when the tool declares an output schema. */
  {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)content, k, v) {
      if (!is_json_media(media_type(k, buf, sizeof(buf)))) {
        warn(c, "no output schema: the %d response can also be %.60s", code, k);
        return;
      }
    }
  }
  conv = conv_schema(c, json_object_get(media, "schema"), 0);
  if (conv == NULL)
    return;
  top = deref_top(c, chk(c, json_deep_copy(conv)));
  if (is_object_schema(top)) {
    if (!has_key(top, "type"))
      oset(c, top, "type", json_string("object"));
    json_decref(conv);
    o->output_schema = top;
  } else {
    json_decref(top);
    o->output_schema = chk(c, json_pack("{s:s,s:{s:o},s:[s]}", "type", "object", "properties",
                                        "result", conv, "required", "result"));
    o->output_wrapped = 1;
  }
  if (o->output_schema != NULL) {
    json_t *defs;
    add_defs(c, o->output_schema);
    /* The $defs are shared with other schemas: loosen a copy of them. */
    defs = json_object_get(o->output_schema, "$defs");
    if (defs != NULL)
      oset(c, o->output_schema, "$defs", chk(c, json_deep_copy(defs)));
    loosen_output(c, o->output_schema, 0);
  }
}

/* The body: sets o->body, o->content_type, o->body_required; fills props
 * (name -> schema) and req, or *whole. -1 when the operation must be
 * skipped (a required body of a type that cannot be sent). */
static int request_body(ctx *c, const json_t *op, oa_operation *o, json_t **props, json_t **req,
                        json_t **whole) {
  const json_t *rb = json_object_get(op, "requestBody"), *content, *media, *s, *desc;
  const char *key;
  json_t *conv, *top;
  char buf[128];
  int required;
  if (rb == NULL)
    return 0;
  rb = deref(c, rb, "the request body");
  if (rb == NULL)
    return 0;
  if (!json_is_object(rb)) {
    warn(c, "the request body is %s, not an object; ignored", type_name(rb));
    return 0;
  }
  required = json_is_true(json_object_get(rb, "required"));
  content = json_object_get(rb, "content");
  if (!json_is_object(content) || json_object_size(content) == 0) {
    warn(c, "the request body has no content; ignored");
    return 0;
  }
  key = json_media_key(content, NULL);
  o->body = OA_BODY_JSON;
  if (key == NULL) {
    key = json_media_key(content, "application/x-www-form-urlencoded");
    o->body = OA_BODY_FORM;
  }
  if (key == NULL) {
    const char *first = json_object_iter_key(json_object_iter((json_t *)content));
    o->body = OA_BODY_NONE;
    if (required) {
      warn(c,
           "the request body is %.60s%s, which cannot be sent (JSON and form bodies can); "
           "operation skipped",
           first, json_object_size(content) > 1 ? " (or others)" : "");
      return -1;
    }
    warn(c, "the optional request body is %.60s%s, which cannot be sent; calls send no body", first,
         json_object_size(content) > 1 ? " (or others)" : "");
    return 0;
  }
  o->content_type = xstrdup(c, media_type(key, buf, sizeof(buf)));
  o->body_required = required;
  media = json_object_get(content, key);
  s = json_object_get(media, "schema");
  conv = s != NULL ? conv_schema(c, s, 0) : chk(c, json_object());
  if (conv == NULL)
    return 0;
  top = deref_top(c, chk(c, json_deep_copy(conv)));
  *props = chk(c, json_object());
  *req = chk(c, json_array());
  if (merge_object(c, top, *props, *req, 0) && json_object_size(*props) > 0) {
    /* Properties that the server sets are not sent. */
    const char *k;
    json_t *v;
    void *tmp;
    size_t i;
    json_object_foreach_safe(*props, tmp, k, v) {
      if (json_is_true(json_object_get(v, "readOnly")))
        json_object_del(*props, k);
    }
    for (i = json_array_size(*req); i-- > 0;) {
      const char *r = json_string_value(json_array_get(*req, i));
      if (!required || !has_key(*props, r))
        json_array_remove(*req, i);
    }
    json_decref(conv);
  } else {
    json_decref(*props);
    json_decref(*req);
    *props = *req = NULL;
    if (json_is_boolean(conv)) {
      int t = json_is_true(conv);
      json_decref(conv);
      conv = chk(c, t ? json_object() : json_pack("{s:{}}", "not"));
    }
    desc = json_object_get(rb, "description");
    if (json_is_string(desc) && conv != NULL && !has_key(conv, "description"))
      oset(c, conv, "description", json_incref((json_t *)desc));
    *whole = conv;
  }
  json_decref(top);
  return 0;
}

static int arg_taken(const json_t *props, const pvec *pv, const char *a) {
  size_t i;
  if (has_key(props, a))
    return 1;
  for (i = 0; i < pv->n; i++) {
    if (pv->v[i].arg != NULL && pv->v[i].arg[0] != '\0' && strcmp(pv->v[i].arg, a) == 0)
      return 1;
  }
  return 0;
}

/* Names the parameters' arguments: the parameter's name, or on a clash with
 * a body property or another parameter "<name>__<in>" (then a number). */
static void name_args(ctx *c, pvec *pv, const json_t *body_names) {
  size_t i, j;
  for (i = 0; i < pv->n; i++) {
    free(pv->v[i].arg);
    pv->v[i].arg = NULL;
  }
  for (i = 0; i < pv->n; i++) {
    pitem *it = &pv->v[i];
    int clash = has_key(body_names, it->name);
    sbuf b = {0};
    unsigned k;
    for (j = 0; j < pv->n && !clash; j++)
      clash = j != i && strcmp(pv->v[j].name, it->name) == 0;
    if (clash)
      sb_printf(&b, "%s__%s", it->name, LOCATIONS[it->in]);
    else
      sb_puts(&b, it->name);
    for (k = 2; !b.oom && arg_taken(body_names, pv, b.p); k++) {
      b.len = 0;
      if (clash)
        sb_printf(&b, "%s__%s_%u", it->name, LOCATIONS[it->in], k);
      else
        sb_printf(&b, "%s_%u", it->name, k);
    }
    it->arg = sb_take(&b);
    if (it->arg == NULL) {
      c->oom = 1;
      return;
    }
    if (clash)
      warn(c, "%s parameter %.100s is argument %.100s (the name is used twice)", LOCATIONS[it->in],
           it->name, it->arg);
  }
}

static int add_param(ctx *c, oa_operation *o, const char *arg, const char *name,
                     enum oa_location in) {
  oa_param *p = &o->params[o->n_params++];
  memset(p, 0, sizeof(*p));
  p->arg = xstrdup(c, arg);
  p->name = xstrdup(c, name);
  p->in = in;
  p->style = in == OA_QUERY || in == OA_COOKIE ? OA_STYLE_FORM : OA_STYLE_SIMPLE;
  p->explode = p->style == OA_STYLE_FORM;
  return c->oom ? -1 : 0;
}

static json_t *annotations(ctx *c, const json_t *op, int m, const char *summary) {
  json_t *a = chk(c, json_object()), *v;
  const json_t *over = json_object_get(op, "x-mcp-annotations");
  const char *k;
  int ro = m == M_GET || m == M_HEAD;
  if (summary != NULL)
    oset(c, a, "title", json_string(summary));
  oset(c, a, "readOnlyHint", json_boolean(ro));
  if (!ro)
    oset(c, a, "destructiveHint", json_boolean(m == M_DELETE || m == M_PUT || m == M_PATCH));
  oset(c, a, "idempotentHint", json_boolean(m != M_POST && m != M_PATCH));
  oset(c, a, "openWorldHint", json_false());
  if (over != NULL && !json_is_object(over))
    warn(c, "x-mcp-annotations is %s, not an object; ignored", type_name(over));
  json_object_foreach((json_t *)over, k, v) {
    if (json_is_null(v))
      json_object_del(a, k);
    else
      oset(c, a, k, json_deep_copy(v));
  }
  return a;
}

/* Appends s to b as a URI template variable name. */
static void put_varname(sbuf *b, const char *s) {
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (is_alnum(ch) || ch == '_')
      sb_putc(b, (char)ch);
    else
      sb_printf(b, "%%%02X", ch);
  }
}

static char *make_uri(ctx *c, const oa_operation *o, int with_query) {
  sbuf b = {0};
  const char *p;
  size_t i;
  int first = 1;
  char *r;
  sb_printf(&b, "api://%s", c->opt->backend);
  for (p = o->path; *p; p++) {
    unsigned char ch = (unsigned char)*p;
    if (ch == '{') {
      const char *close = strchr(p, '}');
      for (i = 0; i < o->n_params; i++) {
        const oa_param *pa = &o->params[i];
        if (pa->in == OA_PATH && strlen(pa->name) == (size_t)(close - p - 1) &&
            strncmp(pa->name, p + 1, (size_t)(close - p - 1)) == 0)
          break;
      }
      sb_putc(&b, '{');
      if (i < o->n_params) /* match_template() made sure it is there */
        put_varname(&b, o->params[i].arg);
      sb_putc(&b, '}');
      p = close;
    } else if (is_unreserved(ch) || strchr("!$&'()*+,;=:@/%", ch) != NULL) {
      sb_putc(&b, (char)ch);
    } else {
      sb_printf(&b, "%%%02X", ch);
    }
  }
  for (i = 0; with_query && i < o->n_params; i++) {
    if (o->params[i].in != OA_QUERY)
      continue;
    sb_puts(&b, first ? "{?" : ",");
    put_varname(&b, o->params[i].arg);
    first = 0;
  }
  if (!first)
    sb_putc(&b, '}');
  r = sb_take(&b);
  if (r == NULL)
    c->oom = 1;
  return r;
}

static void op_free(oa_operation *o) {
  size_t i;
  free(o->name);
  free(o->title);
  free(o->description);
  free(o->method);
  free(o->path);
  free(o->operation_id);
  json_decref(o->input_schema);
  json_decref(o->output_schema);
  json_decref(o->annotations);
  for (i = 0; i < o->n_params; i++) {
    free(o->params[i].arg);
    free(o->params[i].name);
  }
  free(o->params);
  free(o->content_type);
  free(o->uri);
  free(o->mime_type);
  memset(o, 0, sizeof(*o));
}

static void set_kind(ctx *c, oa_operation *o, int rt, int m) {
  size_t i;
  int path_params = 0, query_params = 0, required_query = 0;
  const char *blocker = NULL;
  if (rt == R_NONE)
    rt = c->opt->get_as_resources && m == M_GET ? R_RESOURCE : R_TOOL;
  if (rt == R_TOOL)
    return;
  for (i = 0; i < o->n_params; i++) {
    const oa_param *p = &o->params[i];
    path_params += p->in == OA_PATH;
    query_params += p->in == OA_QUERY;
    required_query += p->in == OA_QUERY && p->required;
    if (p->required && blocker == NULL && p->in != OA_PATH && p->in != OA_QUERY)
      blocker = p->arg;
  }
  if (blocker == NULL && o->body_required)
    blocker = "body";
  if (blocker != NULL) {
    warn(c,
         "cannot be a resource: argument %.100s is required and a URI cannot carry it; "
         "made a tool",
         blocker);
    return;
  }
  if (path_params > 0 || required_query > 0 || (rt == R_TEMPLATE && query_params > 0)) {
    o->kind = OA_TEMPLATE;
    o->uri = make_uri(c, o, 1);
  } else {
    o->kind = OA_RESOURCE;
    o->uri = make_uri(c, o, 0);
  }
}

/* Converts one operation into o. 0, or -1 when it is skipped (with a
 * warning) or memory ran out (c->oom). */
static int convert_op(ctx *c, const entry *e, int rt, oa_operation *o) {
  pvec pv = {0};
  sbuf vars = {0}, desc = {0};
  json_t *props = NULL, *req = NULL, *whole = NULL, *in_props, *in_req, *body_names;
  const char *summary = json_string_value(json_object_get(e->op, "summary"));
  const char *description = json_string_value(json_object_get(e->op, "description"));
  const char *id = json_string_value(json_object_get(e->op, "operationId"));
  const char *up = METHODS_UP[e->m];
  size_t i, n_alloc;
  int loc, rc = -1;

  memset(o, 0, sizeof(*o));
  o->name = e->name;
  o->method = xstrdup(c, up);
  o->path = xstrdup(c, e->path);
  o->operation_id = xstrdup(c, id);
  if (summary != NULL && summary[0] != '\0')
    o->title = xstrdup(c, summary);
  else
    summary = NULL;
  if (description != NULL && description[0] == '\0')
    description = NULL;
  if (summary != NULL)
    sb_puts(&desc, summary);
  if (summary != NULL && description != NULL)
    sb_puts(&desc, "\n\n");
  if (description != NULL)
    sb_puts(&desc, description);
  if (summary == NULL && description == NULL)
    sb_printf(&desc, "%s %s", up, e->path);
  o->description = sb_take(&desc);
  if (o->description == NULL)
    c->oom = 1;

  add_params(c, &pv, json_object_get(e->item, "parameters"), 0);
  add_params(c, &pv, json_object_get(e->op, "parameters"), 1);
  if (match_template(c, e->path, &pv, &vars) != 0) {
    if (!c->oom)
      warn(c, "the path template is malformed; operation skipped");
    goto done;
  }
  if (request_body(c, e->op, o, &props, &req, &whole) != 0)
    goto done;

  /* Arguments: parameters (renamed on a clash), then the body. */
  body_names = chk(c, json_object());
  if (whole != NULL)
    oset(c, body_names, "body", json_true());
  else if (props != NULL)
    json_object_update(body_names, props);
  name_args(c, &pv, body_names);
  json_decref(body_names);
  if (c->oom)
    goto done;
  n_alloc = pv.n + (whole != NULL ? 1 : 0) + json_object_size(props);
  o->params = calloc(n_alloc ? n_alloc : 1, sizeof(oa_param));
  in_props = chk(c, json_object());
  in_req = chk(c, json_array());
  o->input_schema = chk(c, json_pack("{s:s}", "type", "object"));
  oset(c, o->input_schema, "properties", in_props);
  if (o->params == NULL || c->oom) {
    c->oom = 1;
    json_decref(in_req);
    goto done;
  }
  for (loc = OA_PATH; loc <= OA_COOKIE; loc++) {
    for (i = 0; i < pv.n; i++) {
      pitem *it = &pv.v[i];
      oa_param *p;
      int json, required;
      if (it->in != (enum oa_location)loc)
        continue;
      if (add_param(c, o, it->arg, it->name, it->in) != 0)
        break;
      p = &o->params[o->n_params - 1];
      required = it->in == OA_PATH || json_is_true(json_object_get(it->p, "required"));
      p->required = required;
      param_style(c, it, p);
      oset(c, in_props, it->arg, param_schema(c, it, &json));
      p->json = json;
      if (required)
        apush(c, in_req, json_string(it->arg));
    }
  }
  if (whole != NULL) {
    if (add_param(c, o, "body", "body", OA_BODY_WHOLE) == 0) {
      o->params[o->n_params - 1].required = o->body_required;
      oset(c, in_props, "body", json_incref(whole));
      if (o->body_required)
        apush(c, in_req, json_string("body"));
    }
  } else if (props != NULL) {
    const char *k;
    json_t *v;
    json_object_foreach(props, k, v) {
      if (add_param(c, o, k, k, OA_BODY_PROP) != 0)
        break;
      o->params[o->n_params - 1].required = str_in(req, k);
      oset(c, in_props, k, json_incref(v));
    }
    json_array_extend(in_req, req);
  }
  if (json_array_size(in_req) > 0)
    oset(c, o->input_schema, "required", in_req);
  else
    json_decref(in_req);
  add_defs(c, o->input_schema);
  output_schema(c, e->op, o);
  o->annotations = annotations(c, e->op, e->m, summary);
  set_kind(c, o, rt, e->m);
  rc = c->oom ? -1 : 0;
done:
  if (rc != 0) {
    o->name = NULL; /* still the entry's */
    op_free(o);
  }
  json_decref(props);
  json_decref(req);
  json_decref(whole);
  pv_free(&pv);
  sb_free(&vars);
  return rc;
}

/* ---- the whole document ------------------------------------------------------------------ */

static int check_doc(const json_t *doc, char *err, size_t n) {
  const json_t *v;
  const char *ver;
  if (!json_is_object(doc))
    return fail(err, n, "the OpenAPI document is %s, not a JSON object", type_name(doc));
  v = json_object_get(doc, "openapi");
  if (v == NULL) {
    if (json_object_get(doc, "swagger") != NULL)
      return fail(err, n,
                  "Swagger 2.0 documents are not supported; convert the document to OpenAPI 3 "
                  "first");
    return fail(err, n, "no \"openapi\" field: not an OpenAPI 3 document");
  }
  ver = json_string_value(v);
  if (ver == NULL)
    return fail(err, n, "the \"openapi\" field is %s, not a version string", type_name(v));
  if (strncmp(ver, "3.", 2) != 0)
    return fail(err, n, "OpenAPI version \"%.20s\" is not supported (3.0 and 3.1 are)", ver);
  v = json_object_get(doc, "paths");
  if (!json_is_object(v))
    return fail(err, n, "the document has no \"paths\" object%s%s", v != NULL ? ": it is " : "",
                v != NULL ? type_name(v) : "");
  return 0;
}

/* Collects the operations (pass 1). */
static int collect(ctx *c, entry **out, size_t *n_out) {
  const json_t *paths = json_object_get(c->doc, "paths"), *item, *op;
  const char *path;
  entry *es = NULL;
  size_t n = 0, cap = 0;
  json_t *used = chk(c, json_object());
  int m;
  json_object_foreach((json_t *)paths, path, item) {
    snprintf(c->where, sizeof(c->where), "path %.150s", path);
    if (path[0] != '/') {
      if (strncmp(path, "x-", 2) != 0)
        warn(c, "does not start with '/'; ignored");
      continue;
    }
    item = deref(c, item, "the path item");
    if (item == NULL)
      continue;
    if (!json_is_object(item)) {
      warn(c, "the path item is %s, not an object; ignored", type_name(item));
      continue;
    }
    for (m = 0; m < N_METHODS; m++) {
      char *base;
      op = json_object_get(item, METHODS[m]);
      if (op == NULL)
        continue;
      set_where(c, m, path);
      if (!json_is_object(op)) {
        warn(c, "the operation is %s, not an object; ignored", type_name(op));
        continue;
      }
      if (json_is_true(json_object_get(op, "x-mcp-hidden")))
        continue;
      if (n == cap) {
        entry *ne;
        cap = cap ? cap * 2 : 16;
        ne = realloc(es, cap * sizeof(*ne));
        if (ne == NULL) {
          c->oom = 1;
          break;
        }
        es = ne;
      }
      base = base_name(c, op, path, m);
      es[n].path = path;
      es[n].item = item;
      es[n].op = op;
      es[n].m = m;
      es[n].name = base != NULL ? final_name(c, base, used) : NULL;
      free(base);
      if (es[n].name == NULL)
        break;
      n++;
    }
    if (c->oom)
      break;
  }
  c->where[0] = '\0';
  json_decref(used);
  *out = es;
  *n_out = n;
  return c->oom ? -ENOMEM : 0;
}

void openapi_free(oa_api *api) {
  size_t i;
  if (api == NULL)
    return;
  for (i = 0; i < api->n_ops; i++)
    op_free(&api->ops[i]);
  free(api->ops);
  for (i = 0; i < api->n_warnings; i++)
    free(api->warnings[i]);
  free(api->warnings);
  free(api->title);
  free(api->version);
  memset(api, 0, sizeof(*api));
}

int openapi_convert(const json_t *doc, const oa_options *opt, oa_api *out, char *err, size_t n) {
  ctx c;
  entry *es = NULL;
  size_t n_es = 0, i;
  const json_t *info, *comps;
  char *prefix = NULL;
  int rc;

  if (err != NULL && n > 0)
    err[0] = '\0';
  if (out == NULL || opt == NULL)
    return fail(err, n, "no output or no options");
  memset(out, 0, sizeof(*out));
  memset(&c, 0, sizeof(c));
  c.doc = doc;
  c.opt = opt;
  c.out = out;
  rc = check_doc(doc, err, n);
  if (rc == 0)
    rc = check_options(&c, err, n);
  if (rc != 0)
    goto cleanup;
  comps = json_object_get(doc, "components");
  c.schemas = json_object_get(comps, "schemas");
  if (!json_is_object(c.schemas))
    c.schemas = NULL;
  c.comp = chk(&c, json_object());
  c.comp_deps = chk(&c, json_object());
  if (opt->tool_prefix != NULL && opt->tool_prefix[0] != '\0') {
    sbuf b = {0};
    sanitize_into(&b, opt->tool_prefix, strlen(opt->tool_prefix), 0);
    prefix = sb_take(&b);
    if (prefix == NULL)
      c.oom = 1;
  }
  c.prefix = prefix != NULL ? prefix : "";
  info = json_object_get(doc, "info");
  out->title = xstrdup(&c, json_string_value(json_object_get(info, "title")));
  out->version = xstrdup(&c, json_string_value(json_object_get(info, "version")));

  if (!c.oom && collect(&c, &es, &n_es) == 0) {
    check_filter_names(&c, es, n_es);
    for (i = 0; i < n_es && !c.oom; i++) {
      entry *e = &es[i];
      int rt;
      if (filtered_out(&c, e))
        continue;
      rt = route_type(&c, e);
      if (rt == R_EXCLUDE)
        continue;
      if (out->n_ops == c.cap_ops) {
        size_t cap = c.cap_ops ? c.cap_ops * 2 : 16;
        oa_operation *no = realloc(out->ops, cap * sizeof(*no));
        if (no == NULL) {
          c.oom = 1;
          break;
        }
        out->ops = no;
        c.cap_ops = cap;
      }
      set_where(&c, e->m, e->path);
      if (convert_op(&c, e, rt, &out->ops[out->n_ops]) == 0) {
        out->n_ops++;
        e->name = NULL; /* now the operation's */
      }
    }
    c.where[0] = '\0';
    if (c.dropped_warnings > 0) {
      size_t d = c.dropped_warnings;
      c.dropped_warnings = 0;
      out->n_warnings--; /* room for the summary line */
      free(out->warnings[out->n_warnings]);
      warn(&c, "%zu more warnings not shown", d + 1);
    }
  }
  rc = c.oom ? -ENOMEM : 0;
  if (rc == -ENOMEM)
    fail(err, n, "out of memory");

cleanup:
  for (i = 0; i < n_es; i++)
    free(es[i].name);
  free(es);
  for (i = 0; i < c.n_rules; i++) {
    if (c.rules[i].has_re)
      regfree(&c.rules[i].re);
  }
  free(c.rules);
  json_decref(c.comp);
  json_decref(c.comp_deps);
  free(prefix);
  if (rc != 0)
    openapi_free(out);
  return rc;
}
