/* http_util.h -- pure helpers for HTTP header values: media types and
 * Accept lists, Origin and Host checks, query strings, status texts.
 * No I/O, no state; strings are (pointer, length) pairs, not NUL-terminated. */
#ifndef MCPD_HTTP_UTIL_H
#define MCPD_HTTP_UTIL_H

#include <stddef.h>

/* Returns 1 if the Accept header value (borrowed; NULL = header absent,
 * which accepts anything) accepts media type `type` ("text/event-stream"):
 * a range type/subtype, type/x-wildcard or wildcard/wildcard with q > 0. The list may come
 * in any order, with parameters and spaces. Malformed members are skipped. */
int http_util_accepts(const char *accept, size_t len, const char *type);

/* Returns 1 if the Content-Type value is media type `type`, ignoring case
 * and parameters ("application/json; charset=utf-8"). */
int http_util_media_type_is(const char *value, size_t len, const char *type);

/* Returns 1 if a and the NUL-terminated b are equal ignoring ASCII case. */
int http_util_ieq(const char *a, size_t alen, const char *b);

/* Returns 1 if name (a host name or address, no port) is a loopback name:
 * "localhost", "*.localhost", 127.0.0.0/8, "::1" or "[::1]". */
int http_util_is_loopback_name(const char *name, size_t len);

/* Splits a Host header value "name[:port]" or "[v6][:port]". Returns 0 and
 * sets *name and *name_len (borrowed, brackets kept), or -EINVAL when malformed
 * (empty, bad port, stray characters). */
int http_util_split_host(const char *host, size_t len, const char **name, size_t *name_len);

/* Splits an Origin value "scheme://host[:port]" into its host name (brackets
 * kept for IPv6). Returns 0, or -EINVAL ("null", no scheme, a path, ...). */
int http_util_origin_host(const char *origin, size_t len, const char **name, size_t *name_len);

/* Finds query parameter `key` in a query string (without the '?') and
 * percent-decodes its value ('+' is a space) into out (size n, NUL-
 * terminated). Returns the decoded length, -ENOENT when absent, -E2BIG when
 * it does not fit, -EINVAL on a bad escape or a decoded NUL. */
int http_util_query_param(const char *query, size_t len, const char *key, char *out, size_t n);

/* Returns the reason phrase of a status code ("Not Found"); "Unknown" for
 * codes it does not know. */
const char *http_util_status_text(int status);

#endif
