/* sbuf.h -- the http_backend plugin's growable NUL-terminated byte string,
 * shared by the OpenAPI converter and the request builder. Zero-initialise;
 * an allocation failure sets oom and turns later appends into no-ops, so a
 * caller checks once, at the end (sb_take() returns NULL then). */
#ifndef MCPD_HTTP_BACKEND_SBUF_H
#define MCPD_HTTP_BACKEND_SBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

typedef struct sbuf {
  char *p; /* owned; NUL-terminated after len bytes once anything was added */
  size_t len, cap;
  int oom;
} sbuf;

/* Makes room for add more bytes and the NUL. Returns 0, or -1 with oom set. */
int sb_reserve(sbuf *b, size_t add);

/* Appends n bytes at s (copied). Inline: the encoders call it per byte. */
static inline void sb_putn(sbuf *b, const char *s, size_t n) {
  if (sb_reserve(b, n) != 0)
    return;
  if (n > 0)
    memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static inline void sb_puts(sbuf *b, const char *s) {
  sb_putn(b, s, strlen(s));
}

static inline void sb_putc(sbuf *b, char ch) {
  sb_putn(b, &ch, 1);
}

void sb_vprintf(sbuf *b, const char *fmt, va_list ap);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends o's bytes (borrowed), and its failure. */
void sb_cat(sbuf *b, const sbuf *o);

/* Returns the string (the caller frees it; "" when nothing was added) and
 * empties b; NULL when an allocation failed. */
char *sb_take(sbuf *b);

/* Frees b's bytes and empties it. */
void sb_free(sbuf *b);

#endif
