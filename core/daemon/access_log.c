/* access_log.c -- request lines, formatted by hand and batched. */
#include "daemon/access_log.h"

#include <string.h>

/* Lines are written when this many bytes wait, or at the end of the turn. */
#define FLUSH_BYTES 32768

static void on_flush(uv_check_t *h) {
  access_log_flush(h->data);
}

void access_log_init(access_log *al, uv_loop_t *loop, const logger *lg) {
  memset(al, 0, sizeof(*al));
  al->log = lg;
  al->out.limit = 4 * FLUSH_BYTES;
  al->ts_sec = (time_t)-1;
  uv_check_init(loop, &al->flush);
  al->flush.data = al;
  uv_check_start(&al->flush, on_flush);
  uv_unref((uv_handle_t *)&al->flush); /* never keeps the loop alive */
  al->started = 1;
}

void access_log_flush(access_log *al) {
  if (al->out.len == 0)
    return;
  log_write(al->log, al->out.data, al->out.len);
  al->out.len = 0;
}

void access_log_close(access_log *al) {
  if (!al->started)
    return;
  access_log_flush(al);
  uv_close((uv_handle_t *)&al->flush, NULL);
  buf_free(&al->out);
  al->started = 0;
}

/* Writes v in decimal at p; returns the end. */
static char *put_u64(char *p, uint64_t v) {
  char tmp[20];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0)
    *p++ = tmp[--n];
  return p;
}

static char *put_str(char *p, const char *s, size_t len) {
  memcpy(p, s, len);
  return p + len;
}

/* The path may hold anything a client sent: only plain characters are
 * copied; the rest is replaced, so a line stays one parseable line. */
static char *put_path(char *p, const char *s) {
  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;
    *p++ = c > ' ' && c < 0x7f && c != '"' && c != '\\' && c != '=' ? (char)c : '?';
  }
  return p;
}

/* A value the client chose (its certificate's subject), quoted: '"' and
 * '\\' escaped, bytes outside printable ASCII replaced, at most max bytes
 * of it. */
static char *put_quoted(char *p, const char *s, size_t max) {
  const char *end = s + strnlen(s, max);
  *p++ = '"';
  for (; s < end; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      *p++ = '\\';
    *p++ = c >= ' ' && c < 0x7f ? (char)c : '?';
  }
  *p++ = '"';
  return p;
}

#define PRINCIPAL_MAX 256 /* bytes of a subject logged; twice that once escaped */

void access_log_add(access_log *al, const http_req *req) {
  /* Every field is bounded: tags are fixed arrays, the method a known
   * name, numbers at most 20 digits, the principal PRINCIPAL_MAX. */
  char line[640 + 2 * PRINCIPAL_MAX + 16], *p = line;
  const char *principal;
  struct timespec ts;
  uint64_t us;
  unsigned ms;

  if (!log_enabled(al->log, LOGLVL_INFO))
    return;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (ts.tv_sec != al->ts_sec) {
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(al->ts_prefix, sizeof(al->ts_prefix), "ts=%Y-%m-%dT%H:%M:%S.", &tm);
    al->ts_sec = ts.tv_sec;
  }
  p = put_str(p, al->ts_prefix, strlen(al->ts_prefix));
  ms = (unsigned)(ts.tv_nsec / 1000000);
  *p++ = (char)('0' + ms / 100);
  *p++ = (char)('0' + ms / 10 % 10);
  *p++ = (char)('0' + ms % 10);
  p = put_str(p, "Z level=info event=request id=", 30);
  p = put_u64(p, req->id);
  p = put_str(p, " method=", 8);
  if (req->method_name != NULL && strlen(req->method_name) < 24)
    p = put_path(p, req->method_name);
  else
    *p++ = '-';
  p = put_str(p, " path=", 6);
  if (req->tag_path[0] != '\0')
    p = put_path(p, req->tag_path);
  else
    *p++ = '-';
  p = put_str(p, " status=", 8);
  p = put_u64(p, (uint64_t)(req->status > 0 ? req->status : 0));
  p = put_str(p, " bytes=", 7);
  p = put_u64(p, req->bytes);
  us = (uv_hrtime() - req->started_ns) / 1000;
  p = put_str(p, " duration_ms=", 13);
  p = put_u64(p, us / 1000);
  *p++ = '.';
  *p++ = (char)('0' + us % 1000 / 100);
  *p++ = (char)('0' + us % 100 / 10);
  *p++ = (char)('0' + us % 10);
  if (req->tag_session[0] != '\0') {
    p = put_str(p, " session=", 9);
    p = put_path(p, req->tag_session);
  }
  if (req->tag_tool[0] != '\0') {
    p = put_str(p, " tool=", 6);
    p = put_path(p, req->tag_tool);
  }
  /* The authenticated caller (never its token), else the certificate. */
  principal = req->tag_principal[0] != '\0' ? req->tag_principal : http_req_peer_subject(req);
  if (principal != NULL) {
    p = put_str(p, " principal=", 11);
    p = put_quoted(p, principal, PRINCIPAL_MAX);
  }
  if (req->tag_auth != NULL) {
    p = put_str(p, " auth=", 6);
    p = put_path(p, req->tag_auth);
  }
  *p++ = '\n';
  if (al->out.len > FLUSH_BYTES)
    access_log_flush(al);
  if (buf_append(&al->out, line, (size_t)(p - line)) < 0) {
    access_log_flush(al);
    buf_append(&al->out, line, (size_t)(p - line));
  }
}
