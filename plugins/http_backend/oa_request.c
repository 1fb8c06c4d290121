/* oa_request.c -- MCP arguments to an HTTP request (see oa_request.h; the
 * response side is oa_result.c). Pure: no I/O, no global state. */
#define _POSIX_C_SOURCE 200809L

#include "oa_request.h"
#include "oa_err.h"
#include "oa_chars.h"
#include "sbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- encodings ---------------------------------------------------------------- */

/* RFC 6265 cookie-octet, minus '%' (which we use for escapes). */
static int is_cookie_octet(int ch) {
  return ch == 0x21 || (ch >= 0x23 && ch <= 0x2b && ch != 0x25) || (ch >= 0x2d && ch <= 0x3a) ||
         (ch >= 0x3c && ch <= 0x5b) || (ch >= 0x5d && ch <= 0x7e);
}

/* The characters besides the unreserved ones that a value keeps (enum oa_keep). */
#define KEEP_PATH_RESERVED  "!$&'()*+,;=:@/"
#define KEEP_QUERY_RESERVED "!$'()*,;:@/?"

/* Percent-encodes n bytes of s: RFC 3986 unreserved characters (and those in
 * keep, NULL for none) are kept; with form, a space is '+'
 * (application/x-www-form-urlencoded). */
static void put_pct_keep(sbuf *b, const char *s, size_t n, int form, const char *keep) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (oa_is_unreserved(ch) || (keep != NULL && ch != 0 && strchr(keep, ch) != NULL))
      sb_putc(b, (char)ch);
    else if (form && ch == ' ')
      sb_putc(b, '+');
    else
      sb_printf(b, "%%%02X", ch);
  }
}

static void put_pct(sbuf *b, const char *s, size_t n, int form) {
  put_pct_keep(b, s, n, form, NULL);
}

static void put_pct_str(sbuf *b, const char *s, int form) {
  put_pct(b, s, strlen(s), form);
}

/* Cookie values: cookie-octets kept, other bytes (and '%') as %XX. */
static void put_cookie_enc(sbuf *b, const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (is_cookie_octet(ch))
      sb_putc(b, (char)ch);
    else
      sb_printf(b, "%%%02X", ch);
  }
}

/* Shortest text that reads back as the same double; integral values within
 * 2^53 without a fraction ("2", not "2.0"). */
static void put_real(sbuf *b, double d) {
  char tmp[40];
  int prec;
  if (d != d || d - d != 0) { /* NaN, infinities: jansson does not make them */
    sb_puts(b, "null");
    return;
  }
  if (d > -9007199254740992.0 && d < 9007199254740992.0 && (double)(long long)d == d) {
    snprintf(tmp, sizeof(tmp), "%lld", (long long)d);
  } else {
    for (prec = 15; prec < 17; prec++) {
      snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
      if (strtod(tmp, NULL) == d)
        break;
    }
    if (prec == 17)
      snprintf(tmp, sizeof(tmp), "%.17g", d);
  }
  sb_puts(b, tmp);
}

static void put_json_str(sbuf *b, const char *s, size_t n) {
  size_t i;
  sb_putc(b, '"');
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    switch (ch) {
    case '"':
      sb_puts(b, "\\\"");
      break;
    case '\\':
      sb_puts(b, "\\\\");
      break;
    case '\n':
      sb_puts(b, "\\n");
      break;
    case '\r':
      sb_puts(b, "\\r");
      break;
    case '\t':
      sb_puts(b, "\\t");
      break;
    default:
      if (ch < 0x20 || ch == 0x7f)
        sb_printf(b, "\\u%04x", ch);
      else
        sb_putc(b, (char)ch);
    }
  }
  sb_putc(b, '"');
}

/* Compact JSON text of v. Unlike json_dumps(), reals are written in their
 * shortest form (0.1, not 0.10000000000000001). */
static void put_json(sbuf *b, const json_t *v) {
  const char *k;
  size_t klen, i;
  json_t *x;
  int first = 1;
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    sb_putc(b, '{');
    json_object_keylen_foreach((json_t *)v, k, klen, x) {
      if (!first)
        sb_putc(b, ',');
      first = 0;
      put_json_str(b, k, klen);
      sb_putc(b, ':');
      put_json(b, x);
    }
    sb_putc(b, '}');
    break;
  case JSON_ARRAY:
    sb_putc(b, '[');
    json_array_foreach(v, i, x) {
      if (i > 0)
        sb_putc(b, ',');
      put_json(b, x);
    }
    sb_putc(b, ']');
    break;
  case JSON_STRING:
    put_json_str(b, json_string_value(v), json_string_length(v));
    break;
  case JSON_INTEGER:
    sb_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    break;
  case JSON_REAL:
    put_real(b, json_real_value(v));
    break;
  case JSON_TRUE:
    sb_puts(b, "true");
    break;
  case JSON_FALSE:
    sb_puts(b, "false");
    break;
  default:
    sb_puts(b, "null");
  }
}

