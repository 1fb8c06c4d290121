/* oa_result.c -- an HTTP response to an MCP tool result or resource
 * contents (see oa_request.h; the request side is oa_request.c). Pure: no
 * I/O, no global state. */
#define _POSIX_C_SOURCE 200809L

#include "oa_request.h"
#include "oa_err.h"
#include "oa_chars.h"
#include "oa_check.h"
#include "sbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- responses ---------------------------------------------------------------------- */

static int is_json_type(const char *mt) {
  return strcmp(mt, "application/json") == 0 || strcmp(mt, "text/json") == 0 ||
         oa_ends_with(mt, "+json");
}

static int is_text_type(const char *mt) {
  static const char *const exact[] = {"application/xml",
                                      "application/javascript",
                                      "application/x-javascript",
                                      "application/ecmascript",
                                      "application/yaml",
                                      "application/x-yaml",
                                      "application/x-www-form-urlencoded",
                                      "application/graphql",
                                      "application/sql",
                                      "application/x-sh",
                                      "image/svg+xml",
                                      NULL};
  size_t i;
  if (strncmp(mt, "text/", 5) == 0 || is_json_type(mt) || oa_ends_with(mt, "+xml") ||
      oa_ends_with(mt, "+yaml"))
    return 1;
  for (i = 0; exact[i] != NULL; i++) {
    if (strcmp(mt, exact[i]) == 0)
      return 1;
  }
  return 0;
}

/* Length of the valid UTF-8 sequence at s[0..n) (1-4), or 0 when invalid;
 * *valid_prefix gets how many bytes were plausible before it failed. */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *valid_prefix) {
  size_t len, i;
  unsigned char lo = 0x80, hi = 0xbf;
  *valid_prefix = 1;
  if (s[0] < 0x80)
    return 1;
  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    len = 2;
  else if (s[0] >= 0xe0 && s[0] <= 0xef)
    len = 3;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    len = 4;
  else
    return 0;
  if (s[0] == 0xe0)
    lo = 0xa0;
  else if (s[0] == 0xed)
    hi = 0x9f;
  else if (s[0] == 0xf0)
    lo = 0x90;
  else if (s[0] == 0xf4)
    hi = 0x8f;
  for (i = 1; i < len; i++) {
    if (i >= n || s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xbf))
      return 0;
    *valid_prefix = i + 1;
  }
  return len;
}

/* Appends n bytes of s as valid UTF-8: each invalid sequence becomes
 * U+FFFD. */
static void put_utf8(sbuf *b, const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, start = 0;
  while (i < n) {
    size_t prefix, len = utf8_seq(u + i, n - i, &prefix);
    if (len > 0) {
      i += len;
      continue;
    }
    sb_putn(b, s + start, i - start);
    sb_puts(b, "\xef\xbf\xbd");
    i += prefix;
    start = i;
  }
  sb_putn(b, s + start, i - start);
}

static int utf8_valid(const char *s, size_t n) {
  size_t i = 0, prefix, len;
  while (i < n) {
    len = utf8_seq((const unsigned char *)s + i, n - i, &prefix);
    if (len == 0)
      return 0;
    i += len;
  }
  return 1;
}

static char *base64(const char *s, size_t n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char *u = (const unsigned char *)s;
  size_t i, o = 0;
  char *out;
  if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
    return NULL;
  out = malloc((n + 2) / 3 * 4 + 1);
  if (out == NULL)
    return NULL;
  for (i = 0; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)u[i] << 16 | (uint32_t)u[i + 1] << 8 | u[i + 2];
    out[o++] = tab[v >> 18];
    out[o++] = tab[(v >> 12) & 63];
    out[o++] = tab[(v >> 6) & 63];
    out[o++] = tab[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)u[i] << 16 | (i + 1 < n ? (uint32_t)u[i + 1] << 8 : 0);
    out[o++] = tab[v >> 18];
    out[o++] = tab[(v >> 12) & 63];
    out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  out[o] = '\0';
  return out;
}

/* JSON text without the whitespace between tokens (s must be valid JSON):
 * numbers and escapes stay as the server wrote them. */
