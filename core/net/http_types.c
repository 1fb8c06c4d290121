/* http_types.c -- the per-label statistics of outgoing HTTP requests. */
#include "net/http_types.h"

#include "net/http_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- what a plugin asks to send ------------------------------------------ */

#define HOST_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_"

static int check_url(const char *url, http_url *u, char *err, size_t n) {
  const char *p, *auth_end, *h, *h_end, *colon = NULL;
  char *host = u->host;
  size_t host_n = sizeof(u->host);
  long v;
  if (strncasecmp(url, "http://", 7) == 0) {
    u->https = 0;
  } else if (strncasecmp(url, "https://", 8) == 0) {
    u->https = 1;
  } else {
    snprintf(err, n, "the URL must start with http:// or https://");
    return strstr(url, "://") != NULL ? -EPROTONOSUPPORT : -EINVAL;
  }
  for (p = url; *p != '\0'; p++) {
    unsigned char ch = (unsigned char)*p;
    if (ch <= 0x20 || ch >= 0x7f) {
      /* It would end up verbatim in the request line. */
      snprintf(err, n,
               "the URL has a space, control or non-ASCII byte at offset %zu "
               "(percent-encode it)",
               (size_t)(p - url));
      return -EINVAL;
    }
  }
  p = url + (u->https ? 8 : 7);
  auth_end = p + strcspn(p, "/?#");
  if (memchr(p, '@', (size_t)(auth_end - p)) != NULL) {
    snprintf(err, n, "credentials in the URL are not supported (send a header)");
    return -EINVAL;
  }
  if (*p == '[') {
    h = p + 1;
    h_end = memchr(h, ']', (size_t)(auth_end - h));
    if (h_end == NULL) {
      snprintf(err, n, "unterminated [IPv6] host in the URL");
      return -EINVAL;
    }
    if (h_end + 1 < auth_end) {
      if (h_end[1] != ':') {
        snprintf(err, n, "bad host in the URL");
        return -EINVAL;
      }
      colon = h_end + 1;
    }
  } else {
    h = p;
    colon = memchr(p, ':', (size_t)(auth_end - p));
    h_end = colon ? colon : auth_end;
  }
  if (h_end == h || (size_t)(h_end - h) >= host_n) {
    snprintf(err, n, "no host (or a host too long) in the URL");
    return -EINVAL;
  }
  memcpy(host, h, (size_t)(h_end - h));
  host[h_end - h] = '\0';
  if (host[strspn(host, *p == '[' ? "0123456789abcdefABCDEF:.%" : HOST_CHARS)] != '\0' ||
      (*p == '[' && strchr(host, ':') == NULL)) {
    snprintf(err, n, "bad host in the URL");
    return -EINVAL;
  }
  u->port = u->https ? 443 : 80;
  if (colon != NULL) {
    char *end;
    v = strtol(colon + 1, &end, 10);
    if (end != auth_end || v < 1 || v > 65535) {
      snprintf(err, n, "bad port in the URL");
      return -EINVAL;
    }
    u->port = (int)v;
  }
  u->target = auth_end;
  return 0;
}

/* A token for a name, then no control character but tab in the value. */
static int header_line_ok(const char *line, size_t name_len) {
  static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
                              "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const unsigned char *v;
  size_t i;
  for (i = 0; i < name_len; i++) {
    if (line[i] == '\0' || strchr(tchar, line[i]) == NULL)
      return 0;
  }
  for (v = (const unsigned char *)line + name_len + 1; *v != '\0'; v++) {
    if ((*v < 0x20 && *v != '\t') || *v == 0x7f)
      return 0;
  }
  return 1;
}

int http_types_header_is_ours(const char *line, size_t name_len) {
  static const char *const own[] = {"host", "content-length", "connection", "transfer-encoding"};
  size_t i;
  for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
    if (http_util_ieq(line, name_len, own[i]))
      return 1;
  }
  return 0;
}

int http_types_check(const http_client_params *p, http_url *u, char *err, size_t n) {
  size_t i;
  if (p->method == NULL || p->url == NULL || p->method[0] == '\0') {
    snprintf(err, n, "method, url and callback are required");
    return -EINVAL;
  }
  for (i = 0; p->method[i] != '\0'; i++) {
    if (p->method[i] < 'A' || p->method[i] > 'Z') {
      snprintf(err, n, "the method must be an upper-case token like GET");
      return -EINVAL;
    }
  }
  if (p->body_len > 0 && p->body == NULL) {
    snprintf(err, n, "body_len without a body");
    return -EINVAL;
  }
  for (i = 0; i < p->n_headers; i++) {
    const char *line = p->headers[i], *colon;
    if (line == NULL || (colon = strchr(line, ':')) == NULL || colon == line ||
        !header_line_ok(line, (size_t)(colon - line))) {
      snprintf(err, n, "header %zu is not a \"Name: value\" line", i + 1);
      return -EINVAL;
    }
  }
  return check_url(p->url, u, err, n);
}

/* ---- statistics ------------------------------------------------------------ */

http_client_label_stats *http_types_label(http_label_table *t, const char *label) {
  http_client_label_stats *s = strmap_get(&t->map, label, strlen(label));
  if (s != NULL)
    return s;
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 8;
    http_client_label_stats **grown = realloc(t->all, cap * sizeof(*grown));
    if (grown == NULL)
      return NULL;
    t->all = grown;
    t->cap = cap;
  }
  s = calloc(1, sizeof(*s));
  if (s == NULL || (s->label = strdup(label)) == NULL ||
      strmap_put(&t->map, s->label, strlen(s->label), s) < 0) {
    if (s != NULL)
      free(s->label);
    free(s);
    return NULL;
  }
  t->all[t->n++] = s;
  return s;
}

void http_types_count(http_label_table *t, const char *label, int err, int status, double seconds) {
  http_client_label_stats *s = http_types_label(t, label);
  if (s == NULL)
    return;
  s->finished++;
  s->seconds += seconds;
  if (err == 0 && status >= 100 && status < 600)
    s->by_class[status / 100]++;
  else
    s->by_class[0]++;
  if (err == -ETIMEDOUT)
    s->timeouts++;
}

void http_types_free(http_label_table *t) {
  size_t i;
  for (i = 0; i < t->n; i++) {
    free(t->all[i]->label);
    free(t->all[i]);
  }
  free(t->all);
  strmap_free(&t->map);
  memset(t, 0, sizeof(*t));
}