/* The text of a value in a parameter: a string as is, numbers as JSON,
 * true/false, null as "", arrays and objects as compact JSON. */
static void put_text(sbuf *b, const json_t *v) {
  if (json_is_string(v))
    sb_putn(b, json_string_value(v), json_string_length(v));
  else if (!json_is_null(v))
    put_json(b, v);
}

/* ENC_SLASH, ENC_PATH_RES and ENC_QUERY_RES are ENC_URL keeping what
 * enum oa_keep says. */
enum enc { ENC_RAW, ENC_URL, ENC_FORM, ENC_COOKIE, ENC_SLASH, ENC_PATH_RES, ENC_QUERY_RES };

static const char *enc_keep(enum enc e) {
  return e == ENC_SLASH       ? "/"
         : e == ENC_PATH_RES  ? KEEP_PATH_RESERVED
         : e == ENC_QUERY_RES ? KEEP_QUERY_RESERVED
                              : NULL;
}

/* put_text(), then encoded. */
static void put_value(sbuf *b, const json_t *v, enum enc e) {
  sbuf t = {0};
  put_text(&t, v);
  if (e == ENC_RAW)
    sb_cat(b, &t);
  else if (e == ENC_COOKIE)
    put_cookie_enc(b, t.p ? t.p : "", t.len);
  else
    put_pct_keep(b, t.p ? t.p : "", t.len, e == ENC_FORM, enc_keep(e));
  b->oom |= t.oom;
  sb_free(&t);
}

/* The key of an object member, encoded. */
static void put_key(sbuf *b, const char *k, size_t n, enum enc e) {
  if (e == ENC_RAW)
    sb_putn(b, k, n);
  else if (e == ENC_COOKIE)
    put_cookie_enc(b, k, n);
  else
    put_pct(b, k, n, e == ENC_FORM);
}

/* JSON text of v, encoded (for "content" parameters). */
static void put_json_enc(sbuf *b, const json_t *v, enum enc e) {
  sbuf t = {0};
  put_json(&t, v);
  if (e == ENC_RAW)
    sb_cat(b, &t);
  else
    put_key(b, t.p ? t.p : "", t.len, e);
  b->oom |= t.oom;
  sb_free(&t);
}

/* Array items or object members of v, each encoded, joined by sep; for an
 * object "k<kv>v" per member (kv "=" for exploded, else the sep). */
static void put_joined(sbuf *b, const json_t *v, const char *sep, const char *kv, enum enc e) {
  const char *k;
  size_t klen, i;
  json_t *x;
  int first = 1;
  if (json_is_array(v)) {
    json_array_foreach(v, i, x) {
      if (i > 0)
        sb_puts(b, sep);
      put_value(b, x, e);
    }
    return;
  }
  json_object_keylen_foreach((json_t *)v, k, klen, x) {
    if (!first)
      sb_puts(b, sep);
    first = 0;
    put_key(b, k, klen, e);
    sb_puts(b, kv);
    put_value(b, x, e);
  }
}

static int is_container(const json_t *v) {
  return json_is_array(v) || json_is_object(v);
}

/* ---- the request ------------------------------------------------------------------ */

/* A path value per style: simple "a,b", label ".a.b", matrix ";x=a;x=b". */
static void path_value(sbuf *b, const oa_param *p, const json_t *v) {
  enum enc e = p->keep == OA_KEEP_SLASH      ? ENC_SLASH
               : p->keep == OA_KEEP_RESERVED ? ENC_PATH_RES
                                             : ENC_URL;
  int matrix = p->style == OA_STYLE_MATRIX, label = p->style == OA_STYLE_LABEL;
  const char *lead = label ? "." : matrix ? ";" : "";
  const char *sep = !p->explode ? "," : label ? "." : matrix ? ";" : ",";
  size_t i;
  json_t *x;
  if (p->json || !is_container(v)) {
    sb_puts(b, lead);
    if (matrix) {
      put_pct_str(b, p->name, 0);
      if (!(json_is_string(v) && json_string_length(v) == 0))
        sb_putc(b, '=');
    }
    if (p->json)
      put_json_enc(b, v, ENC_URL);
    else
      put_value(b, v, e);
    return;
  }
  if (matrix && p->explode && json_is_array(v)) {
    json_array_foreach(v, i, x) {
      sb_putc(b, ';');
      put_pct_str(b, p->name, 0);
      sb_putc(b, '=');
      put_value(b, x, e);
    }
    return;
  }
  sb_puts(b, lead);
  if (matrix && !p->explode) {
    put_pct_str(b, p->name, 0);
    sb_putc(b, '=');
  }
  put_joined(b, v, sep, p->explode ? "=" : ",", e);
}

