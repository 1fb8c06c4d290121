/* oa_check.c -- a JSON Schema checker for the subset the converter emits (see
 * oa_check.h). Written for one question, "would the client's ajv accept this
 * structuredContent?", so where it cannot tell it answers no. Pure. */
#define _POSIX_C_SOURCE 200809L

#include "oa_check.h"
#include "oa_chars.h"
#include "sbuf.h"

#include <math.h>
#include <regex.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

static int check(const json_t *root, const json_t *s, const json_t *v, int depth);

/* ---- types ------------------------------------------------------------------------ */

static int is_integral(const json_t *v) {
  double d;
  if (json_is_integer(v))
    return 1;
  if (!json_is_real(v))
    return 0;
  d = json_real_value(v);
  return d == floor(d) && isfinite(d); /* ajv: 1.0 is an integer (a JS number) */
}

static int type_is(const char *t, const json_t *v) {
  if (strcmp(t, "object") == 0)
    return json_is_object(v);
  if (strcmp(t, "array") == 0)
    return json_is_array(v);
  if (strcmp(t, "string") == 0)
    return json_is_string(v);
  if (strcmp(t, "number") == 0)
    return json_is_number(v);
  if (strcmp(t, "integer") == 0)
    return is_integral(v);
  if (strcmp(t, "boolean") == 0)
    return json_is_boolean(v);
  if (strcmp(t, "null") == 0)
    return json_is_null(v);
  return 0;
}

static int check_type(const json_t *t, const json_t *v) {
  size_t i;
  const json_t *x;
  if (json_is_string(t))
    return type_is(json_string_value(t), v);
  if (!json_is_array(t))
    return 0;
  json_array_foreach(t, i, x) {
    if (json_is_string(x) && type_is(json_string_value(x), v))
      return 1;
  }
  return 0;
}

/* ajv compares with deep equality where 1 and 1.0 are the same number. */
static int same(const json_t *a, const json_t *b) {
  if (json_is_number(a) && json_is_number(b))
    return json_number_value(a) == json_number_value(b);
  if (json_is_array(a) && json_is_array(b)) {
    size_t i;
    if (json_array_size(a) != json_array_size(b))
      return 0;
    for (i = 0; i < json_array_size(a); i++) {
      if (!same(json_array_get(a, i), json_array_get(b, i)))
        return 0;
    }
    return 1;
  }
  if (json_is_object(a) && json_is_object(b)) {
    const char *k;
    json_t *x;
    if (json_object_size(a) != json_object_size(b))
      return 0;
    json_object_foreach((json_t *)a, k, x) {
      const json_t *y = json_object_get(b, k);
      if (y == NULL || !same(x, y))
        return 0;
    }
    return 1;
  }
  return json_equal((json_t *)a, (json_t *)b);
}

/* ---- strings ---------------------------------------------------------------------- */

/* Code points, as ajv counts them (a surrogate pair is one). */
static size_t utf8_len(const char *s, size_t n) {
  size_t i, count = 0;
  for (i = 0; i < n; i++)
    count += ((unsigned char)s[i] & 0xc0) != 0x80;
  return count;
}

static int digits(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return 0;
  }
  return 1;
}

static int num(const char *s, size_t n) {
  int r = 0;
  size_t i;
  for (i = 0; i < n; i++)
    r = r * 10 + (s[i] - '0');
  return r;
}

/* YYYY-MM-DD with a day that exists. */
static int is_date(const char *s, size_t n) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y, m, d, leap;
  if (n != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4) || !digits(s + 5, 2) ||
      !digits(s + 8, 2))
    return 0;
  y = num(s, 4);
  m = num(s + 5, 2);
  d = num(s + 8, 2);
  leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
  return m >= 1 && m <= 12 && d >= 1 && d <= days[m - 1] + (m == 2 && leap);
}