static void put_minified(sbuf *b, const char *s, size_t n) {
  size_t i, start = 0;
  int in_str = 0, esc = 0;
  for (i = 0; i < n; i++) {
    char ch = s[i];
    if (in_str) {
      if (esc)
        esc = 0;
      else if (ch == '\\')
        esc = 1;
      else if (ch == '"')
        in_str = 0;
    } else if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
      sb_putn(b, s + start, i - start);
      start = i + 1;
    } else if (ch == '"') {
      in_str = 1;
    }
  }
  sb_putn(b, s + start, n - start);
}

static const struct {
  int code;
  const char *text;
} REASONS[] = {
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {418, "I'm a teapot"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Content"},
    {423, "Locked"},
    {424, "Failed Dependency"},
    {425, "Too Early"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {451, "Unavailable For Legal Reasons"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
    {507, "Insufficient Storage"},
    {508, "Loop Detected"},
    {511, "Network Authentication Required"},
};

static const char *reason(int status) {
  size_t i;
  for (i = 0; i < sizeof(REASONS) / sizeof(REASONS[0]); i++) {
    if (REASONS[i].code == status)
      return REASONS[i].text;
  }
  return NULL;
}

/* "HTTP 404 Not Found" (no reason for a code we do not know). */
static void put_status(sbuf *b, int status) {
  const char *r = reason(status);
  sb_printf(b, "HTTP %d%s%s", status, r ? " " : "", r ? r : "");
}

/* Parses a JSON body; NULL when it is not JSON. */
static json_t *parse_json(const char *mt, const char *body, size_t len) {
  size_t i = 0;
  if (mt[0] == '\0') {
    /* No Content-Type: only what clearly looks like JSON. */
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r'))
      i++;
    if (i == len || (body[i] != '{' && body[i] != '['))
      return NULL;
  } else if (!is_json_type(mt)) {
    return NULL;
  }
  return json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
}

/* {"type":"text","text":<t>} (t is valid UTF-8); NULL when out of memory. */
static json_t *text_item(const sbuf *t) {
  json_t *s, *item;
  if (t->oom)
    return NULL;
  s = json_stringn_nocheck(t->p ? t->p : "", t->len);
  item = s != NULL ? json_pack("{s:s,s:o}", "type", "text", "text", s) : NULL;
  return item;
}

static json_t *make_result(json_t *item, int is_error) {
  if (item == NULL)
    return NULL;
  return json_pack("{s:[o],s:b}", "content", item, "isError", is_error);
}

static json_t *error_result(int status, const char *mt, const char *body, size_t len, size_t max) {
  sbuf t = {0}, min = {0};
  json_t *j;
  put_status(&t, status);
  if (status == 401 || status == 403) {
    if (len > 0)
      sb_puts(&t, ": (body withheld)");
  } else if (len > 0) {
    size_t cut;
    /* A JSON error body loses its indentation first. */
    j = parse_json(mt, body, len);
    if (j != NULL) {
      json_decref(j);
      put_minified(&min, body, len);
      if (!min.oom) {
        body = min.p;
        len = min.len;
      }
    }
    cut = len;
    if (cut > max) {
      /* Not in the middle of a character. */
      cut = max;
      while (cut > 0 && max - cut < 3 && ((unsigned char)body[cut] & 0xc0) == 0x80)
        cut--;
    }
    sb_puts(&t, ": ");
    put_utf8(&t, body, cut);
    if (cut < len)
      sb_printf(&t, "... (cut; %zu bytes in all)", len);
  }
  j = make_result(text_item(&t), 1);
  sb_free(&t);
  sb_free(&min);
  return j;
}

/* Gives a successful result res (stolen) of op its structuredContent: sc (stolen;
 * NULL when the answer has no structured form) when it matches the output schema.
 * Otherwise the content stays as it is and the result becomes an error with a note:
 * clients reject a successful result from a tool with an output schema that has no
 * structuredContent, or one that does not match (the official TypeScript client
 * throws, and the call is lost), while an error result reaches the model with the
 * answer in it. Returns res, or NULL (res released) when out of memory. */
static json_t *structure(json_t *res, const oa_operation *op, const oa_result_opts *opts,
                         json_t *sc) {
  json_t *note;
  if (res == NULL || opts == NULL || !opts->structured || op == NULL || op->output_schema == NULL) {
    json_decref(sc);
    return res;
  }
  if (sc != NULL && oa_check(op->output_schema, sc)) {
    if (json_object_set_new(res, "structuredContent", sc) != 0) {
      json_decref(res);
      return NULL;
    }
    return res;
  }
  json_decref(sc);
  if (opts->mismatch != NULL)
    *opts->mismatch = 1;
  note = json_pack("{s:s,s:s}", "type", "text", "text",
                   "mcpd: the backend answered with success, but the answer does not match "
                   "this tool's output schema, so it is given as text only (and as an error, "
                   "which clients accept without structured content)");
  if (note == NULL || json_array_append_new(json_object_get(res, "content"), note) != 0 ||
      json_object_set_new(res, "isError", json_true()) != 0) {
    json_decref(res);
    return NULL;
  }
  return res;
}

json_t *oa_result(const oa_operation *op, int status, const char *content_type, const char *body,
                  size_t len, const oa_result_opts *opts) {
  size_t max = opts != NULL && opts->max_error_body > 0 ? opts->max_error_body : 1000;
  int wrapped = op != NULL && op->output_wrapped;
  char mt[128];
  sbuf t = {0};
  json_t *res = NULL, *parsed, *text, *sc;

  if (body == NULL)
    len = 0;
  oa_media_type(content_type, mt, sizeof(mt));
  if (status < 200 || status > 299)
    return error_result(status, mt, body, len, max);
  if (len == 0) {
    put_status(&t, status);
    sb_puts(&t, " (no content)");
    res = make_result(text_item(&t), 0);
    sb_free(&t);
    /* With the common untyped schema ({}) {"result": null} is valid. */
    return structure(res, op, opts, wrapped ? json_pack("{s:n}", "result") : NULL);
  }
  parsed = parse_json(mt, body, len);
  if (parsed != NULL) {
    put_minified(&t, body, len);
    res = make_result(text_item(&t), 0);
    sb_free(&t);
    sc = wrapped ? json_pack("{s:o}", "result", parsed) : parsed;
    return structure(res, op, opts, sc);
  }
  if (strncmp(mt, "image/", 6) == 0 && strcmp(mt, "image/svg+xml") != 0) {
    char *b64 = base64(body, len);
    json_t *item;
    if (b64 == NULL)
      return NULL;
    item = json_pack("{s:s,s:s,s:s}", "type", "image", "data", b64, "mimeType", mt);
    free(b64);
    return structure(make_result(item, 0), op, opts, NULL);
  }
  /* Text; for a wrapped output schema also {"result": <the text>}. */
  put_utf8(&t, body, len);
  text = t.oom ? NULL : json_stringn_nocheck(t.p ? t.p : "", t.len);
  sb_free(&t);
  if (text == NULL)
    return NULL;
  res = make_result(json_pack("{s:s,s:O}", "type", "text", "text", text), 0);
  sc = wrapped ? json_pack("{s:O}", "result", text) : NULL;
  json_decref(text);
  return structure(res, op, opts, sc);
}

json_t *oa_contents(const char *uri, const char *content_type, const char *body, size_t len) {
  char mt[128];
  json_t *c;
  int text;
  if (body == NULL)
    len = 0;
  oa_media_type(content_type, mt, sizeof(mt));
  c = json_pack("{s:s}", "uri", uri != NULL ? uri : "");
  if (c == NULL)
    return NULL;
  text = mt[0] != '\0' ? is_text_type(mt) : utf8_valid(body, len);
  if (mt[0] != '\0' || !text) {
    if (json_object_set_new(c, "mimeType",
                            json_string(mt[0] != '\0' ? mt : "application/octet-stream")) != 0)
      goto oom;
  }
  if (text) {
    sbuf t = {0};
    json_t *s;
    put_utf8(&t, body != NULL ? body : "", len);
    s = t.oom ? NULL : json_stringn_nocheck(t.p ? t.p : "", t.len);
    sb_free(&t);
    if (json_object_set_new(c, "text", s) != 0)
      goto oom;
  } else {
    char *b64 = base64(body != NULL ? body : "", len);
    json_t *s = b64 != NULL ? json_string(b64) : NULL;
    free(b64);
    if (json_object_set_new(c, "blob", s) != 0)
      goto oom;
  }
  return c;
oom:
  json_decref(c);
  return NULL;
}

/* ---- files read from resources ------------------------------------------------------ */

/* The size of the bytes base64 text s (n bytes; whitespace allowed) decodes to, or
 * (size_t)-1 when it is not base64. */
static size_t base64_size(const char *s, size_t n) {
  size_t i, digits = 0, pad = 0;
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
      continue;
    if (ch == '=' && pad < 2)
      pad++;
    else if (pad == 0 && (oa_is_alnum(ch) || ch == '+' || ch == '/'))
      digits++;
    else
      return (size_t)-1;
  }
  if (digits % 4 == 1)
    return (size_t)-1;
  return digits / 4 * 3 + (digits % 4 == 0 ? 0 : digits % 4 - 1);
}

/* The last path segment of uri, percent-decoded, into b (nothing when empty). */
static void last_segment(sbuf *b, const char *uri) {
  size_t end = strcspn(uri, "?#"), start = end, i;
  while (start > 0 && uri[start - 1] != '/')
    start--;
  for (i = start; i < end; i++) {
    if (uri[i] == '%' && i + 2 < end && oa_hexval(uri[i + 1]) >= 0 && oa_hexval(uri[i + 2]) >= 0) {
      sb_putc(b, (char)(oa_hexval(uri[i + 1]) * 16 + oa_hexval(uri[i + 2])));
      i += 2;
    } else {
      sb_putc(b, uri[i]);
    }
  }
}

int oa_file_from_contents(const char *arg, const json_t *file, const json_t *result,
                          size_t max_bytes, json_t **out, size_t *bytes, char *err, size_t n) {
  const char *uri = json_string_value(json_object_get(file, "uri"));
  const json_t *contents = json_object_get(result, "contents"), *c, *text, *blob, *v;
  char *b64 = NULL;
  size_t size;
  sbuf name = {0};
  json_t *f, *fname;

  *out = NULL;
  *bytes = 0;
  if (uri == NULL)
    uri = "";
  if (json_array_size(contents) != 1)
    return oa_errf(err, n, -EINVAL, "argument \"%s\": resource %s has %zu contents; a file is one",
                   arg, uri, json_array_size(contents));
  c = json_array_get(contents, 0);
  text = json_object_get(c, "text");
  blob = json_object_get(c, "blob");
  if (json_is_string(text))
    size = json_string_length(text);
  else if (json_is_string(blob))
    size = base64_size(json_string_value(blob), json_string_length(blob));
  else
    return oa_errf(err, n, -EINVAL, "argument \"%s\": resource %s has neither text nor blob", arg,
                   uri);
  if (size == (size_t)-1)
    return oa_errf(err, n, -EINVAL, "argument \"%s\": resource %s has a blob that is not base64",
                   arg, uri);
  if (size > max_bytes)
    return oa_errf(err, n, -E2BIG,
                   "argument \"%s\": resource %s is %zu bytes, more than the %zu bytes left for "
                   "files read from resources in one call",
                   arg, uri, size, max_bytes);
  if (json_is_string(text) && (b64 = base64(json_string_value(text), size)) == NULL)
    return -ENOMEM;
  f = json_pack("{s:s}", "content_base64", b64 != NULL ? b64 : json_string_value(blob));
  free(b64);
  if (f == NULL)
    return -ENOMEM;
  v = json_object_get(file, "filename");
  if (v == NULL) {
    /* Not valid UTF-8 (json_stringn() gives NULL): the field's name, as when empty. */
    last_segment(&name, uri);
    fname = name.len > 0 ? json_stringn(name.p, name.len) : NULL;
    if (name.oom || (fname != NULL && json_object_set_new(f, "filename", fname) != 0))
      goto oom;
  } else if (json_object_set(f, "filename", (json_t *)v) != 0) {
    goto oom;
  }
  v = json_object_get(file, "mime_type");
  if (v == NULL)
    v = json_object_get(c, "mimeType");
  if (json_is_string(v) && json_object_set(f, "mime_type", (json_t *)v) != 0)
    goto oom;
  sb_free(&name);
  *out = f;
  *bytes = size;
  return 0;
oom:
  sb_free(&name);
  json_decref(f);
  return -ENOMEM;
}