/* Starts a query pair: '&' unless first, then the encoded name and '='. */
static void qname(sbuf *q, const char *name, size_t n) {
  if (q->len > 0)
    sb_putc(q, '&');
  put_pct(q, name, n, 0);
  sb_putc(q, '=');
}

/* deepObject: name[k]=v, nested objects name[k][k2]=v, arrays repeat. */
static void deep_object(sbuf *q, const sbuf *name, const json_t *v, int depth) {
  const char *k;
  size_t klen, i;
  json_t *x;
  if (json_is_object(v) && depth < 32) {
    json_object_keylen_foreach((json_t *)v, k, klen, x) {
      sbuf sub = {0};
      sb_cat(&sub, name);
      sb_puts(&sub, "%5B");
      put_pct(&sub, k, klen, 0);
      sb_puts(&sub, "%5D");
      deep_object(q, &sub, x, depth + 1);
      q->oom |= sub.oom;
      sb_free(&sub);
    }
  } else if (json_is_array(v)) {
    json_array_foreach(v, i, x) {
      if (q->len > 0)
        sb_putc(q, '&');
      sb_cat(q, name);
      sb_putc(q, '=');
      put_value(q, x, ENC_URL);
    }
  } else {
    if (q->len > 0)
      sb_putc(q, '&');
    sb_cat(q, name);
    sb_putc(q, '=');
    put_value(q, v, ENC_URL);
  }
}

/* A query value per style: form "a=1&a=2" (explode) or "a=1,2",
 * spaceDelimited "a=1%202", pipeDelimited "a=1%7C2", deepObject. */
static void query_value(sbuf *q, const oa_param *p, const json_t *v) {
  const char *sep = p->style == OA_STYLE_SPACE ? "%20" : p->style == OA_STYLE_PIPE ? "%7C" : ",";
  enum enc e = p->keep == OA_KEEP_RESERVED ? ENC_QUERY_RES : ENC_URL;
  const char *k;
  size_t klen, i;
  json_t *x;
  size_t nlen = strlen(p->name);
  if (p->json) {
    qname(q, p->name, nlen);
    put_json_enc(q, v, ENC_URL);
  } else if (!is_container(v)) {
    qname(q, p->name, nlen);
    put_value(q, v, e);
  } else if (p->style == OA_STYLE_DEEP && json_is_object(v)) {
    sbuf name = {0};
    put_pct(&name, p->name, nlen, 0);
    deep_object(q, &name, v, 0);
    q->oom |= name.oom;
    sb_free(&name);
  } else if (json_is_array(v) && (p->explode || p->style == OA_STYLE_DEEP)) {
    json_array_foreach(v, i, x) {
      qname(q, p->name, nlen);
      put_value(q, x, e);
    }
  } else if (json_is_object(v) && p->explode) {
    json_object_keylen_foreach((json_t *)v, k, klen, x) {
      qname(q, k, klen);
      put_value(q, x, ENC_URL);
    }
  } else if (json_is_array(v) && json_array_size(v) == 0) {
    /* An empty list has no form; left out. */
  } else {
    qname(q, p->name, nlen);
    put_joined(q, v, sep, sep, e);
  }
}

/* A header value (simple style, not encoded): "a,b", "k=v,k2=v2". */
static void header_value(sbuf *b, const oa_param *p, const json_t *v) {
  if (p->json)
    put_json_enc(b, v, ENC_RAW);
  else if (!is_container(v))
    put_value(b, v, ENC_RAW);
  else
    put_joined(b, v, ",", p->explode ? "=" : ",", ENC_RAW);
}

