/* buf.h -- growable byte buffers with a hard size limit. */
#ifndef MCPD_BUF_H
#define MCPD_BUF_H

#include <stddef.h>

/* A byte buffer. data is owned by the buffer (NULL while empty and never
 * grown); len bytes are used out of cap. limit caps len: a write past it
 * fails with -E2BIG and leaves the buffer unchanged. Zero-initialise, set
 * limit (0 = SIZE_MAX), and release with buf_free(). */
typedef struct buf {
  char *data;
  size_t len;
  size_t cap;
  size_t limit;
} buf;

/* Makes room for extra more bytes. Returns 0, -E2BIG or -ENOMEM. */
int buf_reserve(buf *b, size_t extra);

/* Appends len bytes at p (copied). Returns 0, -E2BIG or -ENOMEM. */
int buf_append(buf *b, const void *p, size_t len);

/* Appends a NUL-terminated string (copied, without the NUL). */
int buf_puts(buf *b, const char *s);

/* Appends printf-style text. Returns 0, -E2BIG or -ENOMEM. */
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Drops the first n bytes (n <= len), keeping the rest. */
void buf_consume(buf *b, size_t n);

/* Empties the buffer but keeps its memory for reuse. */
static inline void buf_reset(buf *b) {
  b->len = 0;
}

/* Releases the memory; the buffer is empty and reusable afterwards. */
void buf_free(buf *b);

/* Takes the data out of the buffer: returns it (caller frees with free())
 * and leaves the buffer empty. NULL when it was empty and never grown. */
char *buf_steal(buf *b);

/* jansson json_dump_callback adapter: data is a buf *. */
int buf_json_writer(const char *p, size_t len, void *data);

#endif
