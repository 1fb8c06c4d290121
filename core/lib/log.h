/* log.h -- the daemon's log: one line per event on stderr,
 *   ts=2026-11-25T13:17:51.123Z level=info event=plugin_loaded plugin=hello ...
 * Thread-safe: each line is formatted on the stack and written with one
 * write(2), so lines from plugin threads never interleave. */
#ifndef MCPD_LOG_H
#define MCPD_LOG_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>

#include "lib/buf.h"

#define LOGLINE_MAX 4096 /* longer lines are cut and end in "..." */

enum log_level { LOGLVL_DEBUG = 0, LOGLVL_INFO = 1, LOGLVL_WARN = 2, LOGLVL_ERROR = 3 };

/* The logger's state; one lives in the server struct. */
typedef struct logger {
  atomic_int level; /* lines below it are dropped */
  int fd;           /* 2 (stderr) */
} logger;

void log_init(logger *lg, int level, int fd);

/* Writes one line: event is a short snake_case name; fmt (may be NULL)
 * formats the key=value fields that follow. Lines longer than about 4 KiB
 * are cut and end in "...". */
void log_msg(const logger *lg, int level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The same with a va_list. */
void log_vmsg(const logger *lg, int level, const char *event, const char *fmt, va_list ap);

/* Formats the line log_msg() would write and appends it to out instead,
 * for a caller that writes many lines at once with log_write() (the access
 * log). Returns 0 (also when the level is off), -E2BIG or -ENOMEM. */
int log_format(const logger *lg, buf *out, int level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Writes len bytes of formatted lines to the log in one write(2). */
void log_write(const logger *lg, const char *data, size_t len);

/* Returns 1 when a line of this level would be written. */
static inline int log_enabled(const logger *lg, int level) {
  return level >= atomic_load_explicit(&lg->level, memory_order_relaxed);
}

/* Makes a free-text value safe for a key=value field: quotes it when it
 * has spaces, quotes, '=' or control characters, and escapes those. Writes
 * into out (size n, NUL-terminated, cut with "..." when too long); returns
 * out. s may be NULL (gives ""). */
const char *log_escape(const char *s, char *out, size_t n);

/* Parses "debug" | "info" | "warn" | "error"; returns the level or -1. */
int log_level_parse(const char *name);

/* Returns the name of a level. */
const char *log_level_name(int level);

#endif
