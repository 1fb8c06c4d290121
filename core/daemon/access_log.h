/* access_log.h -- one log line per HTTP request, cheap enough to leave on:
 * lines are formatted by hand (no printf) into a buffer that is written
 * once per loop turn, with one write(2). Loop thread only. */
#ifndef MCPD_ACCESS_LOG_H
#define MCPD_ACCESS_LOG_H

#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "lib/buf.h"
#include "net/http_server.h"
#include "lib/log.h"

typedef struct access_log {
  const logger *log;  /* borrowed: where lines go, and its level */
  buf out;            /* lines of this loop turn */
  uv_check_t flush;   /* writes them at the end of the turn */
  time_t ts_sec;      /* the second ts_prefix was made for */
  char ts_prefix[32]; /* "ts=2026-11-25T13:17:51." */
  int started;
} access_log;

/* Starts the per-turn flush on loop. lg is borrowed and must outlive it. */
void access_log_init(access_log *al, uv_loop_t *loop, const logger *lg);

/* Adds req's line (at level info, if the logger lets it through): id,
 * method, path, status, bytes, duration, the MCP session and tool when
 * known, and the verified client certificate's subject (principal="...").
 * Never a header value or a body. req is borrowed. */
void access_log_add(access_log *al, const http_req *req);

/* Writes what waits. */
void access_log_flush(access_log *al);

/* Writes what waits and closes the flush handle (the loop must run to
 * finish closing it); frees the buffer. */
void access_log_close(access_log *al);

#endif
