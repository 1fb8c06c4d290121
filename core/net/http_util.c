/* http_util.c -- pure helpers for HTTP header values. */
#include "net/http_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int lower(int c) {
  return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int is_ows(char c) {
  return c == ' ' || c == '\t';
}

int http_util_ieq(const char *a, size_t alen, const char *b) {
  size_t i;
  for (i = 0; i < alen; i++) {
    if (b[i] == '\0' || lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
      return 0;
  }
  return b[alen] == '\0';
}

/* Trims optional whitespace around [*p, *p + *len). */
static void trim(const char **p, size_t *len) {
  while (*len > 0 && is_ows(**p)) {
    (*p)++;
    (*len)--;
  }
  while (*len > 0 && is_ows((*p)[*len - 1]))
    (*len)--;
}

/* Parses a q-value ("0", "0.5", "1.000") into thousandths; -1 if malformed. */
static int parse_q(const char *p, size_t len) {
  int q = 0, scale = 1000;
  size_t i = 0;
  if (len == 0 || (p[0] != '0' && p[0] != '1'))
    return -1;
  q = (p[0] - '0') * 1000;
  i = 1;
  if (i < len) {
    if (p[i] != '.')
      return -1;
    for (i++; i < len; i++) {
      if (p[i] < '0' || p[i] > '9' || scale == 1)
        return -1;
      scale /= 10;
      q += (p[i] - '0') * scale;
    }
  }
  return q > 1000 ? -1 : q;
}

int http_util_accepts(const char *accept, size_t len, const char *type) {
  const char *slash = strchr(type, '/');
  size_t type_major = slash ? (size_t)(slash - type) : strlen(type);
  const char *p, *end;
  int best = -1, best_specificity = -1;

  /* Absent header: callers pass len uninitialised then, so no arithmetic
   * on accept before this check (NULL + len is undefined). */
  if (accept == NULL)
    return 1;
  p = accept;
  end = accept + len;
  while (p < end) {
    const char *item = p, *comma = memchr(p, ',', (size_t)(end - p));
    const char *item_end = comma ? comma : end;
    const char *semi, *range;
    size_t range_len;
    int q = 1000, specificity;

    p = comma ? comma + 1 : end;
    semi = memchr(item, ';', (size_t)(item_end - item));
    range = item;
    range_len = (size_t)((semi ? semi : item_end) - item);
    trim(&range, &range_len);
    if (range_len == 0)
      continue;
    /* Parameters: only q matters here. */
    while (semi != NULL) {
      const char *param = semi + 1, *next = memchr(param, ';', (size_t)(item_end - param));
      size_t plen = (size_t)((next ? next : item_end) - param);
      trim(&param, &plen);
      if (plen >= 2 && lower((unsigned char)param[0]) == 'q' && param[1] == '=') {
        const char *qv = param + 2;
        size_t qlen = plen - 2;
        trim(&qv, &qlen);
        q = parse_q(qv, qlen);
      }
      semi = next;
    }
    if (q < 0)
      continue;
    if (range_len == 3 && memcmp(range, "*/*", 3) == 0) {
      specificity = 0;
    } else if (range_len == type_major + 2 && strncasecmp(range, type, type_major) == 0 &&
               range[type_major] == '/' && range[type_major + 1] == '*') {
      specificity = 1;
    } else if (http_util_ieq(range, range_len, type)) {
      specificity = 2;
    } else {
      continue;
    }
    /* The most specific matching range decides (RFC 9110 12.5.1). */
    if (specificity > best_specificity) {
      best_specificity = specificity;
      best = q;
    }
  }
  return best > 0;
}

int http_util_media_type_is(const char *value, size_t len, const char *type) {
  const char *semi = memchr(value, ';', len);
  const char *p = value;
  size_t n = semi ? (size_t)(semi - value) : len;
  trim(&p, &n);
  return http_util_ieq(p, n, type);
}

int http_util_is_loopback_name(const char *name, size_t len) {
  static const char suffix[] = ".localhost";
  size_t slen = sizeof(suffix) - 1, i;
  int dots = 0;

  if (http_util_ieq(name, len, "localhost") || http_util_ieq(name, len, "[::1]") ||
      http_util_ieq(name, len, "::1"))
    return 1;
  if (len > slen && http_util_ieq(name + len - slen, slen, suffix))
    return 1;
  /* 127.0.0.0/8 in dotted-quad form. */
  if (len < 9 || len > 15 || memcmp(name, "127.", 4) != 0)
    return 0;
  for (i = 4; i < len; i++) {
    if (name[i] == '.')
      dots++;
    else if (name[i] < '0' || name[i] > '9')
      return 0;
  }
  return dots == 2 && name[len - 1] != '.';
}

int http_util_split_host(const char *host, size_t len, const char **name, size_t *name_len) {
  const char *colon;
  size_t i;

  if (len == 0)
    return -EINVAL;
  if (host[0] == '[') {
    const char *close = memchr(host, ']', len);
    if (close == NULL)
      return -EINVAL;
    *name = host;
    *name_len = (size_t)(close - host) + 1;
    colon = close + 1 < host + len ? close + 1 : NULL;
    if (colon != NULL && *colon != ':')
      return -EINVAL;
  } else {
    colon = memchr(host, ':', len);
    *name = host;
    *name_len = colon ? (size_t)(colon - host) : len;
    for (i = 0; i < *name_len; i++) {
      char c = host[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_'))
        return -EINVAL;
    }
  }
  if (*name_len == 0)
    return -EINVAL;
  if (colon != NULL) {
    const char *p = colon + 1, *end = host + len;
    if (p == end || end - p > 5)
      return -EINVAL;
    for (; p < end; p++) {
      if (*p < '0' || *p > '9')
        return -EINVAL;
    }
  }
  return 0;
}

int http_util_origin_host(const char *origin, size_t len, const char **name, size_t *name_len) {
  const char *sep = NULL, *host;
  size_t i, host_len;

  for (i = 0; i + 2 < len; i++) {
    if (origin[i] == ':' && origin[i + 1] == '/' && origin[i + 2] == '/') {
      sep = origin + i;
      break;
    }
  }
  if (sep == NULL || sep == origin)
    return -EINVAL;
  host = sep + 3;
  host_len = len - (size_t)(host - origin);
  /* An origin has no path; tolerate one trailing '/'. */
  if (host_len > 0 && host[host_len - 1] == '/')
    host_len--;
  if (memchr(host, '/', host_len) != NULL || memchr(host, '@', host_len) != NULL)
    return -EINVAL;
  return http_util_split_host(host, host_len, name, name_len);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = (char)lower((unsigned char)c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

int http_util_query_param(const char *query, size_t len, const char *key, char *out, size_t n) {
  const char *p = query, *end = query + len;
  size_t klen = strlen(key);

  while (p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *pair_end = amp ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(pair_end - p));
    const char *kend = eq ? eq : pair_end;
    if ((size_t)(kend - p) == klen && memcmp(p, key, klen) == 0) {
      const char *v = eq ? eq + 1 : pair_end;
      size_t o = 0;
      while (v < pair_end) {
        int c = (unsigned char)*v;
        if (c == '%') {
          int hi, lo;
          if (pair_end - v < 3 || (hi = hexval(v[1])) < 0 || (lo = hexval(v[2])) < 0)
            return -EINVAL;
          c = hi * 16 + lo;
          if (c == 0)
            return -EINVAL;
          v += 3;
        } else {
          if (c == '+')
            c = ' ';
          v++;
        }
        if (o + 1 >= n)
          return -E2BIG;
        out[o++] = (char)c;
      }
      if (n == 0)
        return -E2BIG;
      out[o] = '\0';
      return (int)o;
    }
    p = amp ? amp + 1 : end;
  }
  return -ENOENT;
}

const char *http_util_status_text(int status) {
  switch (status) {
  case 100:
    return "Continue";
  case 200:
    return "OK";
  case 202:
    return "Accepted";
  case 204:
    return "No Content";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 406:
    return "Not Acceptable";
  case 408:
    return "Request Timeout";
  case 409:
    return "Conflict";
  case 411:
    return "Length Required";
  case 413:
    return "Content Too Large";
  case 414:
    return "URI Too Long";
  case 415:
    return "Unsupported Media Type";
  case 417:
    return "Expectation Failed";
  case 421:
    return "Misdirected Request";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 503:
    return "Service Unavailable";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Unknown";
  }
}