/* Cookie pairs (form style), "; " between pairs. */
static void cookie_value(sbuf *ck, const oa_param *p, const json_t *v) {
  const char *k;
  size_t klen, i;
  json_t *x;
  size_t nlen = strlen(p->name);
#define COOKIE_START(nm, nl)                                                                       \
  do {                                                                                             \
    if (ck->len > 0)                                                                               \
      sb_puts(ck, "; ");                                                                           \
    sb_putn(ck, nm, nl);                                                                           \
    sb_putc(ck, '=');                                                                              \
  } while (0)
  if (p->json) {
    COOKIE_START(p->name, nlen);
    put_json_enc(ck, v, ENC_COOKIE);
  } else if (!is_container(v)) {
    COOKIE_START(p->name, nlen);
    put_value(ck, v, ENC_COOKIE);
  } else if (json_is_array(v) && p->explode) {
    json_array_foreach(v, i, x) {
      COOKIE_START(p->name, nlen);
      put_value(ck, x, ENC_COOKIE);
    }
  } else if (json_is_object(v) && p->explode) {
    json_object_keylen_foreach((json_t *)v, k, klen, x) {
      int ok = klen > 0;
      size_t j;
      for (j = 0; j < klen && ok; j++)
        ok = oa_is_tchar((unsigned char)k[j]);
      if (!ok)
        continue; /* not a cookie name */
      COOKIE_START(k, klen);
      put_value(ck, x, ENC_COOKIE);
    }
  } else {
    COOKIE_START(p->name, nlen);
    put_joined(ck, v, ",", ",", ENC_COOKIE);
  }
#undef COOKIE_START
}

/* A form body value: arrays repeat the key, objects are JSON text. */
static void form_pair(sbuf *b, const char *k, size_t klen, const json_t *v) {
  size_t i;
  json_t *x;
  if (json_is_array(v)) {
    json_array_foreach(v, i, x) form_pair(b, k, klen, x);
    return;
  }
  if (b->len > 0)
    sb_putc(b, '&');
  put_pct(b, k, klen, 1);
  sb_putc(b, '=');
  put_value(b, v, ENC_FORM);
}

/* Checks a header value: no CR, LF, NUL or other control character but
 * HTAB. */
static int header_ok(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
      return 0;
  }
  return 1;
}

static int add_header(oa_request *r, size_t *cap, char *line) {
  if (line == NULL)
    return -ENOMEM;
  if (r->n_headers == *cap) {
    size_t nc = *cap ? *cap * 2 : 4;
    char **nh = realloc(r->headers, nc * sizeof(*nh));
    if (nh == NULL) {
      free(line);
      return -ENOMEM;
    }
    r->headers = nh;
    *cap = nc;
  }
  r->headers[r->n_headers++] = line;
  return 0;
}

void oa_request_free(oa_request *r) {
  size_t i;
  if (r == NULL)
    return;
  free(r->method);
  free(r->target);
  for (i = 0; i < r->n_headers; i++)
    free(r->headers[i]);
  free(r->headers);
  free(r->body);
  memset(r, 0, sizeof(*r));
}

/* The argument for p, or NULL when it is absent (a null parameter value
 * counts as absent; a null body value does not). A path or query argument
 * is also found under its URI template variable name (bytes other than
 * [A-Za-z0-9_] as %XX, as in oa_operation.uri), so the variables of a
 * resources/read match can be passed as they are. */
static const json_t *arg_of(const oa_param *p, const json_t *args) {
  const json_t *v = json_object_get(args, p->arg);
  const char *s;
  if (v == NULL && (p->in == OA_PATH || p->in == OA_QUERY)) {
    sbuf var = {0};
    int differs = 0;
    for (s = p->arg; *s; s++) {
      unsigned char ch = (unsigned char)*s;
      if (oa_is_alnum(ch) || ch == '_') {
        sb_putc(&var, (char)ch);
      } else {
        sb_printf(&var, "%%%02X", ch);
        differs = 1;
      }
    }
    if (differs && !var.oom)
      v = json_object_get(args, var.p);
    sb_free(&var);
  }
  if (json_is_null(v) && p->in != OA_BODY_PROP && p->in != OA_BODY_WHOLE)
    return NULL;
  return v;
}

/* Decodes base64 (standard or URL-safe alphabet, padding optional, white space
 * ignored) into out. 0, or -1 when s is not base64. */
static int unbase64(sbuf *out, const char *s, size_t n) {
  uint32_t acc = 0;
  int bits = 0;
  size_t i, pad = 0;
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    int v;
    if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
      continue;
    if (ch == '=') {
      pad++;
      continue;
    }
    if (pad > 0)
      return -1; /* data after the padding */
    if (ch >= 'A' && ch <= 'Z')
      v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z')
      v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9')
      v = ch - '0' + 52;
    else if (ch == '+' || ch == '-')
      v = 62;
    else if (ch == '/' || ch == '_')
      v = 63;
    else
      return -1;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      sb_putc(out, (char)((acc >> bits) & 0xff));
    }
  }
  /* 6 leftover bits cannot be a whole byte's end: a cut string. */
  return bits >= 6 || pad > 2 ? -1 : 0;
}

/* A part's name or file name in a Content-Disposition quoted string: '"', CR, LF and
 * other control characters as %XX (what browsers do). */
