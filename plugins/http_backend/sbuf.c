/* sbuf.c -- see sbuf.h. */
#define _POSIX_C_SOURCE 200809L

#include "sbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int sb_reserve(sbuf *b, size_t add) {
  size_t cap;
  char *np;
  if (b->oom)
    return -1;
  if (add >= SIZE_MAX / 2 - b->len) {
    b->oom = 1;
    return -1;
  }
  if (b->len + add + 1 <= b->cap)
    return 0;
  cap = b->cap ? b->cap : 64;
  while (cap < b->len + add + 1)
    cap *= 2;
  np = realloc(b->p, cap);
  if (np == NULL) {
    b->oom = 1;
    return -1;
  }
  b->p = np;
  b->cap = cap;
  return 0;
}

void sb_vprintf(sbuf *b, const char *fmt, va_list ap) {
  va_list ap2;
  int k;
  va_copy(ap2, ap);
  k = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (k < 0 || sb_reserve(b, (size_t)k) != 0) {
    b->oom = 1;
    return;
  }
  vsnprintf(b->p + b->len, (size_t)k + 1, fmt, ap);
  b->len += (size_t)k;
}

void sb_printf(sbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sb_vprintf(b, fmt, ap);
  va_end(ap);
}

void sb_cat(sbuf *b, const sbuf *o) {
  b->oom |= o->oom;
  if (o->len > 0)
    sb_putn(b, o->p, o->len);
}

char *sb_take(sbuf *b) {
  char *p = b->p;
  int oom = b->oom;
  memset(b, 0, sizeof(*b));
  if (oom) {
    free(p);
    return NULL;
  }
  return p ? p : strdup("");
}

void sb_free(sbuf *b) {
  free(b->p);
  memset(b, 0, sizeof(*b));
}
