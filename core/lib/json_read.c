/* json_read.c -- a JSON parser that builds jansson values in one pass over
 * the buffer, with an explicit stack instead of recursion. */
#include "lib/json_read.h"
#include "lib/utf8.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jansson's JSON_PARSER_MAX_DEPTH. It counts every value, so a scalar
 * inside 2048 arrays is one level too deep, and so is it here. */
#define MAX_DEPTH     2048
#define INLINE_STACK  32
#define INLINE_STRING 256
#define INLINE_NUMBER 64

#if defined(__GNUC__)
#define COLD        __attribute__((cold, noinline))
#define NOINLINE    __attribute__((noinline))
#define LIKELY(x)   __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define COLD
#define NOINLINE
#define LIKELY(x)   (x)
#define UNLIKELY(x) (x)
#endif

/* Decoded text of a string with escapes; most fit the inline part. */
typedef struct {
  char *data;
  size_t cap;
  char small[INLINE_STRING];
} scratch;

typedef struct {
  const char *start, *end;
  json_read_error *err;
  scratch key, val; /* a key stays needed while its (scalar) value is read */
} reader;

/* ---- errors (cold) ------------------------------------------------------ */

/* Fills *err for the byte at `at` and returns code. Line and column are
 * counted here, only on failure, so the parser never tracks them. */