static void put_disposition_str(sbuf *b, const char *s, size_t n) {
  size_t i;
  sb_putc(b, '"');
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch < 0x20 || ch == 0x7f || ch == '%')
      sb_printf(b, "%%%02X", ch);
    else
      sb_putc(b, (char)ch);
  }
  sb_putc(b, '"');
}

/* Whether a media type given in an argument may go in a part header: type/subtype
 * (tokens) with parameters, no control characters. */
static int mime_ok(const char *s) {
  const char *slash = strchr(s, '/');
  size_t i;
  if (slash == NULL || slash == s || slash[1] == '\0')
    return 0;
  for (i = 0; s[i]; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch < 0x20 || ch == 0x7f)
      return 0;
  }
  for (i = 0; s + i < slash; i++) {
    if (!oa_is_tchar((unsigned char)s[i]))
      return 0;
  }
  return 1;
}

/* One part of a multipart body: its header lines and its bytes. */
typedef struct part {
  sbuf head, data;
} part;

typedef struct parts {
  part *v;
  size_t n, cap;
  int oom;
} parts;

static part *new_part(parts *ps, const char *name) {
  part *pt;
  if (ps->n == ps->cap) {
    size_t cap = ps->cap ? ps->cap * 2 : 8;
    part *nv = realloc(ps->v, cap * sizeof(*nv));
    if (nv == NULL) {
      ps->oom = 1;
      return NULL;
    }
    ps->v = nv;
    ps->cap = cap;
  }
  pt = &ps->v[ps->n++];
  memset(pt, 0, sizeof(*pt));
  sb_puts(&pt->head, "Content-Disposition: form-data; name=");
  put_disposition_str(&pt->head, name, strlen(name));
  return pt;
}

static void parts_free(parts *ps) {
  size_t i;
  for (i = 0; i < ps->n; i++) {
    sb_free(&ps->v[i].head);
    sb_free(&ps->v[i].data);
  }
  free(ps->v);
}

/* A file argument {"content_base64", "filename"?, "mime_type"?} as a part. One
 * given by {"uri"} must have been read into that form (oa_file_from_contents()). */
static int file_part(parts *ps, const oa_param *p, const json_t *v, char *err, size_t n) {
  const json_t *b64 = json_object_get(v, "content_base64");
  const char *fname = json_string_value(json_object_get(v, "filename"));
  const char *mime = json_string_value(json_object_get(v, "mime_type"));
  part *pt;
  if (json_object_get(v, "uri") != NULL)
    return oa_errf(err, n, -EINVAL,
                   b64 != NULL ? "argument \"%s\": give content_base64 or uri, not both"
                               : "argument \"%s\": this mcpd cannot read resources for a file; "
                                 "give content_base64",
                   p->arg);
  if (!json_is_object(v) || !json_is_string(b64))
    return oa_errf(err, n, -EINVAL,
                   "argument \"%s\": a file is {\"content_base64\": \"...\"} or {\"uri\": \"...\"}",
                   p->arg);
  if (mime != NULL && !mime_ok(mime))
    return oa_errf(err, n, -EINVAL, "argument \"%s\": mime_type \"%.60s\" is not a media type",
                   p->arg, mime);
  pt = new_part(ps, p->name);
  if (pt == NULL)
    return -ENOMEM;
  sb_puts(&pt->head, "; filename=");
  if (fname == NULL)
    fname = p->name;
  put_disposition_str(&pt->head, fname, strlen(fname));
  sb_printf(&pt->head, "\r\nContent-Type: %s", mime != NULL ? mime : "application/octet-stream");
  if (unbase64(&pt->data, json_string_value(b64), json_string_length(b64)) != 0)
    return oa_errf(err, n, -EINVAL, "argument \"%s\": content_base64 is not base64", p->arg);
  return 0;
}

/* A field (not a file) as parts: a scalar is its text, an array of scalars one
 * part per item, anything else one JSON part. */
static int field_parts(parts *ps, const oa_param *p, const json_t *v) {
  size_t i;
  const json_t *x;
  int scalars = json_is_array(v);
  part *pt;
  json_array_foreach(v, i, x) scalars &= !is_container(x);
  if (scalars) {
    json_array_foreach(v, i, x) {
      if ((pt = new_part(ps, p->name)) == NULL)
        return -ENOMEM;
      put_text(&pt->data, x);
    }
    return 0;
  }
  if ((pt = new_part(ps, p->name)) == NULL)
    return -ENOMEM;
  if (is_container(v)) {
    sb_puts(&pt->head, "\r\nContent-Type: application/json");
    put_json(&pt->data, v);
  } else {
    put_text(&pt->data, v);
  }
  return 0;
}

