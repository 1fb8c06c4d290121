/* schema.c -- validation of tool arguments against a JSON Schema subset.
 *
 * One pass, first failure wins: validate() returns at the first offending
 * value and writes one message. Inside anyOf, oneOf and not a failure is
 * expected, so those branches run quiet and write nothing. The JSON Pointer
 * of the current value is a linked list on the stack, formatted only when a
 * message is written. */
#include "lib/schema.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Schema nesting plus $ref hops; the root schema is at depth 0. */
#define MAX_DEPTH 64

/* Internal results: TOO_DEEP must cross anyOf/oneOf/not untouched, or a
 * cyclic $ref under not would count as "did not match" and pass. */
enum { OK = 0, INVALID = 1, TOO_DEEP = 2 };

/* 2^53: every double at or beyond it is an integer. */
#define EXACT_INT_LIMIT 9007199254740992.0

struct path {
  const struct path *up;
  const char *key; /* NULL for an array index */
  size_t key_len;
  size_t index;
};

struct ctx {
  const json_t *root; /* what "#" refers to */
  char *err;
  size_t n;
  size_t len; /* message bytes written, excluding the NUL */
  int quiet;  /* inside anyOf/oneOf/not: failures are not reported */
};

static void put(struct ctx *c, const char *s, size_t len) {
  size_t room;
  if (c->n == 0 || c->len >= c->n - 1)
    return;
  room = c->n - 1 - c->len;
  if (len > room)
    len = room;
  memcpy(c->err + c->len, s, len);
  c->len += len;
  c->err[c->len] = '\0';
}

static void put_str(struct ctx *c, const char *s) {
  put(c, s, strlen(s));
}

static void putf(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void vputf(struct ctx *c, const char *fmt, va_list ap) {
  int k;
  if (c->n == 0 || c->len >= c->n - 1)
    return;
  k = vsnprintf(c->err + c->len, c->n - c->len, fmt, ap);
  if (k < 0) {
    c->err[c->len] = '\0';
    return;
  }
  c->len += (size_t)k;
  if (c->len > c->n - 1)
    c->len = c->n - 1;
}

static void putf(struct ctx *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vputf(c, fmt, ap);
  va_end(ap);
}

/* Writes the pointer with '~' as ~0 and '/' as ~1 (RFC 6901). */
static void put_path(struct ctx *c, const struct path *p) {
  size_t i, start;
  if (p == NULL)
    return;
  put_path(c, p->up);
  put(c, "/", 1);
  if (p->key == NULL) {
    putf(c, "%zu", p->index);
    return;
  }
  for (i = start = 0; i < p->key_len; i++) {
    if (p->key[i] != '~' && p->key[i] != '/')
      continue;
    put(c, p->key + start, i - start);
    put(c, p->key[i] == '~' ? "~0" : "~1", 2);
    start = i + 1;
  }
  put(c, p->key + start, p->key_len - start);
}

/* Starts a message at p; returns 0 when quiet, so the caller skips it. */
static int report(struct ctx *c, const struct path *p) {
  if (c->quiet)
    return 0;
  c->len = 0;
  if (c->n > 0)
    c->err[0] = '\0';
  if (p != NULL) {
    put_path(c, p);
    put(c, ": ", 2);
  }
  return 1;
}

static int fail(struct ctx *c, const struct path *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, const struct path *p, const char *fmt, ...) {
  va_list ap;
  if (!report(c, p))
    return INVALID;
  va_start(ap, fmt);
  vputf(c, fmt, ap);
  va_end(ap);
  return INVALID;
}

/* Written even when quiet: this error ends the whole validation. */
static int too_deep(struct ctx *c) {
  c->len = 0;
  if (c->n > 0)
    c->err[0] = '\0';
  put_str(c, "schema too deeply nested");
  return TOO_DEEP;
}

/* Shortest of %.15g..%.17g that reads back as the same double. */
static void put_num(struct ctx *c, const json_t *v) {
  char buf[40];
  double d;
  int prec;
  if (json_is_integer(v)) {
    putf(c, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return;
  }
  d = json_real_value(v);
  for (prec = 15; prec <= 17; prec++) {
    snprintf(buf, sizeof(buf), "%.*g", prec, d);
    if (strtod(buf, NULL) == d)
      break;
  }
  put_str(c, buf);
}

static void put_value(struct ctx *c, const json_t *v) {
  char *s;
  if (json_is_number(v)) {
    put_num(c, v);
    return;
  }
  s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  put_str(c, s ? s : "?");
  free(s);
}

/* A cut message must stay valid UTF-8, or json_string() on it fails. */
static void trim_utf8(struct ctx *c) {
  size_t i = c->len, need;
  unsigned char b;
  while (i > 0 && c->len - i < 4 && ((unsigned char)c->err[i - 1] & 0xC0) == 0x80)
    i--;
  if (i == 0)
    return;
  b = (unsigned char)c->err[i - 1];
  if (b < 0x80)
    return;
  need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
  if (c->len - (i - 1) < need) {
    c->len = i - 1;
    c->err[c->len] = '\0';
  }
}

static const char *type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return "object";
  case JSON_ARRAY:
    return "array";
  case JSON_STRING:
    return "string";
  case JSON_INTEGER:
    return "integer";
  case JSON_REAL:
    return "number";
  case JSON_TRUE:
  case JSON_FALSE:
    return "boolean";
  default:
    return "null";
  }
}

