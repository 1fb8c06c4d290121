/* log.c -- the daemon's log. */
#include "lib/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_init(logger *lg, int level, int fd) {
  atomic_init(&lg->level, level);
  lg->fd = fd;
}

const char *log_level_name(int level) {
  if (level < LOGLVL_DEBUG || level > LOGLVL_ERROR)
    return "unknown";
  return level_names[level];
}

int log_level_parse(const char *name) {
  int i;
  for (i = LOGLVL_DEBUG; i <= LOGLVL_ERROR; i++) {
    if (strcmp(name, level_names[i]) == 0)
      return i;
  }
  if (strcmp(name, "warning") == 0)
    return LOGLVL_WARN;
  return -1;
}

/* Formats one line, newline included, into line (LOGLINE_MAX bytes);
 * returns its length. */
static size_t format_line(char *line, int level, const char *event, const char *fmt, va_list ap) {
  size_t n = 0, cap = LOGLINE_MAX - 1; /* room for the newline */
  struct timespec ts;
  struct tm tm;
  int k;

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  k = snprintf(line, cap, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s",
               tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
               ts.tv_nsec / 1000000, log_level_name(level), event);
  n = k > 0 ? ((size_t)k < cap ? (size_t)k : cap - 1) : 0;
  if (fmt != NULL && *fmt != '\0' && n + 1 < cap) {
    line[n++] = ' ';
    k = vsnprintf(line + n, cap - n, fmt, ap);
    if (k > 0) {
      if ((size_t)k >= cap - n) {
        n = cap - 1;
        memcpy(line + n - 3, "...", 3);
      } else {
        n += (size_t)k;
      }
    }
  }
  line[n++] = '\n';
  return n;
}

void log_write(const logger *lg, const char *data, size_t len) {
  ssize_t w;
  /* One write per call; a short write on a pipe does not happen in practice
   * for a few KiB, and a log line is not worth a retry loop that could
   * block the loop. */
  do {
    w = write(lg->fd, data, len);
  } while (w < 0 && errno == EINTR);
}

void log_vmsg(const logger *lg, int level, const char *event, const char *fmt, va_list ap) {
  char line[LOGLINE_MAX];
  if (!log_enabled(lg, level))
    return;
  log_write(lg, line, format_line(line, level, event, fmt, ap));
}

int log_format(const logger *lg, buf *out, int level, const char *event, const char *fmt, ...) {
  char line[LOGLINE_MAX];
  va_list ap;
  size_t n;
  if (!log_enabled(lg, level))
    return 0;
  va_start(ap, fmt);
  n = format_line(line, level, event, fmt, ap);
  va_end(ap);
  return buf_append(out, line, n);
}

void log_msg(const logger *lg, int level, const char *event, const char *fmt, ...) {
  va_list ap;
  if (!log_enabled(lg, level))
    return;
  va_start(ap, fmt);
  log_vmsg(lg, level, event, fmt, ap);
  va_end(ap);
}

const char *log_escape(const char *s, char *out, size_t n) {
  size_t o = 0, i;
  int quote = 0;
  static const char hex[] = "0123456789abcdef";

  if (n == 0)
    return out;
  if (s == NULL)
    s = "";
  if (*s == '\0')
    quote = 1;
  for (i = 0; s[i] != '\0' && !quote; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
      quote = 1;
  }
  if (quote && o + 1 < n)
    out[o++] = '"';
  for (i = 0; s[i] != '\0'; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[4];
    size_t len = 0;
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      len = 2;
    } else if (c == '\n') {
      memcpy(esc, "\\n", 2);
      len = 2;
    } else if (c < ' ' || c == 0x7f) {
      esc[0] = '\\';
      esc[1] = 'x';
      esc[2] = hex[c >> 4];
      esc[3] = hex[c & 15];
      len = 4;
    } else {
      esc[0] = (char)c;
      len = 1;
    }
    if (o + len + (quote ? 1 : 0) + 1 > n) {
      /* Cut: end with "..." (and the closing quote) if there is room. */
      size_t tail = 3 + (quote ? 1 : 0);
      if (n > tail + 1) {
        o = o + tail + 1 > n ? n - tail - 1 : o;
        memcpy(out + o, "...", 3);
        o += 3;
      }
      break;
    }
    memcpy(out + o, esc, len);
    o += len;
  }
  if (quote && o + 1 < n)
    out[o++] = '"';
  out[o] = '\0';
  return out;
}