/* HH:MM:SS[.frac](Z|+HH:MM|-HH:MM): ajv-formats wants the zone. */
static int is_time(const char *s, size_t n) {
  size_t i = 8;
  if (n < 9 || s[2] != ':' || s[5] != ':' || !digits(s, 2) || !digits(s + 3, 2) ||
      !digits(s + 6, 2) || num(s, 2) > 23 || num(s + 3, 2) > 59 || num(s + 6, 2) > 59)
    return 0;
  if (s[i] == '.') {
    size_t start = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
    if (i == start)
      return 0;
  }
  if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z'))
    return 1;
  return i + 6 == n && (s[i] == '+' || s[i] == '-') && digits(s + i + 1, 2) && s[i + 3] == ':' &&
         digits(s + i + 4, 2) && num(s + i + 1, 2) <= 23 && num(s + i + 4, 2) <= 59;
}

static int is_uuid(const char *s, size_t n) {
  size_t i;
  if (n == 45 && strncasecmp(s, "urn:uuid:", 9) == 0)
    return is_uuid(s + 9, 36);
  if (n != 36)
    return 0;
  for (i = 0; i < n; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' : oa_hexval((unsigned char)s[i]) < 0)
      return 0;
  }
  return 1;
}

static int is_ipv4(const char *s, size_t n) {
  size_t i = 0;
  int part;
  for (part = 0; part < 4; part++) {
    size_t start = i;
    if (part > 0 && (i >= n || s[i++] != '.'))
      return 0;
    start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 3)
      i++;
    if (i == start || (i - start > 1 && s[start] == '0') || num(s + start, i - start) > 255)
      return 0;
  }
  return i == n;
}

/* A host name: dot-separated labels of letters, digits and inner hyphens. */
static int is_hostname(const char *s, size_t n) {
  size_t i, label = 0;
  if (n == 0 || n > 253)
    return 0;
  for (i = 0; i < n; i++) {
    if (s[i] == '.') {
      if (label == 0 || s[i - 1] == '-')
        return 0;
      label = 0;
    } else if (oa_is_alnum((unsigned char)s[i]) || (s[i] == '-' && label > 0)) {
      if (++label > 63)
        return 0;
    } else {
      return 0;
    }
  }
  return label > 0 && s[n - 1] != '-';
}

/* Stricter than ajv-formats' email: local@host with a host name. */
static int is_email(const char *s, size_t n) {
  const char *at = memchr(s, '@', n);
  size_t i, local;
  if (at == NULL)
    return 0;
  local = (size_t)(at - s);
  if (local == 0 || local > 64 || s[0] == '.' || s[local - 1] == '.')
    return 0;
  for (i = 0; i < local; i++) {
    if (!oa_is_alnum((unsigned char)s[i]) && strchr("!#$%&'*+/=?^_`{|}~.-", s[i]) == NULL)
      return 0;
  }
  return is_hostname(at + 1, n - local - 1) && memchr(at + 1, '.', n - local - 1) != NULL;
}

/* scheme ":" then visible ASCII without the characters a URI never has. */
static int is_uri(const char *s, size_t n) {
  size_t i = 0;
  if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
    return 0;
  while (i < n && (oa_is_alnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
    i++;
  if (i == n || s[i] != ':')
    return 0;
  for (; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch <= 0x20 || ch >= 0x7f || strchr("\"<>\\^`{|}", ch) != NULL)
      return 0;
  }
  return 1;
}

static int is_base64(const char *s, size_t n) {
  size_t i, pad = 0;
  if (n % 4 != 0)
    return 0;
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '=' && i >= n - 2)
      pad++;
    else if (pad > 0 || !(oa_is_alnum(ch) || ch == '+' || ch == '/'))
      return 0;
  }
  return 1;
}

/* 1 valid, 0 invalid, -1 a format ajv-formats checks and this cannot. */
static int check_format(const char *f, const char *s, size_t n) {
  static const char *const any[] = {"binary", "password", "float", "double", NULL};
  static const char *const undecided[] = {"ipv6",
                                          "uri-reference",
                                          "iri",
                                          "iri-reference",
                                          "uri-template",
                                          "url",
                                          "json-pointer",
                                          "json-pointer-uri-fragment",
                                          "relative-json-pointer",
                                          "regex",
                                          "duration",
                                          "iso-time",
                                          "iso-date-time",
                                          NULL};
  if (strcmp(f, "date") == 0)
    return is_date(s, n);
  if (strcmp(f, "time") == 0)
    return is_time(s, n);
  if (strcmp(f, "date-time") == 0)
    return n > 11 && (s[10] == 'T' || s[10] == 't' || s[10] == ' ') && is_date(s, 10) &&
           is_time(s + 11, n - 11);
  if (strcmp(f, "uuid") == 0)
    return is_uuid(s, n);
  if (strcmp(f, "ipv4") == 0)
    return is_ipv4(s, n);
  if (strcmp(f, "hostname") == 0)
    return is_hostname(s, n);
  if (strcmp(f, "email") == 0)
    return is_email(s, n);
  if (strcmp(f, "uri") == 0)
    return is_uri(s, n);
  if (strcmp(f, "byte") == 0)
    return is_base64(s, n);
  if (oa_in_list(f, any))
    return 1;
  if (oa_in_list(f, undecided))
    return -1;
  return 1; /* a format ajv does not know: an annotation (strict: false) */
}