static uint64_t fnv1a(uint64_t h, const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

static int holds(const sbuf *b, const char *needle) {
  size_t i, k = strlen(needle);
  for (i = 0; b->p != NULL && i + k <= b->len; i++) {
    if (memcmp(b->p + i, needle, k) == 0)
      return 1;
  }
  return 0;
}

/* Whether file argument v (of p) is given by URI: 1 (*file set), 0, or -EINVAL. */
static int file_by_uri(const oa_param *p, const json_t *v, json_t **file, char *err, size_t n) {
  const json_t *uri = json_object_get(v, "uri");
  if (!json_is_object(v) || uri == NULL)
    return 0;
  if (json_object_get(v, "content_base64") != NULL)
    return oa_errf(err, n, -EINVAL, "argument \"%s\": give content_base64 or uri, not both",
                   p->arg);
  if (!json_is_string(uri) || json_string_value(uri)[0] == '\0')
    return oa_errf(err, n, -EINVAL, "argument \"%s\": uri must be a resource URI", p->arg);
  *file = (json_t *)v;
  return 1;
}

int oa_file_uri_next(const oa_operation *op, const json_t *args, json_t **file, const char **arg,
                     char *err, size_t n) {
  size_t i, j;
  int rc;
  if (op->body != OA_BODY_MULTIPART)
    return 0;
  for (i = 0; i < op->n_params; i++) {
    const oa_param *p = &op->params[i];
    const json_t *v = arg_of(p, args), *x;
    if (p->in != OA_BODY_PROP || p->file == 0 || v == NULL)
      continue;
    *arg = p->arg;
    if (p->file == 2 && json_is_array(v)) {
      json_array_foreach(v, j, x) {
        if ((rc = file_by_uri(p, x, file, err, n)) != 0)
          return rc;
      }
    } else if ((rc = file_by_uri(p, v, file, err, n)) != 0) {
      return rc;
    }
  }
  return 0;
}

/* The multipart body of the body-property arguments in args. The boundary is a
 * hash of the content (the same arguments give the same bytes), chosen again
 * while a part holds it. */
static int multipart_body(const oa_operation *op, const json_t *args, sbuf *body, char *bnd,
                          size_t bnd_n, char *err, size_t n) {
  parts ps = {0};
  size_t i, j;
  uint64_t h = 0xcbf29ce484222325ULL;
  unsigned attempt;
  int rc = 0, clash = 1;
  for (i = 0; i < op->n_params && rc == 0; i++) {
    const oa_param *p = &op->params[i];
    const json_t *v = arg_of(p, args), *x;
    if (p->in != OA_BODY_PROP || v == NULL || json_is_null(v))
      continue;
    if (p->file == 2 && json_is_array(v)) {
      json_array_foreach(v, j, x) {
        if (rc == 0)
          rc = file_part(&ps, p, x, err, n);
      }
    } else if (p->file != 0) {
      rc = file_part(&ps, p, v, err, n);
    } else {
      rc = field_parts(&ps, p, v);
    }
  }
  if (rc == 0 && ps.oom)
    rc = -ENOMEM;
  for (i = 0; i < ps.n && rc == 0; i++) {
    h = fnv1a(h, ps.v[i].head.p ? ps.v[i].head.p : "", ps.v[i].head.len);
    h = fnv1a(h, ps.v[i].data.p ? ps.v[i].data.p : "", ps.v[i].data.len);
    if (ps.v[i].head.oom || ps.v[i].data.oom)
      rc = -ENOMEM;
  }
  for (attempt = 0; rc == 0 && clash; attempt++) {
    snprintf(bnd, bnd_n, "mcpd-%016llx%s%u", (unsigned long long)h, attempt ? "-" : "", attempt);
    if (attempt == 0)
      bnd[strlen(bnd) - 1] = '\0'; /* no counter on the first */
    clash = 0;
    for (i = 0; i < ps.n && !clash; i++)
      clash = holds(&ps.v[i].data, bnd);
  }
  for (i = 0; i < ps.n && rc == 0; i++) {
    sb_printf(body, "--%s\r\n", bnd);
    sb_cat(body, &ps.v[i].head);
    sb_puts(body, "\r\n\r\n");
    sb_cat(body, &ps.v[i].data);
    sb_puts(body, "\r\n");
  }
  if (rc == 0)
    sb_printf(body, "--%s--\r\n", bnd);
  parts_free(&ps);
  return rc;
}

/* The body into body, and its Content-Type into *ct (static, the operation's, or
 * ct_buf); *has says whether there is one (a required JSON body with no argument
 * is "{}"). 0, or -EINVAL with a message in err (an argument that cannot be sent:
 * not base64, a bad mime_type), -ENOMEM. */
static int build_body(const oa_operation *op, const json_t *args, sbuf *body, int *has,
                      const char **ct, char *ct_buf, size_t ct_n, char *err, size_t n) {
  size_t i;
  int any = 0;
  *has = 0;
  *ct = op->content_type;
  if (op->body == OA_BODY_NONE)
    return 0;
  if (op->body == OA_BODY_MULTIPART) {
    char bnd[64];
    int rc;
    for (i = 0; i < op->n_params; i++)
      any |= op->params[i].in == OA_BODY_PROP && arg_of(&op->params[i], args) != NULL;
    if (!any && !op->body_required)
      return 0;
    rc = multipart_body(op, args, body, bnd, sizeof(bnd), err, n);
    if (rc == 0) {
      snprintf(ct_buf, ct_n, "multipart/form-data; boundary=%s", bnd);
      *ct = ct_buf;
      *has = 1;
    }
    return rc;
  }
  for (i = 0; i < op->n_params; i++) {
    const oa_param *p = &op->params[i];
    const json_t *v = arg_of(p, args);
    if (p->in == OA_BODY_WHOLE && v != NULL) {
      *has = 1;
      if (op->body == OA_BODY_TEXT || op->body == OA_BODY_BINARY) {
        if (!json_is_string(v))
          return oa_errf(err, n, -EINVAL, "argument \"body\" must be a string");
        if (op->body == OA_BODY_TEXT)
          sb_putn(body, json_string_value(v), json_string_length(v));
        else if (unbase64(body, json_string_value(v), json_string_length(v)) != 0)
          return oa_errf(err, n, -EINVAL, "argument \"body\" is not base64");
      } else if (op->body == OA_BODY_JSON) {
        put_json(body, v);
      } else if (json_is_object(v)) {
        const char *k;
        size_t klen;
        json_t *x;
        json_object_keylen_foreach((json_t *)v, k, klen, x) form_pair(body, k, klen, x);
      } else {
        put_value(body, v, ENC_FORM);
      }
      return 0;
    }
    if (p->in != OA_BODY_PROP || v == NULL)
      continue;
    if (op->body == OA_BODY_JSON) {
      sb_putc(body, any ? ',' : '{');
      put_json_str(body, p->name, strlen(p->name));
      sb_putc(body, ':');
      put_json(body, v);
    } else {
      form_pair(body, p->name, strlen(p->name), v);
    }
    any = 1;
  }
  if (op->body == OA_BODY_JSON && any)
    sb_putc(body, '}');
  else if (op->body == OA_BODY_JSON && op->body_required)
    sb_puts(body, "{}");
  *has = any || (op->body_required && (op->body == OA_BODY_JSON || op->body == OA_BODY_FORM));
  return 0;
}

int oa_request_build(const oa_operation *op, const json_t *args, const char *base_path,
                     oa_request *out, char *err, size_t n) {
  sbuf path = {0}, query = {0}, cookie = {0}, body = {0}, line = {0};
  size_t i, cap = 0, blen, before, tpl_start;
  const char *p, *seg, *ct = NULL;
  char ct_buf[96];
  int rc = 0, has_body;

  if (err != NULL && n > 0)
    err[0] = '\0';
  if (out == NULL || op == NULL)
    return oa_errf(err, n, -EINVAL, "no operation or no output");
  memset(out, 0, sizeof(*out));
  if (args != NULL && !json_is_object(args))
    return oa_errf(err, n, -EINVAL, "the arguments are not an object");

  for (i = 0; i < op->n_params; i++) {
    if (op->params[i].required && arg_of(&op->params[i], args) == NULL)
      return oa_errf(err, n, -EINVAL, "missing required argument \"%s\"", op->params[i].arg);
  }

  /* The path: base_path, then the template with each {name} filled in. */
  if (base_path != NULL) {
    blen = strlen(base_path);
    if (blen > 0 && base_path[blen - 1] == '/' && op->path[0] == '/')
      blen--;
    sb_putn(&path, base_path, blen);
  }
  tpl_start = path.len;
  for (p = op->path; *p; p++) {
    const char *close;
    if (*p != '{') {
      unsigned char ch = (unsigned char)*p;
      if (oa_is_unreserved(ch) || strchr("!$&'()*+,;=:@/%", ch) != NULL)
        sb_putc(&path, (char)ch);
      else
        sb_printf(&path, "%%%02X", ch);
      continue;
    }
    close = strchr(p, '}');
    if (close == NULL)
      break;
    for (i = 0; i < op->n_params; i++) {
      const oa_param *pa = &op->params[i];
      if (pa->in == OA_PATH && strlen(pa->name) == (size_t)(close - p - 1) &&
          strncmp(pa->name, p + 1, (size_t)(close - p - 1)) == 0)
        break;
    }
    if (i == op->n_params || arg_of(&op->params[i], args) == NULL) {
      rc = oa_errf(err, n, -EINVAL, "no value for path parameter \"%.*s\"", (int)(close - p - 1),
                   p + 1);
      goto done;
    }
    before = path.len;
    path_value(&path, &op->params[i], arg_of(&op->params[i], args));
    if (path.len == before) {
      /* "/items/" is another resource than "/items/{id}". */
      rc = oa_errf(err, n, -EINVAL, "path parameter \"%s\" is empty", op->params[i].name);
      goto done;
    }
    p = close;
  }
  /* A value of "." or ".." would make a dot segment, which servers and
   * proxies resolve: "/files/.." reaches another operation. */
  for (seg = path.p ? path.p + tpl_start : NULL; !path.oom && seg != NULL && *seg != '\0';) {
    size_t len = strcspn(seg, "/");
    if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.')) {
      rc = oa_errf(err, n, -EINVAL, "path parameter values may not make a \".\" or \"..\" segment");
      goto done;
    }
    seg = seg[len] == '/' ? seg + len + 1 : seg + len;
  }
  /* "//host/x" would read as a host to some; only a value's kept '/' makes it. */
  if (!path.oom && path.len >= 2 && path.p[0] == '/' && path.p[1] == '/') {
    rc = oa_errf(err, n, -EINVAL, "path parameter values may not start the path with \"//\"");
    goto done;
  }

  for (i = 0; i < op->n_params; i++) {
    const oa_param *pa = &op->params[i];
    const json_t *v = arg_of(pa, args);
    if (v == NULL)
      continue;
    if (pa->in == OA_QUERY) {
      query_value(&query, pa, v);
    } else if (pa->in == OA_HEADER) {
      if (!oa_is_token(pa->name)) {
        rc = oa_errf(err, n, -EINVAL, "\"%s\" is not a valid header name", pa->name);
        goto done;
      }
      line.len = 0;
      sb_printf(&line, "%s: ", pa->name);
      header_value(&line, pa, v);
      if (!line.oom && !header_ok(line.p, line.len)) {
        rc = oa_errf(err, n, -EINVAL,
                     "argument \"%s\": a header value cannot contain CR, LF or other control "
                     "characters",
                     pa->arg);
        goto done;
      }
      if (line.oom || (rc = add_header(out, &cap, sb_take(&line))) != 0) {
        rc = -ENOMEM;
        goto done;
      }
    } else if (pa->in == OA_COOKIE) {
      if (!oa_is_token(pa->name)) {
        rc = oa_errf(err, n, -EINVAL, "\"%s\" is not a valid cookie name", pa->name);
        goto done;
      }
      cookie_value(&cookie, pa, v);
    }
  }
  if (cookie.len > 0) {
    line.len = 0;
    sb_printf(&line, "Cookie: %s", cookie.p);
    if (line.oom || (rc = add_header(out, &cap, sb_take(&line))) != 0) {
      rc = -ENOMEM;
      goto done;
    }
  }
  rc = build_body(op, args, &body, &has_body, &ct, ct_buf, sizeof(ct_buf), err, n);
  if (rc != 0)
    goto done;
  if (has_body) {
    if (ct == NULL)
      ct = op->body == OA_BODY_FORM ? "application/x-www-form-urlencoded" : "application/json";
    line.len = 0;
    sb_printf(&line, "Content-Type: %s", ct);
    if (line.oom || (rc = add_header(out, &cap, sb_take(&line))) != 0) {
      rc = -ENOMEM;
      goto done;
    }
    out->body_len = body.len;
    out->body = sb_take(&body);
    if (out->body == NULL) {
      rc = -ENOMEM;
      goto done;
    }
  }
  if (query.len > 0) {
    sb_putc(&path, '?');
    sb_cat(&path, &query);
  }
  if (path.len == 0)
    sb_putc(&path, '/');
  out->target = sb_take(&path);
  out->method = strdup(op->method != NULL ? op->method : "GET");
  if (out->target == NULL || out->method == NULL || query.oom || cookie.oom)
    rc = -ENOMEM;

done:
  sb_free(&path);
  sb_free(&query);
  sb_free(&cookie);
  sb_free(&body);
  sb_free(&line);
  if (rc != 0) {
    if (rc == -ENOMEM)
      oa_errf(err, n, rc, "out of memory");
    oa_request_free(out);
  }
  return rc;
}