COLD static int fail_code(reader *r, const char *at, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_code(reader *r, const char *at, int code, const char *fmt, ...) {
  json_read_error *e = r->err;
  const char *p;
  va_list ap;
  if (e == NULL)
    return code;
  va_start(ap, fmt);
  vsnprintf(e->text, sizeof(e->text), fmt, ap);
  va_end(ap);
  e->position = (size_t)(at - r->start);
  e->over = 0;
  e->line = 1;
  e->column = 1;
  for (p = r->start; p < at; p++) {
    if (*p == '\n') {
      e->line++;
      e->column = 1;
    } else if (((unsigned char)*p & 0xC0) != 0x80) {
      e->column++; /* continuation bytes belong to the character before */
    }
  }
  return code;
}

#define fail(r, at, ...) fail_code((r), (at), -EINVAL, __VA_ARGS__)

/* "'x'" for a printable character, "byte 0xNN" otherwise. */
static const char *describe(char *tmp, size_t n, const reader *r, const char *at) {
  unsigned char c;
  if (at >= r->end)
    return "the end of input";
  c = (unsigned char)*at;
  if (c > 0x20 && c < 0x7F)
    snprintf(tmp, n, "'%c'", c);
  else
    snprintf(tmp, n, "byte 0x%02X", c);
  return tmp;
}

/* "expected <what>, found <the byte at at>", or the end of input. */
COLD static int fail_expected(reader *r, const char *at, const char *what) {
  char tmp[16];
  if (at >= r->end)
    return fail(r, at, "unexpected end of input (expected %s)", what);
  return fail(r, at, "expected %s, found %s", what, describe(tmp, sizeof(tmp), r, at));
}

COLD static int fail_nomem(reader *r, const char *at) {
  return fail_code(r, at, -ENOMEM, "out of memory");
}

/* ---- lexing helpers ------------------------------------------------------ */

static inline const char *skip_ws(const char *p, const char *end) {
  /* Compact JSON has none: one comparison decides the common case. */
  while (p < end && (unsigned char)*p <= ' ' &&
         (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    p++;
  return p;
}

static inline int is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* Printable ASCII that stands for itself inside a string. */
static inline int is_plain(unsigned char c) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* The high bit set in each of the 8 bytes that is not plain: below 0x20,
 * '"', '\\' or 0x80 and up (x - 0x20 borrows below 0x20, x has the bit from
 * 0x80; the others are the classic zero-byte test). A borrow can flag a
 * byte above a flagged one, never below, so the lowest flag is exact. */
static inline uint64_t word_special(uint64_t x) {
  const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
  uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
  return ((x - ones * 0x20) | x | ((q - ones) & ~q) | ((b - ones) & ~b)) & high;
}

/* Skips plain ASCII, 8 bytes at a time where that is cheap; stops at the
 * first byte that is not plain, or end. */
static inline const char *skip_ascii(const char *p, const char *end) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  while (end - p >= 8) {
    uint64_t x, m;
    memcpy(&x, p, 8);
    if ((m = word_special(x)) != 0)
      return p + (__builtin_ctzll(m) >> 3);
    p += 8;
  }
#endif
  while (p < end && is_plain((unsigned char)*p))
    p++;
  return p;
}

/* skip_plain() past UTF-8, from its first lead byte at p. */
NOINLINE static const char *skip_plain_utf8(const char *p, const char *end) {
  for (;;) {
    size_t n = utf8_len((const unsigned char *)p, (const unsigned char *)end);
    if (n == 0)
      return p;
    p = skip_ascii(p + n, end);
    if (p == end || (unsigned char)*p < 0x80)
      return p;
  }
}

/* Skips string content that needs no decoding (plain ASCII and valid
 * UTF-8); stops at '"', '\\', a control character, invalid UTF-8 or end. */
static inline const char *skip_plain(const char *p, const char *end) {
  p = skip_ascii(p, end);
  if (p < end && (unsigned char)*p >= 0x80)
    return skip_plain_utf8(p, end);
  return p;
}

/* Makes room for need bytes in s. */
static int scratch_reserve(scratch *s, size_t need) {
  size_t cap;
  char *d;
  if (need <= s->cap)
    return 0;
  cap = s->cap * 2 > need ? s->cap * 2 : need;
  d = s->data == s->small ? malloc(cap) : realloc(s->data, cap);
  if (d == NULL)
    return -ENOMEM;
  if (s->data == s->small)
    memcpy(d, s->small, sizeof(s->small));
  s->data = d;
  s->cap = cap;
  return 0;
}

static int hex4(const char *p, const char *end, unsigned *out) {
  unsigned v = 0;
  int i;
  for (i = 0; i < 4; i++) {
    char c;
    if (p + i >= end)
      return -1;
    c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (unsigned)(c - 'A' + 10);
    else
      return -1;
  }
  *out = v;
  return 0;
}

/* Why skip_plain() stopped at p inside a string. */
COLD static int fail_string(reader *r, const char *p) {
  unsigned char c;
  if (p >= r->end)
    return fail(r, p, "unterminated string");
  c = (unsigned char)*p;
  if (c < 0x20)
    return fail(r, p, "unescaped control character 0x%02X in string", c);
  return fail(r, p, "invalid UTF-8 in string (byte 0x%02X)", c);
}

/* Decodes the escape at p (the backslash) into s at *n; moves p past it. */
static int read_escape(reader *r, const char **pp, scratch *s, size_t *n) {
  const char *p = *pp, *end = r->end;
  unsigned cp, lo;
  char *d = s->data + *n; /* the caller reserved 4 bytes */
  if (p + 1 >= end)
    return fail(r, end, "unterminated string");
  switch (p[1]) {
  case '"':
  case '\\':
  case '/':
    *d = p[1];
    break;
  case 'b':
    *d = '\b';
    break;
  case 'f':
    *d = '\f';
    break;
  case 'n':
    *d = '\n';
    break;
  case 'r':
    *d = '\r';
    break;
  case 't':
    *d = '\t';
    break;
  case 'u':
    if (hex4(p + 2, end, &cp) < 0)
      return fail(r, p, "invalid \\u escape (expected 4 hex digits)");
    p += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      /* A high surrogate needs a low one right after it. */
      if (end - p < 2 || p[0] != '\\' || p[1] != 'u')
        return fail(r, p - 6, "unpaired surrogate \\u%04X in string", cp);
      if (hex4(p + 2, end, &lo) < 0)
        return fail(r, p, "invalid \\u escape (expected 4 hex digits)");
      if (lo < 0xDC00 || lo > 0xDFFF)
        return fail(r, p - 6, "unpaired surrogate \\u%04X in string", cp);
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      p += 6;
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      return fail(r, p - 6, "unpaired surrogate \\u%04X in string", cp);
    } else if (cp == 0) {
      return fail(r, p - 6, "\\u0000 is not allowed in a string");
    }
    if (cp < 0x80) {
      d[0] = (char)cp;
      *n += 1;
    } else if (cp < 0x800) {
      d[0] = (char)(0xC0 | (cp >> 6));
      d[1] = (char)(0x80 | (cp & 0x3F));
      *n += 2;
    } else if (cp < 0x10000) {
      d[0] = (char)(0xE0 | (cp >> 12));
      d[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
      d[2] = (char)(0x80 | (cp & 0x3F));
      *n += 3;
    } else {
      d[0] = (char)(0xF0 | (cp >> 18));
      d[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
      d[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
      d[3] = (char)(0x80 | (cp & 0x3F));
      *n += 4;
    }
    *pp = p;
    return 0;
  default:
    if (p[1] >= 0x20 && p[1] < 0x7F)
      return fail(r, p, "invalid escape '\\%c' in string", p[1]);
    return fail(r, p, "invalid escape in string");
  }
  *n += 1;
  *pp = p + 2;
  return 0;
}

/* read_string() from the first byte skip_plain() stopped at (p), which is
 * not the closing quote: decodes into s. */
static int read_string_escaped(reader *r, const char **pp, scratch *s, const char **out,
                               size_t *out_len, const char *run, const char *p) {
  const char *end = r->end;
  size_t n = 0;
  int rc;

  for (;;) {
    if (p >= end || *p != '\\')
      return fail_string(r, p);
    /* The run before the escape, and up to 4 bytes for the escape. */
    if (scratch_reserve(s, n + (size_t)(p - run) + 4) < 0)
      return fail_nomem(r, p);
    memcpy(s->data + n, run, (size_t)(p - run));
    n += (size_t)(p - run);
    if ((rc = read_escape(r, &p, s, &n)) < 0)
      return rc;
    run = p;
    p = skip_plain(p, end);
    if (p < end && *p == '"')
      break;
  }
  if (scratch_reserve(s, n + (size_t)(p - run)) < 0)
    return fail_nomem(r, p);
  memcpy(s->data + n, run, (size_t)(p - run));
  *out = s->data;
  *out_len = n + (size_t)(p - run);
  *pp = p + 1;
  return 0;
}

/* Reads the string whose opening quote is at *pp and moves *pp past the
 * closing one. *out is valid until the next string read into s: it points
 * into the input when there is nothing to decode, else into s. */
static inline int read_string(reader *r, const char **pp, scratch *s, const char **out,
                              size_t *out_len) {
  const char *run = *pp + 1, *p = skip_plain(run, r->end);
  if (LIKELY(p < r->end && *p == '"')) {
    *out = run;
    *out_len = (size_t)(p - run);
    *pp = p + 1;
    return 0;
  }
  return read_string_escaped(r, pp, s, out, out_len, run, p);
}

/* ---- numbers ------------------------------------------------------------ */

/* strtod() on a NUL-terminated copy (the input need not be terminated).
 * strtod() reads the decimal point of the process's locale: mcpd never
 * changes it, but a plugin could, so the '.' is swapped for it, as jansson
 * does, rather than keeping a locale object in a global. */
static int parse_real(reader *r, const char *s, size_t len, double *out) {
  char small[INLINE_NUMBER], *copy = small, *dot;
  const char *point = localeconv()->decimal_point;
  if (len >= sizeof(small) && (copy = malloc(len + 1)) == NULL)
    return fail_nomem(r, s);
  memcpy(copy, s, len);
  copy[len] = '\0';
  if (point != NULL && point[0] != '.' && point[0] != '\0' && point[1] == '\0' &&
      (dot = memchr(copy, '.', len)) != NULL)
    *dot = point[0];
  *out = strtod(copy, NULL);
  if (copy != small)
    free(copy);
  /* Overflow is an error as in jansson; underflow gives 0 or a subnormal,
   * which jansson accepts too. */
  if (isinf(*out))
    return fail(r, s, "real number out of range");
  return 0;
}

/* Reads the number at *pp (JSON grammar, nothing more) into *out. */
static int read_number(reader *r, const char **pp, json_t **out) {
  const char *s = *pp, *p = s, *end = r->end, *digits;
  int neg = 0, real = 0;

  if (*p == '-') {
    neg = 1;
    p++;
  }
  digits = p;
  if (p >= end || !is_digit(*p))
    return fail_expected(r, p, "a digit");
  if (*p == '0') {
    p++;
    if (p < end && is_digit(*p))
      return fail(r, s, "invalid number (leading zero)");
  } else {
    while (p < end && is_digit(*p))
      p++;
  }
  if (p < end && *p == '.') {
    p++;
    if (p >= end || !is_digit(*p))
      return fail_expected(r, p, "a digit after '.'");
    while (p < end && is_digit(*p))
      p++;
    real = 1;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      p++;
    if (p >= end || !is_digit(*p))
      return fail_expected(r, p, "a digit in the exponent");
    while (p < end && is_digit(*p))
      p++;
    real = 1;
  }

  if (real) {
    double d = 0;
    int rc = parse_real(r, s, (size_t)(p - s), &d);
    if (rc < 0)
      return rc;
    *out = json_real(d);
  } else {
    /* No leading zeros, so 20 digits are always at least 10^19 > 2^63;
     * up to 19 fit an unsigned long long without checks. */
    const char *q;
    unsigned long long u = 0;
    json_int_t v;
    if (p - digits > 19)
      return fail(r, s, "integer out of range");
    for (q = digits; q < p; q++)
      u = u * 10 + (unsigned)(*q - '0');
    if (!neg && u > (unsigned long long)LLONG_MAX)
      return fail(r, s, "integer out of range");
    if (neg && u > (unsigned long long)LLONG_MAX + 1)
      return fail(r, s, "integer out of range");
    if (!neg)
      v = (json_int_t)u;
    else if (u == (unsigned long long)LLONG_MAX + 1)
      v = LLONG_MIN;
    else
      v = -(json_int_t)u;
    *out = json_integer(v);
  }
  *pp = p;
  if (*out == NULL)
    return fail_nomem(r, s);
  return 0;
}

/* ---- the parser ---------------------------------------------------------- */

/* Hands v (a new reference) to its parent: the key's object, the array,
 * or nothing for the root. */
static inline int attach(json_t *parent, int in_object, const char *key, size_t key_len,
                         json_t *v) {
  if (in_object)
    return json_object_setn_new_nocheck(parent, key, key_len, v);
  return json_array_append_new(parent, v);
}

int json_read(const char *text, size_t len, json_t **out, json_read_error *err) {
  return json_read_limited(text, len, NULL, out, err);
}

int json_read_limited(const char *text, size_t len, const json_read_limits *lim, json_t **out,
                      json_read_error *err) {
  reader r;
  /* Counted down; SIZE_MAX stands for no bound. */
  size_t values_left = lim != NULL && lim->max_values > 0 ? lim->max_values : SIZE_MAX;
  size_t elements_left = lim != NULL && lim->max_elements > 0 ? lim->max_elements : SIZE_MAX;
  json_t *small_stack[INLINE_STACK], **stack = small_stack;
  json_t *root = NULL, *top = NULL, *v = NULL;
  size_t depth = 0; /* open containers */
  int in_object = 0, rc = 0;
  const char *p, *end, *key = NULL, *at;
  size_t key_len = 0;

  if (out == NULL || (text == NULL && len > 0))
    return -EINVAL;
  *out = NULL;
  if (text == NULL)
    text = "";
  r.start = text;
  r.end = end = text + len;
  r.err = err;
  r.key.data = r.key.small;
  r.key.cap = sizeof(r.key.small);
  r.val.data = r.val.small;
  r.val.cap = sizeof(r.val.small);

  p = skip_ws(text, end);
  if (p >= end || (*p != '{' && *p != '[')) {
    rc = fail_expected(&r, p, "'{' or '[' at the top level");
    goto done;
  }

value:
  /* p is at a value's first byte; key names it when top is an object. */
  if (UNLIKELY(depth >= MAX_DEPTH)) {
    rc = fail(&r, p, "nesting deeper than %d levels", MAX_DEPTH);
    goto done;
  }
  if (UNLIKELY(values_left-- == 0)) {
    rc = fail_code(&r, p, -E2BIG, "more than %zu values", lim->max_values);
    if (err != NULL)
      err->over = JSON_READ_OVER_VALUES;
    goto done;
  }
  if (depth == 1 && !in_object && UNLIKELY(elements_left-- == 0)) {
    rc = fail_code(&r, p, -E2BIG, "more than %zu elements in the top-level array",
                   lim->max_elements);
    if (err != NULL)
      err->over = JSON_READ_OVER_ELEMENTS;
    goto done;
  }
  at = p;
  switch (*p) {
  case '{':
  case '[':
    v = *p == '{' ? json_object() : json_array();
    if (v == NULL) {
      rc = fail_nomem(&r, at);
      goto done;
    }
    /* Attached before it is filled, so the key is free for reuse. */
    if (depth == 0)
      root = v;
    else if (attach(top, in_object, key, key_len, v) < 0) {
      rc = fail_nomem(&r, at);
      goto done;
    }
    if (depth == INLINE_STACK && stack == small_stack) {
      if ((stack = malloc(MAX_DEPTH * sizeof(*stack))) == NULL) {
        stack = small_stack;
        rc = fail_nomem(&r, at);
        goto done;
      }
      memcpy(stack, small_stack, sizeof(small_stack));
    }
    stack[depth++] = top = v;
    in_object = *p == '{';
    p = skip_ws(p + 1, end);
    if (p < end && *p == (in_object ? '}' : ']')) {
      p++;
      goto close;
    }
    if (in_object)
      goto member;
    if (p >= end) {
      rc = fail_expected(&r, p, "a value or ']'");
      goto done;
    }
    goto value;
  case '"': {
    const char *s;
    size_t n;
    if ((rc = read_string(&r, &p, &r.val, &s, &n)) < 0)
      goto done;
    v = json_stringn_nocheck(s, n);
    break;
  }
  case '-':
  case '0':
  case '1':
  case '2':
  case '3':
  case '4':
  case '5':
  case '6':
  case '7':
  case '8':
  case '9':
    if ((rc = read_number(&r, &p, &v)) < 0)
      goto done;
    break;
  case 't':
    if (end - p < 4 || memcmp(p, "true", 4) != 0)
      goto bad_literal;
    v = json_true();
    p += 4;
    break;
  case 'f':
    if (end - p < 5 || memcmp(p, "false", 5) != 0)
      goto bad_literal;
    v = json_false();
    p += 5;
    break;
  case 'n':
    if (end - p < 4 || memcmp(p, "null", 4) != 0)
      goto bad_literal;
    v = json_null();
    p += 4;
    break;
  default:
    rc = fail_expected(&r, p, "a value");
    goto done;
  }
  if (v == NULL || attach(top, in_object, key, key_len, v) < 0) {
    rc = fail_nomem(&r, at);
    goto done;
  }

next:
  /* After a value inside top: ',' and the next one, or top's end. */
  p = skip_ws(p, end);
  if (p < end && *p == ',') {
    p = skip_ws(p + 1, end);
    if (in_object)
      goto key;
    if (p >= end) {
      rc = fail_expected(&r, p, "a value");
      goto done;
    }
    goto value;
  }
  if (p < end && *p == (in_object ? '}' : ']')) {
    p++;
    goto close;
  }
  rc = fail_expected(
      &r, p, in_object ? "',' or '}' after an object member" : "',' or ']' after an array element");
  goto done;

member:
  /* After '{' (the empty case is handled): a key must come. */
  if (p >= end || *p != '"') {
    rc = fail_expected(&r, p, "a string key or '}'");
    goto done;
  }
  goto key_string;

key:
  if (p >= end || *p != '"') {
    rc = fail_expected(&r, p, "a string key");
    goto done;
  }
key_string:
  if ((rc = read_string(&r, &p, &r.key, &key, &key_len)) < 0)
    goto done;
  p = skip_ws(p, end);
  if (p >= end || *p != ':') {
    rc = fail_expected(&r, p, "':' after an object key");
    goto done;
  }
  p = skip_ws(p + 1, end);
  if (p >= end) {
    rc = fail_expected(&r, p, "a value");
    goto done;
  }
  goto value;

close:
  /* p is past the closing bracket of stack[depth - 1]. */
  if (--depth > 0) {
    top = stack[depth - 1];
    in_object = json_is_object(top);
    goto next;
  }
  p = skip_ws(p, end);
  if (p < end) {
    rc = fail(&r, p, "trailing characters after the JSON value");
    goto done;
  }
  *out = root;
  root = NULL;
  goto done;

bad_literal:
  rc = fail(&r, p, "invalid literal (expected true, false or null)");

done:
  json_decref(root);
  if (stack != small_stack)
    free(stack);
  if (r.key.data != r.key.small)
    free(r.key.data);
  if (r.val.data != r.val.small)
    free(r.val.data);
  return rc;
}