/* The ECMAScript pattern p as a POSIX extended expression, for the escapes that
 * mean the same thing once written out; 0 when it uses anything else. */
static int to_posix(const char *p, sbuf *out) {
  int in_bracket = 0;
  for (; *p; p++) {
    if (*p == '(' && p[1] == '?')
      return 0; /* lookaround, non-capturing groups */
    if (in_bracket && *p == '\\')
      return 0; /* escapes in a bracket are literal in POSIX */
    if (*p == '[' && !in_bracket)
      in_bracket = 1 + (p[1] == '^');
    else if (*p == ']' && in_bracket && !(in_bracket == 1 && p[-1] == '[') &&
             !(in_bracket == 2 && p[-1] == '^' && p[-2] == '['))
      in_bracket = 0;
    if (*p != '\\') {
      sb_putc(out, *p);
      continue;
    }
    p++;
    switch (*p) {
    case 'd':
      sb_puts(out, "[0-9]");
      break;
    case 'w':
      sb_puts(out, "[A-Za-z0-9_]");
      break;
    case 's':
      sb_puts(out, "[[:space:]]");
      break;
    case '\0':
      return 0;
    default:
      if (strchr(".^$|?*+()[]{}\\/-", *p) == NULL)
        return 0;
      if (*p == '/' || *p == '-')
        sb_putc(out, *p);
      else if (*p == ']' || *p == '[' || *p == '\\' || *p == '^' || *p == '-')
        return 0; /* their meaning inside a bracket differs */
      else {
        sb_putc(out, '[');
        sb_putc(out, *p);
        sb_putc(out, ']');
      }
    }
  }
  return !out->oom;
}

static int check_pattern(const char *pattern, const char *s, size_t n) {
  sbuf re = {0};
  regex_t rx;
  int ok;
  size_t i;
  if (strlen(s) != n || !to_posix(pattern, &re)) {
    sb_free(&re);
    return 0;
  }
  for (i = 0; i < n; i++) {
    if ((unsigned char)s[i] >= 0x80) { /* POSIX classes count bytes; ajv code points */
      sb_free(&re);
      return 0;
    }
  }
  if (regcomp(&rx, re.p ? re.p : "", REG_EXTENDED | REG_NOSUB) != 0) {
    sb_free(&re);
    return 0;
  }
  ok = regexec(&rx, s, 0, NULL, 0) == 0;
  regfree(&rx);
  sb_free(&re);
  return ok;
}

/* ---- keywords --------------------------------------------------------------------- */

/* "#", "#/$defs/X", "#/a/b~1c": a pointer into root (borrowed), or NULL. */
static const json_t *resolve(const json_t *root, const char *ref) {
  const json_t *cur = root;
  const char *p;
  if (ref[0] != '#')
    return NULL;
  p = ref + 1;
  while (*p == '/') {
    sbuf tok = {0};
    const char *end = strchr(p + 1, '/');
    size_t len = end ? (size_t)(end - p - 1) : strlen(p + 1), i;
    for (i = 0; i < len; i++) {
      const char *q = p + 1 + i;
      if (q[0] == '~' && i + 1 < len && (q[1] == '0' || q[1] == '1')) {
        sb_putc(&tok, q[1] == '0' ? '~' : '/');
        i++;
      } else if (q[0] == '%' && i + 2 < len && oa_hexval((unsigned char)q[1]) >= 0 &&
                 oa_hexval((unsigned char)q[2]) >= 0) {
        sb_putc(&tok, (char)(oa_hexval((unsigned char)q[1]) * 16 + oa_hexval((unsigned char)q[2])));
        i += 2;
      } else {
        sb_putc(&tok, q[0]);
      }
    }
    if (tok.oom) {
      sb_free(&tok);
      return NULL;
    }
    if (json_is_object(cur))
      cur = json_object_get(cur, tok.p ? tok.p : "");
    else if (json_is_array(cur) && tok.p != NULL && digits(tok.p, tok.len) && tok.len > 0)
      cur = json_array_get(cur, strtoul(tok.p, NULL, 10));
    else
      cur = NULL;
    sb_free(&tok);
    if (cur == NULL)
      return NULL;
    p += 1 + len;
  }
  return *p == '\0' ? cur : NULL;
}

