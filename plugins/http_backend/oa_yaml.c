/* oa_yaml.c -- YAML (and JSON) documents as jansson values: see oa_yaml.h
 * for the rules. libyaml's event parser feeds an explicit stack (no
 * recursion, so nesting costs no C stack); values are resolved by the YAML
 * 1.2 core schema here, because libyaml leaves resolution to its caller. */
#define _POSIX_C_SOURCE 200809L

#include "oa_yaml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* The bound on aliases. A billion-laughs document (aliases of lists of
 * aliases of ...) grows exponentially; the values are shared here, but the
 * converter walks, and sometimes copies, the tree they make. Every node
 * weighs NODE_WEIGHT plus its bytes; aliases may add ALIAS_FACTOR times the
 * weight written out, plus ALIAS_ALLOWANCE so a small document may share a
 * big block many times. */
#define NODE_WEIGHT     16
#define ALIAS_FACTOR    4
#define ALIAS_ALLOWANCE ((size_t)16 << 20)

/* A sequence or mapping being built. */
typedef struct frame {
  json_t *node;   /* owned */
  char *anchor;   /* owned: its anchor, or NULL */
  size_t weight0; /* the total weight when it started */
  char *key;      /* owned: in a mapping, the key whose value comes next, or NULL */
  int merge;      /* that key is a plain "<<" */
  json_t *merges; /* owned: the mappings "<<" named, in order, or NULL */
} frame;

typedef struct yp {
  frame *stack;
  size_t depth, cap;
  json_t *root;           /* owned */
  json_t *anchors;        /* owned: name -> [value, weight] */
  size_t direct, aliased; /* weights: written out, added by aliases */
  size_t line;            /* of the event at hand, 1-based */
  int rc;
  char *err;
  size_t n;
} yp;