static int is_integral(double d) {
  if (d >= EXACT_INT_LIMIT || d <= -EXACT_INT_LIMIT)
    return 1;
  return d == (double)(long long)d;
}

/* An unknown type name matches: we never reject for what we do not know. */
static int type_matches(const char *name, const json_t *v) {
  if (strcmp(name, "object") == 0)
    return json_is_object(v);
  if (strcmp(name, "array") == 0)
    return json_is_array(v);
  if (strcmp(name, "string") == 0)
    return json_is_string(v);
  if (strcmp(name, "number") == 0)
    return json_is_number(v);
  if (strcmp(name, "integer") == 0)
    return json_is_integer(v) || (json_is_real(v) && is_integral(json_real_value(v)));
  if (strcmp(name, "boolean") == 0)
    return json_is_boolean(v);
  if (strcmp(name, "null") == 0)
    return json_is_null(v);
  return 1;
}

/* Exact comparison of an integer with a double, even beyond 2^53. */
static int cmp_int_real(json_int_t i, double d) {
  json_int_t t;
  double frac;
  if (d >= 9223372036854775808.0)
    return -1;
  if (d < -9223372036854775808.0)
    return 1;
  t = (json_int_t)d;
  if (i != t)
    return i < t ? -1 : 1;
  frac = d - (double)t;
  return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static int cmp_num(const json_t *a, const json_t *b) {
  double x, y;
  if (json_is_integer(a) && json_is_integer(b)) {
    json_int_t i = json_integer_value(a), j = json_integer_value(b);
    return i < j ? -1 : i > j;
  }
  if (json_is_integer(a))
    return cmp_int_real(json_integer_value(a), json_real_value(b));
  if (json_is_integer(b))
    return -cmp_int_real(json_integer_value(b), json_real_value(a));
  x = json_real_value(a);
  y = json_real_value(b);
  return x < y ? -1 : x > y;
}

/* JSON Schema equality: like json_equal, but 1 and 1.0 are equal. */
static int equal(const json_t *a, const json_t *b) {
  const char *key;
  size_t key_len, i;
  json_t *va;
  if (json_is_number(a) && json_is_number(b))
    return cmp_num(a, b) == 0;
  if (json_is_array(a) && json_is_array(b)) {
    if (json_array_size(a) != json_array_size(b))
      return 0;
    for (i = 0; i < json_array_size(a); i++) {
      if (!equal(json_array_get(a, i), json_array_get(b, i)))
        return 0;
    }
    return 1;
  }
  if (json_is_object(a) && json_is_object(b)) {
    if (json_object_size(a) != json_object_size(b))
      return 0;
    /* jansson's iteration API takes non-const objects; it only reads. */
    json_object_keylen_foreach((json_t *)a, key, key_len, va) {
      const json_t *vb = json_object_getn(b, key, key_len);
      if (vb == NULL || !equal(va, vb))
        return 0;
    }
    return 1;
  }
  return json_equal(a, b);
}

/* A non-negative integer keyword (2.0 counts); 0 when absent or unusable. */
static int get_count(const json_t *s, const char *name, size_t *out) {
  const json_t *v = json_object_get(s, name);
  double d;
  if (json_is_integer(v) && json_integer_value(v) >= 0) {
    *out = (size_t)json_integer_value(v);
    return 1;
  }
  if (!json_is_real(v))
    return 0;
  d = json_real_value(v);
  if (d < 0 || !is_integral(d))
    return 0;
  *out = d >= 18446744073709551615.0 ? (size_t)-1 : (size_t)d;
  return 1;
}

static const char *plural(size_t k) {
  return k == 1 ? "" : "s";
}

/* ---- $ref resolution: local JSON pointers in a URI fragment ---- */

static int hex(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* Next byte of the fragment with %XX decoded; a bad escape stays literal. */
static int frag_byte(const char *s, size_t len, size_t *i) {
  int hi, lo;
  if (s[*i] == '%' && *i + 2 < len) {
    hi = hex(s[*i + 1]);
    lo = hex(s[*i + 2]);
    if (hi >= 0 && lo >= 0) {
      *i += 3;
      return hi * 16 + lo;
    }
  }
  return (unsigned char)s[(*i)++];
}

/* Next byte of a pointer token ending at end, ~0 and ~1 undone; -1 if bad. */
static int token_byte(const char *s, size_t end, size_t *i) {
  int ch = frag_byte(s, end, i);
  if (ch != '~')
    return ch;
  if (*i >= end)
    return -1;
  ch = frag_byte(s, end, i);
  return ch == '0' ? '~' : ch == '1' ? '/' : -1;
}

static int token_is(const char *s, size_t start, size_t end, const char *key, size_t key_len) {
  size_t i = start, k = 0;
  while (i < end) {
    int ch = token_byte(s, end, &i);
    if (ch < 0 || k >= key_len || (unsigned char)key[k] != ch)
      return 0;
    k++;
  }
  return k == key_len;
}

static const json_t *token_child(const json_t *node, const char *s, size_t start, size_t end) {
  const char *key;
  size_t key_len, i = start, k = 0, idx = 0;
  json_t *v;
  char digits[21];
  if (json_is_object(node)) {
    json_object_keylen_foreach((json_t *)node, key, key_len, v) {
      if (token_is(s, start, end, key, key_len))
        return v;
    }
    return NULL;
  }
  if (!json_is_array(node))
    return NULL;
  while (i < end) {
    int ch = token_byte(s, end, &i);
    if (ch < '0' || ch > '9' || k == sizeof(digits) - 1)
      return NULL;
    digits[k++] = (char)ch;
  }
  if (k == 0 || (k > 1 && digits[0] == '0'))
    return NULL;
  for (i = 0; i < k; i++) {
    if (idx > ((size_t)-1 - 9) / 10)
      return NULL;
    idx = idx * 10 + (size_t)(digits[i] - '0');
  }
  return json_array_get(node, idx);
}

/* "#" or "#/a/b" in the root schema; NULL for anything else (an anchor, a
 * remote URI, a pointer to nothing), which the caller then ignores. */
static const json_t *resolve(const json_t *root, const char *ref, size_t len) {
  const json_t *node = root;
  size_t i = 1, start, end;
  if (len == 0 || ref[0] != '#')
    return NULL;
  while (i < len && node != NULL) {
    if (frag_byte(ref, len, &i) != '/')
      return NULL;
    start = end = i;
    while (end < len) {
      size_t next = end;
      if (frag_byte(ref, len, &next) == '/')
        break;
      end = next;
    }
    node = token_child(node, ref, start, end);
    i = end;
  }
  return node;
}

/* ---- keywords ---- */

static int validate(struct ctx *c, const json_t *s, const json_t *v, const struct path *p,
                    int depth);

static int check_type(struct ctx *c, const json_t *s, const json_t *v, const struct path *p) {
  const json_t *t = json_object_get(s, "type"), *e;
  size_t i, shown = 0;
  if (json_is_string(t)) {
    if (type_matches(json_string_value(t), v))
      return OK;
    return fail(c, p, "expected %s, got %s", json_string_value(t), type_name(v));
  }
  if (!json_is_array(t) || json_array_size(t) == 0)
    return OK;
  json_array_foreach(t, i, e) {
    if (!json_is_string(e) || type_matches(json_string_value(e), v))
      return OK;
  }
  if (report(c, p)) {
    put_str(c, "expected ");
    json_array_foreach(t, i, e) {
      put_str(c, shown++ ? " or " : "");
      put_str(c, json_string_value(e));
    }
    putf(c, ", got %s", type_name(v));
  }
  return INVALID;
}

static int check_enum_const(struct ctx *c, const json_t *s, const json_t *v, const struct path *p) {
  const json_t *en = json_object_get(s, "enum"), *k = json_object_get(s, "const"), *e;
  size_t i;
  if (json_is_array(en)) {
    json_array_foreach(en, i, e) {
      if (equal(e, v))
        break;
    }
    if (i == json_array_size(en)) {
      if (i == 0)
        return fail(c, p, "no value is allowed (enum is empty)");
      if (report(c, p)) {
        put_str(c, "must be one of ");
        json_array_foreach(en, i, e) {
          put_str(c, i ? ", " : "");
          put_value(c, e);
        }
      }
      return INVALID;
    }
  }
  /* "const": null is a real constraint, so presence is what counts. */
  if (k != NULL && !equal(k, v)) {
    if (report(c, p)) {
      put_str(c, "must be ");
      put_value(c, k);
    }
    return INVALID;
  }
  return OK;
}

/* Exact for two integers; for reals, the quotient must be within a small
 * tolerance of an integer, so 0.3 is a multiple of 0.1. */
static int is_multiple(const json_t *v, const json_t *m) {
  double q, k, diff, tol;
  if (json_is_integer(v) && json_is_integer(m))
    return json_integer_value(v) % json_integer_value(m) == 0;
  q = json_number_value(v) / json_number_value(m);
  if (q >= EXACT_INT_LIMIT || q <= -EXACT_INT_LIMIT || q != q)
    return 1; /* too big to tell: do not reject */
  k = (double)(long long)(q + (q >= 0 ? 0.5 : -0.5));
  diff = q > k ? q - k : k - q;
  tol = 1e-9 + (q < 0 ? -q : q) * 1e-14;
  return diff <= tol;
}

static int check_bound(struct ctx *c, const json_t *v, const struct path *p, const json_t *bound,
                       int sign, int strict) {
  int r;
  if (!json_is_number(bound))
    return OK;
  r = cmp_num(v, bound) * sign; /* sign 1 for a minimum, -1 for a maximum */
  if (r > 0 || (r == 0 && !strict))
    return OK;
  if (report(c, p)) {
    putf(c, "must be %s%s ", sign > 0 ? ">" : "<", strict ? "" : "=");
    put_num(c, bound);
  }
  return INVALID;
}

static int check_number(struct ctx *c, const json_t *s, const json_t *v, const struct path *p) {
  const json_t *emin = json_object_get(s, "exclusiveMinimum");
  const json_t *emax = json_object_get(s, "exclusiveMaximum");
  const json_t *m = json_object_get(s, "multipleOf");
  int r;
  /* Draft 4 spelled exclusiveMinimum as a boolean modifier of minimum. */
  if ((r = check_bound(c, v, p, json_object_get(s, "minimum"), 1, json_is_true(emin))) ||
      (r = check_bound(c, v, p, emin, 1, 1)) ||
      (r = check_bound(c, v, p, json_object_get(s, "maximum"), -1, json_is_true(emax))) ||
      (r = check_bound(c, v, p, emax, -1, 1)))
    return r;
  if (json_is_number(m) && json_number_value(m) > 0 && !is_multiple(v, m)) {
    if (report(c, p)) {
      put_str(c, "must be a multiple of ");
      put_num(c, m);
    }
    return INVALID;
  }
  return OK;
}

static int check_string(struct ctx *c, const json_t *s, const json_t *v, const struct path *p) {
  const char *str = json_string_value(v);
  size_t len = json_string_length(v), i, points = 0, lim;
  /* jansson strings are valid UTF-8: count the bytes that start a point. */
  for (i = 0; i < len; i++)
    points += ((unsigned char)str[i] & 0xC0) != 0x80;
  if (get_count(s, "minLength", &lim) && points < lim)
    return fail(c, p, "must be at least %zu character%s long", lim, plural(lim));
  if (get_count(s, "maxLength", &lim) && points > lim)
    return fail(c, p, "must be at most %zu character%s long", lim, plural(lim));
  return OK;
}

static int check_array(struct ctx *c, const json_t *s, const json_t *v, const struct path *p,
                       int depth) {
  const json_t *prefix = json_object_get(s, "prefixItems"), *items = json_object_get(s, "items");
  const json_t *rest = items;
  const char *rest_name = "items";
  size_t size = json_array_size(v), lim, i, j, nprefix;
  int r;
  if (get_count(s, "minItems", &lim) && size < lim)
    return fail(c, p, "must have at least %zu item%s", lim, plural(lim));
  if (get_count(s, "maxItems", &lim) && size > lim)
    return fail(c, p, "must have at most %zu item%s", lim, plural(lim));
  if (json_is_true(json_object_get(s, "uniqueItems"))) {
    for (i = 0; i < size; i++) {
      for (j = i + 1; j < size; j++) {
        if (json_equal(json_array_get(v, i), json_array_get(v, j)))
          return fail(c, p, "items must be unique (%zu and %zu are equal)", i, j);
      }
    }
  }
  /* Draft 7 wrote prefixItems as an items array, the rest as additionalItems. */
  if (!json_is_array(prefix) && json_is_array(items)) {
    prefix = items;
    rest = json_object_get(s, "additionalItems");
    rest_name = "additionalItems";
  } else if (json_is_array(items)) {
    rest = NULL;
  }
  nprefix = json_array_size(prefix);
  for (i = 0; i < size; i++) {
    struct path sub = {p, NULL, 0, i};
    const json_t *is = i < nprefix ? json_array_get(prefix, i) : rest;
    if (is == NULL)
      break;
    if (json_is_false(is) && i >= nprefix)
      return fail(c, &sub, "unexpected item (%s is false)", rest_name);
    if ((r = validate(c, is, json_array_get(v, i), &sub, depth + 1)))
      return r;
  }
  return OK;
}

static int check_object(struct ctx *c, const json_t *s, const json_t *v, const struct path *p,
                        int depth) {
  const json_t *req = json_object_get(s, "required"), *props = json_object_get(s, "properties");
  const json_t *addl = json_object_get(s, "additionalProperties"), *e;
  const char *key;
  size_t size = json_object_size(v), lim, i, key_len;
  json_t *sub_schema, *val;
  int r;
  json_array_foreach(req, i, e) {
    if (!json_is_string(e) || json_object_getn(v, json_string_value(e), json_string_length(e)))
      continue;
    if (report(c, p)) {
      put_str(c, "missing required property \"");
      put(c, json_string_value(e), json_string_length(e));
      put_str(c, "\"");
    }
    return INVALID;
  }
  if (get_count(s, "minProperties", &lim) && size < lim)
    return fail(c, p, "must have at least %zu propert%s", lim, lim == 1 ? "y" : "ies");
  if (get_count(s, "maxProperties", &lim) && size > lim)
    return fail(c, p, "must have at most %zu propert%s", lim, lim == 1 ? "y" : "ies");
  if (json_is_object(props)) {
    json_object_keylen_foreach((json_t *)props, key, key_len, sub_schema) {
      struct path sub = {p, key, key_len, 0};
      val = json_object_getn(v, key, key_len);
      if (val != NULL && (r = validate(c, sub_schema, val, &sub, depth + 1)))
        return r;
    }
  }
  /* patternProperties is not evaluated, so with it we cannot tell which
   * properties are additional: skip rather than reject valid input. */
  if (addl == NULL || json_is_true(addl) ||
      json_object_size(json_object_get(s, "patternProperties")) > 0)
    return OK;
  json_object_keylen_foreach((json_t *)v, key, key_len, val) {
    struct path sub = {p, key, key_len, 0};
    if (json_is_object(props) && json_object_getn(props, key, key_len))
      continue;
    if (json_is_false(addl))
      return fail(c, &sub, "unexpected property (additionalProperties is false)");
    if ((r = validate(c, addl, val, &sub, depth + 1)))
      return r;
  }
  return OK;
}

static int check_combinators(struct ctx *c, const json_t *s, const json_t *v, const struct path *p,
                             int depth) {
  const json_t *all = json_object_get(s, "allOf"), *any = json_object_get(s, "anyOf");
  const json_t *one = json_object_get(s, "oneOf"), *neg = json_object_get(s, "not"), *e;
  int r, quiet = c->quiet;
  size_t i, matched;
  json_array_foreach(all, i, e) {
    if ((r = validate(c, e, v, p, depth + 1)))
      return r;
  }
  c->quiet = 1;
  matched = 0;
  json_array_foreach(any, i, e) {
    if ((r = validate(c, e, v, p, depth + 1)) == TOO_DEEP)
      goto out;
    if (r == OK) {
      matched = 1;
      break;
    }
  }
  if (json_array_size(any) > 0 && !matched) {
    c->quiet = quiet;
    return fail(c, p, "must match at least one schema in anyOf");
  }
  matched = 0;
  json_array_foreach(one, i, e) {
    if ((r = validate(c, e, v, p, depth + 1)) == TOO_DEEP)
      goto out;
    if (r == OK && ++matched == 2)
      break;
  }
  if (json_array_size(one) > 0 && matched != 1) {
    c->quiet = quiet;
    return fail(c, p, "must match exactly one schema in oneOf (matched %zu)", matched);
  }
  r = OK;
  if (neg != NULL) {
    r = validate(c, neg, v, p, depth + 1);
    if (r != TOO_DEEP) {
      c->quiet = quiet;
      r = r == OK ? fail(c, p, "must not match the schema in not") : OK;
    }
  }
out:
  c->quiet = quiet;
  return r;
}

static int validate(struct ctx *c, const json_t *s, const json_t *v, const struct path *p,
                    int depth) {
  const json_t *ref, *target;
  int r;
  if (depth > MAX_DEPTH)
    return too_deep(c);
  if (s == NULL || json_is_true(s))
    return OK;
  if (json_is_false(s))
    return fail(c, p, "not allowed (schema is false)");
  if (!json_is_object(s))
    return OK; /* not a schema: ignore rather than reject */
  if ((r = check_type(c, s, v, p)) || (r = check_enum_const(c, s, v, p)))
    return r;
  if (json_is_number(v))
    r = check_number(c, s, v, p);
  else if (json_is_string(v))
    r = check_string(c, s, v, p);
  else if (json_is_array(v))
    r = check_array(c, s, v, p, depth);
  else if (json_is_object(v))
    r = check_object(c, s, v, p, depth);
  if (r || (r = check_combinators(c, s, v, p, depth)))
    return r;
  /* 2020-12: $ref applies alongside its sibling keywords. */
  ref = json_object_get(s, "$ref");
  if (!json_is_string(ref))
    return OK;
  target = resolve(c->root, json_string_value(ref), json_string_length(ref));
  return target ? validate(c, target, v, p, depth + 1) : OK;
}

int schema_validate(const json_t *schema, const json_t *instance, char *err, size_t n) {
  struct ctx c;
  c.root = schema;
  c.err = err;
  c.n = err ? n : 0;
  c.len = 0;
  c.quiet = 0;
  if (c.n > 0)
    err[0] = '\0';
  if (schema == NULL || json_is_true(schema))
    return 0;
  if (instance == NULL) {
    put_str(&c, "missing value");
    return -EINVAL;
  }
  if (validate(&c, schema, instance, NULL, 0) == OK)
    return 0;
  trim_utf8(&c);
  return -EINVAL;
}

int schema_check_input_schema(const json_t *schema, char *err, size_t n) {
  const json_t *props, *req, *e;
  const char *msg = NULL;
  size_t i;
  if (!json_is_object(schema)) {
    msg = "inputSchema must be an object";
  } else if (!json_is_string(json_object_get(schema, "type")) ||
             strcmp(json_string_value(json_object_get(schema, "type")), "object") != 0) {
    msg = "inputSchema \"type\" must be \"object\"";
  } else {
    props = json_object_get(schema, "properties");
    req = json_object_get(schema, "required");
    if (props != NULL && !json_is_object(props))
      msg = "inputSchema \"properties\" must be an object";
    else if (req != NULL && !json_is_array(req))
      msg = "inputSchema \"required\" must be an array of strings";
    json_array_foreach(req, i, e) {
      if (msg == NULL && !json_is_string(e))
        msg = "inputSchema \"required\" must be an array of strings";
    }
  }
  if (err != NULL && n > 0)
    snprintf(err, n, "%s", msg ? msg : "");
  return msg ? -EINVAL : 0;
}