static int check_number(const json_t *s, const json_t *v) {
  double d = json_number_value(v), lim;
  const json_t *k;
  if ((k = json_object_get(s, "minimum")) != NULL && json_is_number(k) && d < json_number_value(k))
    return 0;
  if ((k = json_object_get(s, "maximum")) != NULL && json_is_number(k) && d > json_number_value(k))
    return 0;
  if ((k = json_object_get(s, "exclusiveMinimum")) != NULL && json_is_number(k) &&
      d <= json_number_value(k))
    return 0;
  if ((k = json_object_get(s, "exclusiveMaximum")) != NULL && json_is_number(k) &&
      d >= json_number_value(k))
    return 0;
  k = json_object_get(s, "multipleOf");
  if (json_is_number(k) && (lim = json_number_value(k)) > 0) {
    if (json_is_integer(v) && json_is_integer(k))
      return json_integer_value(v) % json_integer_value(k) == 0;
    return fmod(d, lim) == 0; /* as JavaScript's % */
  }
  return 1;
}

static int check_string(const json_t *s, const json_t *v) {
  const char *str = json_string_value(v);
  size_t n = json_string_length(v), len = utf8_len(str, n);
  const json_t *k;
  if ((k = json_object_get(s, "minLength")) != NULL && json_is_integer(k) &&
      (json_int_t)len < json_integer_value(k))
    return 0;
  if ((k = json_object_get(s, "maxLength")) != NULL && json_is_integer(k) &&
      (json_int_t)len > json_integer_value(k))
    return 0;
  if (json_is_string(k = json_object_get(s, "pattern")) &&
      !check_pattern(json_string_value(k), str, n))
    return 0;
  if (json_is_string(k = json_object_get(s, "format")) &&
      check_format(json_string_value(k), str, n) != 1)
    return 0;
  return 1;
}

static int check_array(const json_t *root, const json_t *s, const json_t *v, int depth) {
  const json_t *k, *items = json_object_get(s, "items"),
                   *prefix = json_object_get(s, "prefixItems");
  size_t i, j, n = json_array_size(v), from = 0;
  if ((k = json_object_get(s, "minItems")) != NULL && json_is_integer(k) &&
      (json_int_t)n < json_integer_value(k))
    return 0;
  if ((k = json_object_get(s, "maxItems")) != NULL && json_is_integer(k) &&
      (json_int_t)n > json_integer_value(k))
    return 0;
  if (json_is_array(prefix)) {
    for (i = 0; i < n && i < json_array_size(prefix); i++) {
      if (!check(root, json_array_get(prefix, i), json_array_get(v, i), depth + 1))
        return 0;
    }
    from = json_array_size(prefix);
  }
  if (json_is_array(items))
    return 0; /* the draft-07 tuple form: not what the converter emits */
  if (items != NULL) {
    for (i = from; i < n; i++) {
      if (!check(root, items, json_array_get(v, i), depth + 1))
        return 0;
    }
  }
  if (json_is_true(json_object_get(s, "uniqueItems"))) {
    for (i = 0; i < n; i++) {
      for (j = i + 1; j < n; j++) {
        if (same(json_array_get(v, i), json_array_get(v, j)))
          return 0;
      }
    }
  }
  if ((k = json_object_get(s, "contains")) != NULL) {
    int found = 0;
    for (i = 0; i < n && !found; i++)
      found = check(root, k, json_array_get(v, i), depth + 1);
    if (!found)
      return 0;
  }
  return 1;
}

