/* buf.c -- growable byte buffers with a hard size limit. */
#include "lib/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int buf_reserve(buf *b, size_t extra) {
  size_t limit = b->limit ? b->limit : SIZE_MAX;
  size_t need, cap;
  char *p;

  if (extra > limit || b->len > limit - extra)
    return -E2BIG;
  need = b->len + extra;
  if (need <= b->cap)
    return 0;
  cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  /* Never allocate much past the limit: the limit is also a memory bound. */
  if (cap > limit && need <= limit)
    cap = limit;
  p = realloc(b->data, cap);
  if (p == NULL)
    return -ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int buf_append(buf *b, const void *p, size_t len) {
  int r;
  if (len == 0)
    return 0;
  r = buf_reserve(b, len);
  if (r < 0)
    return r;
  memcpy(b->data + b->len, p, len);
  b->len += len;
  return 0;
}

int buf_puts(buf *b, const char *s) {
  return buf_append(b, s, strlen(s));
}

int buf_printf(buf *b, const char *fmt, ...) {
  va_list ap;
  int n, r;
  size_t room = b->cap - b->len;

  va_start(ap, fmt);
  n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
  va_end(ap);
  if (n < 0)
    return -EINVAL;
  if ((size_t)n < room) {
    b->len += (size_t)n;
    return 0;
  }
  r = buf_reserve(b, (size_t)n + 1);
  if (r < 0)
    return r;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

void buf_consume(buf *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

void buf_free(buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

char *buf_steal(buf *b) {
  char *p = b->data;
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  return p;
}

int buf_json_writer(const char *p, size_t len, void *data) {
  return buf_append(data, p, len) == 0 ? 0 : -1;
}