static int fail(yp *p, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Records the first failure; its message gets the line. */
static int fail(yp *p, int rc, const char *fmt, ...) {
  va_list ap;
  if (p->rc != 0)
    return p->rc;
  p->rc = rc;
  if (p->err != NULL && p->n > 0) {
    int k = snprintf(p->err, p->n, "line %zu: ", p->line);
    if (k >= 0 && (size_t)k < p->n) {
      va_start(ap, fmt);
      vsnprintf(p->err + k, p->n - (size_t)k, fmt, ap);
      va_end(ap);
    }
  }
  return rc;
}

static int oom(yp *p) {
  return fail(p, -ENOMEM, "out of memory");
}

/* ---- scalars ------------------------------------------------------------------- */

static int all_of(const char *s, size_t n, const char *set) {
  return n > 0 && strspn(s, set) == n;
}

static int one_of(const char *s, const char *a, const char *b, const char *c) {
  return strcmp(s, a) == 0 || strcmp(s, b) == 0 || strcmp(s, c) == 0;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int is_float(const char *s) {
  size_t digits = 0;
  if (*s == '-' || *s == '+')
    s++;
  while (*s >= '0' && *s <= '9') {
    s++;
    digits++;
  }
  if (*s == '.') {
    s++;
    while (*s >= '0' && *s <= '9') {
      s++;
      digits++;
    }
  }
  if (digits == 0)
    return 0;
  if (*s == 'e' || *s == 'E') {
    s++;
    if (*s == '-' || *s == '+')
      s++;
    if (!(*s >= '0' && *s <= '9'))
      return 0;
    while (*s >= '0' && *s <= '9')
      s++;
  }
  return *s == '\0';
}

/* A number as JSON, or NULL (with *no set) when it does not fit one. */
static json_t *number(const char *s, int base, int *no) {
  char *end;
  long long v;
  double d;
  errno = 0;
  v = strtoll(s, &end, base);
  if (errno == 0 && *end == '\0')
    return json_integer(v);
  /* Too big for an integer: a JSON number still, as JSON parsers other
   * than jansson read it; but only in decimal, where it means the same. */
  if (base == 10) {
    d = strtod(s, &end);
    if (*end == '\0' && isfinite(d))
      return json_real(d);
  }
  *no = 1;
  return NULL;
}

/* The YAML 1.2 core schema's reading of a plain scalar s (n bytes, no NUL
 * inside): a new reference, NULL only when out of memory. */
static json_t *core_value(const char *s, size_t n) {
  const char *u = s[0] == '-' || s[0] == '+' ? s + 1 : s;
  int no = 0;
  json_t *v = NULL;
  if (n == 0 || one_of(s, "~", "null", "Null") || strcmp(s, "NULL") == 0)
    return json_null();
  if (one_of(s, "true", "True", "TRUE"))
    return json_true();
  if (one_of(s, "false", "False", "FALSE"))
    return json_false();
  if (all_of(u, strlen(u), "0123456789"))
    v = number(s, 10, &no);
  else if (n > 2 && s[0] == '0' && s[1] == 'o' && all_of(s + 2, n - 2, "01234567"))
    v = number(s + 2, 8, &no);
  else if (n > 2 && s[0] == '0' && s[1] == 'x' && all_of(s + 2, n - 2, "0123456789abcdefABCDEF"))
    v = number(s + 2, 16, &no);
  else if (is_float(s)) {
    char *end;
    double d = strtod(s, &end);
    /* .inf and .nan (and 1e999) have no JSON form: they stay strings. */
    if (*end == '\0' && isfinite(d))
      return json_real(d);
    no = 1;
  } else
    no = 1;
  return no ? json_stringn(s, n) : v;
}

/* The value of a scalar that is not a key. NULL with p->rc set on failure. */
static json_t *scalar_value(yp *p, const yaml_event_t *ev) {
  const char *s = (const char *)ev->data.scalar.value, *tag = (const char *)ev->data.scalar.tag;
  size_t n = ev->data.scalar.length;
  json_t *v;
  if (tag != NULL && (strcmp(tag, "!") == 0 || strcmp(tag, YAML_STR_TAG) == 0))
    v = json_stringn(s, n);
  else if (tag != NULL && (strcmp(tag, YAML_NULL_TAG) == 0 || strcmp(tag, YAML_BOOL_TAG) == 0 ||
                           strcmp(tag, YAML_INT_TAG) == 0 || strcmp(tag, YAML_FLOAT_TAG) == 0)) {
    /* An explicit tag asks for that type, whatever the quotes. */
    static const struct {
      const char *tag;
      json_type t1, t2;
    } want[] = {{YAML_NULL_TAG, JSON_NULL, JSON_NULL},
                {YAML_BOOL_TAG, JSON_TRUE, JSON_FALSE},
                {YAML_INT_TAG, JSON_INTEGER, JSON_INTEGER},
                {YAML_FLOAT_TAG, JSON_REAL, JSON_INTEGER}};
    size_t i;
    v = core_value(s, n);
    for (i = 0; v != NULL && i < sizeof(want) / sizeof(want[0]); i++) {
      if (strcmp(tag, want[i].tag) == 0 && json_typeof(v) != want[i].t1 &&
          json_typeof(v) != want[i].t2) {
        json_decref(v);
        fail(p, -EINVAL, "\"%.40s\" is not a valid !!%s", s, tag + strlen("tag:yaml.org,2002:"));
        return NULL;
      }
    }
    if (json_is_integer(v) && strcmp(tag, YAML_FLOAT_TAG) == 0) {
      json_t *r = json_real((double)json_integer_value(v));
      json_decref(v);
      v = r;
    }
  } else if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
    v = core_value(s, n);
  else
    v = json_stringn(s, n); /* quoted, literal | and folded >: always strings */
  if (v == NULL)
    oom(p);
  return v;
}

/* ---- the tree ------------------------------------------------------------------- */

/* Charges w to the aliases; -E2BIG past the bound. */
static int charge_alias(yp *p, size_t w) {
  p->aliased += w;
  if (p->aliased > ALIAS_ALLOWANCE + ALIAS_FACTOR * p->direct)
    return fail(p, -E2BIG,
                "the aliases expand the document past %d times its own size plus %zu MiB (a "
                "\"billion laughs\" document?)",
                ALIAS_FACTOR, ALIAS_ALLOWANCE >> 20);
  return 0;
}

/* Remembers v (borrowed) under the anchor name (borrowed; may be NULL). */
static void keep_anchor(yp *p, const unsigned char *name, json_t *v, size_t w) {
  if (name == NULL || p->rc != 0)
    return;
  if (json_object_set_new(p->anchors, (const char *)name, json_pack("[OI]", v, (json_int_t)w)) != 0)
    oom(p);
}

static frame *top(yp *p) {
  return p->depth > 0 ? &p->stack[p->depth - 1] : NULL;
}

/* Whether the next node is a mapping key. */
static int at_key(yp *p) {
  frame *f = top(p);
  return f != NULL && json_is_object(f->node) && f->key == NULL;
}

/* Sets the key the next value goes under (key owned, stolen). */
static void take_key(yp *p, char *key, int merge) {
  frame *f = top(p);
  if (key == NULL) {
    oom(p);
    return;
  }
  p->direct += strlen(key);
  f->key = key;
  f->merge = merge;
}

/* Puts v (stolen) where the document is at: the root, the next item of a
 * sequence, or the value of a mapping's key. */
static void put(yp *p, json_t *v) {
  frame *f = top(p);
  if (p->rc != 0 || v == NULL) {
    json_decref(v);
    if (p->rc == 0)
      oom(p);
    return;
  }
  if (f == NULL) {
    p->root = v;
    return;
  }
  if (json_is_array(f->node)) {
    if (json_array_append_new(f->node, v) != 0)
      oom(p);
    return;
  }
  if (f->merge) {
    /* "<<": a mapping, or a list of mappings, whose keys come in where the
     * mapping has none of its own (applied at its end). */
    size_t i;
    json_t *m;
    int ok = json_is_object(v) || json_is_array(v);
    json_array_foreach(v, i, m) ok &= json_is_object(m);
    if (!ok) {
      fail(p, -EINVAL, "a merge key (<<) needs a mapping or a list of mappings");
    } else {
      if (f->merges == NULL)
        f->merges = json_array();
      if (json_is_object(v) ? json_array_append(f->merges, v) != 0
                            : json_array_extend(f->merges, v) != 0)
        oom(p);
    }
    json_decref(v);
  } else if (json_object_get(f->node, f->key) != NULL) {
    fail(p, -EINVAL, "duplicate key \"%.80s\"", f->key);
    json_decref(v);
  } else if (json_object_set_new(f->node, f->key, v) != 0)
    oom(p);
  free(f->key);
  f->key = NULL;
  f->merge = 0;
}

static void on_scalar(yp *p, const yaml_event_t *ev) {
  const char *s = (const char *)ev->data.scalar.value;
  size_t n = ev->data.scalar.length, w = NODE_WEIGHT + n;
  json_t *v;
  if (memchr(s, '\0', n) != NULL) {
    fail(p, -EINVAL, "a string holds a NUL byte (\\0), which mcpd does not accept");
    return;
  }
  if (at_key(p)) {
    int merge = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && ev->data.scalar.tag == NULL &&
                strcmp(s, "<<") == 0;
    v = json_stringn(s, n);
    keep_anchor(p, ev->data.scalar.anchor, v, w);
    json_decref(v);
    take_key(p, strdup(s), merge);
    return;
  }
  v = scalar_value(p, ev);
  if (v == NULL)
    return;
  p->direct += w;
  keep_anchor(p, ev->data.scalar.anchor, v, w);
  put(p, v);
}

static void on_alias(yp *p, const yaml_event_t *ev) {
  const char *name = (const char *)ev->data.alias.anchor;
  json_t *a = json_object_get(p->anchors, name), *v;
  if (a == NULL) {
    fail(p, -EINVAL,
         "the alias *%.60s names no anchor before it (an alias inside the node it names "
         "would make a cycle)",
         name);
    return;
  }
  v = json_array_get(a, 0);
  if (charge_alias(p, (size_t)json_integer_value(json_array_get(a, 1))) != 0)
    return;
  if (at_key(p)) {
    char *key = NULL;
    if (json_is_string(v))
      key = strdup(json_string_value(v));
    else if (!json_is_object(v) && !json_is_array(v))
      key = json_dumps(v, JSON_ENCODE_ANY);
    else {
      fail(p, -EINVAL, "a mapping key must be a scalar, and *%.60s is not", name);
      return;
    }
    take_key(p, key, 0);
    return;
  }
  put(p, json_incref(v));
}

static void on_start(yp *p, const yaml_event_t *ev, int mapping) {
  const unsigned char *anchor =
      mapping ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
  frame *f;
  if (at_key(p)) {
    fail(p, -EINVAL, "a mapping key must be a scalar (complex keys are not supported)");
    return;
  }
  if (p->depth >= OA_YAML_MAX_DEPTH) {
    fail(p, -EINVAL, "nested deeper than %d levels", OA_YAML_MAX_DEPTH);
    return;
  }
  if (p->depth == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 32;
    frame *ns = realloc(p->stack, cap * sizeof(*ns));
    if (ns == NULL) {
      oom(p);
      return;
    }
    p->stack = ns;
    p->cap = cap;
  }
  f = &p->stack[p->depth++];
  memset(f, 0, sizeof(*f));
  f->node = mapping ? json_object() : json_array();
  f->anchor = anchor != NULL ? strdup((const char *)anchor) : NULL;
  f->weight0 = p->direct + p->aliased;
  p->direct += NODE_WEIGHT;
  if (f->node == NULL || (anchor != NULL && f->anchor == NULL))
    oom(p);
}

static void frame_free(frame *f) {
  json_decref(f->node);
  json_decref(f->merges);
  free(f->anchor);
  free(f->key);
}

static void on_end(yp *p) {
  frame f = p->stack[--p->depth];
  size_t i;
  json_t *m, *v;
  const char *k;
  json_array_foreach(f.merges, i, m) {
    json_object_foreach(m, k, v) {
      if (json_object_get(f.node, k) == NULL && json_object_set(f.node, k, v) != 0)
        oom(p);
    }
  }
  keep_anchor(p, (const unsigned char *)f.anchor, f.node, p->direct + p->aliased - f.weight0);
  put(p, json_incref(f.node));
  frame_free(&f);
}

/* libyaml's own complaint, with where it was. */
static void parser_failed(yp *p, const yaml_parser_t *y) {
  if (y->error == YAML_MEMORY_ERROR) {
    oom(p);
    return;
  }
  p->line = y->problem_mark.line + 1;
  if (y->context != NULL)
    fail(p, -EINVAL, "%s %s (column %zu)", y->context, y->problem ? y->problem : "",
         y->problem_mark.column + 1);
  else
    fail(p, -EINVAL, "%s (column %zu)", y->problem ? y->problem : "not YAML",
         y->problem_mark.column + 1);
}

int oa_yaml_parse(const char *text, size_t len, json_t **out, char *err, size_t n) {
  yaml_parser_t y;
  yaml_event_t ev;
  yp p;
  int docs = 0, done = 0;

  memset(&p, 0, sizeof(p));
  p.err = err;
  p.n = n;
  if (err != NULL && n > 0)
    err[0] = '\0';
  *out = NULL;
  p.anchors = json_object();
  if (p.anchors == NULL || !yaml_parser_initialize(&y)) {
    json_decref(p.anchors);
    return -ENOMEM;
  }
  yaml_parser_set_input_string(&y, (const unsigned char *)text, len);
  while (!done && p.rc == 0) {
    if (!yaml_parser_parse(&y, &ev)) {
      parser_failed(&p, &y);
      break;
    }
    p.line = ev.start_mark.line + 1;
    switch (ev.type) {
    case YAML_DOCUMENT_START_EVENT:
      if (++docs > 1)
        fail(&p, -EINVAL, "a second YAML document (after \"---\"): one document only");
      break;
    case YAML_SCALAR_EVENT:
      on_scalar(&p, &ev);
      break;
    case YAML_ALIAS_EVENT:
      on_alias(&p, &ev);
      break;
    case YAML_SEQUENCE_START_EVENT:
      on_start(&p, &ev, 0);
      break;
    case YAML_MAPPING_START_EVENT:
      on_start(&p, &ev, 1);
      break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
      on_end(&p);
      break;
    case YAML_STREAM_END_EVENT:
      done = 1;
      break;
    default:
      break;
    }
    yaml_event_delete(&ev);
  }
  if (p.rc == 0 && docs == 0)
    fail(&p, -EINVAL, "no YAML document in the text");
  yaml_parser_delete(&y);
  while (p.depth > 0)
    frame_free(&p.stack[--p.depth]);
  free(p.stack);
  json_decref(p.anchors);
  if (p.rc != 0) {
    json_decref(p.root);
    return p.rc;
  }
  *out = p.root;
  return 0;
}

int oa_yaml_parse_document(const char *text, size_t len, json_t **out, char *err, size_t n) {
  size_t i = 0, k;
  char msg[300], head[41];
  json_t *doc = NULL;
  int r;

  *out = NULL;
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
    i = 3;
  while (i < len && strchr(" \t\r\n", text[i]) != NULL && text[i] != '\0')
    i++;
  if (i < len && text[i] == '{') {
    json_error_t je;
    doc = json_loadb(text + i, len - i, 0, &je);
    if (doc == NULL) {
      snprintf(err, n, "the document is not JSON (it starts with '{'): %s (line %d)", je.text,
               je.line);
      return -EINVAL;
    }
  } else {
    r = oa_yaml_parse(text, len, &doc, msg, sizeof(msg));
    if (r == -ENOMEM)
      return r;
    if (r < 0) {
      snprintf(err, n,
               "the document is %s YAML (it does not start with '{', so it is read as YAML): %s",
               r == -E2BIG ? "refused as" : "not valid", msg);
      return r;
    }
  }
  if (json_is_object(doc)) {
    *out = doc;
    return 0;
  }
  json_decref(doc);
  /* An HTML page, a plain-text error: show what came instead. */
  for (k = 0; k + 1 < sizeof(head) && i < len; i++) {
    unsigned char ch = (unsigned char)text[i];
    head[k++] = ch >= 0x20 && ch < 0x7f ? (char)ch : ' ';
  }
  head[k] = '\0';
  snprintf(err, n,
           "the document is neither a JSON object nor a YAML mapping (it starts with \"%s\")",
           head);
  return -EINVAL;
}
