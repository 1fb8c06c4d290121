/* oa_chars.h -- the character and short-string helpers of the converter
 * (openapi.c and its oa_*.c pieces) and of the request builder (oa_request.c):
 * ASCII classes, case-insensitive comparison, hex digits, media types. One
 * copy, static inline. All pure: no state, any thread; strings are borrowed.
 * Not installed, not used outside the plugin. */
#ifndef HTTP_BACKEND_OA_CHARS_H
#define HTTP_BACKEND_OA_CHARS_H

#include <stddef.h>
#include <string.h>

/* ASCII lower case; other bytes unchanged. */
static inline int oa_lower(int ch) {
  return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

static inline int oa_is_alnum(int ch) {
  return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* Tool name characters: [A-Za-z0-9_.-]. */
static inline int oa_is_name_char(int ch) {
  return oa_is_alnum(ch) || ch == '_' || ch == '.' || ch == '-';
}

/* RFC 3986 unreserved characters. */
static inline int oa_is_unreserved(int ch) {
  return oa_is_alnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

/* RFC 9110 token characters (header and cookie names). */
static inline int oa_is_tchar(int ch) {
  return oa_is_alnum(ch) || (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Whether s (borrowed) is a non-empty RFC 9110 token. */
static inline int oa_is_token(const char *s) {
  if (*s == '\0')
    return 0;
  for (; *s; s++) {
    if (!oa_is_tchar((unsigned char)*s))
      return 0;
  }
  return 1;
}

/* ASCII case-insensitive equality of a and b (borrowed). */
static inline int oa_ieq(const char *a, const char *b) {
  for (; *a && *b; a++, b++) {
    if (oa_lower((unsigned char)*a) != oa_lower((unsigned char)*b))
      return 0;
  }
  return *a == *b;
}

/* The value of a hex digit, or -1. */
static inline int oa_hexval(int ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* Whether s is in list (a NULL-terminated array; all borrowed). */
static inline int oa_in_list(const char *s, const char *const *list) {
  for (; *list; list++) {
    if (strcmp(s, *list) == 0)
      return 1;
  }
  return 0;
}

/* As oa_in_list(), ignoring ASCII case. */
static inline int oa_in_list_ci(const char *s, const char *const *list) {
  for (; *list; list++) {
    if (oa_ieq(s, *list))
      return 1;
  }
  return 0;
}

static inline int oa_ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The media type of a Content-Type-like value ct (borrowed; NULL is ""),
 * lower case and without parameters, in buf (the caller's, size n), which
 * is returned; "" when it does not fit. */
static inline const char *oa_media_type(const char *ct, char *buf, size_t n) {
  size_t i = 0;
  if (ct == NULL)
    ct = "";
  while (*ct == ' ' || *ct == '\t')
    ct++;
  for (; *ct && *ct != ';' && *ct != ' ' && *ct != '\t'; ct++) {
    if (i + 1 >= n) {
      i = 0;
      break;
    }
    buf[i++] = (char)oa_lower((unsigned char)*ct);
  }
  buf[i] = '\0';
  return buf;
}

/* Whether the media type mt (from oa_media_type()) is JSON for OpenAPI
 * documents: application/json or *+json. */
static inline int oa_is_json_media(const char *mt) {
  return strcmp(mt, "application/json") == 0 || oa_ends_with(mt, "+json");
}

#endif
