/* json_write.c -- compact JSON text without jansson's dumper. */
#include "lib/json_write.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 2048

/* buf_append() without the call when there is room (most appends are a
 * few bytes). */
static inline int app(buf *out, const char *s, size_t len) {
  if (out->data != NULL && out->cap - out->len >= len) {
    memcpy(out->data + out->len, s, len);
    out->len += len;
    return 0;
  }
  return buf_append(out, s, len);
}

static int put_string(buf *out, const char *s, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  size_t i, run = 0;
  int r = buf_reserve(out, len + 2);
  if (r < 0)
    return r;
  out->data[out->len++] = '"';
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[6];
    size_t n;
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    /* Flush the plain run before i, then the escape. */
    if ((r = app(out, s + run, i - run)) < 0)
      return r;
    run = i + 1;
    esc[0] = '\\';
    n = 2;
    switch (c) {
    case '"':
      esc[1] = '"';
      break;
    case '\\':
      esc[1] = '\\';
      break;
    case '\n':
      esc[1] = 'n';
      break;
    case '\r':
      esc[1] = 'r';
      break;
    case '\t':
      esc[1] = 't';
      break;
    case '\b':
      esc[1] = 'b';
      break;
    case '\f':
      esc[1] = 'f';
      break;
    default:
      memcpy(esc + 1, "u00", 3);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      n = 6;
    }
    if ((r = app(out, esc, n)) < 0)
      return r;
  }
  if ((r = app(out, s + run, len - run)) < 0)
    return r;
  return app(out, "\"", 1);
}

static int put_integer(buf *out, json_int_t v) {
  char tmp[24], *p = tmp + sizeof(tmp);
  unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u != 0);
  if (v < 0)
    *--p = '-';
  return app(out, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* As jansson: %.17g, with ".0" when it reads as an integer and the
 * exponent without "+" or leading zeros. */
static int put_real(buf *out, double v) {
  char tmp[40];
  int n = snprintf(tmp, sizeof(tmp) - 2, "%.17g", v);
  if (n < 0 || (size_t)n >= sizeof(tmp) - 2)
    return -ERANGE;
  char *e = strchr(tmp, 'e');
  if (e != NULL) {
    /* "1e+300" -> "1e300", "1e-05" -> "1e-5", as jansson writes them. */
    char *d = e + 1, *src = e + 1;
    if (*src == '+')
      src++;
    else if (*src == '-')
      *d++ = *src++;
    while (*src == '0' && src[1] != '\0')
      src++;
    memmove(d, src, strlen(src) + 1);
    n = (int)strlen(tmp);
  } else if (strpbrk(tmp, ".n") == NULL) {
    tmp[n++] = '.';
    tmp[n++] = '0';
  }
  return app(out, tmp, (size_t)n);
}

static int put(buf *out, const json_t *v, int depth) {
  const char *key;
  json_t *item;
  size_t i, first = 1;
  int r = 0;

  if (depth > MAX_DEPTH)
    return -ELOOP;
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    if ((r = app(out, "{", 1)) < 0)
      return r;
    json_object_foreach((json_t *)v, key, item) {
      if (!first && (r = app(out, ",", 1)) < 0)
        return r;
      first = 0;
      if ((r = put_string(out, key, strlen(key))) < 0 || (r = app(out, ":", 1)) < 0 ||
          (r = put(out, item, depth + 1)) < 0)
        return r;
    }
    return app(out, "}", 1);
  case JSON_ARRAY:
    if ((r = app(out, "[", 1)) < 0)
      return r;
    json_array_foreach(v, i, item) {
      if (i > 0 && (r = app(out, ",", 1)) < 0)
        return r;
      if ((r = put(out, item, depth + 1)) < 0)
        return r;
    }
    return app(out, "]", 1);
  case JSON_STRING:
    return put_string(out, json_string_value(v), json_string_length(v));
  case JSON_INTEGER:
    return put_integer(out, json_integer_value(v));
  case JSON_REAL:
    return put_real(out, json_real_value(v));
  case JSON_TRUE:
    return app(out, "true", 4);
  case JSON_FALSE:
    return app(out, "false", 5);
  case JSON_NULL:
    return app(out, "null", 4);
  }
  return -EINVAL;
}

int json_write(buf *out, const json_t *v) {
  if (v == NULL)
    return -EINVAL;
  return put(out, v, 0);
}
