/* oa_err.h -- the plugin's way to fail with a message: writes the message
 * into the caller's buffer and returns the error code, so that a check can
 * fail in one line. Any thread (the caller's buffer only). */
#ifndef OA_ERR_H
#define OA_ERR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Writes fmt (borrowed) into err (n bytes, the caller's; NULL or 0: not
 * written) and returns rc. */
static inline int oa_errf(char *err, size_t n, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline int oa_errf(char *err, size_t n, int rc, const char *fmt, ...) {
  va_list ap;
  if (err != NULL && n > 0) {
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
  }
  return rc;
}

#endif