static int check_object(const json_t *root, const json_t *s, const json_t *v, int depth) {
  const json_t *props = json_object_get(s, "properties"), *addl, *pp, *k, *x;
  const char *key;
  json_t *val;
  size_t i;
  json_array_foreach(json_object_get(s, "required"), i, x) {
    if (json_is_string(x) && json_object_get(v, json_string_value(x)) == NULL)
      return 0;
  }
  if ((k = json_object_get(s, "minProperties")) != NULL && json_is_integer(k) &&
      (json_int_t)json_object_size(v) < json_integer_value(k))
    return 0;
  if ((k = json_object_get(s, "maxProperties")) != NULL && json_is_integer(k) &&
      (json_int_t)json_object_size(v) > json_integer_value(k))
    return 0;
  pp = json_object_get(s, "patternProperties");
  if (pp != NULL && json_object_size(pp) > 0)
    return 0; /* rare in documents; not worth a second regex translation here */
  addl = json_object_get(s, "additionalProperties");
  json_object_foreach((json_t *)v, key, val) {
    const json_t *ps = json_object_get(props, key);
    if (ps != NULL) {
      if (!check(root, ps, val, depth + 1))
        return 0;
    } else if (addl != NULL && !check(root, addl, val, depth + 1)) {
      return 0;
    }
  }
  if ((k = json_object_get(s, "propertyNames")) != NULL) {
    json_object_foreach((json_t *)v, key, val) {
      json_t *name = json_string(key);
      int ok = name != NULL && check(root, k, name, depth + 1);
      json_decref(name);
      if (!ok)
        return 0;
    }
  }
  if (json_is_object(k = json_object_get(s, "dependentRequired"))) {
    json_object_foreach((json_t *)k, key, val) {
      if (json_object_get(v, key) == NULL)
        continue;
      json_array_foreach(val, i, x) {
        if (json_is_string(x) && json_object_get(v, json_string_value(x)) == NULL)
          return 0;
      }
    }
  }
  return 1;
}

static int check(const json_t *root, const json_t *s, const json_t *v, int depth) {
  const json_t *k, *x;
  size_t i;
  if (json_is_true(s))
    return 1;
  if (!json_is_object(s) || depth > MAX_DEPTH)
    return 0;
  if ((k = json_object_get(s, "$ref")) != NULL) {
    const json_t *target = json_is_string(k) ? resolve(root, json_string_value(k)) : NULL;
    if (target == NULL || !check(root, target, v, depth + 1))
      return 0;
  }
  if ((k = json_object_get(s, "type")) != NULL && !check_type(k, v))
    return 0;
  if ((k = json_object_get(s, "const")) != NULL && !same(k, v))
    return 0;
  if ((k = json_object_get(s, "enum")) != NULL) {
    int found = 0;
    json_array_foreach(k, i, x) found |= same(x, v);
    if (!found)
      return 0;
  }
  json_array_foreach(json_object_get(s, "allOf"), i, x) {
    if (!check(root, x, v, depth + 1))
      return 0;
  }
  if ((k = json_object_get(s, "anyOf")) != NULL) {
    int found = 0;
    json_array_foreach(k, i, x) {
      if (!found)
        found = check(root, x, v, depth + 1);
    }
    if (!found)
      return 0;
  }
  if ((k = json_object_get(s, "oneOf")) != NULL) {
    int count = 0;
    json_array_foreach(k, i, x) count += check(root, x, v, depth + 1);
    if (count != 1)
      return 0;
  }
  if ((k = json_object_get(s, "not")) != NULL && check(root, k, v, depth + 1))
    return 0;
  if ((k = json_object_get(s, "if")) != NULL) {
    const json_t *branch = json_object_get(s, check(root, k, v, depth + 1) ? "then" : "else");
    if (branch != NULL && !check(root, branch, v, depth + 1))
      return 0;
  }
  if (json_is_number(v))
    return check_number(s, v);
  if (json_is_string(v))
    return check_string(s, v);
  if (json_is_array(v))
    return check_array(root, s, v, depth);
  if (json_is_object(v))
    return check_object(root, s, v, depth);
  return 1;
}

int oa_check(const json_t *schema, const json_t *value) {
  if (schema == NULL || value == NULL)
    return 0;
  return check(schema, schema, value, 0);
}
